"""Whether an object rests in a container or on another object: the geometric tests
behind the domains' facts (``in``, ``on``) and the tasks' success checks, so that the
planner and the judge measure alike."""

from __future__ import annotations

import numpy as np

from tamp.world import WorldObject


def resting_in(obj: WorldObject, bowl: WorldObject, tolerance: float = 0.01) -> bool:
    """The object's centre is over the container's floor (a bowl's flat bottom, a tray's
    inside) and its bottom lies between that floor and the rim."""
    from tamp.geometry.shapes import bowl_inner_radius, tray_interior

    dz = float(obj.position[2] - bowl.position[2])
    if not -tolerance <= dz <= bowl.shape.height:
        return False
    if bowl.shape.kind == "tray":
        local = np.linalg.inv(bowl.pose) @ np.append(obj.position, 1.0)
        ix, iy, _ = tray_interior(bowl.shape)
        return abs(local[0]) <= ix / 2 + tolerance and abs(local[1]) <= iy / 2 + tolerance
    d = float(np.linalg.norm(obj.position[:2] - bowl.position[:2]))
    return d <= bowl_inner_radius(bowl.shape) + tolerance


def resting_on(obj: WorldObject, lower: WorldObject, tolerance: float = 0.01) -> bool:
    """The object's bottom lies on ``lower``'s top face, its centre over that face."""
    top = lower.position[2] + lower.shape.height
    if abs(obj.position[2] - top) > tolerance:
        return False
    local = np.linalg.inv(lower.pose) @ np.append(obj.position, 1.0)
    sx, sy, _ = lower.shape.size
    if lower.shape.kind == "box":
        return abs(local[0]) <= sx / 2 and abs(local[1]) <= sy / 2
    return float(np.hypot(local[0], local[1])) <= sx
