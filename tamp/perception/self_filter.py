"""Which camera points belong to the robot itself (self-filtering).

Without instance masks, the arm above the table would be clustered like any object.
The robot's collision spheres, placed at its current configuration, mark its points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RobotFilter:
    """Sphere centres (M, 3) and radii (M,) of the robot at one configuration, m."""

    centres: np.ndarray
    radii: np.ndarray
    margin: float = 0.01  #: m added to every sphere (depth noise, sphere fit slack)

    def __call__(self, points: np.ndarray) -> np.ndarray:
        """Boolean mask (N,) of the ``points`` (N, 3) that lie on the robot."""
        if len(points) == 0 or len(self.centres) == 0:
            return np.zeros(len(points), bool)
        d2 = ((points[:, None, :] - self.centres[None]) ** 2).sum(-1)
        return (d2 <= (self.radii + self.margin)[None] ** 2).any(axis=1)


def robot_filter(kin, q_arm: np.ndarray, gripper_joint: float = 0.0,
                 margin: float = 0.01) -> RobotFilter:
    """The filter for a ``tamp.geometry.kinematics.Kinematics`` robot at ``q_arm`` (rad)
    with the gripper joint at ``gripper_joint``."""
    from tamp.geometry.collision import robot_spheres

    centres, radii = [], []
    for link, s in robot_spheres(kin).items():
        pose = kin.frame_pose(q_arm, link, gripper_joint)
        centres.append(s.centres @ pose[:3, :3].T + pose[:3, 3])
        radii.append(s.radii)
    return RobotFilter(np.concatenate(centres) if centres else np.zeros((0, 3)),
                       np.concatenate(radii) if radii else np.zeros(0), margin)


def hidden_by(robot: RobotFilter, camera: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Boolean mask (N,) of the ``points`` (N, 3) that the robot's spheres hide from a
    camera at ``camera`` (3,): the line of sight passes through a sphere before it
    reaches the point (m)."""
    if len(points) == 0 or len(robot.centres) == 0:
        return np.zeros(len(points), bool)
    sight = points - camera  # (N, 3)
    rel = robot.centres - camera  # (M, 3)
    # the nearest point of each sight line to each sphere centre, short of the point
    t = np.clip((sight @ rel.T) / np.maximum((sight ** 2).sum(1), 1e-12)[:, None], 0, 1)
    near = camera + t[..., None] * sight[:, None, :]  # (N, M, 3)
    d2 = ((near - robot.centres[None]) ** 2).sum(-1)
    return ((d2 <= (robot.radii + robot.margin)[None] ** 2) & (t < 1)).any(axis=1)


def top_points(obj) -> np.ndarray:
    """Points (17, 3) on the top of a ``tamp.world.WorldObject``, m: its top centre and
    sixteen points around the edge of its top (a ring for round shapes, the rectangle's
    outline for boxes and trays), a little inside the edge."""
    sx, sy, h = obj.shape.size
    a = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    c, s = np.cos(a), np.sin(a)
    if obj.shape.kind in ("box", "tray"):  # the ring pushed out onto the rectangle
        scale = 1.0 / np.maximum(np.abs(c), np.abs(s))
        ring = list(zip(0.45 * sx * c * scale, 0.45 * sy * s * scale))
    else:  # cylinder, bowl: size[0] is the radius
        ring = list(zip(0.9 * sx * c, 0.9 * sx * s))
    local = np.array([(0.0, 0.0)] + ring)
    local = np.column_stack([local, np.full(len(local), h), np.ones(len(local))])
    return (local @ obj.pose.T)[:, :3]
