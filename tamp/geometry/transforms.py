"""Rigid transforms as 4x4 homogeneous matrices; quaternions are (x, y, z, w)."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation


def pose(position=(0.0, 0.0, 0.0), quat_xyzw=(0.0, 0.0, 0.0, 1.0)) -> np.ndarray:
    """4x4 transform from a position (m) and a quaternion (x, y, z, w)."""
    t = np.eye(4)
    t[:3, :3] = Rotation.from_quat(quat_xyzw).as_matrix()
    t[:3, 3] = position
    return t


def rpy_pose(position=(0.0, 0.0, 0.0), rpy=(0.0, 0.0, 0.0)) -> np.ndarray:
    """4x4 transform from a position (m) and roll-pitch-yaw about fixed X, Y, Z (rad)."""
    t = np.eye(4)
    t[:3, :3] = Rotation.from_euler("xyz", rpy).as_matrix()
    t[:3, 3] = position
    return t


def to_pos_quat(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position (m) and quaternion (x, y, z, w) of a 4x4 transform."""
    return t[:3, 3].copy(), Rotation.from_matrix(t[:3, :3]).as_quat()


def yaw_of(t: np.ndarray) -> float:
    """Rotation about the world z axis of a transform's x axis (rad)."""
    return float(np.arctan2(t[1, 0], t[0, 0]))


def wrap_angle(angle: float) -> float:
    """``angle`` (rad) brought into [-pi, pi)."""
    return float((angle + np.pi) % (2 * np.pi) - np.pi)


def translation(xyz) -> np.ndarray:
    t = np.eye(4)
    t[:3, 3] = xyz
    return t


def invert(t: np.ndarray) -> np.ndarray:
    out = np.eye(4)
    out[:3, :3] = t[:3, :3].T
    out[:3, 3] = -t[:3, :3].T @ t[:3, 3]
    return out


def pose_error(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Position (m) and rotation-angle (rad) distance between two transforms."""
    dp = float(np.linalg.norm(a[:3, 3] - b[:3, 3]))
    r = a[:3, :3].T @ b[:3, :3]
    angle = float(np.arccos(np.clip((np.trace(r) - 1.0) / 2.0, -1.0, 1.0)))
    return dp, angle
