"""Split a camera frame into per-object point clouds.

Two modes share the table fit and the output type:

* ``instance``: the simulator's instance masks say which pixel belongs to which object.
* ``geometric``: no masks, as on a real depth camera. RANSAC fits the table plane, the
  points above it are clustered with DBSCAN, and each cluster is split once more by
  colour so that a block resting in a bowl or on another block of a different colour
  becomes its own object.

Objects touching each other *and* sharing one colour stay one cluster in geometric mode;
that is the known limit of mask-free segmentation without a learned model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Literal

import numpy as np

from tamp.perception.cloud import ObjectCloud, RGBDLike, WorldPoints, backproject, to_open3d

SegmentationMode = Literal["instance", "geometric"]


@dataclass(frozen=True)
class SegmentationConfig:
    #: region that may hold objects (x_min, x_max, y_min, y_max, z_max), m, world frame;
    #: excludes the robot's base (x < 0.15) and its arm above the table at home
    workspace: tuple[float, float, float, float, float] = (0.15, 0.9, -0.6, 0.6, 0.30)
    plane_threshold: float = 0.004  #: m, RANSAC inlier distance to the table plane
    plane_iterations: int = 300
    min_height: float = 0.004  #: m above the plane for a point to belong to an object
    cluster_eps: float = 0.015  #: m, DBSCAN neighbourhood (about 3 pixels at 1 m)
    cluster_min_points: int = 6
    #: colour split: histogram cell in chromaticity (r, g) / (r + g + b)
    color_eps: float = 0.03
    #: a colour part with fewer points (edge pixels, highlights) joins its nearest part
    color_min_points: int = 20
    min_points: int = 20  #: objects with fewer visible points are dropped
    seed: int = 0  #: RANSAC and DBSCAN are seeded for repeatable results


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


@dataclass(frozen=True)
class Segmentation:
    mode: SegmentationMode
    objects: list[ObjectCloud]
    table: TablePlane
    camera_position: np.ndarray  #: shape (3,), m, world frame
    dropped: int = 0  #: segments with fewer than ``min_points`` points
    #: what the image holds beyond objects, for diagnostics
    info: dict = field(default_factory=dict)


def _workspace_mask(wp: WorldPoints, cfg: SegmentationConfig) -> np.ndarray:
    x0, x1, y0, y1, z1 = cfg.workspace
    x, y, z = wp.xyz[..., 0], wp.xyz[..., 1], wp.xyz[..., 2]
    return wp.valid & (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1) & (z <= z1)


def fit_table(points: np.ndarray, cfg: SegmentationConfig) -> TablePlane:
    """RANSAC plane through the dominant surface of ``points`` (N, 3), refined by least
    squares on its inliers."""
    import open3d as o3d

    if len(points) < 3:
        raise ValueError("too few points to fit the table plane")
    o3d.utility.random.seed(cfg.seed)
    pcd = to_open3d(points)
    (a, b, c, d), idx = pcd.segment_plane(cfg.plane_threshold, 3, cfg.plane_iterations)
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


def segment_instances(frame: RGBDLike, labels: tuple[str, ...], instance: np.ndarray,
                      cfg: SegmentationConfig = SegmentationConfig()) -> Segmentation:
    """One object per instance label, from the simulator's masks."""
    wp = backproject(frame)
    inside = _workspace_mask(wp, cfg)
    table = fit_table(wp.xyz[inside & (instance < 0)], cfg)
    masks, dropped = [], 0
    for k, label in enumerate(labels):
        m = inside & (instance == k)
        if m.sum() < cfg.min_points:
            dropped += int(m.any())
            continue
        masks.append((label, m))
    # the simulator's order of labels says which object the task made first (the red
    # blocks): names follow positions instead, as in geometric mode
    masks.sort(key=lambda lm: _order_key(wp.xyz[lm[1]]))
    objects = [ObjectCloud(f"obj_{k}", wp.xyz[m], wp.rgb[m], label)
               for k, (label, m) in enumerate(masks)]
    return Segmentation("instance", objects, table, wp.camera_position, dropped)


def _order_key(points: np.ndarray) -> tuple[float, float]:
    """Nearest to the robot first (x to the centimetre), then right to left (y)."""
    return round(float(points[:, 0].mean()), 2), float(points[:, 1].mean())


def _dbscan(points: np.ndarray, eps: float, min_points: int) -> np.ndarray:
    """Cluster labels (-1 noise) from open3d's DBSCAN."""
    if len(points) == 0:
        return np.zeros(0, int)
    return np.asarray(to_open3d(points).cluster_dbscan(eps, min_points, print_progress=False))


def _color_parts(rgb: np.ndarray, cfg: SegmentationConfig) -> np.ndarray:
    """Colour part of each point (-1: a rare colour), from connected cells of a
    chromaticity histogram.

    Chromaticity (r, g) / (r + g + b) is nearly constant over a shaded surface of one
    colour, so each object colour is one tight blob. A histogram with connected
    components finds the blobs in linear time, where DBSCAN on thousands of nearly equal
    colours would compare every pair.
    """
    from scipy import ndimage

    chroma = rgb[:, :2] / np.maximum(rgb.sum(axis=1, keepdims=True), 1e-6)
    cells = np.minimum((chroma / cfg.color_eps).astype(int), int(1 / cfg.color_eps))
    n = int(1 / cfg.color_eps) + 1
    hist = np.zeros((n, n), int)
    np.add.at(hist, (cells[:, 0], cells[:, 1]), 1)
    blobs, count = ndimage.label(hist > 0, structure=np.ones((3, 3)))
    part = blobs[cells[:, 0], cells[:, 1]] - 1
    sizes = np.bincount(part, minlength=count)
    big = np.flatnonzero(sizes >= cfg.color_min_points)
    remap = np.full(count, -1)
    remap[big] = np.arange(len(big))
    return remap[part]


def _split_by_color(points: np.ndarray, rgb: np.ndarray, cfg: SegmentationConfig
                    ) -> list[np.ndarray]:
    """Index sets of one spatial cluster, split where its colour changes."""
    owner = _color_parts(rgb, cfg)
    n_parts = int(owner.max()) + 1
    if n_parts <= 1:
        return [np.arange(len(points))]
    # points of rare colours (edge pixels, small highlights) join the closest part in
    # space, so that no point is lost
    loose = np.flatnonzero(owner < 0)
    if len(loose):
        centres = np.stack([points[owner == j].mean(axis=0) for j in range(n_parts)])
        owner[loose] = np.argmin(((points[loose, None] - centres[None]) ** 2).sum(-1), axis=1)
    out = []
    for j in range(n_parts):
        idx = np.flatnonzero(owner == j)
        # one colour may occur twice in a cluster (two parts touching a third): split
        # it in space
        sub = _dbscan(points[idx], cfg.cluster_eps, cfg.cluster_min_points)
        out += [idx[sub == k] for k in range(sub.max() + 1 if len(sub) else 0)]
    return out


def segment_geometric(frame: RGBDLike, cfg: SegmentationConfig = SegmentationConfig(),
                      instance: np.ndarray | None = None, labels: tuple[str, ...] = (),
                      exclude: Callable[[np.ndarray], np.ndarray] | None = None
                      ) -> Segmentation:
    """Objects as clusters above the table plane; no masks are used.

    ``exclude`` marks points (N, 3) that are no object, e.g. the robot's own (see
    :mod:`tamp.perception.self_filter`). ``instance``/``labels``, when given, only name
    the simulator object most of each cluster's pixels belong to (``ObjectCloud.source``)
    so that results can be scored.
    """
    wp = backproject(frame)
    inside = _workspace_mask(wp, cfg)
    table = fit_table(wp.xyz[inside], cfg)
    above = inside & (table.distance(wp.xyz.reshape(-1, 3)).reshape(inside.shape)
                      > cfg.min_height)
    pix = np.flatnonzero(above.ravel())
    if exclude is not None:
        pix = pix[~exclude(wp.xyz.reshape(-1, 3)[pix])]
    pts = wp.xyz.reshape(-1, 3)[pix]
    rgb = wp.rgb.reshape(-1, 3)[pix]
    clusters = _dbscan(pts, cfg.cluster_eps, cfg.cluster_min_points)
    objects, dropped = [], 0
    groups = []
    for c in range(clusters.max() + 1 if len(clusters) else 0):
        idx = np.flatnonzero(clusters == c)
        groups += [idx[p] for p in _split_by_color(pts[idx], rgb[idx], cfg)]
    # names must not depend on DBSCAN's internal numbering
    groups.sort(key=lambda g: _order_key(pts[g]))
    for g in groups:
        if len(g) < cfg.min_points:
            dropped += 1
            continue
        source = ""
        if instance is not None:
            ids = instance.ravel()[pix[g]]
            ids = ids[ids >= 0]
            if len(ids):
                source = labels[int(np.bincount(ids).argmax())]
        objects.append(ObjectCloud(f"obj_{len(objects)}", pts[g], rgb[g], source))
    return Segmentation("geometric", objects, table, wp.camera_position, dropped,
                        {"above_table_points": int(len(pts)),
                         "noise_points": int((clusters < 0).sum())})


def segment(frame, mode: SegmentationMode = "instance",
            cfg: SegmentationConfig = SegmentationConfig(),
            exclude: Callable[[np.ndarray], np.ndarray] | None = None) -> Segmentation:
    """Segment a ``scenes.camera.CameraFrame``-like frame (``instance``/``labels`` are
    read only in instance mode, or to name clusters for scoring in geometric mode;
    ``exclude``, geometric mode only: see :func:`segment_geometric`)."""
    if mode == "instance":
        return segment_instances(frame, tuple(frame.labels), frame.instance, cfg)
    if mode == "geometric":
        return segment_geometric(frame, cfg, getattr(frame, "instance", None),
                                 tuple(getattr(frame, "labels", ())), exclude)
    raise ValueError(f"unknown segmentation mode '{mode}'; use 'instance' or 'geometric'")
