"""A pinhole RGB-D camera over the table: colour, metric depth and instance masks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pybullet as p


@dataclass(frozen=True)
class CameraConfig:
    width: int = 320  #: px
    height: int = 240  #: px
    fov_deg: float = 55.0  #: vertical field of view
    eye: tuple[float, float, float] = (1.15, 0.0, 0.75)  #: m, in the robot base frame
    target: tuple[float, float, float] = (0.45, 0.0, 0.0)
    near: float = 0.05  #: m
    far: float = 3.0  #: m


@dataclass(frozen=True)
class CameraFrame:
    rgb: np.ndarray  #: shape (H, W, 3), uint8
    depth: np.ndarray  #: shape (H, W), float32, metres along the optical axis
    instance: np.ndarray  #: shape (H, W), int32, index into ``labels`` or -1 (background)
    labels: tuple[str, ...]  #: object name of each instance index
    intrinsics: np.ndarray  #: 3x3 pinhole matrix K, px
    extrinsics: np.ndarray  #: 4x4 camera pose in the world (OpenCV axes: x right, y down)

    def mask(self, name: str) -> np.ndarray:
        """Boolean mask of one object, shape (H, W)."""
        return self.instance == self.labels.index(name)


class Camera:
    def __init__(self, config: CameraConfig = CameraConfig()):
        self.config = config
        c = config
        self.view = p.computeViewMatrix(c.eye, c.target, (0, 0, 1))
        self.proj = p.computeProjectionMatrixFOV(c.fov_deg, c.width / c.height, c.near, c.far)
        fy = c.height / (2 * np.tan(np.radians(c.fov_deg) / 2))
        self.intrinsics = np.array([[fy, 0, c.width / 2], [0, fy, c.height / 2], [0, 0, 1]])
        # OpenGL view matrix (column-major) -> camera pose with OpenCV axes
        view = np.asarray(self.view).reshape(4, 4).T
        gl_to_cv = np.diag([1.0, -1.0, -1.0, 1.0])
        self.extrinsics = np.linalg.inv(gl_to_cv @ view)

    def capture(self, client: int, bodies: dict[str, int]) -> CameraFrame:
        """Render the scene; ``bodies`` maps object names to PyBullet body ids."""
        c = self.config
        _, _, rgba, zbuf, seg = p.getCameraImage(
            c.width, c.height, self.view, self.proj, renderer=p.ER_TINY_RENDERER,
            physicsClientId=client)
        rgb = np.asarray(rgba, np.uint8).reshape(c.height, c.width, 4)[..., :3]
        zbuf = np.asarray(zbuf, np.float32).reshape(c.height, c.width)
        depth = c.far * c.near / (c.far - (c.far - c.near) * zbuf)
        seg = np.asarray(seg, np.int32).reshape(c.height, c.width)
        labels = tuple(bodies)
        instance = np.full(seg.shape, -1, np.int32)
        for k, name in enumerate(labels):
            instance[seg == bodies[name]] = k
        return CameraFrame(rgb, depth.astype(np.float32), instance, labels, self.intrinsics,
                           self.extrinsics)
