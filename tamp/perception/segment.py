"""Split a camera frame into per-object point clouds.

Two modes share the table fit (:mod:`tamp.perception.table`) and the output type:

* ``instance``: the simulator's instance masks say which pixel belongs to which object.
* ``geometric``: no masks, as on a real depth camera. RANSAC fits the table plane, the
  points above it are clustered with DBSCAN, and each cluster is split once more by
  colour so that a block resting in a bowl or on another block of a different colour
  becomes its own object; objects that touch and share one colour are split again by
  their geometry (:mod:`tamp.perception.split`).

The settings of every stage are one :class:`SegmentationConfig`
(:mod:`tamp.perception.segment_config`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Literal

import numpy as np

from tamp.perception.cloud import ObjectCloud, RGBDLike, backproject
from tamp.perception.segment_config import SegmentationConfig
from tamp.perception.split import _dbscan, _split_by_color, split_cluster
from tamp.perception.table import (NOISE_SIGMAS, TablePlane, _drop_outliers, _noise_level,
                                   _noisy_config, _workspace_mask, fit_table)

SegmentationMode = Literal["instance", "geometric"]


@dataclass(frozen=True)
class Segmentation:
    mode: SegmentationMode
    objects: list[ObjectCloud]
    table: TablePlane
    camera_position: np.ndarray  #: shape (3,), m, world frame
    dropped: int = 0  #: segments with fewer than ``min_points`` points
    #: what the image holds beyond objects, for diagnostics
    info: dict = field(default_factory=dict)


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
