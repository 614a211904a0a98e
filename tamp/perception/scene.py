"""Perception of a whole scene: segment, fit every object, reason about supports, and
hand the planner a :class:`tamp.world.WorldModel`.

An object at rest is held up by the table or by another object. The lowest visible point
of an object standing in a bowl or on a block is usually hidden, so its bottom is taken
from what supports it: the top of a block below it, the bottom of a bowl around it, or
the table when nothing is below it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from tamp.perception.cloud import ObjectCloud
from tamp.perception.depth import DepthFilterConfig, DepthNoise, filter_depth
from tamp.perception.fit import BOWL_WALL, HOLLOW, THIN_FACE, FitConfig, ShapeFit, fit_object
from tamp.perception.segment import (Segmentation, SegmentationConfig, SegmentationMode,
                                     segment)
from tamp.perception.table import TablePlane, refine_camera_pose
from tamp.world import ShapeKind, WorldModel, WorldObject

SUPPORT_GAP = 0.005  #: m: a support's top must lie this far below the object's top
#: m by which a first footprint may miss the centre of what it supports (a covered
#: object's first footprint comes from its few visible side faces)
SUPPORT_MARGIN = 0.015


@dataclass(frozen=True)
class PerceptionConfig:
    segmentation: SegmentationMode = "instance"
    segment: SegmentationConfig = field(default_factory=SegmentationConfig)
    fit: FitConfig = field(default_factory=FitConfig)
    #: the depth camera's datasheet; exact depth (the ideal camera) by default
    noise: DepthNoise = field(default_factory=DepthNoise)
    #: fusion and filtering of a burst of frames (used on noisy depth, or given a burst)
    depth: DepthFilterConfig = field(default_factory=DepthFilterConfig)
    #: ``FitConfig.trim`` used on noisy depth (robust footprints)
    noisy_trim: float = 0.01
    #: m, the workcell's table top in the world frame when known: the camera pose is
    #: then refined so that the table it sees is level there (see
    #: :func:`tamp.perception.table.refine_camera_pose`); None: the pose as given
    table_height: float | None = None


@dataclass(frozen=True)
class PerceivedObject:
    cloud: ObjectCloud
    fit: ShapeFit
    support: str = ""  #: name of the object it rests on or in ("" for the table)

    @property
    def name(self) -> str:
        return self.cloud.name


@dataclass(frozen=True)
class Percept:
    """Everything perception found in one frame."""

    objects: list[PerceivedObject]
    table: TablePlane
    camera_position: np.ndarray  #: shape (3,), m
    mode: SegmentationMode
    time_s: float  #: s spent filtering depth, segmenting and fitting
    fit: FitConfig = field(default_factory=FitConfig)  #: how the objects were fitted

    def by_name(self) -> dict[str, PerceivedObject]:
        return {o.name: o for o in self.objects}

    @property
    def clouds(self) -> list[ObjectCloud]:
        return [o.cloud for o in self.objects]


def fit_scene(clouds: list[ObjectCloud], table: TablePlane, camera: np.ndarray,
              kinds: dict[str, ShapeKind] | None = None,
              cfg: FitConfig = FitConfig()) -> list[PerceivedObject]:
    """Fit every cloud (``kinds`` fixes an object's primitive; otherwise its cues do),
    then refit each object: its bottom from the support found below it, and the footprint
    of a solid that holds others up from its points and theirs (they hide its top)."""
    kinds = kinds or {}
    table_z = {c.name: table.z_at(c.centroid[:2]) for c in clouds}
    first = {c.name: fit_object(c, table_z[c.name], camera, kinds.get(c.name), cfg=cfg)
             for c in clouds}
    below = {c.name: _below(c.name, first, camera) for c in clouds}
    supports = {c.name: _support(first[c.name], *below[c.name]) for c in clouds}
    above: dict[str, list[np.ndarray]] = {c.name: [] for c in clouds}
    for c in clouds:  # every object up a stack counts for all the solids below it
        if _bridges(below[c.name][1]):
            continue  # it rests on two or more (a pyramid's upper block): not inside one
        s = supports[c.name][0]
        # supports have strictly lower tops, so this walk down a stack ends
        while s and first[s].kind not in HOLLOW:
            above[s].append(c.points[:, :2])
            s = supports[s][0]
    out = []
    for c in clouds:
        support, bottom = supports[c.name]
        extra = np.vstack(above[c.name]) if above[c.name] else None
        out.append(PerceivedObject(c, fit_object(c, table_z[c.name], camera,
                                                 first[c.name].kind, bottom, cfg, extra),
                                   support))
    return out


def _below(name: str, first: dict[str, ShapeFit], camera: np.ndarray | None
           ) -> tuple[dict[str, ShapeFit], list[tuple[str, ShapeFit]]]:
    """Objects whose footprint reaches under ``name``'s centre, and of those the solids
    whose top lies below its top."""
    f = first[name]
    under = {n: g for n, g in first.items()
             if n != name and (g.contains_xy(f.pose[:2, 3], SUPPORT_MARGIN)
                               or _hidden_part_holds(g, f.pose[:2, 3], camera))}
    solids = [(n, g) for n, g in under.items()
              if g.kind not in HOLLOW and g.top < f.top - SUPPORT_GAP]
    return under, solids


def _bridges(solids: list[tuple[str, ShapeFit]]) -> bool:
    """Whether an object with these ``solids`` below it (see ``_below``) rests on two
    or more of them, with tops at one height."""
    if len(solids) < 2:
        return False
    top = max(g.top for _, g in solids)
    return sum(g.top > top - SUPPORT_GAP for _, g in solids) >= 2


def _support(f: ShapeFit, under: dict[str, ShapeFit], solids: list[tuple[str, ShapeFit]]
             ) -> tuple[str, float]:
    """What the object fitted as ``f`` rests on ("" for the table) and the height of its
    bottom, m, from what lies ``under`` it and the ``solids`` among them (``_below``)."""
    # a solid below it, whose top lies under this object's top, holds it up; failing
    # that, a wider bowl or tray around it (its content may reach above the rim)
    bowls = [(n, g) for n, g in under.items()
             if g.kind in HOLLOW and f.kind not in HOLLOW and f.top > g.bottom + BOWL_WALL
             and max(f.shape.size[:2]) < 2 * max(g.shape.size[:2])]
    if solids:
        n, g = max(solids, key=lambda ng: ng[1].top)
        return n, g.top
    if bowls:
        n, g = max(bowls, key=lambda ng: ng[1].bottom)
        return n, g.bottom + BOWL_WALL
    return "", 0.0


def _hidden_part_holds(g: ShapeFit, xy: np.ndarray, camera: np.ndarray | None) -> bool:
    """Whether a box seen only by its face towards the camera (a footprint much thinner
    one way than the other: the object on top hides the rest) may reach under ``xy``:
    its footprint is grown away from the camera until it is as deep as it is wide."""
    if camera is None or g.kind != "box":
        return False
    sx, sy = g.shape.size[:2]
    if min(sx, sy) >= THIN_FACE * max(sx, sy):
        return False
    axis = g.pose[:2, 0] if sx < sy else g.pose[:2, 1]  # across the thin side
    if axis @ (g.pose[:2, 3] - camera[:2]) < 0:
        axis = -axis  # pointing away from the camera
    side = max(sx, sy)  # grown to a square, its far side moved away from the camera
    pose = g.pose.copy()
    pose[:2, 3] += axis * (side - min(sx, sy)) / 2
    square = replace(g.shape, size=(side, side, g.shape.size[2]))
    return replace(g, shape=square, pose=pose).contains_xy(xy, SUPPORT_MARGIN)


def perceive(frame, config: PerceptionConfig = PerceptionConfig(),
             kinds: dict[str, ShapeKind] | None = None,
             exclude: Callable[[np.ndarray], np.ndarray] | None = None) -> Percept:
    """Segment ``frame`` (a ``scenes.camera.CameraFrame``-like RGB-D frame, or a burst:
    a list of frames of the still scene) and fit a primitive to every object;
    ``exclude`` marks points that are no object (the robot's, for the geometric mode).

    A burst, or a frame from a noisy camera (``config.noise``), is first fused and
    filtered (:func:`tamp.perception.depth.filter_depth`); footprints are then fitted
    robustly (``config.noisy_trim``)."""
    t0 = time.perf_counter()
    frames = list(frame) if isinstance(frame, (list, tuple)) else [frame]
    fit = config.fit
    if len(frames) > 1 or not config.noise.exact:
        frame = filter_depth(frames, config.noise, config.depth)
        if not config.noise.exact:
            fit = replace(fit, trim=max(fit.trim, config.noisy_trim))
    else:
        frame = frames[0]
    if config.table_height is not None:
        frame, _ = refine_camera_pose(frame, config.table_height, config.segment)
    seg: Segmentation = segment(frame, config.segmentation, config.segment, exclude)
    objects = fit_scene(seg.objects, seg.table, seg.camera_position, kinds, fit)
    return Percept(objects, seg.table, seg.camera_position, seg.mode,
                   time.perf_counter() - t0, fit)


def refit(percept: Percept, kinds: dict[str, ShapeKind],
          cfg: FitConfig | None = None) -> Percept:
    """The same objects fitted again with the primitives in ``kinds`` (e.g. chosen by
    learned shape concepts), as they were fitted first unless ``cfg`` says otherwise."""
    t0 = time.perf_counter()
    cfg = cfg or percept.fit
    objects = fit_scene(percept.clouds, percept.table, percept.camera_position, kinds, cfg)
    return Percept(objects, percept.table, percept.camera_position, percept.mode,
                   percept.time_s + time.perf_counter() - t0, cfg)


def world_model(percept: Percept, attributes: dict[str, tuple[str, str]],
                table_extent: tuple[float, float, float, float] = (-0.3, 0.9, -0.6, 0.6)
                ) -> WorldModel:
    """The planner's world from perception: ``attributes`` gives each object's
    (category, colour), e.g. from learned concepts. Every object is movable, as in the
    simulator's own world model (a bowl can be lifted)."""
    objects = {}
    for o in percept.objects:
        category, color = attributes.get(o.name, (o.fit.kind, "unknown"))
        objects[o.name] = WorldObject(o.name, category, color, o.fit.shape, o.fit.pose)
    return WorldModel(objects, table_extent, percept.table.height)
