"""The table plane under the objects, and what it tells about the camera.

Both segmentation modes start here: RANSAC fits the plane of the table (:func:`fit_table`),
and everything else is measured as a height above it. The table is also the one surface
known to be flat and level, so it is used twice more:

* noise: a depth filter predicts the noise of every pixel, but only as an upper bound
  (its smoothing shrinks the noise by an amount no datasheet gives); the residuals of the
  table's inliers say by how much (:class:`NoiseLevel`). On noisy depth the height
  tolerances are widened to that noise (:func:`_noisy_config`) and each object's
  statistical outliers are dropped (:func:`_drop_outliers`);
* camera pose: a hand-eye calibration error tilts and shifts the table the camera sees;
  :func:`refine_camera_pose` levels it again at the table's known height.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tamp.perception.cloud import RGBDLike, WorldPoints, backproject, to_open3d
from tamp.perception.segment_config import SegmentationConfig


@dataclass(frozen=True)
class TablePlane:
    normal: np.ndarray  #: shape (3,), unit, pointing up
    offset: float  #: the plane is ``normal . x + offset = 0``
    inliers: int
    centre: np.ndarray  #: shape (3,), m, mean of the inliers

    @property
    def height(self) -> float:
        """z of the plane at the centre of its inliers, m."""
        return self.z_at(self.centre[:2])

    def z_at(self, xy: np.ndarray) -> float:
        """z of the plane below the point ``xy`` (2,), m."""
        n = self.normal
        return float(-(self.offset + n[0] * xy[0] + n[1] * xy[1]) / n[2])

    def distance(self, points: np.ndarray) -> np.ndarray:
        """Signed height of ``points`` (N, 3) above the plane, m."""
        return points @ self.normal + self.offset


def _workspace_mask(wp: WorldPoints, cfg: SegmentationConfig) -> np.ndarray:
    x0, x1, y0, y1, z1 = cfg.workspace
    x, y, z = wp.xyz[..., 0], wp.xyz[..., 1], wp.xyz[..., 2]
    return wp.valid & (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1) & (z <= z1)


def fit_table(points: np.ndarray, cfg: SegmentationConfig,
              sigma: np.ndarray | None = None) -> TablePlane:
    """RANSAC plane through the dominant surface of ``points`` (N, 3), refined by least
    squares on its inliers. ``sigma`` (N,), m, the depth noise of each point: the inlier
    distance grows to ``NOISE_SIGMAS`` times its median where that exceeds
    ``cfg.plane_threshold``."""
    import open3d as o3d

    if len(points) < 3:
        raise ValueError("too few points to fit the table plane")
    threshold = cfg.plane_threshold
    if sigma is not None and len(sigma):
        threshold = max(threshold, NOISE_SIGMAS * float(np.median(sigma)))
    o3d.utility.random.seed(cfg.seed)
    pcd = to_open3d(points)
    (a, b, c, d), idx = pcd.segment_plane(threshold, 3, cfg.plane_iterations)
    inl = points[np.asarray(idx)]
    # least squares refit: the RANSAC sample of 3 points is noisier than all inliers
    centre = inl.mean(axis=0)
    _, _, vt = np.linalg.svd(inl - centre, full_matrices=False)
    normal = vt[-1]
    if normal[2] < 0:
        normal = -normal
    if normal[2] < 0.9:
        raise ValueError(f"the dominant plane is not level (normal {np.round(normal, 2)}); "
                         "is the table in view?")
    return TablePlane(normal, float(-normal @ centre), len(idx), centre)


#: a point stands out of the noise when it lies this many (calibrated) standard
#: deviations from a surface
NOISE_SIGMAS = 3.5


@dataclass(frozen=True)
class NoiseLevel:
    """How noisy a filtered depth image is, per pixel, calibrated on the table plane."""

    sigma: np.ndarray  #: (H, W) m, standard deviation of each pixel's height; 0 if exact
    scale: float  #: measured residual on the table over the predicted sigma there

    @property
    def exact(self) -> bool:
        return not np.any(self.sigma > 0)

    def typical(self, mask: np.ndarray) -> float:
        """The median standard deviation over ``mask``, m (0 when exact or empty)."""
        vals = self.sigma[mask]
        return float(np.median(vals)) if vals.size else 0.0


def _noise_level(frame: RGBDLike, wp: WorldPoints, table: "TablePlane",
                 table_mask: np.ndarray) -> NoiseLevel:
    """Per-pixel noise of ``frame`` (its ``sigma`` image when a depth filter made it,
    else none), scaled by what the table plane's inliers show: the predicted sigma is an
    upper bound (smoothing shrinks it by an amount no datasheet gives), the residuals on
    a plane known to be flat say by how much."""
    sigma = getattr(frame, "sigma", None)
    if sigma is None or not np.any(np.asarray(sigma) > 0):
        return NoiseLevel(np.zeros(wp.valid.shape), 0.0)
    sigma = np.nan_to_num(np.asarray(sigma, np.float64))
    pts = wp.xyz[table_mask]
    res = np.abs(table.distance(pts))
    near = res < NOISE_SIGMAS * np.median(sigma[table_mask]) + 1e-9
    predicted = float(np.median(sigma[table_mask][near])) if near.any() else 0.0
    measured = 1.4826 * float(np.median(res[near])) if near.any() else predicted
    scale = float(np.clip(measured / max(predicted, 1e-9), 0.2, 1.0))
    return NoiseLevel(sigma * scale, scale)


def _noisy_config(cfg: SegmentationConfig, sigma: float) -> SegmentationConfig:
    """``cfg`` with every tolerance that compares heights widened to the noise ``sigma``
    (m) where the fixed one, set for exact depth, is tighter."""
    if sigma <= 0:
        return cfg
    from dataclasses import replace

    k = NOISE_SIGMAS
    return replace(cfg, min_height=max(cfg.min_height, k * sigma),
                   flat_tol=max(cfg.flat_tol, k * np.sqrt(2) * sigma),
                   bowl_rim_tol=max(cfg.bowl_rim_tol, k * sigma),
                   content_height=max(cfg.content_height, k * sigma),
                   outside_margin=max(cfg.outside_margin, k * sigma))


def _drop_outliers(points: np.ndarray, sigma: float, neighbours: int = 12,
                   std_ratio: float = 2.5) -> np.ndarray:
    """Mask of the points of one object to keep: open3d's statistical outlier removal
    (a point whose mean distance to its ``neighbours`` nearest exceeds the mean of all by
    ``std_ratio`` standard deviations goes), run only on noisy depth (``sigma`` > 0)."""
    keep = np.ones(len(points), bool)
    if sigma <= 0 or len(points) <= neighbours:
        return keep
    _, idx = to_open3d(points).remove_statistical_outlier(neighbours, std_ratio)
    keep[:] = False
    keep[np.asarray(idx, int)] = True
    return keep


def refine_camera_pose(frame: RGBDLike, table_height: float,
                       cfg: SegmentationConfig = SegmentationConfig()):
    """``frame`` with its camera pose corrected so that the table it sees is level at
    ``table_height`` (m, world frame), and the correction (4x4, world frame).

    A hand-eye calibration error tilts and shifts everything the camera sees; the
    workcell's table is known to be level at a known height, so the fitted table plane
    shows the tilt (rotations about horizontal axes) and the height error. The
    correction rotates about the camera's own position (undoing a rotation error of the
    camera exactly in those two axes) and then shifts along z. What the table cannot
    show, a yaw about the vertical and a horizontal shift, stays.
    """
    from dataclasses import is_dataclass, replace

    wp = backproject(frame)
    inside = _workspace_mask(wp, cfg)
    sigma = getattr(frame, "sigma", None)
    table = fit_table(wp.xyz[inside], cfg, None if sigma is None else np.asarray(sigma)[inside])
    from scipy.spatial.transform import Rotation

    # the smallest rotation taking the fitted normal to +z
    axis = np.cross(table.normal, [0.0, 0.0, 1.0])
    s = np.linalg.norm(axis)
    angle = np.arctan2(s, table.normal[2])
    rot = Rotation.from_rotvec(axis / s * angle).as_matrix() if s > 1e-12 else np.eye(3)
    cam = wp.camera_position
    fix = np.eye(4)
    fix[:3, :3] = rot
    fix[:3, 3] = cam - rot @ cam
    # the plane's height after the rotation, at its inliers' centre
    centre = fix[:3, :3] @ table.centre + fix[:3, 3]
    fix[2, 3] += table_height - centre[2]
    pose = fix @ np.asarray(frame.extrinsics, np.float64)
    if not is_dataclass(frame):
        raise TypeError("refine_camera_pose needs a dataclass frame")
    return replace(frame, extrinsics=pose), fix
