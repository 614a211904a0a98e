"""The planner's world model: what is on the table, as shapes with poses.

The planner only ever sees a :class:`WorldModel`. In ``oracle`` mode the simulator fills
it from ground truth; with perception it is filled from the camera.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

ShapeKind = Literal["box", "cylinder", "bowl"]


@dataclass(frozen=True)
class Shape:
    """A primitive solid in its own frame (origin at the centre of its footprint, z up).

    * ``box``: ``size`` = (x, y, z) extents, m; the frame is at the bottom-face centre.
    * ``cylinder``: ``size`` = (radius, radius, height), m.
    * ``bowl``: ``size`` = (top outer radius, bottom inner radius, height), m; an open
      bowl with a flat bottom of thickness ``wall`` and sloped walls.
    """

    kind: ShapeKind
    size: tuple[float, float, float]
    wall: float = 0.008  #: wall and bottom thickness of a bowl, m

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


@dataclass
class WorldModel:
    """The table (a box whose top is at ``table_height``) and the objects on it."""

    objects: dict[str, WorldObject]
    #: table top extents (x_min, x_max, y_min, y_max) in the robot base frame, m
    table_extent: tuple[float, float, float, float] = (-0.3, 0.9, -0.6, 0.6)
    table_height: float = 0.0  #: m, z of the table top in the robot base frame
    #: obstacles known only as points (e.g. unsegmented clutter from a depth camera)
    clouds: dict = field(default_factory=dict)

    def of_category(self, category: str) -> list[WorldObject]:
        return [o for o in self.objects.values() if o.category == category]

    def with_pose(self, name: str, pose: np.ndarray) -> "WorldModel":
        objects = dict(self.objects)
        objects[name] = objects[name].moved(pose)
        return WorldModel(objects, self.table_extent, self.table_height, self.clouds)

    def without(self, name: str) -> "WorldModel":
        return WorldModel({k: v for k, v in self.objects.items() if k != name},
                          self.table_extent, self.table_height, self.clouds)
