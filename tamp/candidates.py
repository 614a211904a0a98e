"""The candidates a refinement tries, in the order it tries them: grasps of an object from
the configured source (:func:`pick_grasps`), and placement poses turned by the object's
symmetries so that the wrist turns least (:func:`least_turn`)."""

from __future__ import annotations

import numpy as np

from tamp.geometry.grasps import top_grasps
from tamp.geometry.transforms import rpy_pose, wrap_angle, yaw_of
from tamp.robot import RobotSpec
from tamp.world import WorldObject


def pick_grasps(obj: WorldObject, robot: RobotSpec, config, rng: np.random.Generator):
    """Grasp candidates for ``obj`` from the configured source: ``"top"`` reads them off
    the shape; ``"antipodal"`` searches the object's points (sampled from its shape here;
    from the camera once perception provides them), on ``config.device``."""
    source = config.grasp_source
    if source not in ("top", "antipodal", "auto"):
        raise ValueError(f"unknown grasp source '{source}'")
    if source == "top" or (source == "auto" and obj.shape.kind in ("box", "cylinder")):
        return top_grasps(obj, robot, config.grasp)
    from tamp.geometry.antipodal import antipodal_grasps, surface_points

    points, normals = surface_points(obj.shape, obj.pose, 3000, rng)
    return antipodal_grasps(obj.name, points, robot, rng, obj_pose=obj.pose,
                            normals=None if config.estimate_normals else normals,
                            device=config.device)


def least_turn(obj: WorldObject, poses: list[np.ndarray]) -> list[np.ndarray]:
    """The placement poses, each turned about its vertical axis by a symmetry of the
    object (a box by half a turn, a square one by a quarter turn too; a cylinder by any
    angle) to the yaw nearest the one the object has now, so the wrist turns least: a
    wrist turned far pushes the last joint past its limit, and IK into another arm
    posture, with a long and fast swing to get there. Order and positions are kept."""
    if obj.pose[2, 2] < 0.99:  # not upright: its symmetries are not about the vertical
        return list(poses)
    here = yaw_of(obj.pose)
    sx, sy, _ = obj.shape.size
    if obj.shape.kind == "cylinder":
        steps = None
    elif obj.shape.kind == "box":
        steps = np.pi / 2 if abs(sx - sy) < 1e-6 else np.pi
    else:
        return list(poses)
    kept = []
    for pose in poses:
        if abs(pose[2, 2]) < 0.99:
            kept.append(pose)
            continue
        delta = wrap_angle(here - yaw_of(pose))
        turn = delta if steps is None else steps * round(delta / steps)
        turned = pose.copy()
        turned[:3, :3] = rpy_pose(rpy=(0.0, 0.0, turn))[:3, :3] @ pose[:3, :3]
        kept.append(turned)
    return kept
