"""Split a camera frame into per-object point clouds.

Two modes share the table fit and the output type:

* ``instance``: the simulator's instance masks say which pixel belongs to which object.
* ``geometric``: no masks, as on a real depth camera. RANSAC fits the table plane, the
  points above it are clustered with DBSCAN, and each cluster is split once more by
  colour so that a block resting in a bowl or on another block of a different colour
  becomes its own object.

Objects that touch *and* share one colour form one cluster; geometry splits it again
(:func:`split_cluster`), with cues a depth camera gives and no masks:

* a bowl is found by the circle of its rim; what stands inside it above its floor and
  wall, and what stands outside the rim, are other objects;
* every upright solid has one flat top face: flat regions of the depth image that lie at
  different heights, or apart, are the tops of different objects;
* touching solids of different yaws leave notches in their joint footprint: a straight
  cut that lets two rectangles cover the footprint much more tightly than one separates
  them.

What remains one cluster: touching objects of one colour with equal heights, aligned
sides and no visible gap (their union looks like one larger box), and objects of one
colour stacked so that the lower one's top is hidden.
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
    #: split clusters of one colour into objects by their geometry (see
    #: :func:`split_cluster`)
    split: bool = True
    #: m, radii of a bowl's rim that are looked for
    bowl_radius: tuple[float, float] = (0.05, 0.25)
    bowl_rim_tol: float = 0.004  #: m, distance of a rim point to the fitted circle
    #: a rim whose hull fills more of its smallest rectangle than this is a tray's
    rectangular_fill: float = 0.92
    #: m a point must stand above the bowl's floor or wall to belong to its content
    content_height: float = 0.006
    #: m, beyond the rim circle a point belongs to something outside the bowl
    outside_margin: float = 0.004
    #: m, neighbouring pixels of one flat top face differ by less than this in height
    flat_tol: float = 0.0015
    flat_min_pixels: int = 20  #: a flat region smaller than this is no object's top
    min_part_side: float = 0.02  #: m, the narrowest footprint a split may leave
    #: a straight cut splits a footprint if two rectangles then cover it with this
    #: fraction less area than one
    cut_gain: float = 0.12


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


def segment_instances(frame: RGBDLike, labels: tuple[str, ...], instance: np.ndarray,
                      cfg: SegmentationConfig = SegmentationConfig()) -> Segmentation:
    """One object per instance label, from the simulator's masks. On noisy depth (a
    filtered frame with a ``sigma`` image), an object's points within the noise of the
    table and its statistical outliers are dropped: a mask's edge also covers a few
    pixels whose depth is the table's or a blend."""
    wp = backproject(frame)
    inside = _workspace_mask(wp, cfg)
    sigma = getattr(frame, "sigma", None)
    background = inside & (instance < 0)
    table = fit_table(wp.xyz[background], cfg,
                      None if sigma is None else np.asarray(sigma)[background])
    noise = _noise_level(frame, wp, table, background)
    if not noise.exact:
        with np.errstate(invalid="ignore"):
            height = table.distance(wp.xyz.reshape(-1, 3)).reshape(inside.shape)
            inside &= height > np.maximum(cfg.min_height, NOISE_SIGMAS * noise.sigma)
    masks, dropped = [], 0
    for k, label in enumerate(labels):
        m = inside & (instance == k)
        if not noise.exact and m.sum() >= cfg.min_points:
            rows, cols = np.nonzero(m)
            keep = _drop_outliers(wp.xyz[m], noise.typical(m))
            m = np.zeros_like(m)
            m[rows[keep], cols[keep]] = True
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


# -- splitting a cluster of one colour into objects ---------------------------------------


def split_cluster(points: np.ndarray, pixels: np.ndarray, height_image: np.ndarray,
                  camera: np.ndarray | None = None,
                  cfg: SegmentationConfig = SegmentationConfig()) -> list[np.ndarray]:
    """Index sets of the objects in one cluster of one colour, from its geometry alone.

    ``points`` (N, 3) m; ``pixels`` (N,) their flat indices in ``height_image`` (H, W),
    the height of every pixel above the table (m, NaN where nothing was seen), from which
    flat top faces and the gaps between them are read; ``camera`` (3,) the camera's
    position, m. A bowl's rim, flat tops at different heights or apart, and notches in
    the footprint separate objects (see the module docstring).
    """
    everything = np.arange(len(points))
    heights = height_image.ravel()[pixels]
    if len(points) < 2 * cfg.min_points:
        return [everything]
    xy = points[:, :2]
    bowl = _find_bowl(xy, heights, cfg)
    if bowl is None:
        return _split_solids(everything, xy, heights, pixels, height_image, cfg)
    centre, radius = bowl
    r = np.linalg.norm(xy - centre, axis=1)
    outside = r > radius + cfg.outside_margin
    # the bowl's surface as a function of the distance from its centre: the floor, then
    # the inner wall, which the camera sees on the far side (on the near side it sees the
    # outer wall, lower at the same distance)
    far = r < radius - 2 * cfg.outside_margin  # not the rim (nor what touches it)
    if camera is not None:
        far &= (xy - centre) @ (centre - np.asarray(camera)[:2]) > 0
    surface = _surface_profile(r[far], heights[far], radius)
    # what stands clearly above that surface is something in the bowl
    inside = ((r < radius - 2 * cfg.outside_margin)
              & (heights > surface(r + cfg.outside_margin) + cfg.content_height))
    own = ~outside & ~inside
    parts = []
    for mask in (inside, outside):
        idx = np.flatnonzero(mask)
        labels = _dbscan(points[idx], cfg.cluster_eps, cfg.cluster_min_points)
        for k in range(labels.max() + 1 if len(labels) else 0):
            sub = idx[labels == k]
            if len(sub) >= cfg.min_points:
                parts += _split_solids(sub, xy, heights, pixels, height_image, cfg)
            elif mask is inside:  # a few pixels of the wall or floor
                own[sub] = True
            else:
                parts.append(sub)  # too small to be an object: dropped
        if mask is inside:
            own[idx[labels < 0]] = True
    return [np.flatnonzero(own)] + parts


def _find_bowl(xy: np.ndarray, heights: np.ndarray, cfg: SegmentationConfig
               ) -> tuple[np.ndarray, float] | None:
    """Centre (2,) and radius (m) of a bowl's rim among the points, or None.

    The rim is a circle of points high up (RANSAC on circles through three of them) seen
    all around, and the bowl is hollow: the points well inside the rim are mostly low.
    """
    lo, hi = cfg.bowl_radius
    if np.ptp(xy, axis=0).max() < 2 * lo:
        return None
    high = xy[heights > 0.5 * heights.max()]
    if len(high) < 30:
        return None
    from tamp.perception.fit import fill_ratio

    if fill_ratio(high) > cfg.rectangular_fill:
        return None  # the rim is a rectangle: a tray's walls, not a bowl's rim
    rng = np.random.default_rng(cfg.seed)
    sample = high[rng.choice(len(high), min(len(high), 500), replace=False)]
    a, b, c = (sample[rng.integers(0, len(sample), 200)] for _ in range(3))
    # circumcentres of the triangles (a, b, c)
    d = 2 * (a[:, 0] * (b[:, 1] - c[:, 1]) + b[:, 0] * (c[:, 1] - a[:, 1])
             + c[:, 0] * (a[:, 1] - b[:, 1]))
    ok = np.abs(d) > 1e-12
    a, b, c, d = a[ok], b[ok], c[ok], d[ok]
    sa, sb, sc = (a ** 2).sum(1), (b ** 2).sum(1), (c ** 2).sum(1)
    centres = np.stack([(sa * (b[:, 1] - c[:, 1]) + sb * (c[:, 1] - a[:, 1])
                         + sc * (a[:, 1] - b[:, 1])) / d,
                        (sa * (c[:, 0] - b[:, 0]) + sb * (a[:, 0] - c[:, 0])
                         + sc * (b[:, 0] - a[:, 0])) / d], axis=1)
    radii = np.linalg.norm(a - centres, axis=1)
    keep = (radii > lo) & (radii < hi)
    if not keep.any():
        return None
    centres, radii = centres[keep], radii[keep]
    dist = np.abs(np.linalg.norm(sample[None] - centres[:, None], axis=2) - radii[:, None])
    best = int(np.argmax((dist < cfg.bowl_rim_tol).sum(1)))
    centre, radius = centres[best], radii[best]
    for _ in range(2):  # least squares on the inliers (x^2 + y^2 + D x + E y + F = 0)
        inl = high[np.abs(np.linalg.norm(high - centre, axis=1) - radius) < cfg.bowl_rim_tol]
        if len(inl) < 3:
            return None
        (dd, ee, ff), *_ = np.linalg.lstsq(np.column_stack([inl, np.ones(len(inl))]),
                                           -(inl ** 2).sum(1), rcond=None)
        centre = np.array([-dd / 2, -ee / 2])
        radius = float(np.sqrt(max(centre @ centre - ff, 0.0)))
    if not lo < radius < hi or len(inl) < 40:
        return None
    # seen most of the way around (the arm may hide some): no arc of something else
    angles = np.arctan2(*(inl - centre).T[::-1])
    if len(np.unique(((angles + np.pi) / (2 * np.pi) * 24).astype(int))) < 15:
        return None
    r = np.linalg.norm(xy - centre, axis=1)
    inner = heights[r < 0.5 * radius]
    rim = float(np.median(heights[np.abs(r - radius) < cfg.bowl_rim_tol]))
    if len(inner) < 10 or np.quantile(inner, 0.3) > 0.5 * rim:
        return None  # a solid top (a wide cylinder), not a hollow
    return _outer_circle(xy, centre, radius, cfg)


def _outer_circle(xy: np.ndarray, centre: np.ndarray, radius: float,
                  cfg: SegmentationConfig, sectors: int = 48) -> tuple[np.ndarray, float]:
    """The bowl's outer edge: a circle through the farthest point from ``centre`` in each
    sector around it, where it lies near the rim circle (``radius``).

    The rim circle leans towards the camera (the camera sees the inner wall on the far
    side and the outer wall on the near one); the outline does not. Sectors where
    something outside the bowl touches it lie beyond the outline and are left out.
    """
    for _ in range(3):
        d = xy - centre
        r = np.linalg.norm(d, axis=1)
        sector = ((np.arctan2(d[:, 1], d[:, 0]) + np.pi) / (2 * np.pi) * sectors).astype(int)
        order = np.lexsort((r, sector))
        last = np.searchsorted(sector[order], np.arange(sectors), side="right") - 1
        seen = last >= 0
        far = order[last[seen]]
        far = far[sector[far] == np.arange(sectors)[seen]]  # sectors with points
        far = far[np.abs(r[far] - radius) < 0.02]
        if len(far) < sectors // 2:
            break
        res = r[far] - np.median(r[far])
        far = far[np.abs(res) < max(cfg.bowl_rim_tol, 2.5 * np.median(np.abs(res)))]
        (dd, ee, ff), *_ = np.linalg.lstsq(np.column_stack([xy[far], np.ones(len(far))]),
                                           -(xy[far] ** 2).sum(1), rcond=None)
        centre = np.array([-dd / 2, -ee / 2])
        radius = float(np.sqrt(max(centre @ centre - ff, 0.0)))
    return centre, radius


def _surface_profile(r: np.ndarray, heights: np.ndarray, radius: float,
                     step: float = 0.004):
    """The lowest surface of a bowl as a function of the distance from its centre, m: in
    rings of ``step`` (m), a low quantile of the heights, made non-decreasing outwards
    (what stands in the bowl covers only part of a ring)."""
    n = int(radius / step) + 2
    ring = np.minimum((r / step).astype(int), n - 1)
    order = np.lexsort((heights, ring))
    first = np.searchsorted(ring[order], np.arange(n))
    count = np.searchsorted(ring[order], np.arange(n), side="right") - first
    low = np.full(n, np.inf)
    seen = count > 0
    low[seen] = heights[order][first[seen] + (0.1 * (count[seen] - 1)).astype(int)]
    low = np.minimum.accumulate(low[::-1])[::-1]
    low[np.isinf(low)] = float(heights.max()) if len(heights) else 0.0
    return lambda rr: low[np.minimum((np.asarray(rr) / step).astype(int), n - 1)]


def _split_solids(idx: np.ndarray, xy: np.ndarray, heights: np.ndarray, pixels: np.ndarray,
                  height_image: np.ndarray, cfg: SegmentationConfig) -> list[np.ndarray]:
    """Index sets (subsets of ``idx``) of the solids in a group of points: by their flat
    tops first, then by straight cuts through notches of each footprint. A container
    (a flat floor low down, walls all around) is left whole."""
    tops = _flat_tops(idx, xy, heights, pixels, height_image, cfg)
    if any(_is_floor(t, idx, xy, heights) for t in tops):
        return [idx]
    groups = _assign_to_tops(idx, xy, heights, tops, cfg) if len(tops) > 1 else [idx]
    out = []
    for g in groups:
        if _notch_filled_above(pixels[g], heights[g], height_image, cfg):
            out.append(g)  # something on top of it hides a bite of its outline
        else:
            out += _split_by_cuts(g, xy, cfg)
    return out


def _notch_filled_above(pix: np.ndarray, heights: np.ndarray, height_image: np.ndarray,
                        cfg: SegmentationConfig) -> bool:
    """Whether most of the pixels inside the image outline (convex hull) of a region but
    not in it stand higher than the region's top: something resting on or in front of
    it hides part of it (a small disk on a wider one leaves a crescent), so the notch in
    its footprint is no gap between two objects."""
    from scipy.spatial import Delaunay, QhullError

    w = height_image.shape[1]
    rows, cols = np.divmod(pix, w)
    r0, c0 = rows.min(), cols.min()
    box = np.zeros((rows.max() - r0 + 1, cols.max() - c0 + 1), bool)
    box[rows - r0, cols - c0] = True
    try:
        hull = Delaunay(np.column_stack([rows, cols]))
    except (QhullError, ValueError):
        return False
    rr, cc = np.nonzero(~box)
    notch = hull.find_simplex(np.column_stack([rr + r0, cc + c0])) >= 0
    if notch.sum() < cfg.flat_min_pixels:
        return False
    seen = height_image[rr[notch] + r0, cc[notch] + c0]
    top = float(np.quantile(heights, 0.9))
    with np.errstate(invalid="ignore"):
        return bool(np.mean(seen > top + cfg.flat_tol) > 0.5)


def _is_floor(top: np.ndarray, idx: np.ndarray, xy: np.ndarray, heights: np.ndarray
              ) -> bool:
    """Whether a flat region is the floor of a container: low, with higher points (walls)
    all around it."""
    level, high = np.median(heights[top]), heights[idx].max()
    if level > 0.4 * high:
        return False
    wall = idx[heights[idx] > level + 0.5 * (high - level)]
    d = xy[wall] - xy[top].mean(axis=0)
    sectors = ((np.arctan2(d[:, 1], d[:, 0]) + np.pi) / (2 * np.pi) * 8).astype(int) % 8
    return len(np.unique(sectors)) >= 6


def _flat_tops(idx: np.ndarray, xy: np.ndarray, heights: np.ndarray, pixels: np.ndarray,
               height_image: np.ndarray, cfg: SegmentationConfig) -> list[np.ndarray]:
    """The top faces of the solids among the points ``idx``: flat, level regions of the
    depth image (connected pixels whose neighbours along both image axes lie at the same
    height), big enough for a top face; two of one height are one top unless the pixels
    between them lie lower (a gap that the camera sees through)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    rows, cols = np.divmod(pixels[idx], height_image.shape[1])
    rows, cols = rows - rows.min(), cols - cols.min()
    img = np.full((rows.max() + 1, cols.max() + 1), np.nan)
    img[rows, cols] = heights[idx]
    pos = np.full(img.shape, -1)
    pos[rows, cols] = np.arange(len(idx))
    with np.errstate(invalid="ignore"):
        across = np.abs(np.diff(img, axis=1)) < cfg.flat_tol  # (c, c + 1) at one height
        along = np.abs(np.diff(img, axis=0)) < cfg.flat_tol  # (r, r + 1)
    level_c = np.zeros(img.shape, bool)
    level_c[:, :-1] |= across
    level_c[:, 1:] |= across
    level_r = np.zeros(img.shape, bool)
    level_r[:-1] |= along
    level_r[1:] |= along
    flat = level_c & level_r
    e_c = across & flat[:, :-1] & flat[:, 1:]
    e_r = along & flat[:-1] & flat[1:]
    a = np.concatenate([pos[:, :-1][e_c], pos[:-1][e_r]])
    b = np.concatenate([pos[:, 1:][e_c], pos[1:][e_r]])
    n = len(idx)
    _, label = connected_components(coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n)),
                                    directed=False)
    label[~flat[rows, cols]] = -1
    # an opening of each region (erode, then grow back within it) drops thin appendages:
    # pixels of a neighbouring face that touch it at its height
    img_label = np.full(img.shape, -1)
    img_label[rows, cols] = label
    pad = np.pad(img_label, 1, constant_values=-2)
    shifted = [pad[1:-1, :-2], pad[1:-1, 2:], pad[:-2, 1:-1], pad[2:, 1:-1]]
    core = (img_label >= 0) & np.all([sh == img_label for sh in shifted], axis=0)
    core_label = np.pad(np.where(core, img_label, -1), 1, constant_values=-1)
    grown = np.any([c == img_label for c in (core_label[1:-1, 1:-1], core_label[1:-1, :-2],
                                              core_label[1:-1, 2:], core_label[:-2, 1:-1],
                                              core_label[2:, 1:-1])], axis=0)
    label[~grown[rows, cols]] = -1
    tops = []
    for k in np.unique(label[label >= 0]):
        member = idx[label == k]
        if len(member) < cfg.flat_min_pixels:
            continue
        if _inscribed_width(xy[member]) < 0.7 * cfg.min_part_side:
            continue  # a sliver: a rim, the top of a wall, an edge
        tops.append(member)
    if len(tops) < 2:
        return tops
    # tops of one height with no gap between them are pieces of one top (something of
    # another colour lies across it)
    level = np.array([np.median(heights[t]) for t in tops])
    group = list(range(len(tops)))
    for i in range(len(tops)):
        for j in range(i + 1, len(tops)):
            if abs(level[i] - level[j]) < cfg.flat_tol and not _gap_between(
                    pixels[tops[i]], pixels[tops[j]], height_image,
                    min(level[i], level[j]) - 3 * cfg.flat_tol):
                old, new = group[j], group[i]
                group = [new if g == old else g for g in group]
    return [np.sort(np.concatenate([t for t, g in zip(tops, group) if g == k]))
            for k in sorted(set(group))]


def _min_width(xy: np.ndarray) -> float:
    """The narrower side of the smallest rectangle around ``xy`` (N, 2), m."""
    from tamp.perception.fit import min_area_rectangle

    rect = min_area_rectangle(xy)
    return min(rect.length, rect.width)


def _inscribed_width(xy: np.ndarray, cell: float = 0.002) -> float:
    """The diameter of the widest disk inside the region that the points ``xy`` (N, 2)
    cover (gaps of up to about 8 mm between neighbouring points closed), m."""
    from scipy import ndimage

    return 2 * cell * float(ndimage.distance_transform_edt(_raster(xy, cell)).max())


def _covered_area(xy: np.ndarray, cell: float) -> float:
    """The area that the points ``xy`` (N, 2) cover, gaps between neighbours closed and
    grown by one ``cell`` (m) all around, m^2."""
    from scipy import ndimage

    return float(ndimage.binary_dilation(_raster(xy, cell)).sum()) * cell ** 2


def _raster(xy: np.ndarray, cell: float, gap: float = 0.008) -> np.ndarray:
    """The points ``xy`` (N, 2) on a grid of ``cell`` (m), with gaps of up to ``gap`` (m)
    between neighbouring points closed, and a margin of empty cells all around."""
    from scipy import ndimage

    k = int(np.ceil(gap / cell / 2))
    ij = np.floor((xy - xy.min(axis=0)) / cell).astype(int) + k + 2
    grid = np.zeros(tuple(ij.max(axis=0) + k + 3), bool)
    grid[ij[:, 0], ij[:, 1]] = True
    return ndimage.binary_closing(grid, np.ones((2 * k + 1, 2 * k + 1), bool))


def _gap_between(pix_a: np.ndarray, pix_b: np.ndarray, height_image: np.ndarray,
                 below: float) -> bool:
    """Whether the pixels on the image line between the closest pixels of two regions
    all lie lower than ``below`` (m) or show nothing."""
    w = height_image.shape[1]
    ra, ca = np.divmod(pix_a, w)
    rb, cb = np.divmod(pix_b, w)
    d2 = (ra[:, None] - rb[None]) ** 2 + (ca[:, None] - cb[None]) ** 2
    i, j = np.unravel_index(int(np.argmin(d2)), d2.shape)
    steps = int(max(abs(ra[i] - rb[j]), abs(ca[i] - cb[j])))
    if steps < 2:
        return False
    t = np.arange(1, steps) / steps
    r = np.round(ra[i] + t * (rb[j] - ra[i])).astype(int)
    c = np.round(ca[i] + t * (cb[j] - ca[i])).astype(int)
    between = height_image[r, c]
    return bool(np.all(np.isnan(between) | (between < below)))


def _assign_to_tops(idx: np.ndarray, xy: np.ndarray, heights: np.ndarray,
                    tops: list[np.ndarray], cfg: SegmentationConfig) -> list[np.ndarray]:
    """Split the points ``idx`` among the solids whose top faces are ``tops``.

    A side face hangs below the edge of its own top, so a point belongs to the top whose
    outline is nearest among those not below it; within the outlines of two, to the
    lower one (in a stack, the lower object's side lies under both tops).
    """
    from tamp.perception.fit import min_area_rectangle

    p = xy[idx]
    h = heights[idx]
    dist = np.empty((len(idx), len(tops)))
    level = np.empty(len(tops))
    for k, t in enumerate(tops):
        rect = min_area_rectangle(xy[t])
        c, s = np.cos(rect.yaw), np.sin(rect.yaw)
        local = (p - rect.centre) @ np.array([[c, -s], [s, c]])
        out = np.maximum(np.abs(local) - [rect.length / 2, rect.width / 2], 0)
        dist[:, k] = np.linalg.norm(out, axis=1)
        level[k] = np.median(heights[t])
    # tops not below the point; of those, the nearest, and the lowest of the nearest
    # (a point inside two tops' outlines lies on the side of the lower one)
    dist = np.where(h[:, None] <= level[None] + cfg.flat_tol, dist, np.inf)
    dist[np.isinf(dist).all(1)] = 0.0  # above every top: any will do
    near = dist <= dist.min(1, keepdims=True) + 0.001
    owner = np.argmin(np.where(near, level[None], np.inf), axis=1)
    for k, t in enumerate(tops):
        owner[np.searchsorted(idx, t)] = k
    return [idx[owner == k] for k in range(len(tops)) if (owner == k).any()]


def _split_by_cuts(idx: np.ndarray, xy: np.ndarray, cfg: SegmentationConfig,
                   depth: int = 3) -> list[np.ndarray]:
    """Split the points ``idx`` by straight cuts while each cut lets two rectangles
    cover the footprint much more tightly than one (see :func:`_best_cut`)."""
    if depth == 0 or len(idx) < 2 * cfg.min_points:
        return [idx]
    left = _best_cut(xy[idx], cfg)
    if left is None:
        return [idx]
    return (_split_by_cuts(idx[left], xy, cfg, depth - 1)
            + _split_by_cuts(idx[~left], xy, cfg, depth - 1))


#: rad, the yaws of rectangles and the directions of cuts that are tried
_RECT_YAWS = np.radians(np.arange(0.0, 90.0, 3.0))
_CUT_DIRECTIONS = np.radians(np.arange(0.0, 180.0, 6.0))
#: m added to a rectangle's sides: the spacing of the points (a few mm at the camera's
#: distance), so that a cut along a row of pixels gains nothing
_SPACING = 0.005


def _best_cut(xy: np.ndarray, cfg: SegmentationConfig, max_points: int = 300
              ) -> np.ndarray | None:
    """The points (mask) on one side of the straight cut after which two rectangles
    cover the footprint with at least ``cfg.cut_gain`` less area than one, or None.

    Two solids that touch are separated by a line (both are convex); their joint
    footprint has notches that one rectangle must cover and two need not. A single box
    or cylinder gains little from any cut (at most about 5 % for a disk). Directions
    are first tried every 6 degrees on at most ``max_points`` of the points (every k-th:
    pixels are in image order, so they thin out evenly), then every degree around the
    best ones on all points.
    """
    # two rectangles cannot cover less than the points do (grown, as the rectangles are,
    # by half the spacing of the points all around)
    if _covered_area(xy, _SPACING / 2) > (1 - cfg.cut_gain) * _rect_areas(xy).min():
        return None
    sub = xy[::-(-len(xy) // max_points)]
    coarse = _cuts(sub, _CUT_DIRECTIONS, max(3, cfg.min_points * len(sub) // len(xy)))
    limit = (1 - cfg.cut_gain) * _rect_areas(sub).min()
    for total, psi, _ in sorted(c for c in coarse if c[0] < limit)[:3]:
        fine = _cuts(xy, psi + np.radians(np.arange(-5.0, 6.0)), cfg.min_points)
        total, psi, offset = min(fine)
        if total >= (1 - cfg.cut_gain) * _rect_areas(xy).min():
            continue
        mask = xy @ np.array([np.cos(psi), np.sin(psi)]) < offset
        if min(_min_width(xy[mask]), _min_width(xy[~mask])) >= cfg.min_part_side:
            return mask
    return None


def _rect_areas(xy: np.ndarray) -> np.ndarray:
    """Areas of the rectangles of each of ``_RECT_YAWS`` around the points (N, 2), grown
    by the spacing of the points, m^2."""
    u = xy @ np.stack([np.cos(_RECT_YAWS), np.sin(_RECT_YAWS)])
    v = xy @ np.stack([-np.sin(_RECT_YAWS), np.cos(_RECT_YAWS)])
    return (np.ptp(u, 0) + _SPACING) * (np.ptp(v, 0) + _SPACING)


def _cuts(xy: np.ndarray, directions: np.ndarray, m: int) -> list[tuple[float, float, float]]:
    """For each direction (rad) of a cut's normal, the best cut across it that leaves at
    least ``m`` points on either side: (total area of the two rectangles around the two
    sides, m^2; the direction; the cut's offset along it, m)."""
    n = len(xy)
    u = xy @ np.stack([np.cos(_RECT_YAWS), np.sin(_RECT_YAWS)])  # (N, yaws)
    v = xy @ np.stack([-np.sin(_RECT_YAWS), np.cos(_RECT_YAWS)])
    out = []
    if n < 2 * m:
        return out
    for psi in directions:
        d = xy @ np.array([np.cos(psi), np.sin(psi)])
        order = np.argsort(d)
        uo, vo = u[order], v[order]
        # rectangles around the first i + 1 points and around the last i + 1, per yaw
        first = ((np.maximum.accumulate(uo) - np.minimum.accumulate(uo) + _SPACING)
                 * (np.maximum.accumulate(vo) - np.minimum.accumulate(vo) + _SPACING)).min(1)
        ur, vr = uo[::-1], vo[::-1]
        last = ((np.maximum.accumulate(ur) - np.minimum.accumulate(ur) + _SPACING)
                * (np.maximum.accumulate(vr) - np.minimum.accumulate(vr) + _SPACING)
                ).min(1)[::-1]
        total = first[m - 1:n - m] + last[m:n - m + 1]  # the first m + k points | the rest
        k = int(np.argmin(total))
        ds = d[order]
        out.append((float(total[k]), float(psi), float((ds[m + k - 1] + ds[m + k]) / 2)))
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
    sigma = getattr(frame, "sigma", None)
    table = fit_table(wp.xyz[inside], cfg, None if sigma is None else np.asarray(sigma)[inside])
    height = np.where(wp.valid, table.distance(wp.xyz.reshape(-1, 3)).reshape(inside.shape),
                      np.nan)
    noise = _noise_level(frame, wp, table, inside & (np.abs(np.nan_to_num(height)) < 0.01))
    with np.errstate(invalid="ignore"):
        above = inside & (height > np.maximum(cfg.min_height, NOISE_SIGMAS * noise.sigma))
    # the tolerances of the geometric split, widened to the noise over the objects
    cfg = _noisy_config(cfg, noise.typical(above))
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
        for part in _split_by_color(pts[idx], rgb[idx], cfg):
            if cfg.split:  # touching objects of one colour
                groups += [idx[part][q] for q in split_cluster(
                    pts[idx[part]], pix[idx[part]], height, wp.camera_position, cfg)]
            else:
                groups.append(idx[part])
    if not noise.exact:
        # outliers of each object, not of the cluster: a point a few mm above a covered
        # disk is an outlier of the disk but not of the stack it belongs to
        groups = [g[_drop_outliers(pts[g], noise.typical(above))] for g in groups]
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
