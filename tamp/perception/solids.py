"""Split a group of touching solids of one colour into objects, from the depth image.

Three cues separate solids that neither colour nor a bowl's rim tells apart:

* every upright solid has one flat top face: flat, level regions of the depth image that
  lie at different heights, or apart with a gap the camera sees through, are the tops of
  different objects (:func:`_flat_tops`), and every other point goes to the top whose
  side face it lies on (:func:`_assign_to_tops`);
* an upright solid is as wide at every height, as the camera sees it: where
  the lower part of a group reaches out sideways past its upper part, a narrower solid
  stands on a wider one, or across two, and the lower one's top is hidden under it (a
  pyramid's second row on its first: :func:`_split_at_step`); and where a higher top's
  group is narrower below a lower top's level than above it, those low points are the
  lower solid's side, hidden under the higher one's outline (:func:`_hand_down`);
* two touching solids are separated by a straight line (both are convex), and if their
  yaws differ their joint footprint has notches: a cut after which two rectangles cover
  the footprint much more tightly than one separates them (:func:`_best_cut`).

A container (a flat floor low down, walls all around) is left whole, and a notch that
something standing higher fills (a small disk on a wider one leaves a crescent) is no
gap between two objects. Heights are m above the table, positions m in the world frame,
pixels flat indices into the height image.
"""

from __future__ import annotations

import numpy as np

from tamp.perception.segment_config import SegmentationConfig


def _split_solids(idx: np.ndarray, xy: np.ndarray, heights: np.ndarray, pixels: np.ndarray,
                  height_image: np.ndarray, cfg: SegmentationConfig) -> list[np.ndarray]:
    """Index sets (subsets of ``idx``) of the solids in a group of points: by their flat
    tops first, then by straight cuts through notches of each footprint. A container
    (a flat floor low down, walls all around) is left whole."""
    tops = _flat_tops(idx, xy, heights, pixels, height_image, cfg)
    if any(_is_floor(t, idx, xy, heights) for t in tops):
        return [idx]
    groups = [idx]
    if len(tops) > 1:
        groups = _assign_to_tops(idx, xy, heights, tops, cfg)
        groups = _hand_down(groups, [float(np.median(heights[t])) for t in tops], xy,
                            heights, pixels, height_image.shape[1], cfg)
    groups = [part for g in groups
              for part in _split_at_step(g, xy, heights, pixels, height_image.shape[1], cfg)]
    out = []
    for g in groups:
        if _notch_filled_above(pixels[g], heights[g], height_image, cfg):
            out.append(g)  # something on top of it hides a bite of its outline
        else:
            out += _split_by_cuts(g, xy, cfg)
    return out


def _split_at_step(idx: np.ndarray, xy: np.ndarray, heights: np.ndarray,
                   pixels: np.ndarray, width: int, cfg: SegmentationConfig
                   ) -> list[np.ndarray]:
    """``idx`` split where its lower part reaches out sideways past its upper part, as
    the camera sees it (along the image's rows), into what lies below the step and what
    stands above it; ``[idx]`` when it does not.

    Every solid here is upright (a box or cylinder), so its silhouette is as wide at
    every height. Where the points below some height reach more than half the narrowest
    part (``cfg.min_part_side``) past the sides of the points above it, and enough of
    them for a top face (``cfg.flat_min_pixels``), a wider solid carries a narrower one:
    a block across two of the same colour, whose tops it hides, so that no flat top
    tells them apart. The lower solid is every point up to the height of those that
    reach out; both parts must be at least ``min_part_side`` tall. Occlusion cannot make
    a step: what hides part of an object stands in front of it and low, and hides its
    lower part, not its upper one.
    """
    z = heights[idx]
    if len(idx) < 2 * cfg.min_points or np.ptp(z) < 2 * cfg.min_part_side:
        return [idx]
    u = _along_rows(idx, xy, pixels, width)
    if u is None:
        return [idx]
    reach = 0.5 * cfg.min_part_side
    best, level = 0, None
    top = float(np.quantile(z, 0.98))
    for cut in np.arange(z.min() + cfg.min_part_side, top - cfg.min_part_side, 0.0025):
        low, high = z < cut, z >= cut
        if high.sum() < cfg.min_points:
            continue
        a, b = np.quantile(u[high], [0.02, 0.98])
        out = low & ((u < a - reach) | (u > b + reach))
        if out.sum() > best:
            best, level = int(out.sum()), float(np.quantile(z[out], 0.95))
    if best < cfg.flat_min_pixels:
        return [idx]
    below = z <= level + cfg.flat_tol
    if below.sum() < cfg.min_points or (~below).sum() < cfg.min_points:
        return [idx]
    return [idx[below], idx[~below]]


def _along_rows(idx: np.ndarray, xy: np.ndarray, pixels: np.ndarray, width: int
                ) -> np.ndarray | None:
    """The positions of the points ``idx`` along the table's direction of the image rows
    (where the pixel columns grow, fitted to the points), m; None if it cannot be told."""
    cols = (pixels[idx] % width).astype(float)
    grad = np.linalg.lstsq(np.column_stack([xy[idx], np.ones(len(idx))]), cols,
                           rcond=None)[0][:2]
    if not np.linalg.norm(grad) > 0:
        return None
    return xy[idx] @ (grad / np.linalg.norm(grad))


def _hand_down(groups: list[np.ndarray], levels: list[float], xy: np.ndarray,
               heights: np.ndarray, pixels: np.ndarray, width: int,
               cfg: SegmentationConfig) -> list[np.ndarray]:
    """``groups`` (one per top, at the heights ``levels``) with the points that a higher
    top took from a lower one handed down to it.

    A block resting across a lower one hides part of the lower one's top, and the lower
    one's side under it lies within the higher top's outline, so it goes to the higher
    top (:func:`_assign_to_tops`). The higher solid is as wide at every height, as the
    camera sees it: where the points of its group below the lower top's level are
    narrower than those above by more than half the narrowest part
    (``cfg.min_part_side``), and lie beside or across the lower group, they are the
    lower solid's side (the higher one rests on it). A tall solid whose lower part an
    object of another colour in front of it hides would look the same; beside a lower
    one of its own colour, that is the rarer case, and it is taken as this one.
    """
    groups = [g.copy() for g in groups]
    reach = 0.5 * cfg.min_part_side
    for hi in np.argsort(levels)[::-1]:
        for lo in np.argsort(levels):
            if levels[hi] - levels[lo] < cfg.min_part_side:
                continue
            both = np.concatenate([groups[hi], groups[lo]])
            u = _along_rows(both, xy, pixels, width)
            if u is None:
                continue
            mine, theirs = u[:len(groups[hi])], u[len(groups[hi]):]
            z = heights[groups[hi]]
            below = z < levels[lo] - cfg.flat_tol
            above = z >= levels[lo] + cfg.flat_tol
            if not below.any() or above.sum() < cfg.min_points:
                continue
            a, b = np.quantile(mine[above], [0.02, 0.98])
            first, last = mine[below].min(), mine[below].max()
            narrower = first > a + reach or last < b - reach
            beside = first < theirs.max() + reach and last > theirs.min() - reach
            if narrower and beside:
                groups[lo] = np.sort(np.concatenate([groups[lo], groups[hi][below]]))
                groups[hi] = groups[hi][~below]
    return groups


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
