"""The planner's world model: what is on the table, as shapes with poses.

The planner only ever sees a :class:`WorldModel`. In ``oracle`` mode the simulator fills
it from ground truth; with perception it is filled from the camera.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

ShapeKind = Literal["box", "cylinder", "bowl", "tray"]


@dataclass(frozen=True)
class Shape:
    """A primitive solid in its own frame (origin at the centre of its footprint, z up).

    * ``box``: ``size`` = (x, y, z) extents, m; the frame is at the bottom-face centre.
    * ``cylinder``: ``size`` = (radius, radius, height), m.
    * ``bowl``: ``size`` = (top outer radius, bottom inner radius, height), m; an open
      bowl with a flat bottom of thickness ``wall`` and sloped walls.
    * ``tray``: ``size`` = (outer x, outer y, wall height), m; a flat base plate of
      thickness ``wall`` and four upright walls of thickness ``wall``, the height measured
      from the bottom of the base plate.
    """

    kind: ShapeKind
    size: tuple[float, float, float]
    wall: float = 0.008  #: wall and bottom thickness of a bowl or a tray, m

    @property
    def height(self) -> float:
        return float(self.size[2])


@dataclass(frozen=True)
class WorldObject:
    """One object: a name the planner refers to, its attributes, shape and pose."""

    name: str
    category: str  #: e.g. "block", "bowl"
    color: str  #: colour name, e.g. "red"
    shape: Shape
    #: pose of the shape frame (bottom centre) in the world, 4x4
    pose: np.ndarray = field(repr=False, compare=False)
    movable: bool = True

    @property
    def position(self) -> np.ndarray:
        return self.pose[:3, 3]

    def moved(self, pose: np.ndarray) -> "WorldObject":
        return replace(self, pose=np.asarray(pose, float))

    def upright(self) -> "WorldObject":
        """The same solid described with the frame's z axis up: a box that came to
        rest on a side face (or upside down) is a box of permuted extents standing on
        that face, so that facts such as ``on`` and the grasps from above apply to it
        again; a cylinder (a disk) upside down is described right side up. Bowls, trays
        and solids already upright are returned as they are."""
        if self.shape.kind not in ("box", "cylinder"):
            return self
        rot = self.pose[:3, :3]
        # the body axis nearest the world's z (a cylinder stands only on its ends)
        up = int(np.argmax(np.abs(rot[2]))) if self.shape.kind == "box" else 2
        if up == 2 and rot[2, 2] > 0:
            return self
        sign = 1.0 if rot[2, up] > 0 else -1.0
        side = (up + 1) % 3  # keep a right-handed frame: (side, third, up) cycle
        third = (up + 2) % 3
        z = sign * rot[:, up]
        x = rot[:, side]
        y = np.cross(z, x)
        size = self.shape.size
        centre = self.pose[:3, 3] + rot[:, 2] * size[2] / 2
        pose = np.eye(4)
        pose[:3, :3] = np.column_stack([x, y, z])
        pose[:3, 3] = centre - z * size[up] / 2
        shape = replace(self.shape, size=(size[side], size[third], size[up]))
        return replace(self, shape=shape, pose=pose)


@dataclass(frozen=True)
class Zone:
    """A marked area of the table (no geometry): a place objects are put on."""

    name: str
    pose: np.ndarray = field(repr=False, compare=False)  #: centre on the table, 4x4
    extents: tuple[float, float] = (0.1, 0.1)  #: m along the zone's x and y axes

    def contains(self, xy: np.ndarray, margin: float = 0.0) -> bool:
        local = np.linalg.inv(self.pose) @ np.array([xy[0], xy[1], self.pose[2, 3], 1.0])
        return bool(abs(local[0]) <= self.extents[0] / 2 - margin
                    and abs(local[1]) <= self.extents[1] / 2 - margin)


@dataclass
class WorldModel:
    """The table (a box whose top is at ``table_height``) and the objects on it."""

    objects: dict[str, WorldObject]
    #: table top extents (x_min, x_max, y_min, y_max) in the robot base frame, m
    table_extent: tuple[float, float, float, float] = (-0.3, 0.9, -0.6, 0.6)
    table_height: float = 0.0  #: m, z of the table top in the robot base frame
    #: obstacles known only as points (e.g. unsegmented clutter from a depth camera)
    clouds: dict = field(default_factory=dict)
    #: marked areas of the table, by name (places for towers of Hanoi, target zones)
    zones: dict = field(default_factory=dict)

    def of_category(self, category: str) -> list[WorldObject]:
        return [o for o in self.objects.values() if o.category == category]

    def with_pose(self, name: str, pose: np.ndarray) -> "WorldModel":
        objects = dict(self.objects)
        objects[name] = objects[name].moved(pose)
        return WorldModel(objects, self.table_extent, self.table_height, self.clouds,
                          self.zones)

    def without(self, name: str) -> "WorldModel":
        return WorldModel({k: v for k, v in self.objects.items() if k != name},
                          self.table_extent, self.table_height, self.clouds, self.zones)
