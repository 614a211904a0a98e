"""Stable placements of an object inside a bowl, clear of what is already there."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tamp.geometry.shapes import bowl_inner_radius
from tamp.world import WorldObject


@dataclass(frozen=True)
class PlacementConfig:
    n_samples: int = 200  #: random poses drawn per query
    margin: float = 0.01  #: m kept free between footprints and from the bowl's wall
    drop_height: float = 0.004  #: m above the support at which the object is released


@dataclass(frozen=True)
class Placements:
    poses: list[np.ndarray]  #: object poses (4x4, bottom centre) in the world, best first
    reason: str = ""


def footprint(obj_pose: np.ndarray, size, margin: float = 0.0) -> np.ndarray:
    """Corners (4, 2) of a box's footprint, grown by ``margin`` on every side."""
    hx, hy = size[0] / 2 + margin, size[1] / 2 + margin
    local = np.array([[hx, hy], [-hx, hy], [-hx, -hy], [hx, -hy]])
    return local @ obj_pose[:2, :2].T + obj_pose[:2, 3]


def overlap(a: np.ndarray, b: np.ndarray) -> bool:
    """Do two convex polygons (corners in order) overlap? Separating-axis test."""
    for poly in (a, b):
        for k in range(len(poly)):
            edge = poly[(k + 1) % len(poly)] - poly[k]
            axis = np.array([-edge[1], edge[0]])
            pa, pb = a @ axis, b @ axis
            if pa.max() < pb.min() or pb.max() < pa.min():
                return False
    return True


def _footprint_of(obj: WorldObject, pose: np.ndarray, margin: float) -> np.ndarray:
    if obj.shape.kind == "box":
        return footprint(pose, obj.shape.size, margin)
    r = obj.shape.size[0] + margin  # a cylinder: its square hull is close enough
    return footprint(pose, (2 * r, 2 * r), 0.0)


def in_bowl(obj: WorldObject, bowl: WorldObject, occupants: list[WorldObject],
            rng: np.random.Generator, config: PlacementConfig = PlacementConfig()
            ) -> Placements:
    """Resting poses for ``obj`` on the bowl's flat bottom, clear of the wall and of
    ``occupants`` (objects already in the bowl).

    Poses nearer the wall come first: they leave the most room for objects placed later.
    """
    centre = bowl.position
    radius = bowl_inner_radius(bowl.shape) - config.margin
    bottom = centre[2] + bowl.shape.wall + config.drop_height
    taken = [_footprint_of(o, o.pose, config.margin / 2) for o in occupants]
    scored = []
    for _ in range(config.n_samples):
        r = radius * math.sqrt(rng.uniform())
        a, yaw = rng.uniform(0, 2 * math.pi), rng.uniform(-math.pi, math.pi)
        t = np.eye(4)
        t[:3, :3] = [[math.cos(yaw), -math.sin(yaw), 0], [math.sin(yaw), math.cos(yaw), 0],
                     [0, 0, 1]]
        t[:3, 3] = (centre[0] + r * math.cos(a), centre[1] + r * math.sin(a), bottom)
        corners = _footprint_of(obj, t, 0.0)
        if np.linalg.norm(corners - centre[:2], axis=1).max() > radius:
            continue
        grown = _footprint_of(obj, t, config.margin / 2)
        if any(overlap(grown, other) for other in taken):
            continue
        scored.append((-r, t))
    if not scored:
        return Placements([], f"no free spot left in {bowl.name} for {obj.name}")
    scored.sort(key=lambda s: s[0])
    return Placements([t for _, t in scored])
