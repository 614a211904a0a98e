"""Randomised tabletop scenes rendered with ground-truth concept labels.

Each scene holds 3-10 upright objects of six shapes (block, box, cylinder, disk, bowl,
tray) in two size classes and the colours of the palette, some stacked on others and
some inside bowls and trays. After physics has settled the scene, the labels are read
from the simulator's state with the definitions of :mod:`tamp.concepts.definitions`,
the camera renders it, and perception (instance masks) turns each visible object into
the features the concept model reads. Scenes where something toppled over are drawn
again: perception assumes upright objects.

The camera is a named sensor model (``ConceptSceneConfig.camera``, see
:mod:`tamp.perception.sensors`; ``ideal`` by default). Through a realistic one each scene is
captured as a burst of ``BURST_FRAMES`` frames and fused (:func:`filter_depth`) before
segmentation, as the agent does on the robot; its noise is drawn from a stream seeded by
:meth:`ConceptSceneGenerator.generate`'s seed, so that a dataset is reproducible. The robot
at the table (``ConceptSceneConfig.robot``, a folder of ``robots/``) stands in the
camera's view, as it does in the episodes; the dataset records both names.

Splits:

* ``train`` / ``test``: every (colour, shape) pair except those in ``HELD_OUT``;
* ``compositional``: most objects take a held-out (colour, shape) pair, never seen in
  training; ``ConceptDataset.novel`` marks them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Literal

import numpy as np
import pybullet as p
import torch

import robots
from scenes.camera import Camera, CameraConfig
from tamp.perception.sensors import sensor_model
from scenes.sim import COLORS, Simulation
from tamp.concepts.dataset import ConceptDataset
from tamp.concepts.definitions import (CONTAINERS, GROUPS, LARGE_FROM, RELATIONS,
                                       SHAPES, relation_truth, unary_truth)
from tamp.concepts.features import object_features
from tamp.concepts.model import pack_points
from tamp.geometry.shapes import tray_interior
from tamp.perception.depth import DepthFilterConfig, filter_depth
from tamp.perception.segment import SegmentationConfig, segment_instances
from tamp.world import Shape, WorldObject

Split = Literal["train", "test", "compositional"]

#: colours beyond the simulator's palette, for concepts learned later from few examples
EXTRA_COLORS: dict[str, tuple[float, float, float]] = {
    "pink": (0.95, 0.55, 0.75), "brown": (0.5, 0.3, 0.15)}
#: (colour, shape) pairs never shown in training; none of them occurs in the task suite
HELD_OUT: tuple[tuple[str, str], ...] = (
    ("red", "cylinder"), ("green", "block"), ("blue", "tray"), ("yellow", "disk"),
    ("purple", "bowl"), ("orange", "box"), ("white", "cylinder"), ("cyan", "bowl"),
    ("grey", "block"))
#: characteristic size ranges (m) of the small and the large class, clear of LARGE_FROM
SIZE_RANGES: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "block": ((0.036, 0.050), (0.060, 0.075)), "box": ((0.060, 0.095), (0.115, 0.135)),
    "cylinder": ((0.060, 0.085), (0.100, 0.125)), "disk": ((0.040, 0.060), (0.072, 0.090)),
    "bowl": ((0.17, 0.21), (0.24, 0.28)), "tray": ((0.18, 0.22), (0.26, 0.30))}
SOLIDS = ("block", "box", "cylinder", "disk")
WORKSPACE = ((0.30, 0.78), (-0.42, 0.42))  #: x and y ranges for object centres, m
GENERATOR_VERSION = 5  #: bump when scenes change: cached datasets are then rebuilt
UPRIGHT_COS = math.cos(math.radians(10))  #: a scene with an object tilted more is redrawn
BURST_FRAMES = 5  #: frames fused per scene through a realistic camera


@dataclass(frozen=True)
class ConceptSceneConfig:
    split: Split = "train"
    min_objects: int = 3
    max_objects: int = 10
    colors: tuple[str, ...] = GROUPS["color"]
    #: colour -> weight when drawing colours (others weigh 1), e.g. {"pink": 3.0}
    color_weights: dict[str, float] = field(default_factory=dict)
    held_out: tuple[tuple[str, str], ...] = HELD_OUT
    novel_fraction: float = 0.7  #: compositional split: objects with a held-out pair
    p_stack: float = 0.5  #: chance of a stack per scene (a second one at half of it)
    p_tower: float = 0.35  #: chance that a stack gets a third level
    #: chance of a tower as the task suite builds them (see ``_suite_tower``)
    p_suite_tower: float = 0.3
    p_contain: float = 0.6  #: chance that a container holds an object
    settle_steps: int = 120  #: physics steps (1/240 s) before rendering
    #: the camera's geometry (pose, field of view; the sensor model sets the resolution)
    camera_config: CameraConfig = field(default_factory=CameraConfig)
    #: the camera's sensor model, a name in ``tamp.perception.sensors.SENSORS``
    camera: str = "ideal"
    #: the robot at the table, in the camera's view (a name in ``robots.available()``)
    robot: str = robots.DEFAULT_ROBOT
    segmentation: SegmentationConfig = field(default_factory=SegmentationConfig)
    max_slots: int = 10  #: object slots per scene in the dataset


def sample_shape(shape: str, large: bool, rng: np.random.Generator) -> Shape:
    """A ``shape`` of the small or large class (see ``SIZE_RANGES``)."""
    lo, hi = SIZE_RANGES[shape][int(large)]
    e = float(rng.uniform(lo, hi))
    u = rng.uniform
    # proportions cover the task suite's objects (place-in-bowl's blocks have edges 40-50
    # mm, lift's boxes 50-70 x 30-45 x 60-100 mm) with a gap between block and box
    if shape == "block":  # nearly cubic: other edges 80-100 % of the largest
        dims = rng.permutation([e, e * u(0.8, 1.0), e * u(0.8, 1.0)])
        return Shape("box", tuple(float(d) for d in dims))
    if shape == "box":  # elongated: shortest edge at most 72 % of the longest
        short = u(0.3, 0.72)
        dims = rng.permutation([e, e * u(max(short, 0.45), 1.0), e * short])
        return Shape("box", tuple(float(d) for d in dims))
    if shape == "cylinder":  # taller than wide
        r = e * u(0.2, 0.475)
        return Shape("cylinder", (r, r, e))
    if shape == "disk":  # at most 0.6 times as tall as wide (a cylinder is taller than wide)
        return Shape("cylinder", (e / 2, e / 2, e * u(0.25, 0.6)))
    if shape == "bowl":
        return Shape("bowl", (e / 2, e / 2 * u(0.58, 0.8), u(0.04, 0.055)))
    if shape == "tray":  # rectangular, upright walls
        return Shape("tray", (e, e * u(0.6, 1.0), u(0.02, 0.035)))
    raise ValueError(f"unknown shape '{shape}'; known: {', '.join(SHAPES)}")


def footprint_radius(shape: Shape) -> float:
    """Radius of a circle around the shape's footprint, m."""
    sx, sy, _ = shape.size
    return float(np.hypot(sx, sy) / 2 if shape.kind in ("box", "tray") else sx)


def _draw_color(shape: str, cfg: ConceptSceneConfig, novel: bool,
                rng: np.random.Generator) -> str:
    held = {c for c, s in cfg.held_out if s == shape}
    allowed = [c for c in cfg.colors if (c in held) == novel]
    w = np.array([cfg.color_weights.get(c, 1.0) for c in allowed])
    return str(rng.choice(allowed, p=w / w.sum()))


def _yaw_pose(x: float, y: float, z: float, yaw: float) -> np.ndarray:
    t = np.eye(4)
    t[:3, :3] = [[math.cos(yaw), -math.sin(yaw), 0], [math.sin(yaw), math.cos(yaw), 0],
                 [0, 0, 1]]
    t[:3, 3] = (x, y, z)
    return t


@dataclass
class _Item:
    shape_name: str
    shape: Shape
    color: str
    novel: bool
    on: int = -1  #: index of the item it is stacked on or put in, -1 for the table
    #: centred on its base and turned with it (a built tower), not dropped anywhere on it
    aligned: bool = False


def _draw_novel(shape: str, cfg: ConceptSceneConfig, rng: np.random.Generator) -> bool:
    """Whether an object of ``shape`` takes a held-out (colour, shape) pair: only in the
    compositional split (the random stream is drawn from only then)."""
    return cfg.split == "compositional" and shape in {s for _, s in cfg.held_out} and \
        rng.random() < cfg.novel_fraction


def _sample_items(cfg: ConceptSceneConfig, rng: np.random.Generator) -> list[_Item]:
    n = int(rng.integers(cfg.min_objects, cfg.max_objects + 1))
    items: list[_Item] = []
    n_cont = int(rng.choice([0, 1, 2], p=[0.25, 0.5, 0.25]))
    for k in range(n):
        shape = str(rng.choice(CONTAINERS)) if k < min(n_cont, n - 1) else str(rng.choice(SOLIDS))
        novel = _draw_novel(shape, cfg, rng)
        large = bool(rng.random() < 0.5)
        items.append(_Item(shape, sample_shape(shape, large, rng),
                           _draw_color(shape, cfg, novel, rng), novel))
    # something in some containers: a small solid that fits on the flat bottom
    free = [i for i, it in enumerate(items) if it.shape_name in SOLIDS]
    for c, it in enumerate(items):
        if it.shape_name in CONTAINERS and free and rng.random() < cfg.p_contain:
            j = free.pop(int(rng.integers(len(free))))
            inner = items[j]
            inner.shape = sample_shape(str(rng.choice(("block", "disk"))), False, rng) \
                if inner.shape_name not in ("block", "disk") else \
                sample_shape(inner.shape_name, False, rng)
            inner.shape_name = "block" if inner.shape.kind == "box" else "disk"
            inner.novel = _draw_novel(inner.shape_name, cfg, rng)
            inner.color = _draw_color(inner.shape_name, cfg, inner.novel, rng)
            inner.on = c
    free = _suite_tower(items, free, cfg, rng)
    # stacks: a block or disk on a solid with a top at least as wide
    for _ in range(int(rng.random() < cfg.p_stack) + int(rng.random() < cfg.p_stack / 2)):
        tops = [i for i in free if items[i].shape_name in ("block", "disk")]
        bases = [i for i in free if items[i].shape_name in SOLIDS and items[i].on < 0
                 and all(it.on != i for it in items)]
        if not tops or len(bases) < 2:
            break
        t = tops[int(rng.integers(len(tops)))]
        b = [i for i in bases if i != t][int(rng.integers(len(bases) - 1))]
        if footprint_radius(items[b].shape) < 0.6 * footprint_radius(items[t].shape):
            continue
        items[t].on = b
        free = [i for i in free if i not in (t, b)]
        # now and then a third level, as in the towers of the task suite
        tops = [i for i in free if items[i].shape_name in ("block", "disk")
                and footprint_radius(items[i].shape) < 1.6 * footprint_radius(items[t].shape)]
        if tops and rng.random() < cfg.p_tower:
            third = tops[int(rng.integers(len(tops)))]
            items[third].on = t
            free.remove(third)
    return items


def _suite_tower(items: list[_Item], free: list[int], cfg: ConceptSceneConfig,
                 rng: np.random.Generator) -> list[int]:
    """Now and then (``cfg.p_suite_tower``) 2-4 of the ``free`` solids made into a tower as
    the task suite builds them: blocks of nearly one size, or disks each 5-20 mm narrower
    than the one below, centred and turned alike. Seen from above, such a tower hides
    most of each lower object (a block under a block of its size shows only its sides, a
    disk under a slightly smaller one a thin ring), which randomly dropped stacks seldom
    do. Returns the solids still free."""
    if rng.random() >= cfg.p_suite_tower:
        return free
    k = int(rng.integers(2, 5))
    if len(free) < k:
        return free
    chain = [int(i) for i in rng.choice(free, k, replace=False)]
    kind = str(rng.choice(("block", "disk")))
    if kind == "block":
        large = bool(rng.random() < 0.3)
        first = sample_shape("block", large, rng)
        # scaled away from the small/large boundary, so that sizes stay clear of it
        lo, hi = (1.0, 1.05) if large else (0.95, 1.0)
        shapes = [Shape("box", tuple(float(d * rng.uniform(lo, hi)) for d in first.size))
                  for _ in range(k)]
    else:
        small, large = SIZE_RANGES["disk"]
        for _ in range(100):  # diameters of either size class, 5-20 mm apart
            d = np.sort([rng.uniform(*(large if rng.random() < 0.4 else small))
                         for _ in range(k)])[::-1]
            if np.all((np.diff(-d) >= 0.005) & (np.diff(-d) <= 0.020)):
                break
        else:
            return free
        thick = float(rng.uniform(0.012, 0.026))
        shapes = [Shape("cylinder", (float(x) / 2, float(x) / 2, min(thick, 0.6 * float(x))))
                  for x in d]
    for level, (i, shape) in enumerate(zip(chain, shapes)):
        it = items[i]
        it.shape_name, it.shape = kind, shape
        it.novel = _draw_novel(kind, cfg, rng)
        it.color = _draw_color(kind, cfg, it.novel, rng)
        if level:
            it.on, it.aligned = chain[level - 1], True
    return [i for i in free if i not in chain]


def _depth(items: list[_Item], i: int) -> int:
    """How many objects lie below item ``i``."""
    return 0 if items[i].on < 0 else 1 + _depth(items, items[i].on)


def _layout(items: list[_Item], rng: np.random.Generator) -> list[np.ndarray] | None:
    """Poses: items on the table scattered without overlap, the others on their base."""
    poses: list[np.ndarray | None] = [None] * len(items)
    placed: list[tuple[np.ndarray, float]] = []
    roots = sorted((i for i, it in enumerate(items) if it.on < 0),
                   key=lambda i: -footprint_radius(items[i].shape))
    (x0, x1), (y0, y1) = WORKSPACE
    for i in roots:
        r = footprint_radius(items[i].shape)
        for _ in range(500):
            xy = rng.uniform((x0, y0), (x1, y1))
            if all(np.linalg.norm(xy - c) > r + rc + 0.02 for c, rc in placed):
                break
        else:
            return None
        placed.append((xy, r))
        poses[i] = _yaw_pose(xy[0], xy[1], 0.0, rng.uniform(-math.pi, math.pi))
    for i in sorted(range(len(items)), key=lambda i: _depth(items, i)):
        it = items[i]
        if it.on >= 0:
            base, bp = items[it.on], poses[it.on]
            if base.shape.kind == "bowl":
                room = max(base.shape.size[1] - footprint_radius(it.shape), 0.0)
                off, z = rng.uniform(-0.4, 0.4, 2) * room, bp[2, 3] + base.shape.wall + 0.002
            elif base.shape.kind == "tray":
                ix, iy, floor = tray_interior(base.shape)
                room = np.maximum(np.array([ix, iy]) / 2 - footprint_radius(it.shape), 0.0)
                local = rng.uniform(-0.6, 0.6, 2) * room
                off, z = bp[:2, :2] @ local, bp[2, 3] + floor + 0.002
            else:
                spread = 0.04 if it.aligned else 0.15
                off, z = rng.uniform(-spread, spread, 2) * footprint_radius(base.shape), \
                    bp[2, 3] + base.shape.height + 0.002
            yaw = math.atan2(bp[1, 0], bp[0, 0]) + rng.uniform(-0.12, 0.12) if it.aligned \
                else rng.uniform(-math.pi, math.pi)
            poses[i] = _yaw_pose(bp[0, 3] + off[0], bp[1, 3] + off[1], z, yaw)
    return poses  # type: ignore[return-value]


def _paint(sim: Simulation, name: str, color: str) -> None:
    rgb = {**COLORS, **EXTRA_COLORS}[color]
    p.changeVisualShape(sim.bodies[name], -1, rgbaColor=(*rgb, 1), physicsClientId=sim.client)


class ConceptSceneGenerator:
    """Renders labelled scenes; one PyBullet client, closed by :meth:`close`."""

    def __init__(self, config: ConceptSceneConfig = ConceptSceneConfig()):
        self.config = config
        self.sensor = sensor_model(config.camera)  # ValueError for an unknown name
        self.sim = Simulation(robots.load(config.robot))  # ValueError for an unknown name
        self.camera = Camera(config.camera_config, self.sensor)

    def close(self) -> None:
        self.sim.close()

    def __enter__(self) -> "ConceptSceneGenerator":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def capture(self):
        """The scene as perception segments it: one frame through an ideal camera, a
        fused burst (:func:`filter_depth`) through a realistic one."""
        sim = self.sim
        if self.sensor.ideal:
            return self.camera.capture(sim.client, sim.bodies)
        # every scene is seen as a new episode would be: its own white balance and
        # exposure, so that the colour concepts learn the sensor's colour variation
        self.camera.new_episode()
        frames = self.camera.burst(sim.client, sim.bodies, BURST_FRAMES)
        return filter_depth(frames, self.sensor.depth_noise(),
                            DepthFilterConfig(frames=BURST_FRAMES))

    def scene(self, rng: np.random.Generator, attempts: int = 20):
        """One settled, upright scene: (world model, camera frame, name -> whether its
        (colour, shape) pair is held out of training). The frame is what
        :meth:`capture` gives (fused through a realistic camera)."""
        sim = self.sim
        for _ in range(attempts):
            items = _sample_items(self.config, rng)
            poses = _layout(items, rng)
            if poses is None:
                continue
            sim.reset()
            # bases first, so that stacked and contained objects land on them
            order = sorted(range(len(items)), key=lambda i: _depth(items, i))
            for i in order:
                it = items[i]
                name = f"{it.color}_{it.shape_name}_{i}"
                sim.add_object(WorldObject(name, it.shape_name, it.color, it.shape, poses[i]))
                _paint(sim, name, it.color)
            sim.step(self.config.settle_steps)
            world = sim.world_model()
            if all(o.pose[2, 2] > UPRIGHT_COS and o.pose[2, 3] > -0.01
                   for o in world.objects.values()):
                novel = {f"{it.color}_{it.shape_name}_{i}": it.novel
                         for i, it in enumerate(items)}
                return world, self.capture(), novel
        raise RuntimeError(f"no upright scene in {attempts} attempts")

    def generate(self, n_scenes: int, seed: int,
                 progress: Callable[[int, int], None] | None = None) -> ConceptDataset:
        """``n_scenes`` labelled scenes from the random stream ``seed`` (the camera's
        noise too)."""
        cfg = self.config
        rng = np.random.default_rng(seed)
        self.camera.reseed(seed)
        s_k, nf = cfg.max_slots, None
        feats, mask, rel, novel, src = [], [], [], [], []
        labels: dict[str, list] = {g: [] for g in GROUPS}
        for s in range(n_scenes):
            world, frame, is_novel = self.scene(rng)
            seg = segment_instances(frame, frame.labels, frame.instance, cfg.segmentation)
            clouds = seg.objects[:s_k]
            names = [c.source for c in clouds]
            pts, m = pack_points(clouds, [seg.table.z_at(c.centroid[:2]) for c in clouds])
            with torch.no_grad():
                f = object_features(pts, m)[0].numpy()
            nf = f.shape[1]
            row = np.zeros((s_k, nf), np.float32)
            row[:len(clouds)] = f[:len(clouds)]
            feats.append(row)
            mask.append(np.arange(s_k) < len(clouds))
            r = np.zeros((s_k, s_k, len(RELATIONS)), bool)
            r[:len(clouds), :len(clouds)] = relation_truth(world, names)
            rel.append(r)
            truth = [unary_truth(world.objects[n]) for n in names]
            for g in GROUPS:
                labels[g].append(np.array([t[g] for t in truth] + [""] * (s_k - len(names)),
                                          dtype="<U16"))
            novel.append(np.array([is_novel[n] for n in names] + [False] * (s_k - len(names))))
            src.append(np.array(names + [""] * (s_k - len(names)), dtype="<U32"))
            if progress is not None:
                progress(s + 1, n_scenes)
        return ConceptDataset(np.stack(feats), np.stack(mask),
                              {g: np.stack(v) for g, v in labels.items()}, np.stack(rel),
                              np.stack(novel), np.stack(src),
                              {"split": cfg.split, "seed": seed, "scenes": n_scenes,
                               "colors": list(cfg.colors),
                               "held_out": [list(h) for h in cfg.held_out],
                               "camera": cfg.camera, "robot": cfg.robot,
                               "generator_version": GENERATOR_VERSION,
                               "large_from": LARGE_FROM})


def generate(n_scenes: int, seed: int, config: ConceptSceneConfig = ConceptSceneConfig(),
             progress: Callable[[int, int], None] | None = None) -> ConceptDataset:
    """Render ``n_scenes`` labelled scenes (see :class:`ConceptSceneGenerator`)."""
    with ConceptSceneGenerator(config) as gen:
        return gen.generate(n_scenes, seed, progress)
