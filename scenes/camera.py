"""A pinhole RGB-D camera over the table: colour, metric depth and instance masks, seen
through a named sensor model (:mod:`tamp.perception.sensors`: ``ideal``, ``d435``, ...)."""

from __future__ import annotations

from dataclasses import dataclass, replace

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
    """The scene camera. ``sensor`` sets the resolution and what the real device does to
    the image (noise, invalid and flying pixels, colour, pose error); ``reseed`` draws
    the per-episode part of it from the episode's seed."""

    def __init__(self, config: CameraConfig = CameraConfig(), sensor=None, seed: int = 0):
        from tamp.perception.sensors import IDEAL

        self.sensor = sensor or IDEAL
        if (self.sensor.width, self.sensor.height) != (config.width, config.height) \
                and not self.sensor.ideal:
            config = replace(config, width=self.sensor.width, height=self.sensor.height)
        self.config = c = config
        self.view = p.computeViewMatrix(c.eye, c.target, (0, 0, 1))
        self.proj = p.computeProjectionMatrixFOV(c.fov_deg, c.width / c.height, c.near, c.far)
        fy = c.height / (2 * np.tan(np.radians(c.fov_deg) / 2))
        self.intrinsics = np.array([[fy, 0, c.width / 2], [0, fy, c.height / 2], [0, 0, 1]])
        # OpenGL view matrix (column-major) -> camera pose with OpenCV axes
        view = np.asarray(self.view).reshape(4, 4).T
        gl_to_cv = np.diag([1.0, -1.0, -1.0, 1.0])
        self.extrinsics = np.linalg.inv(gl_to_cv @ view)
        self.reseed(seed)

    def reseed(self, seed: int | None) -> None:
        """Restart the sensor's random stream (per episode: colour gains and pose error
        are drawn here, noise per frame after)."""
        # a stream of its own, apart from the task's, so that the scene a seed makes
        # does not depend on the camera
        self.rng = np.random.default_rng([0x5E_4503, int(seed or 0)])
        self.state = self.sensor.draw_episode(self.rng)

    def new_episode(self) -> None:
        """Draw the per-episode part of the sensor (colour gains, pose error) anew from
        the camera's stream, without restarting it (a dataset of many scenes)."""
        self.state = self.sensor.draw_episode(self.rng)

    @property
    def reported_extrinsics(self) -> np.ndarray:
        """The camera pose the robot believes (the true one, with any calibration error)."""
        return self.extrinsics @ self.state.pose_error

    def capture(self, client: int, bodies: dict[str, int]) -> CameraFrame:
        """One frame of the scene; ``bodies`` maps object names to PyBullet body ids."""
        return self.burst(client, bodies, 1)[0]

    def burst(self, client: int, bodies: dict[str, int], n: int) -> list[CameraFrame]:
        """``n`` frames of the still scene, as a real camera streams them: one render,
        with the sensor's noise drawn anew for each frame."""
        c = self.config
        _, _, rgba, zbuf, seg = p.getCameraImage(
            c.width, c.height, self.view, self.proj, renderer=p.ER_TINY_RENDERER,
            physicsClientId=client)
        rgb = np.asarray(rgba, np.uint8).reshape(c.height, c.width, 4)[..., :3]
        zbuf = np.asarray(zbuf, np.float32).reshape(c.height, c.width)
        depth = (c.far * c.near / (c.far - (c.far - c.near) * zbuf)).astype(np.float32)
        seg = np.asarray(seg, np.int32).reshape(c.height, c.width)
        labels = tuple(bodies)
        instance = np.full(seg.shape, -1, np.int32)
        for k, name in enumerate(labels):
            instance[seg == bodies[name]] = k
        pose = self.reported_extrinsics
        if self.sensor.ideal:
            return [CameraFrame(rgb, depth, instance, labels, self.intrinsics, pose)] * n
        sensor, focal = self.sensor, float(self.intrinsics[1, 1])
        # nothing hit: the far plane, out of range for the sensor
        exact = np.where(depth >= 0.995 * c.far, np.inf, depth)
        edges = sensor.edges(exact, focal)
        return [CameraFrame(sensor.corrupt_rgb(rgb, self.state, self.rng),
                            sensor.corrupt_depth(exact, focal, self.rng, edges), instance,
                            labels, self.intrinsics, pose) for _ in range(n)]
