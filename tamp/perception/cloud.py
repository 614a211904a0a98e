"""From an RGB-D image to coloured points in the world frame.

Units: metres for points and depth, colours as floats in [0, 1]. The camera follows the
OpenCV convention (x right, y down, z along the optical axis); ``extrinsics`` is the
camera's pose in the world (camera -> world), as in :class:`scenes.camera.CameraFrame`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


class RGBDLike(Protocol):
    """What perception needs from a camera frame (``scenes.camera.CameraFrame`` fits)."""

    rgb: np.ndarray  #: shape (H, W, 3), uint8
    depth: np.ndarray  #: shape (H, W), m along the optical axis
    intrinsics: np.ndarray  #: 3x3 pinhole matrix K, px
    extrinsics: np.ndarray  #: 4x4 camera pose in the world


@dataclass(frozen=True)
class ObjectCloud:
    """The visible surface of one object, in the world frame."""

    name: str  #: assigned by perception (``obj_0``, ``obj_1``, ...)
    points: np.ndarray = field(repr=False)  #: shape (N, 3), m
    colors: np.ndarray = field(repr=False)  #: shape (N, 3), rgb in [0, 1]
    #: simulator label the points came from (instance mode), or the label most of its
    #: pixels carry when masks exist for evaluation; "" when unknown
    source: str = ""

    @property
    def n(self) -> int:
        return int(len(self.points))

    @property
    def centroid(self) -> np.ndarray:
        return self.points.mean(axis=0)


@dataclass(frozen=True)
class WorldPoints:
    """Every pixel back-projected, still laid out as the image."""

    xyz: np.ndarray = field(repr=False)  #: shape (H, W, 3), m, world frame
    rgb: np.ndarray = field(repr=False)  #: shape (H, W, 3), in [0, 1]
    valid: np.ndarray = field(repr=False)  #: shape (H, W), bool: depth hit something
    depth: np.ndarray = field(repr=False)  #: shape (H, W), m
    camera_position: np.ndarray  #: shape (3,), m, world frame
    focal: float  #: px (mean of fx and fy)


def backproject(frame: RGBDLike, max_depth: float | None = None) -> WorldPoints:
    """Back-project every pixel of ``frame`` into the world frame.

    Pixels at ``max_depth`` or beyond (the far plane: nothing was hit), 0 or NaN are
    marked invalid; by default ``max_depth`` is 99.5 % of the deepest value in an image
    with no such marks (an exact renderer's), else unbounded.
    """
    depth = np.asarray(frame.depth, np.float64)
    h, w = depth.shape
    k = np.asarray(frame.intrinsics, np.float64)
    fx, fy, cx, cy = k[0, 0], k[1, 1], k[0, 2], k[1, 2]
    # pixel centres sit at half-integer coordinates
    u, v = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    cam = np.stack([(u - cx) / fx * depth, (v - cy) / fy * depth, depth], axis=-1)
    t = np.asarray(frame.extrinsics, np.float64)
    xyz = cam @ t[:3, :3].T + t[:3, 3]
    if max_depth is None:
        # a real sensor marks what it did not measure (0, or NaN once filtered); an
        # exact renderer reports its far plane where nothing was hit
        marked = not np.all(np.isfinite(depth) & (depth > 0))
        max_depth = np.inf if marked else 0.995 * float(depth.max())
    valid = np.isfinite(depth) & (depth > 0) & (depth < max_depth)
    rgb = np.asarray(frame.rgb, np.float64)[..., :3] / 255.0
    return WorldPoints(xyz, rgb, valid, depth, t[:3, 3].copy(), float((fx + fy) / 2))


def to_open3d(points: np.ndarray, colors: np.ndarray | None = None):
    """An ``open3d.geometry.PointCloud`` holding ``points`` (N, 3) and ``colors`` (N, 3)."""
    import open3d as o3d

    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.asarray(points, np.float64)))
    if colors is not None:
        pcd.colors = o3d.utility.Vector3dVector(np.asarray(colors, np.float64))
    return pcd
