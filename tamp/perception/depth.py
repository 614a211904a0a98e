"""Depth images as a real stereo camera gives them, made fit for segmentation.

The steps follow the post-processing a RealSense user runs (Intel's recommended chain:
decimation, spatial edge-preserving filter, temporal filter), written here for a burst of
frames of a still scene:

1. **temporal fusion**: per pixel, the median of the frames that measured it (a real
   robot takes 5-10 frames in a fraction of a second while the arm is still); a pixel
   measured by fewer than half of them is invalid. Invalid depth (0, the driver's
   convention) never enters a median.
2. **flying pixels and outliers**: a pixel is kept only if enough of its neighbours lie
   within a few standard deviations of its depth. A pixel on an object's edge has a whole
   side of neighbours at its depth; a flying pixel (a blend of both sides of an edge) and
   an isolated outlier have almost none.
3. **decimation** to at most ``max_width`` pixels across, edge-aware: each block keeps
   the mean of its samples that agree with its lower-median sample (never a blend of two
   surfaces), and that sample's colour and instance label (never a blend of two colours).
4. **edge-preserving smoothing**: the mean of the neighbours within a few standard
   deviations of the pixel's depth.

Thresholds come from the sensor's noise model ``sigma_z = z^2 sigma_d / (f B)`` (see
:class:`DepthNoise`), not from fixed millimetres; :attr:`FilteredFrame.sigma` carries the
per-pixel standard deviation after fusion (an upper bound of what is left after
smoothing) for the segmentation's thresholds. An
exact depth image (``DepthNoise()``) passes through steps 1-4 unchanged but for dropping
the far plane.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from tamp.perception.cloud import RGBDLike


@dataclass(frozen=True)
class DepthNoise:
    """A stereo depth camera's datasheet: what perception knows about its noise."""

    baseline: float = 0.0  #: m between the imagers; 0: exact depth
    subpixel: float = 0.0  #: px, RMS disparity error
    depth_unit: float = 0.0  #: m, quantisation step of depth

    @property
    def exact(self) -> bool:
        return self.baseline == 0.0 or self.subpixel == 0.0

    def sigma(self, z: np.ndarray | float, focal: float) -> np.ndarray:
        """Standard deviation of one frame's depth at distance ``z`` (m) for a focal
        length ``focal`` (px): ``z^2 sigma_d / (f B)``, with the quantisation's
        ``unit / sqrt(12)`` added in quadrature, m."""
        z = np.asarray(z, np.float64)
        axial = 0.0 if self.exact else z ** 2 * self.subpixel / (focal * self.baseline)
        return np.sqrt(axial ** 2 + self.depth_unit ** 2 / 12.0)


@dataclass(frozen=True)
class DepthFilterConfig:
    frames: int = 5  #: frames fused per look (a burst while the arm is still)
    #: a neighbour agrees with a pixel within this many standard deviations of the
    #: difference of two fused depths
    agree_sigmas: float = 3.0
    window: int = 2  #: px, the neighbourhood is (2 window + 1)^2 pixels
    #: a pixel is kept if at least this share of its measured neighbours agree with it
    #: (an edge pixel has about half; a flying pixel between two surfaces very few)
    min_agree: float = 0.3
    max_width: int = 320  #: px; wider images are decimated by an integer factor
    smooth_window: int = 1  #: px, the smoothing neighbourhood is (2 s + 1)^2 pixels
    #: m of depth differences always tolerated between neighbours on one surface (a
    #: slanted face changes depth from pixel to pixel even without noise)
    min_agree_depth: float = 0.003

    def __post_init__(self):
        if self.frames < 1 or self.window < 1 or self.max_width < 16:
            raise ValueError("frames and window must be >= 1, max_width >= 16")
        if not 0.0 <= self.min_agree <= 1.0 or not self.agree_sigmas > 0:
            raise ValueError("min_agree must be in [0, 1] and agree_sigmas > 0")


@dataclass(frozen=True)
class FilteredFrame:
    """A fused, filtered and decimated frame (``RGBDLike``, as segmentation wants it)."""

    rgb: np.ndarray = field(repr=False)  #: (H, W, 3) uint8
    depth: np.ndarray = field(repr=False)  #: (H, W) m, NaN where invalid
    sigma: np.ndarray = field(repr=False)  #: (H, W) m, depth standard deviation left
    intrinsics: np.ndarray  #: 3x3, px, for this resolution
    extrinsics: np.ndarray  #: 4x4 camera pose in the world
    instance: np.ndarray | None = field(default=None, repr=False)  #: (H, W) int32
    labels: tuple[str, ...] = ()
    #: counts for diagnostics: pixels invalid in the fusion, dropped as flying/outliers
    stats: dict = field(default_factory=dict)


def filter_depth(frames: Sequence[RGBDLike], noise: DepthNoise = DepthNoise(),
                 cfg: DepthFilterConfig = DepthFilterConfig(),
                 max_range: float | None = None) -> FilteredFrame:
    """Fuse ``frames`` of a still scene (same camera, same pose) into one filtered frame.

    Depth 0, NaN or at/beyond ``max_range`` (m; by default the far plane of an exact
    renderer, 99.5 % of the deepest value, when no pixel reads 0) is invalid.
    """
    if not frames:
        raise ValueError("no frames to fuse")
    first = frames[0]
    k = np.asarray(first.intrinsics, np.float64)
    focal = float((k[0, 0] + k[1, 1]) / 2)
    stack = np.stack([np.asarray(f.depth, np.float64) for f in frames])
    if max_range is None:
        # an exact renderer reports its far plane where nothing was hit; a sensor, 0
        deepest = float(np.nanmax(stack)) if np.isfinite(stack).any() else 0.0
        max_range = np.inf if (stack == 0).any() else 0.995 * deepest
    ok = np.isfinite(stack) & (stack > 0) & (stack < max_range)
    count = ok.sum(0)
    depth = _median_of_valid(stack, ok, count)
    depth = np.where(count * 2 >= len(frames), depth, np.nan)
    rgb = np.mean([np.asarray(f.rgb, np.float64)[..., :3] for f in frames], axis=0)
    n_fused = np.maximum(count, 1)
    instance = getattr(first, "instance", None)
    stats = {"invalid": int(np.isnan(depth).sum())}
    if not noise.exact:
        # one frame's sigma; the median of n frames has about 1.25 / sqrt(n) of it
        sigma = noise.sigma(np.nan_to_num(depth, nan=1.0), focal) * np.where(
            n_fused > 1, 1.25 / np.sqrt(n_fused), 1.0)
        keep = _agreeing(depth, sigma, cfg)
        stats["flying"] = int((~keep & np.isfinite(depth)).sum())
        depth = np.where(keep, depth, np.nan)
    else:
        sigma = np.zeros_like(depth)
    step = int(np.ceil(depth.shape[1] / cfg.max_width))
    if step > 1:
        depth, rgb, sigma, instance = _decimate(depth, rgb, sigma, instance, step, cfg)
        k = k.copy()
        k[:2] /= step
    if not noise.exact:
        depth, sigma = _smooth(depth, sigma, cfg)
    return FilteredFrame(np.clip(np.rint(rgb), 0, 255).astype(np.uint8),
                         depth.astype(np.float32), sigma.astype(np.float32), k,
                         np.asarray(first.extrinsics, np.float64),
                         instance, tuple(getattr(first, "labels", ())), stats)


def _median_of_valid(stack: np.ndarray, ok: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Per pixel, the median of the frames in ``stack`` (F, H, W) where ``ok``; NaN where
    none is (a sort with the invalid ones last: much faster than ``np.nanmedian``)."""
    if len(stack) == 1:
        return np.where(ok[0], stack[0], np.nan)
    srt = np.sort(np.where(ok, stack, np.inf), axis=0)
    lo = np.take_along_axis(srt, np.maximum((count - 1) // 2, 0)[None], 0)[0]
    hi = np.take_along_axis(srt, np.maximum(count // 2, 0)[None], 0)[0]
    hi = np.where(count > 0, np.minimum(hi, srt.max(axis=0, initial=-np.inf)), np.nan)
    return np.where(count > 0, (lo + np.where(np.isinf(hi), lo, hi)) / 2, np.nan)


def _tolerance(sigma: np.ndarray, cfg: DepthFilterConfig) -> np.ndarray:
    return np.maximum(cfg.agree_sigmas * np.sqrt(2.0) * sigma, cfg.min_agree_depth)


def _neighbours(shape: tuple[int, int], w: int):
    """For each offset (dy, dx) within ``w`` pixels: the offset and the slices of the
    image where a pixel (``here``) and its neighbour at that offset (``there``) both lie
    inside it, as views (no copies)."""
    h, wd = shape
    for dy in range(-w, w + 1):
        for dx in range(-w, w + 1):
            if dy or dx:
                here = (slice(max(-dy, 0), h - max(dy, 0)), slice(max(-dx, 0), wd - max(dx, 0)))
                there = (slice(max(dy, 0), h - max(-dy, 0)), slice(max(dx, 0), wd - max(-dx, 0)))
                yield (dy, dx), here, there


def _agreeing(depth: np.ndarray, sigma: np.ndarray, cfg: DepthFilterConfig) -> np.ndarray:
    """Pixels that enough of their measured neighbours agree with (see the module)."""
    tol = _tolerance(sigma, cfg).astype(np.float32)
    d = depth.astype(np.float32)
    # a pixel's neighbours at distance r on a slanted surface differ by r times the
    # per-pixel step: the tolerance grows with the offset
    agree = np.zeros(d.shape, np.int16)
    seen = np.zeros(d.shape, np.int16)
    with np.errstate(invalid="ignore"):
        for (dy, dx), here, there in _neighbours(d.shape, cfg.window):
            other = d[there]
            measured = np.isfinite(other)
            seen[here] += measured
            agree[here] += measured & (np.abs(other - d[here])
                                       < tol[here] * max(abs(dy), abs(dx)))
    return np.isfinite(d) & (agree >= cfg.min_agree * np.maximum(seen, 1)) & (agree >= 2)


def _decimate(depth, rgb, sigma, instance, step, cfg):
    """Blocks of ``step`` x ``step`` pixels to one, never blending two surfaces."""
    h, w = depth.shape[0] // step * step, depth.shape[1] // step * step

    def blocks(a):
        a = a[:h, :w]
        return a.reshape(h // step, step, w // step, step, *a.shape[2:]).swapaxes(1, 2) \
            .reshape(h // step, w // step, step * step, *a.shape[2:])

    d, s = blocks(depth), blocks(sigma)
    valid = np.isfinite(d)
    n = valid.sum(-1)
    # the lower median of the valid samples: a real sample of one surface
    order = np.sort(np.where(valid, d, np.inf), axis=-1)
    pick = np.take_along_axis(order, np.maximum((n - 1) // 2, 0)[..., None], -1)[..., 0]
    with np.errstate(invalid="ignore"):
        tol = _tolerance(np.nanmax(np.where(valid, s, np.nan), -1, initial=0.0), cfg)
        same = valid & (np.abs(d - pick[..., None]) <= tol[..., None])
    m = same.sum(-1)
    out_d = np.where(m > 0, (np.where(same, d, 0.0)).sum(-1) / np.maximum(m, 1), np.nan)
    # the colour of the picked sample itself: two touching faces of one depth but of
    # two colours (a tower's side) would blend into a colour of neither
    c = blocks(rgb)
    gap = np.where(valid, np.abs(d - pick[..., None]), np.inf)
    chosen = np.where(n > 0, gap.argmin(-1), 0)
    out_rgb = np.take_along_axis(c, chosen[..., None, None], -2)[..., 0, :]
    # averaging neighbours shrinks only the uncorrelated part of the noise, and how much
    # of it is correlated no datasheet says: the fused sigma is kept (an upper bound),
    # and segmentation scales it by the residuals it measures on the table
    out_s = np.nanmax(np.where(valid, s, np.nan), -1, initial=0.0)
    out_i = None
    if instance is not None:
        ii = blocks(np.asarray(instance))
        # the label of the picked sample
        out_i = np.take_along_axis(ii, chosen[..., None], -1)[..., 0]
    return out_d, out_rgb, out_s, out_i


def _smooth(depth: np.ndarray, sigma: np.ndarray, cfg: DepthFilterConfig):
    """The mean of each pixel's neighbours on its own surface (within the tolerance)."""
    tol = _tolerance(sigma, cfg)
    total = np.nan_to_num(depth)
    count = np.isfinite(depth).astype(np.float64)
    with np.errstate(invalid="ignore"):
        for _, here, there in _neighbours(depth.shape, cfg.smooth_window):
            other = depth[there]
            near = np.isfinite(other) & (np.abs(other - depth[here]) < tol[here])
            total[here] += np.where(near, other, 0.0)
            count[here] += near
    out = np.where(np.isfinite(depth), total / np.maximum(count, 1), np.nan)
    return out, sigma  # an upper bound, as in _decimate
