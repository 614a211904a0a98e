"""Per-object and per-pair features computed from camera points, batched in torch.

Input: points of S scenes x K object slots x N point slots, ``(S, K, N, 6)`` = x, y, z
(m, world frame, z measured from the table plane) and r, g, b (in [0, 1]), with a mask
``(S, K, N)`` of the valid points. Every reduction is masked, so one padded tensor holds
objects with any number of points and scenes with any number of objects. Nothing here
leaves the device or the autograd-free tensor world (no ``.numpy()``, no Python loop
over objects).

The features are fixed functions, chosen so that each concept group reads its own cue:

* colour: mean and spread of rgb, chromaticity, brightness, saturation, the top face's
  rgb (lit most evenly);
* geometry (shape and size): height, bottom, footprint extents along 16 directions
  (smallest, largest, across the smallest), squareness (a rectangle's extents reach its
  diagonal, a disc's do not), the height at the centre relative to the top (hollow or
  not), the vertical and radial distribution of the points;
* position: the footprint centre, from the mid-points of the extents (exact for centrally
  symmetric footprints, and insensitive to which faces the camera happens to see).
"""

from __future__ import annotations

import math

import torch

N_DIRECTIONS = 16
Z_BINS = 5
#: points kept per object (a random subset of larger clouds): a bowl fills ~3000 pixels,
#: a block ~200; 512 keep every block whole and bound the batch's size
MAX_POINTS = 512
FEATURE_VERSION = 1  #: bump when a feature or ``MAX_POINTS`` changes: cached data is rebuilt

COLOR_FEATURES = ("r", "g", "b", "r_std", "g_std", "b_std", "chroma_r", "chroma_g",
                  "chroma_b", "value", "saturation", "top_r", "top_g", "top_b")
GEOMETRY_FEATURES = ("top", "bottom", "height", "extent_min", "extent_max", "extent_mean",
                     "extent_across", "squareness", "elongation", "centre_mean_rel",
                     "centre_min_rel", *(f"z_bin_{k}" for k in range(Z_BINS)), "top_fraction",
                     "radial_mean_rel", "outer_fraction")
POSITION_FEATURES = ("cx", "cy")
OBJECT_FEATURES = COLOR_FEATURES + GEOMETRY_FEATURES + POSITION_FEATURES
PAIR_FEATURES = ("dx", "dy", "abs_dx", "abs_dy", "distance", "gap", "bottom_minus_top",
                 "bottom_minus_bottom", "top_minus_top", "distance_rel", "abs_dx_minus_abs_dy",
                 "ref_centre_mean_rel", "ref_height", "ref_extent_mean", "height",
                 "extent_mean")
COLOR_SLICE = slice(0, len(COLOR_FEATURES))
GEOMETRY_SLICE = slice(len(COLOR_FEATURES), len(COLOR_FEATURES) + len(GEOMETRY_FEATURES))
TOP_BAND = 0.005  #: m below the highest point that counts as the top face
CENTRE_FRACTION = 0.35  #: of the mean half extent: the central region


def _index(name: str) -> int:
    return OBJECT_FEATURES.index(name)


def _masked_mean(x: torch.Tensor, m: torch.Tensor, dim: int) -> torch.Tensor:
    """Mean of ``x`` over ``dim`` where ``m`` (same shape, float 0/1) is 1; 0 if none."""
    return (x * m).sum(dim) / m.sum(dim).clamp_min(1.0)


def object_features(points: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Features ``(S, K, len(OBJECT_FEATURES))`` of points ``(S, K, N, 6)`` with mask
    ``(S, K, N)``; empty object slots get finite values (zeros mostly)."""
    m = mask.to(points.dtype)
    m3 = m.unsqueeze(-1)
    any_point = mask.any(-1, keepdim=True)
    xy, z, rgb = points[..., :2], points[..., 2], points[..., 3:6]
    big = torch.finfo(points.dtype).max / 4

    # colour
    mean_rgb = _masked_mean(rgb, m3, -2)
    std_rgb = _masked_mean((rgb - mean_rgb.unsqueeze(-2)) ** 2, m3, -2).sqrt()
    chroma = _masked_mean(rgb / rgb.sum(-1, keepdim=True).clamp_min(1e-3), m3, -2)
    vmax, vmin = rgb.max(-1).values, rgb.min(-1).values
    value = _masked_mean(vmax, m, -1)
    saturation = _masked_mean((vmax - vmin) / vmax.clamp_min(1e-3), m, -1)
    top = torch.where(mask, z, -big).max(-1).values
    top = torch.where(any_point.squeeze(-1), top, torch.zeros_like(top))
    bottom = torch.where(mask, z, big).min(-1).values
    bottom = torch.where(any_point.squeeze(-1), bottom, torch.zeros_like(bottom))
    on_top = m * (z >= (top - TOP_BAND).unsqueeze(-1)).to(m.dtype)
    top_rgb = _masked_mean(rgb, on_top.unsqueeze(-1), -2)

    # footprint extents along directions over half a turn
    angles = torch.arange(N_DIRECTIONS, device=points.device, dtype=points.dtype) \
        * (math.pi / N_DIRECTIONS)
    dirs = torch.stack([angles.cos(), angles.sin()], -1)  # (D, 2)
    proj = xy @ dirs.T  # (S, K, N, D)
    valid = mask.unsqueeze(-1)
    pmax = torch.where(valid, proj, -big).max(-2).values
    pmin = torch.where(valid, proj, big).min(-2).values
    empty = ~any_point
    pmax = torch.where(empty, torch.zeros_like(pmax), pmax)
    pmin = torch.where(empty, torch.zeros_like(pmin), pmin)
    extent = pmax - pmin  # (S, K, D)
    # for directions spread evenly over half a turn, sum(d d^T) = D/2 I
    centre = (2.0 / N_DIRECTIONS) * ((pmax + pmin) / 2) @ dirs  # (S, K, 2)
    e_min, k_min = extent.min(-1)
    e_max = extent.max(-1).values
    e_mean = extent.mean(-1)
    across = torch.gather(extent, -1, ((k_min + N_DIRECTIONS // 2) % N_DIRECTIONS)
                          .unsqueeze(-1)).squeeze(-1)
    squareness = e_max / (e_min ** 2 + across ** 2).sqrt().clamp_min(1e-4)
    elongation = across / e_min.clamp_min(1e-4)

    # hollowness, vertical and radial distributions
    height = (top - bottom).clamp_min(1e-4)
    r = (xy - centre.unsqueeze(-2)).norm(dim=-1)  # (S, K, N)
    half = (e_mean / 2).clamp_min(1e-4).unsqueeze(-1)
    central = m * (r < CENTRE_FRACTION * half).to(m.dtype)
    has_central = central.sum(-1) > 0
    zrel = (z - bottom.unsqueeze(-1)) / height.unsqueeze(-1)
    centre_mean = torch.where(has_central, _masked_mean(zrel, central, -1),
                              torch.ones_like(top))
    centre_min = torch.where(central > 0, zrel, big).min(-1).values
    centre_min = torch.where(has_central, centre_min, torch.ones_like(top))
    bins = (zrel.clamp(0, 1 - 1e-6) * Z_BINS).long()
    z_hist = torch.stack([_masked_mean((bins == k).to(m.dtype), m, -1)
                          for k in range(Z_BINS)], -1)
    top_fraction = _masked_mean(on_top, m, -1)
    radial_mean = _masked_mean(r / half, m, -1)
    outer = _masked_mean((r > 0.8 * half).to(m.dtype), m, -1)

    geometry = torch.stack([top, bottom, top - bottom, e_min, e_max, e_mean, across,
                            squareness, elongation, centre_mean, centre_min], -1)
    return torch.cat([mean_rgb, std_rgb, chroma, value.unsqueeze(-1),
                      saturation.unsqueeze(-1), top_rgb, geometry, z_hist,
                      top_fraction.unsqueeze(-1), radial_mean.unsqueeze(-1),
                      outer.unsqueeze(-1), centre], -1)


def pair_features(obj: torch.Tensor) -> torch.Tensor:
    """Features ``(S, K, K, len(PAIR_FEATURES))`` of every ordered pair (i, j) of the
    object features ``(S, K, F)``: i is the subject, j the reference ("i left of j")."""
    def f(name: str) -> torch.Tensor:
        return obj[..., _index(name)]

    cx, cy = f("cx"), f("cy")
    top, bottom, height, e_mean = f("top"), f("bottom"), f("height"), f("extent_mean")
    e_min = f("extent_min")
    a = (slice(None), slice(None), None)  # subject along dim 1: (S, K, 1)
    b = (slice(None), None, slice(None))  # reference along dim 2: (S, 1, K)
    dx, dy = cx[a] - cx[b], cy[a] - cy[b]
    dist = (dx ** 2 + dy ** 2 + 1e-12).sqrt()
    gap = dist - e_mean[a] / 2 - e_mean[b] / 2
    k = obj.shape[1]
    ones = torch.ones(obj.shape[0], k, k, device=obj.device, dtype=obj.dtype)
    return torch.stack([
        dx, dy, dx.abs(), dy.abs(), dist, gap, bottom[a] - top[b], bottom[a] - bottom[b],
        top[a] - top[b], dist / (e_min[b] / 2).clamp_min(1e-3), dx.abs() - dy.abs(),
        f("centre_mean_rel")[b] * ones, height[b] * ones, e_mean[b] * ones,
        height[a] * ones, e_mean[a] * ones], -1)
