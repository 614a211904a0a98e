"""Decompose object shapes into collision primitives (boxes and cylinders).

The planner's collision world and the simulator's bodies are both built from this one
decomposition, so what the planner avoids is exactly what the simulator collides with.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from tamp.geometry.transforms import rpy_pose, translation
from tamp.world import Shape

BOWL_SEGMENTS = 16


@dataclass(frozen=True)
class Primitive:
    """A convex solid: ``box`` (half extents) or ``cylinder`` (radius, radius, half height)."""

    kind: str
    #: box: half extents (x, y, z); cylinder: (radius, radius, half height), m
    half: tuple[float, float, float]
    #: pose of the primitive's centre, relative to the shape frame (4x4)
    local: np.ndarray
    #: which part of the shape it is ("" for a one-piece shape, "bottom"/"wall" for a bowl
    #: or a tray)
    part: str = ""

    def placed(self, frame: np.ndarray) -> "Primitive":
        return Primitive(self.kind, self.half, frame @ self.local, self.part)


def primitives(shape: Shape) -> list[Primitive]:
    """Convex pieces of ``shape`` in its own frame (origin at the bottom centre)."""
    try:
        return list(_cached_primitives(shape))  # a bowl's 17 plates cost ~3 ms to build
    except TypeError:  # a size that cannot be hashed (a list): built each time
        return _primitives(shape)


@lru_cache(maxsize=256)
def _cached_primitives(shape: Shape) -> tuple[Primitive, ...]:
    return tuple(_primitives(shape))


def _primitives(shape: Shape) -> list[Primitive]:
    sx, sy, sz = shape.size
    if shape.kind == "box":
        return [Primitive("box", (sx / 2, sy / 2, sz / 2), translation((0, 0, sz / 2)))]
    if shape.kind == "cylinder":
        return [Primitive("cylinder", (sx, sx, sz / 2), translation((0, 0, sz / 2)))]
    if shape.kind == "bowl":
        return _bowl(top_radius=sx, bottom_radius=sy, height=sz, wall=shape.wall)
    if shape.kind == "tray":
        return _tray(sx, sy, sz, shape.wall)
    raise ValueError(f"unknown shape kind '{shape.kind}'")


def _bowl(top_radius: float, bottom_radius: float, height: float, wall: float):
    """A flat disk and a ring of sloped wall plates.

    The inner face of each plate runs from the bottom edge (``bottom_radius``, ``wall``) to
    the rim (``top_radius - wall``, ``height``).
    """
    parts = [Primitive("cylinder", (bottom_radius + wall, bottom_radius + wall, wall / 2),
                       translation((0, 0, wall / 2)), "bottom")]
    r0, z0 = bottom_radius, wall
    r1, z1 = top_radius - wall, height
    tilt = math.atan2(r1 - r0, z1 - z0)  # from vertical, outward
    length = math.hypot(r1 - r0, z1 - z0)
    # outward normal of the inner face in the (r, z) plane
    nr, nz = math.cos(tilt), -math.sin(tilt)
    rc = (r0 + r1) / 2 + nr * wall / 2
    zc = (z0 + z1) / 2 + nz * wall / 2
    # plates overlap a little so that no gap opens between neighbours
    width = 2 * (rc + wall / 2) * math.tan(math.pi / BOWL_SEGMENTS) * 1.1
    for k in range(BOWL_SEGMENTS):
        yaw = 2 * math.pi * k / BOWL_SEGMENTS
        local = rpy_pose((rc * math.cos(yaw), rc * math.sin(yaw), zc), (0.0, tilt, yaw))
        # rpy_pose applies roll, then pitch (tilt about y), then yaw about z
        parts.append(Primitive("box", (wall / 2, width / 2, length / 2), local, "wall"))
    return parts


def _tray(sx: float, sy: float, height: float, wall: float) -> list[Primitive]:
    """A base plate and four walls along its edge.

    Each wall runs the full height from the ground, so it overlaps the base plate's edge
    instead of resting on it: no seam for a dropped object or the collision check to find.
    The two x walls run the full outer length, the y walls fit between them.
    """
    def box(part, size, centre):
        return Primitive("box", (size[0] / 2, size[1] / 2, size[2] / 2), translation(centre),
                         part)

    parts = [box("bottom", (sx, sy, wall), (0, 0, wall / 2))]
    for side in (-1, 1):
        parts.append(box("wall", (wall, sy, height), (side * (sx - wall) / 2, 0, height / 2)))
        parts.append(box("wall", (sx - 2 * wall, wall, height),
                         (0, side * (sy - wall) / 2, height / 2)))
    return parts


def tray_interior(shape: Shape) -> tuple[float, float, float]:
    """The free box inside a tray: (x extent, y extent) of its floor and the floor's
    height above the tray's bottom, m."""
    sx, sy, _ = shape.size
    return float(sx - 2 * shape.wall), float(sy - 2 * shape.wall), float(shape.wall)


def bowl_inner_radius(shape: Shape) -> float:
    """Radius of the flat inner bottom of a bowl, m."""
    return float(shape.size[1])


def footprint_radius(shape: Shape) -> float:
    """Radius of a circle that contains the shape's footprint, m."""
    sx, sy, _ = shape.size
    if shape.kind in ("box", "tray"):  # both are sized by their full sides
        return float(np.hypot(sx, sy) / 2)
    return float(sx)


def max_extent(shape: Shape) -> float:
    """The largest width of the shape in any direction (bounding-box diagonal free), m."""
    sx, sy, sz = shape.size
    if shape.kind == "box":
        return float(max(sx, sy, sz))
    return float(max(2 * sx, sz))
