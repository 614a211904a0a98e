"""Split a cluster of points above the table into objects: by colour, then by geometry.

DBSCAN gives clusters of points that touch. A cluster is first split where its colour
changes (:func:`_split_by_color`), so that a block resting in a bowl or on another block of
a different colour becomes its own object.

Objects that touch *and* share one colour form one cluster; geometry splits it again
(:func:`split_cluster`), with cues a depth camera gives and no masks:

* a bowl is found by the circle of its rim; what stands inside it above its floor and
  wall, and what stands outside the rim, are other objects;
* every upright solid has one flat top face: flat regions of the depth image that lie at
  different heights, or apart, are the tops of different objects;
* every upright solid is as wide at every height: where the lower part of a group
  reaches out sideways past its upper part, one solid stands on another;
* touching solids of different yaws leave notches in their joint footprint: a straight
  cut that lets two rectangles cover the footprint much more tightly than one separates
  them.

The bowl is found here; the solids, in or outside a bowl or with none, are split by
:mod:`tamp.perception.solids`.

What remains one cluster: touching objects of one colour with equal heights, aligned
sides and no visible gap (their union looks like one larger box), and objects of one
colour stacked so that the lower one's top is hidden and it reaches out no further than
the other.
"""

from __future__ import annotations

import numpy as np

from tamp.perception.cloud import to_open3d
from tamp.perception.segment_config import SegmentationConfig
from tamp.perception.solids import _split_solids


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
