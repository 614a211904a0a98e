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
