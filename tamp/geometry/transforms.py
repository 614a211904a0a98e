"""Rigid transforms as 4x4 homogeneous matrices; quaternions are (x, y, z, w)."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation


# ``pose`` and ``to_pos_quat`` run for every object on every control step of an episode
# (observations, ground-truth checks): written out here they cost a few microseconds, where
# scipy's Rotation, built for batches, spends about 50 us per single rotation. They agree
# with scipy to rounding, sign of the quaternion included (tests/tamp/geometry).


def quat_matrix(quat_xyzw) -> np.ndarray:
    """3x3 rotation matrix of a quaternion (x, y, z, w); it need not be normalised."""
    x, y, z, w = (float(v) for v in quat_xyzw)
    n = x * x + y * y + z * z + w * w
    if not n > 0.0:  # zero or NaN
        raise ValueError(f"not a rotation quaternion: {quat_xyzw!r}")
    s = 2.0 / n
    xx, yy, zz = s * x * x, s * y * y, s * z * z
    xy, xz, yz = s * x * y, s * x * z, s * y * z
    wx, wy, wz = s * w * x, s * w * y, s * w * z
    return np.array([[1.0 - yy - zz, xy - wz, xz + wy],
                     [xy + wz, 1.0 - xx - zz, yz - wx],
                     [xz - wy, yz + wx, 1.0 - xx - yy]])


def matrix_quat(r: np.ndarray) -> np.ndarray:
    """Unit quaternion (x, y, z, w) of a 3x3 rotation matrix, by the branch on the largest
    of the trace and the diagonal (numerically safe near 180 degrees; the same branch, and
    so the same sign, as scipy's ``Rotation.from_matrix``)."""
    m = np.asarray(r, np.float64)
    trace = m[0, 0] + m[1, 1] + m[2, 2]
    choice = int(np.argmax((m[0, 0], m[1, 1], m[2, 2], trace)))
    q = np.empty(4)
    if choice == 3:
        q[0] = m[2, 1] - m[1, 2]
        q[1] = m[0, 2] - m[2, 0]
        q[2] = m[1, 0] - m[0, 1]
        q[3] = 1.0 + trace
    else:
        i = choice
        j, k = (i + 1) % 3, (i + 2) % 3
        q[i] = 1.0 - trace + 2.0 * m[i, i]
        q[j] = m[j, i] + m[i, j]
        q[k] = m[k, i] + m[i, k]
        q[3] = m[k, j] - m[j, k]
    return q / np.sqrt(q @ q)


def pose(position=(0.0, 0.0, 0.0), quat_xyzw=(0.0, 0.0, 0.0, 1.0)) -> np.ndarray:
    """4x4 transform from a position (m) and a quaternion (x, y, z, w)."""
    t = np.eye(4)
    t[:3, :3] = quat_matrix(quat_xyzw)
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
    return t[:3, 3].copy(), matrix_quat(t[:3, :3])


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
