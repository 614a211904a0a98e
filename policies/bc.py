"""Behaviour cloning from one demonstration on object-centric state.

``bc-1demo`` is the ground-truth-state MLP of the imitation literature: the state is
every object's (and marked zone's) position, yaw, size, colour and category in a
canonical order (:func:`policies.demos.entity_features`), flattened; an MLP predicts

* which slot to pick (logits, masked to the movable objects present),
* the reference the object goes on or in (logits over the slots and "the table"),
* the place position in the reference's frame and the yaw relative to the reference
  (absolute on the table).

It is trained on the demonstration's few steps. ``bc-1demo-aug`` is the same network
trained on the demonstration augmented by object-frame transforms: per step, every rigid
group of the scene (what rests on what, and the marked zones together) is moved by a
random planar rotation and translation; the place target moves with its reference. Each
augmented step is refined by the project's planner (grasp, placement, IK, collision-free
motion; :class:`tamp.refine.Refiner`) and kept only if that succeeds.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from policies.base import EpisodeOutcome, Monitor, Policy, register_policy
from policies.demos import (FEATURES, MAX_ENTITIES, Demo, DemoStep, entity_features,
                            entity_names, entity_pose, movable_mask, rollout, yaw_of)
from policies.weights import ImitationOptions
from scenes.env import TabletopEnv
from tamp.world import WorldModel

OFFSET_SCALE = 0.05  #: m: place offsets are learned in these units
TABLE = MAX_ENTITIES  #: the reference slot meaning "the table itself" (world frame)
#: where augmented scenes may put things (m, robot base frame)
AUG_WORKSPACE = ((0.32, 0.72), (-0.40, 0.40))


@dataclass(frozen=True)
class BCConfig:
    hidden: int = 128
    layers: int = 2
    iterations: int = 1500  #: full-batch Adam steps
    lr: float = 1e-3
    weight_decay: float = 1e-4
    noise: float = 0.003  #: m of Gaussian noise on input positions while training
    seed: int = 0
    augment_per_step: int = 32  #: bc-1demo-aug: accepted augmented samples per demo step
    augment_tries: int = 4  #: bc-1demo-aug: attempts per accepted sample, at most


class BCNet(nn.Module):
    def __init__(self, hidden: int = 128, layers: int = 2):
        super().__init__()
        dims = [MAX_ENTITIES * FEATURES] + [hidden] * layers
        body: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:]):
            body += [nn.Linear(a, b), nn.ReLU()]
        self.body = nn.Sequential(*body)
        self.pick = nn.Linear(hidden, MAX_ENTITIES)
        self.ref = nn.Linear(hidden, MAX_ENTITIES + 1)
        self.place = nn.Linear(hidden, 4)  #: offset (2, in OFFSET_SCALE), yaw (cos, sin)

    def forward(self, x: torch.Tensor):
        h = self.body(x.flatten(1))
        return self.pick(h), self.ref(h), self.place(h)


# -- samples --------------------------------------------------------------------------------
@dataclass
class Sample:
    x: np.ndarray  #: (MAX_ENTITIES, FEATURES)
    movable: np.ndarray  #: (MAX_ENTITIES,) bool
    pick: int
    ref: int  #: slot, or TABLE
    target: np.ndarray  #: offset / OFFSET_SCALE (2), cos, sin of the relative yaw


def _rot(yaw: float) -> np.ndarray:
    c, s = math.cos(yaw), math.sin(yaw)
    return np.array([[c, -s], [s, c]])


def make_sample(world: WorldModel, pick: str, reference: str, place_xy, place_yaw: float
                ) -> Sample | None:
    """The training sample of one step (None if an object falls outside the slots)."""
    x, names = entity_features(world)
    if pick not in names:
        return None
    if reference in names:
        ref = names.index(reference)
        pose = entity_pose(world, reference)
        yaw0 = yaw_of(pose)
        offset = _rot(-yaw0) @ (np.asarray(place_xy) - pose[:2, 3])
    else:
        ref, yaw0, offset = TABLE, 0.0, np.asarray(place_xy, float)
    d = place_yaw - yaw0
    target = np.array([*(offset / OFFSET_SCALE), math.cos(d), math.sin(d)], np.float32)
    return Sample(x, movable_mask(world, names), names.index(pick), ref, target)


def demo_samples(demo: Demo) -> list[Sample]:
    out = [make_sample(s.world, s.pick, s.reference, s.place_xy, s.place_yaw)
           for s in demo.steps]
    return [s for s in out if s is not None]


def decode(world: WorldModel, names: list[str], movable: np.ndarray, pick_logits,
           ref_logits, place) -> tuple[str, tuple[float, float], float]:
    """The network's output as (object to pick, place xy, place yaw)."""
    pick_logits = np.where(movable, pick_logits, -np.inf)
    k = int(np.argmax(pick_logits))
    present = np.zeros(MAX_ENTITIES + 1, bool)
    present[:len(names)] = True
    present[TABLE] = True
    present[k] = False  # an object does not go on itself
    r = int(np.argmax(np.where(present, ref_logits, -np.inf)))
    offset = place[:2] * OFFSET_SCALE
    d = math.atan2(place[3], place[2])
    if r == TABLE:
        return names[k], (float(offset[0]), float(offset[1])), d
    pose = entity_pose(world, names[r])
    yaw0 = yaw_of(pose)
    xy = pose[:2, 3] + _rot(yaw0) @ offset
    return names[k], (float(xy[0]), float(xy[1])), yaw0 + d


# -- training -------------------------------------------------------------------------------
def train_bc(samples: list[Sample], config: BCConfig = BCConfig(),
             device: str | torch.device = "cpu", progress=None) -> tuple[BCNet, dict]:
    """Fit :class:`BCNet` to ``samples`` (full batch); returns it and a report."""
    if not samples:
        raise ValueError("no training samples")
    torch.manual_seed(config.seed)
    dev = torch.device(device)
    x = torch.from_numpy(np.stack([s.x for s in samples])).to(dev)
    movable = torch.from_numpy(np.stack([s.movable for s in samples])).to(dev)
    pick = torch.tensor([s.pick for s in samples], device=dev)
    ref = torch.tensor([s.ref for s in samples], device=dev)
    target = torch.from_numpy(np.stack([s.target for s in samples])).to(dev)
    present = x[:, :, -1:] > 0
    net = BCNet(config.hidden, config.layers).to(dev)
    opt = torch.optim.Adam(net.parameters(), config.lr, weight_decay=config.weight_decay)
    t0 = time.perf_counter()
    loss = torch.zeros((), device=dev)
    for it in range(1, config.iterations + 1):
        noisy = x.clone()
        noisy[:, :, :2] += config.noise * torch.randn_like(x[:, :, :2]) * present
        pl, rl, place = net(noisy)
        pl = pl.masked_fill(~movable, -1e9)
        loss = nn.functional.cross_entropy(pl, pick) + \
            nn.functional.cross_entropy(rl, ref) + \
            nn.functional.mse_loss(place, target) * 4.0
        opt.zero_grad()
        loss.backward()
        opt.step()
        if progress is not None and (it % 500 == 0 or it == config.iterations):
            progress(it, float(loss.detach()))
    net.eval()
    with torch.no_grad():
        pl, rl, place = net(x)
        pick_acc = float((pl.masked_fill(~movable, -1e9).argmax(1) == pick).float().mean())
        ref_acc = float((rl.argmax(1) == ref).float().mean())
        err = float(((place[:, :2] - target[:, :2]) * OFFSET_SCALE).norm(dim=1).mean())
    return net, {"samples": len(samples), "iterations": config.iterations,
                 "final_loss": round(float(loss.detach()), 5), "train_pick_accuracy": pick_acc,
                 "train_reference_accuracy": ref_acc,
                 "train_place_error_m": round(err, 5),
                 "seconds": round(time.perf_counter() - t0, 1)}


# -- augmentation ---------------------------------------------------------------------------
def rigid_groups(world: WorldModel, domain: str) -> list[list[str]]:
    """The scene's rigid groups: objects that rest on or in one another, together; the
    marked zones (and what stands on them) as one group."""
    from tamp.planner import symbolic_state

    names = list(world.objects) + list(world.zones)
    parent = {n: n for n in names}

    def find(n):
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    def union(a, b):
        parent[find(a)] = find(b)

    for fact in symbolic_state(world, domain):
        if len(fact) == 3 and fact[0] in ("on", "in") and fact[1] in parent and \
                fact[2] in parent:
            union(fact[1], fact[2])
    zones = list(world.zones)
    for z in zones[1:]:
        union(z, zones[0])
    groups: dict[str, list[str]] = {}
    for n in names:
        groups.setdefault(find(n), []).append(n)
    return list(groups.values())


def _planar(theta: float, centre: np.ndarray, new_centre: np.ndarray) -> np.ndarray:
    t = np.eye(4)
    t[:2, :2] = _rot(theta)
    t[:2, 3] = new_centre - _rot(theta) @ centre
    return t


def transformed_step(step: DemoStep, domain: str, rng: np.random.Generator,
                     attempts: int = 50) -> DemoStep | None:
    """The step with every rigid group moved by a random planar transform (groups kept
    apart, everything within reach); the place target moves with its reference (stays
    put for the table). None if no such layout was found."""
    from dataclasses import replace

    from tamp.geometry.shapes import footprint_radius

    world = step.world
    groups = rigid_groups(world, domain)
    (x0, x1), (y0, y1) = AUG_WORKSPACE

    def radius(n):
        if n in world.objects:
            return footprint_radius(world.objects[n].shape)
        return 0.5 * math.hypot(*world.zones[n].extents)

    for _ in range(attempts):
        moves, discs, ok = {}, [], True
        for g in groups:
            xy = np.array([entity_pose(world, n)[:2, 3] for n in g])
            centre = xy.mean(0)
            reach = max(np.linalg.norm(p - centre) + radius(n) for p, n in zip(xy, g))
            theta = float(rng.uniform(-math.pi, math.pi))
            for _ in range(30):
                new = np.array([rng.uniform(x0, x1), rng.uniform(y0, y1)])
                t = _planar(theta, centre, new)
                moved = xy @ t[:2, :2].T + t[:2, 3]
                inside = np.all((moved[:, 0] >= x0) & (moved[:, 0] <= x1) &
                                (moved[:, 1] >= y0) & (moved[:, 1] <= y1))
                if inside and all(np.linalg.norm(new - c) > reach + r + 0.01
                                  for c, r in discs):
                    break
            else:
                ok = False
                break
            discs.append((new, reach))
            for n in g:
                moves[n] = t
        if not ok:
            continue
        objects = {n: o.moved(moves[n] @ o.pose) for n, o in world.objects.items()}
        zones = {n: replace(z, pose=moves[n] @ z.pose) for n, z in world.zones.items()}
        new_world = WorldModel(objects, world.table_extent, world.table_height,
                               world.clouds, zones)
        if step.reference in moves:
            t = moves[step.reference]
            xy = t[:2, :2] @ np.asarray(step.place_xy) + t[:2, 3]
            yaw = step.place_yaw + math.atan2(t[1, 0], t[0, 0])
        else:
            xy, yaw = np.asarray(step.place_xy), step.place_yaw
        return DemoStep(new_world, step.pick, step.reference, (float(xy[0]), float(xy[1])),
                        float(yaw), step.action)
    return None


def feasible(step: DemoStep, planner, seed: int) -> str:
    """Refine the step's pick-and-place in its world with the project's planner (in the
    planner's domain: grasp, placement at the target, IK, collision-free motion); "" if
    it can be done, else why not."""
    from policies.primitives import pose_at
    from tamp.refine import RefinementError

    world = step.world
    pose, support = pose_at(world, step.pick, step.place_xy, step.place_yaw)
    try:
        planner.refine_step(world, ("place-at", step.pick, support), planner.robot.home,
                            seed, {"pose": pose})
    except RefinementError as err:
        return str(err)
    return ""


def augment_demo(demo: Demo, domain: str, robot, config: BCConfig = BCConfig(),
                 say=lambda m: None) -> tuple[list[DemoStep], dict]:
    """Augmented copies of the demo's steps that the planner can carry out."""
    from dataclasses import replace as _replace

    from tamp.planner import Planner, PlannerConfig

    planner = Planner(robot, _replace(PlannerConfig(time_budget=10.0), domain=domain))
    rng = np.random.default_rng(config.seed)
    out: list[DemoStep] = []
    tried = rejected_layout = rejected_plan = 0
    t0 = time.perf_counter()
    for i, step in enumerate(demo.steps):
        kept = 0
        for _ in range(config.augment_per_step * config.augment_tries):
            if kept >= config.augment_per_step:
                break
            tried += 1
            new = transformed_step(step, domain, rng)
            if new is None:
                rejected_layout += 1
                continue
            if feasible(new, planner, seed=tried):
                rejected_plan += 1
                continue
            out.append(new)
            kept += 1
        say(f"step {i + 1}/{len(demo.steps)}: {kept} augmented samples")
    return out, {"augmented": len(out), "tried": tried, "rejected_layout": rejected_layout,
                 "rejected_by_planner": rejected_plan,
                 "seconds": round(time.perf_counter() - t0, 1)}


def train_method(method: str, demo: Demo, domain: str, robot, config: BCConfig = BCConfig(),
                 device="cpu", say=lambda m: None) -> tuple[BCNet, dict]:
    steps = list(demo.steps)
    info: dict = {}
    if method == "bc-1demo-aug":
        extra, info["augmentation"] = augment_demo(demo, domain, robot, config, say)
        steps += extra
    samples = [make_sample(s.world, s.pick, s.reference, s.place_xy, s.place_yaw)
               for s in steps]
    samples = [s for s in samples if s is not None]
    net, report = train_bc(samples, config, device,
                           lambda it, loss: say(f"iteration {it}: loss {loss:.4f}"))
    info["train"] = report
    return net, info


# -- the policies ---------------------------------------------------------------------------
class _BCPolicy(Policy):
    Options = ImitationOptions

    def __init__(self, checkpoints: str | Path | None = None, device: str = "cpu",
                 max_steps: int | None = None, config=None):
        self.root = checkpoints
        self.config = config  #: the primitives' PlannerConfig (default: the planner's)
        self.device = torch.device(device)
        self.max_steps = max_steps

    def load(self, task: str) -> tuple[BCNet, dict]:
        from policies.weights import CheckpointInvalid, load_checkpoint, load_weights

        doc, tensors = load_checkpoint(self.name, task, self.root)
        cfg = doc["config"]
        if cfg.get("features") != FEATURES or cfg.get("entities") != MAX_ENTITIES:
            raise CheckpointInvalid(f"{self.name} checkpoint for {task} was trained on "
                                    "another state layout (train it again)")
        net = load_weights(BCNet(cfg["hidden"], cfg["layers"]), tensors, self.name, task)
        return net.to(self.device).eval(), doc

    def run(self, env: TabletopEnv, monitor: Monitor | None = None) -> EpisodeOutcome:
        from policies.weights import CheckpointInvalid, CheckpointMissing, checkpoint_robot

        task = env.task.name
        try:
            net, doc = self.load(task)
        except (CheckpointMissing, CheckpointInvalid) as err:
            return EpisodeOutcome(False, failure_reason=str(err))
        dev = self.device

        def choose(env: TabletopEnv):
            world = env.oracle_world()
            x, names = entity_features(world)
            movable = movable_mask(world, names)
            if not movable.any():
                return "nothing to pick"
            with torch.no_grad():
                pl, rl, place = net(torch.from_numpy(x)[None].to(dev))
            return decode(world, names, movable, pl[0].cpu().numpy(), rl[0].cpu().numpy(),
                          place[0].cpu().numpy())

        max_steps = self.max_steps or int(doc["config"]["max_steps"])
        monitor = monitor or Monitor()
        extra = {"checkpoint_task": task, "demo_seed": doc["info"].get("demo_seed"),
                 **checkpoint_robot(doc, env.robot.name, monitor.stage)}
        return rollout(env, choose, max_steps, monitor, extra, self.config)


@register_policy("bc-1demo")
class BCPolicy(_BCPolicy):
    """Behaviour cloning on object-centric state from one demonstration."""


@register_policy("bc-1demo-aug")
class BCAugPolicy(_BCPolicy):
    """The same, trained on the demonstration augmented by object-frame transforms."""


def checkpoint_config(config: BCConfig, demo: Demo) -> dict:
    return {"hidden": config.hidden, "layers": config.layers, "features": FEATURES,
            "entities": MAX_ENTITIES, "max_steps": max_steps_for(demo),
            "train": asdict(config)}


def max_steps_for(demo: Demo) -> int:
    """Steps a policy may take: twice the demonstration's, plus two."""
    return 2 * len(demo.steps) + 2


__all__ = ["BCConfig", "BCNet", "BCPolicy", "BCAugPolicy", "entity_names", "train_bc",
           "augment_demo", "rigid_groups", "transformed_step", "feasible", "make_sample",
           "decode", "train_method"]
