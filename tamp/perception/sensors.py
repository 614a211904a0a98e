"""Named RGB-D sensor models for the simulated camera: what a real depth camera does to
the perfect image PyBullet renders.

``ideal`` is the renderer itself (320x240, exact depth). ``d435`` is a RealSense
D435-class active stereo camera at 640x480:

* **axial noise from the disparity model.** A stereo camera measures disparity
  ``d = f B / z``; its error is a sub-pixel fraction ``sigma_d`` of a pixel, so depth
  error grows with the square of the distance: ``sigma_z = z^2 sigma_d / (f B)``
  (Intel, "Tuning depth cameras for best performance", the RMS-error formula of the D400
  series). Constants: baseline ``B`` = 50 mm (Intel RealSense D400 series datasheet, D435);
  ``sigma_d`` = 0.08 px (the white paper's typical sub-pixel RMS, 0.05-0.1). At 640x480
  with this camera's 55 degree vertical field of view (``f`` = 461 px) that is 4.4 mm at
  1.1 m and 5.9 mm at 1.3 m, the order of magnitude the issue measured.
* **spatially correlated noise.** Block matching aggregates cost over a window, so
  neighbouring pixels err together: a share ``correlated_share`` of the disparity
  variance is white noise smoothed over ``correlation_px`` pixels, the rest is per pixel.
  (An assumption of ours, of the order of a 7x7 matching window; not a published figure.)
  Each frame of a burst draws new noise: temporal noise is what averaging frames reduces.
* **quantisation** of depth to the ``z16`` unit, 1 mm (the D400 default depth unit).
* **invalid pixels reported as 0**: random dropouts (``invalid_fraction``, about 1 %),
  everything beyond ``max_range``, and the *occlusion shadow* beside every depth edge:
  a background pixel that the second imager, ``B`` to the side, cannot see because a
  nearer surface hides it (computed exactly from the disparities).
* **flying pixels**: at a depth discontinuity the matcher mixes both sides, so a pixel
  next to an edge takes a depth somewhere between them (``flying_fraction`` of them).
* **colour**: per-episode white balance (per channel gain) and exposure gain, and
  per-frame pixel noise.
* **camera pose error** (hand-eye calibration): the pose the frame *reports* is off by a
  rotation of ``pose_error_deg`` about a random axis and a translation of
  ``pose_error_m`` in a random direction, drawn once per episode; the image is rendered
  from the true pose. Off by default; ``--camera d435-miscalibrated`` sets 0.5 deg / 5 mm.

All of it is drawn from a generator seeded by the episode's seed, so an episode is
reproducible. Perception learns nothing from here but the datasheet facts that a user of
a real camera also has (:meth:`SensorModel.depth_noise`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.spatial.transform import Rotation

from tamp.perception.depth import DepthNoise
from tamp.registry import Registry


@dataclass(frozen=True)
class SensorModel:
    name: str
    width: int = 320  #: px
    height: int = 240  #: px
    baseline: float = 0.0  #: m between the stereo imagers; 0: exact depth
    subpixel: float = 0.0  #: px, RMS disparity error
    correlated_share: float = 0.0  #: of the disparity variance that is spatially smooth
    correlation_px: float = 3.0  #: px, sigma of the smoothing of the correlated part
    depth_unit: float = 0.0  #: m, quantisation step of depth; 0: none
    invalid_fraction: float = 0.0  #: of pixels dropped at random (reported as 0)
    shadows: bool = False  #: occlusion shadows beside depth edges reported as 0
    flying_fraction: float = 0.0  #: of pixels at a depth edge that take a mixed depth
    edge_jump: float = 0.01  #: m of depth across a 3x3 neighbourhood that makes an edge
    max_range: float = 10.0  #: m; farther (or nothing hit) reads 0
    white_balance: float = 0.0  #: standard deviation of each channel's gain, per episode
    exposure: float = 0.0  #: standard deviation of the common gain, per episode
    pixel_noise: float = 0.0  #: standard deviation of colour noise, per pixel, in [0, 255]
    pose_error_deg: float = 0.0  #: deg, rotation error of the reported camera pose
    pose_error_m: float = 0.0  #: m, translation error of the reported camera pose

    @property
    def ideal(self) -> bool:
        return self.baseline == 0.0 and not (self.invalid_fraction or self.flying_fraction
                                             or self.shadows or self.white_balance
                                             or self.exposure or self.pixel_noise
                                             or self.pose_error_deg or self.pose_error_m)

    def depth_noise(self) -> DepthNoise:
        """What perception may know of this sensor: its datasheet (baseline, sub-pixel
        error, depth unit), as a user of the real camera knows it."""
        return DepthNoise(self.baseline, self.subpixel, self.depth_unit)

    def draw_episode(self, rng: np.random.Generator) -> "SensorState":
        """The per-episode draws: colour gains and the pose error."""
        gains = (1.0 + self.exposure * rng.standard_normal()) * (
            1.0 + self.white_balance * rng.standard_normal(3))
        axis = rng.standard_normal(3)
        axis /= np.linalg.norm(axis)
        direction = rng.standard_normal(3)
        direction /= np.linalg.norm(direction)
        error = np.eye(4)
        error[:3, :3] = Rotation.from_rotvec(np.radians(self.pose_error_deg) * axis).as_matrix()
        error[:3, 3] = self.pose_error_m * direction
        return SensorState(np.clip(gains, 0.5, 1.5), error)

    def corrupt(self, rgb: np.ndarray, depth: np.ndarray, focal: float,
                state: "SensorState", rng: np.random.Generator
                ) -> tuple[np.ndarray, np.ndarray]:
        """A frame as this sensor reports it: ``rgb`` (H, W, 3) uint8 and ``depth`` (H, W)
        m, exact and with the far plane where nothing was hit; ``focal`` px. Returns
        (rgb uint8, depth float32 m with 0 for invalid)."""
        return (self.corrupt_rgb(rgb, state, rng),
                self.corrupt_depth(depth, focal, rng, self.edges(depth, focal)))

    def corrupt_rgb(self, rgb: np.ndarray, state: "SensorState",
                    rng: np.random.Generator) -> np.ndarray:
        if self.ideal:
            return rgb
        out = rgb.astype(np.float32) * state.gains.astype(np.float32)
        if self.pixel_noise:
            out += self.pixel_noise * rng.standard_normal(out.shape, dtype=np.float32)
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)

    def edges(self, depth: np.ndarray, focal: float) -> "DepthEdges":
        """Where a burst of frames of the same still scene has its edges and shadows
        (computed once per burst: they depend on the exact depth only)."""
        from scipy import ndimage

        hit = depth < self.max_range
        lo = ndimage.minimum_filter(depth, 3)
        hi = ndimage.maximum_filter(np.where(hit, depth, 0.0), 3)
        edge = hit & (hi - lo > self.edge_jump)
        shadow = _stereo_shadow(depth, focal, self.baseline) if self.shadows else None
        return DepthEdges(edge, lo, np.maximum(hi, lo), shadow)

    def corrupt_depth(self, depth: np.ndarray, focal: float, rng: np.random.Generator,
                      edges: "DepthEdges") -> np.ndarray:
        """Depth as this sensor reports it, from the exact ``depth`` (H, W) m."""
        z = np.asarray(depth, np.float64)
        hit = z < self.max_range
        if self.baseline == 0.0:
            return np.where(hit, z, 0.0).astype(np.float32)
        fb = focal * self.baseline
        if self.flying_fraction:
            fly = edges.edge & (rng.random(z.shape) < self.flying_fraction)
            mix = rng.random(z.shape)
            # a mixture of the nearest and farthest surface around the pixel: the
            # disparities (not depths) are what the matcher blends
            with np.errstate(divide="ignore", invalid="ignore"):
                d_mix = fb / edges.near * (1 - mix) + fb / edges.far * mix
                z = np.where(fly, fb / d_mix, z)
        noise = self._disparity_noise(z.shape, rng)
        disparity = np.maximum(fb / np.maximum(z, 1e-6) + noise, 1e-3)
        z = fb / disparity
        if self.depth_unit:
            z = np.rint(z / self.depth_unit) * self.depth_unit
        valid = hit & (z < self.max_range)
        if self.invalid_fraction:
            valid &= rng.random(z.shape) >= self.invalid_fraction
        if edges.shadow is not None:
            valid &= ~edges.shadow
        return np.where(valid, z, 0.0).astype(np.float32)

    def _disparity_noise(self, shape: tuple[int, int], rng: np.random.Generator
                         ) -> np.ndarray:
        from scipy import ndimage

        white = rng.standard_normal(shape)
        if not self.correlated_share:
            return self.subpixel * white
        smooth = ndimage.gaussian_filter(rng.standard_normal(shape), self.correlation_px,
                                         mode="reflect")
        # a Gaussian smoothing of unit white noise has variance 1 / (4 pi s^2) in 2-D:
        # rescale so that the share of variance is exactly as stated
        smooth *= np.sqrt(4 * np.pi) * self.correlation_px
        a = np.sqrt(self.correlated_share)
        return self.subpixel * (a * smooth + np.sqrt(1 - a * a) * white)


@dataclass(frozen=True)
class SensorState:
    """Per-episode draws of a sensor."""

    gains: np.ndarray  #: shape (3,), colour gain per channel
    pose_error: np.ndarray  #: 4x4, reported pose = true pose @ pose_error


@dataclass(frozen=True)
class DepthEdges:
    edge: np.ndarray  #: (H, W) bool, pixel at a depth discontinuity
    near: np.ndarray  #: (H, W) m, nearest depth around each pixel
    far: np.ndarray  #: (H, W) m, farthest depth that hit something around each pixel
    shadow: np.ndarray | None  #: (H, W) bool, hidden from the second imager


def _stereo_shadow(depth: np.ndarray, focal: float, baseline: float,
                   max_shift: int = 64) -> np.ndarray:
    """Pixels of the first imager that the second one (``baseline`` m to its right along
    the image rows) cannot see: a point at column u with disparity d appears at u - d in
    the second image, and is hidden there by any point at a column u + s (s > 0) whose
    disparity exceeds its own by s or more."""
    disparity = focal * baseline / np.maximum(depth, 1e-6)
    shadow = np.zeros(depth.shape, bool)
    spread = int(min(max_shift, np.ceil(np.ptp(disparity))))
    for s in range(1, spread + 1):
        shadow[:, :-s] |= disparity[:, s:] - disparity[:, :-s] >= s
    return shadow


#: every camera (sensor) model, by name
SENSORS: Registry[SensorModel] = Registry("camera")


def register_sensor(model: SensorModel) -> SensorModel:
    return SENSORS.add(model.name, model)


def sensor_model(name: str) -> SensorModel:
    """The registered camera model ``name``; UnknownName (a ValueError) lists the known
    ones."""
    return SENSORS.get(name)


IDEAL = register_sensor(SensorModel("ideal"))
D435 = register_sensor(SensorModel(
    "d435", width=640, height=480, baseline=0.050, subpixel=0.08, correlated_share=0.6,
    correlation_px=3.0, depth_unit=0.001, invalid_fraction=0.01, shadows=True,
    flying_fraction=0.6, white_balance=0.04, exposure=0.06, pixel_noise=2.0))
D435_MISCALIBRATED = register_sensor(replace(
    D435, name="d435-miscalibrated", pose_error_deg=0.5, pose_error_m=0.005))
#: what the learned perception modes see unless told otherwise
DEFAULT_LEARNED_CAMERA = "d435"
