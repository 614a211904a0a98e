"""One demonstration per task, recorded from the TAMP planner, and what the imitation
policies share: the object-centric state, the top-down images, the rollout loop.

A demonstration is the TAMP agent solving one seed of a task (seed :data:`DEMO_SEED`,
disjoint from the evaluation seeds 1000+) with one robot (``Demo.robot``, a folder of
``robots/``), recorded step by step: before each
pick-and-place, the world (every object's shape and pose, the marked zones) and the
top-down height and colour maps; then what the planner did: which object it picked, what
it put it on or in (the reference), and where the object came to rest (xy, yaw).

On disk a demo is ``<dir>/<task>/seed<S>.json`` (worlds and steps) beside
``seed<S>.safetensors`` (the images): no pickle.

Every imitation policy acts through :class:`policies.primitives.Primitives` — the same
grasps, placements, IK and motion planning as the TAMP agent; a policy only chooses
(object to pick, place xy, yaw) per step (see :func:`rollout`).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from policies.base import EpisodeOutcome, Monitor
from robots import DEFAULT_ROBOT
from scenes.env import TabletopEnv
from tamp.world import Shape, WorldModel, WorldObject, Zone

DEMO_SEED = 0  #: the seed each task's demonstration is recorded on (evaluation: 1000+)
DEMO_DIR = "runs/policies/demos"
DEMO_VERSION = 1

#: entity categories of the object-centric state ("zone": a marked place of the table)
CATEGORIES = ("block", "bowl", "disk", "box", "tray", "cylinder", "zone", "other")
MAX_ENTITIES = 20  #: slots of the state (objects and zones), zero-padded
#: per entity: x, y, z, cos yaw, sin yaw, size (3), rgb (3), category one-hot, present
FEATURES = 11 + len(CATEGORIES) + 1
ZONE_RGB = (0.3, 0.3, 0.3)  #: as the simulator draws a zone


class DemoError(RuntimeError):
    """A demonstration could not be recorded or read."""


# -- object-centric state -----------------------------------------------------------------
def yaw_of(pose: np.ndarray) -> float:
    return float(math.atan2(pose[1, 0], pose[0, 0]))


def entity_names(world: WorldModel) -> list[str]:
    """Objects and zones in the canonical order of the state: by category, then colour,
    then name (zones last)."""
    def key(o: WorldObject):
        cat = o.category if o.category in CATEGORIES else "other"
        return (CATEGORIES.index(cat), o.color, o.name)

    names = [o.name for o in sorted(world.objects.values(), key=key)]
    return names + sorted(world.zones)


def entity_pose(world: WorldModel, name: str) -> np.ndarray:
    if name in world.objects:
        return world.objects[name].pose
    return world.zones[name].pose


def entity_features(world: WorldModel, names: list[str] | None = None
                    ) -> tuple[np.ndarray, list[str]]:
    """The state: (MAX_ENTITIES, FEATURES) float32, and the names of the filled slots
    (entities beyond MAX_ENTITIES are left out)."""
    from scenes.sim import COLORS

    names = (names or entity_names(world))[:MAX_ENTITIES]
    x = np.zeros((MAX_ENTITIES, FEATURES), np.float32)
    for k, name in enumerate(names):
        if name in world.objects:
            o = world.objects[name]
            size = o.shape.size
            rgb = COLORS.get(o.color, (0.5, 0.5, 0.5))
            cat = o.category if o.category in CATEGORIES else "other"
        else:
            zone = world.zones[name]
            size, rgb, cat = (*zone.extents, 0.0), ZONE_RGB, "zone"
        pose = entity_pose(world, name)
        yaw = yaw_of(pose)
        x[k, :3] = pose[:3, 3]
        x[k, 3:5] = (math.cos(yaw), math.sin(yaw))
        x[k, 5:8] = size
        x[k, 8:11] = rgb
        x[k, 11 + CATEGORIES.index(cat)] = 1.0
        x[k, -1] = 1.0
    return x, list(names)


def movable_mask(world: WorldModel, names: list[str]) -> np.ndarray:
    """Which slots hold an object that can be picked."""
    m = np.zeros(MAX_ENTITIES, bool)
    for k, n in enumerate(names):
        m[k] = n in world.objects and world.objects[n].movable
    return m


# -- worlds as JSON -------------------------------------------------------------------------
def world_to_json(world: WorldModel) -> dict:
    return {"objects": [{"name": o.name, "category": o.category, "color": o.color,
                         "shape": o.shape.kind, "size": list(o.shape.size),
                         "wall": o.shape.wall, "pose": o.pose.tolist(),
                         "movable": o.movable} for o in world.objects.values()],
            "zones": [{"name": z.name, "pose": z.pose.tolist(), "extents": list(z.extents)}
                      for z in world.zones.values()],
            "table_extent": list(world.table_extent), "table_height": world.table_height}


def world_from_json(doc: dict) -> WorldModel:
    objects = {o["name"]: WorldObject(o["name"], o["category"], o["color"],
                                      Shape(o["shape"], tuple(o["size"]), o["wall"]),
                                      np.array(o["pose"], float), o["movable"])
               for o in doc["objects"]}
    zones = {z["name"]: Zone(z["name"], np.array(z["pose"], float), tuple(z["extents"]))
             for z in doc["zones"]}
    return WorldModel(objects, tuple(doc["table_extent"]), doc["table_height"], zones=zones)


# -- demonstrations -------------------------------------------------------------------------
@dataclass
class DemoStep:
    world: WorldModel  #: before the step
    pick: str  #: the object picked
    reference: str  #: what it was put on or in ("table" for the table itself)
    place_xy: tuple[float, float]  #: where the object came to rest (m, world)
    place_yaw: float  #: its yaw there (rad, world)
    action: tuple[str, ...]  #: the planner's place action, e.g. ("place-in", "b", "bowl")


@dataclass
class Demo:
    task: str
    seed: int
    steps: list[DemoStep]
    images: np.ndarray | None = None  #: (steps, H, W, 4): colour and height before each
    info: dict = field(default_factory=dict)
    robot: str = DEFAULT_ROBOT  #: the robot that performed it (a name in robots.available())

    def to_json(self) -> dict:
        return {"format": "tamp-demo", "version": DEMO_VERSION, "task": self.task,
                "seed": self.seed, "robot": self.robot, "info": self.info,
                "steps": [{"world": world_to_json(s.world), "pick": s.pick,
                           "reference": s.reference, "place_xy": list(s.place_xy),
                           "place_yaw": s.place_yaw, "action": list(s.action)}
                          for s in self.steps]}

    @classmethod
    def from_json(cls, doc: dict, images=None) -> "Demo":
        if doc.get("format") != "tamp-demo" or doc.get("version") != DEMO_VERSION:
            raise DemoError("not a demonstration of this version (record it again)")
        steps = [DemoStep(world_from_json(s["world"]), s["pick"], s["reference"],
                          tuple(s["place_xy"]), float(s["place_yaw"]), tuple(s["action"]))
                 for s in doc["steps"]]
        # a demonstration recorded before robots were named is the default robot's
        return cls(doc["task"], int(doc["seed"]), steps, images, doc.get("info", {}),
                   doc.get("robot", DEFAULT_ROBOT))


def demo_path(task: str, seed: int = DEMO_SEED, root: str | Path = DEMO_DIR) -> Path:
    return Path(root) / task / f"seed{seed}.json"


def save_demo(demo: Demo, root: str | Path = DEMO_DIR) -> Path:
    """Write the demo atomically (JSON and, with images, safetensors)."""
    import torch
    from safetensors.torch import save_file

    from tamp.files import atomic_path, write_json_atomic

    path = demo_path(demo.task, demo.seed, root)
    if demo.images is not None:
        with atomic_path(path.with_suffix(".safetensors")) as tmp:
            save_file({"images": torch.from_numpy(np.ascontiguousarray(demo.images,
                                                                       np.float32))},
                      str(tmp), metadata={"format": "tamp-demo"})
    write_json_atomic(path, demo.to_json())
    return path


def load_demo(task: str, seed: int = DEMO_SEED, root: str | Path = DEMO_DIR) -> Demo:
    from safetensors.torch import load_file

    path = demo_path(task, seed, root)
    if not path.is_file():
        raise DemoError(f"no demonstration of {task} (seed {seed}) at {path} "
                        f"(record it with: tamp policies demo --task {task} --seed {seed})")
    try:
        doc = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise DemoError(f"{path} is not valid JSON: {err}") from None
    images = None
    if path.with_suffix(".safetensors").is_file():
        images = load_file(str(path.with_suffix(".safetensors")))["images"].numpy()
    return Demo.from_json(doc, images)


def record_demo(task: str, seed: int = DEMO_SEED, images: bool = True,
                time_budget: float = 120.0, say: Callable[[str], None] = lambda m: None,
                robot: str = DEFAULT_ROBOT) -> Demo:
    """Let the TAMP planner solve ``task`` on ``seed`` with ``robot`` (a name in
    ``robots.available()``) and record every pick-and-place.

    The plan is executed one pick-and-place at a time; after a step that did not do what
    it should (a slip), the planner replans from the observed state, as the TAMP agent
    does. Raises :class:`DemoError` if the task is not solved.
    """
    from dataclasses import replace

    from tamp.execution.loop import expected_facts, steps_of
    from scenes.executor import Executor
    from tamp.planner import Planner, PlannerConfig, goal_holds, symbolic_state
    from tamp.domains import get_domain

    env = TabletopEnv(task, robot=robot)
    try:
        env.reset(seed=seed)
        domain = env.instance.domain
        goal = env.instance.goal
        planner = Planner(env.robot, replace(PlannerConfig(time_budget=time_budget,
                                                           seed=seed), domain=domain))
        executor = Executor(env)
        steps: list[DemoStep] = []
        pictures: list[np.ndarray] = []
        t0 = time.perf_counter()
        replans: list[str] = []  #: why a step failed and the planner started again
        for attempt in range(4):
            world = env.oracle_world()
            if goal_holds(world, goal, domain):
                break
            plan = planner.plan(world, goal, env.sim.arm_positions())
            if not plan.success:
                raise DemoError(f"{task} seed {seed}: the planner failed: {plan.reason}")
            say(f"planned {len(plan.actions)} actions in {plan.planning_time:.1f} s")
            failed = ""
            for step in steps_of(plan.actions, domain):
                before = env.oracle_world()
                picture = topdown(env).image if images else None
                place = step[-1]
                obj = place.args[0]
                if place.name in get_domain(domain).pick_actions:  # a pick alone (lift): nothing is placed
                    failed = executor.run_actions(step)
                    if failed:
                        break
                    continue
                failed = executor.run_actions(step)
                if not failed:
                    missing = set().union(*(expected_facts(a, domain) for a in step)) - \
                        symbolic_state(env.oracle_world(), domain)
                    if missing:
                        failed = "not observed: " + ", ".join(" ".join(f) for f in missing)
                if failed:
                    executor.recover()
                    break
                rest = env.sim.object_pose(obj)
                target = place.args[1] if len(place.args) > 1 else "table"
                steps.append(DemoStep(before, obj, reference_of(before, obj, target, rest),
                                      (float(rest[0, 3]), float(rest[1, 3])), yaw_of(rest),
                                      (place.name, *place.args)))
                if picture is not None:
                    pictures.append(picture)
                say(f"step {len(steps)}: {' '.join((place.name, *place.args))}")
            if not failed:
                break
            replans.append(failed)
            say(f"replanning after: {failed}")
        result = executor.result("", t0)
        if not result.success:
            raise DemoError(f"{task} seed {seed}: the demonstration did not reach the goal "
                            f"({result.failure_reason})")
        return Demo(task, seed, steps, np.stack(pictures) if pictures else None,
                    {"seconds": round(time.perf_counter() - t0, 1),
                     "description": env.instance.description, "replans": replans},
                    robot)
    finally:
        env.close()


def reference_of(world: WorldModel, obj: str, target: str, rest: np.ndarray) -> str:
    """What a placed object is placed relative to: the place action's target if that is
    an object, a zone or the table; otherwise (an abstract target, e.g. a pyramid slot)
    the entity nearest below where the object came to rest."""
    if target in world.objects or target in world.zones or target == "table":
        return target
    below = [n for n in entity_names(world) if n != obj and
             (n in world.zones or world.objects[n].pose[2, 3] < rest[2, 3] - 0.005)]
    if not below:
        return "table"
    return min(below, key=lambda n: float(np.linalg.norm(entity_pose(world, n)[:2, 3]
                                                         - rest[:2, 3])))


# -- top-down images ------------------------------------------------------------------------
#: the rasterised workspace: x (rows) and y (columns) ranges, m, and the cell size
TOPDOWN_X = (0.20, 0.80)
TOPDOWN_Y = (-0.50, 0.50)
TOPDOWN_RES = 0.00625
#: the cameras fused into the height map beside the scene camera: one on each side and
#: one high above the table
SIDE_CAMERAS = ((0.55, -0.85, 0.95), (0.55, 0.85, 0.95), (0.35, 0.0, 1.5))


def topdown_shape() -> tuple[int, int]:
    return (int(round((TOPDOWN_X[1] - TOPDOWN_X[0]) / TOPDOWN_RES)),
            int(round((TOPDOWN_Y[1] - TOPDOWN_Y[0]) / TOPDOWN_RES)))


@dataclass
class TopDown:
    image: np.ndarray  #: (H, W, 4) float32: rgb in [0, 1], height above the table (m)
    instance: np.ndarray  #: (H, W) int: index into ``labels`` of the top surface, or -1
    labels: tuple[str, ...]

    def object_at(self, cell: tuple[int, int]) -> str | None:
        k = int(self.instance[cell])
        return self.labels[k] if k >= 0 else None


def cell_of(xy) -> tuple[float, float]:
    """Continuous (row, column) of a world point (cell centres at integers)."""
    return ((xy[0] - TOPDOWN_X[0]) / TOPDOWN_RES - 0.5, (xy[1] - TOPDOWN_Y[0]) / TOPDOWN_RES - 0.5)


def xy_of(cell) -> tuple[float, float]:
    return (TOPDOWN_X[0] + (cell[0] + 0.5) * TOPDOWN_RES,
            TOPDOWN_Y[0] + (cell[1] + 0.5) * TOPDOWN_RES)


_SIDE = {}


def topdown(env: TabletopEnv) -> TopDown:
    """Height and colour maps of the workspace seen from above: the points of the scene
    camera and three more (two at the sides, one above), back-projected and rasterised
    (the highest point of each cell wins). The robot's own points are left out (they are
    not in the instance masks and stand above the table); a cell no camera sees stays
    empty (zeros)."""
    from scenes.camera import Camera, CameraConfig

    frames = [env.capture()]
    for eye in SIDE_CAMERAS:
        cam = _SIDE.get(eye)
        if cam is None:
            cam = _SIDE[eye] = Camera(CameraConfig(eye=eye, target=(0.5, 0.0, 0.0)))
        frames.append(cam.capture(env.sim.client, env.sim.bodies))
    labels = frames[0].labels
    pts, rgbs, inst = [], [], []
    for f in frames:
        h, w = f.depth.shape
        v, u = np.mgrid[0:h, 0:w]
        k = f.intrinsics
        d = f.depth
        cam = np.stack([(u - k[0, 2]) * d / k[0, 0], (v - k[1, 2]) * d / k[1, 1], d,
                        np.ones_like(d)], -1).reshape(-1, 4)
        world = cam @ f.extrinsics.T
        ids = f.instance.reshape(-1)
        if f.labels != labels:  # the same bodies in the same order for every camera
            ids = np.array([labels.index(f.labels[i]) if i >= 0 else -1 for i in ids])
        keep = (ids >= 0) | (world[:, 2] < 0.003)  # objects, or the table and its marks
        pts.append(world[keep, :3])
        rgbs.append(f.rgb.reshape(-1, 3)[keep] / 255.0)
        inst.append(ids[keep])
    pts, rgb, ids = np.concatenate(pts), np.concatenate(rgbs), np.concatenate(inst)
    hh, ww = topdown_shape()
    r = np.floor((pts[:, 0] - TOPDOWN_X[0]) / TOPDOWN_RES).astype(int)
    c = np.floor((pts[:, 1] - TOPDOWN_Y[0]) / TOPDOWN_RES).astype(int)
    inside = (r >= 0) & (r < hh) & (c >= 0) & (c < ww)
    r, c, z, rgb, ids = r[inside], c[inside], pts[inside, 2], rgb[inside], ids[inside]
    order = np.argsort(z, kind="stable")  # the highest point of a cell is written last
    image = np.zeros((hh, ww, 4), np.float32)
    instance = np.full((hh, ww), -1, np.int64)
    image[r[order], c[order], :3] = rgb[order]
    image[r[order], c[order], 3] = np.maximum(z[order], 0.0)
    instance[r[order], c[order]] = ids[order]
    return TopDown(image, instance, labels)


def place_pose(world: WorldModel, obj: str, xy, yaw: float) -> tuple[np.ndarray, str]:
    """Where ``obj`` rests when set down at ``xy`` with ``yaw``: on the highest surface
    under its footprint (its centre and four points near the edge of its footprint) — as
    :func:`policies.primitives.pose_at`, which looks under the centre only, but so that
    a block set down across two others (a pyramid) rests on them, not in the gap."""
    from policies.primitives import pose_at, support_at

    o = world.objects[obj]
    if o.shape.kind == "box":
        hx, hy = o.shape.size[0] / 2, o.shape.size[1] / 2
    else:  # round: the corners of a square within the disk
        hx = hy = o.shape.size[0] * 0.7
    c, s = math.cos(yaw), math.sin(yaw)
    best = None
    for u, v in ((0, 0), (0.8, 0.8), (0.8, -0.8), (-0.8, 0.8), (-0.8, -0.8)):
        p = (xy[0] + c * u * hx - s * v * hy, xy[1] + s * u * hx + c * v * hy)
        name, region = support_at(world, obj, p)
        if best is None or region.height > best[1].height + 1e-6:
            best = (name, region)
    pose, support = pose_at(world, obj, xy, yaw)
    if best is not None and best[0] != support:
        from tamp.geometry import placements as pl

        pose[2, 3] = best[1].height + pl.PlacementConfig().drop_height
        support = best[0]
    return pose, support


# -- rollout --------------------------------------------------------------------------------
Choice = tuple[str, tuple[float, float], float]  #: object to pick, place xy, place yaw


def rollout(env: TabletopEnv, choose: Callable[[TabletopEnv], "Choice | str"],
            max_steps: int, monitor: Monitor | None = None, extra: dict | None = None,
            config=None) -> EpisodeOutcome:
    """Run a pick-and-place policy: per step ``choose(env)`` names (object, place xy,
    yaw) — or returns why it cannot — and :class:`Primitives` picks the object and sets
    it down there (``place-at``, on the surface :func:`place_pose` finds). Ends when the
    environment reports the goal reached, after ``max_steps`` steps, or when a step cannot
    be refined (the policy would only ask for it again)."""
    from policies.primitives import Primitives

    monitor = monitor or Monitor()
    prims = Primitives(env, config, on_step=monitor.step)
    t0 = time.perf_counter()
    plan, planning, reason, chosen = [], 0.0, "", []
    thinking = 0.0
    for k in range(max_steps):
        if prims.executor.info.get("success", False):
            break
        t = time.perf_counter()
        choice = choose(env)
        thinking += time.perf_counter() - t
        if isinstance(choice, str):
            reason = f"step {k + 1}: {choice}"
            break
        obj, xy, yaw = choice
        chosen.append({"pick": obj, "place_xy": [round(float(v), 4) for v in xy],
                       "place_yaw": round(float(yaw), 4)})
        monitor.stage(f"step {k + 1}: {obj} -> ({xy[0]:.3f}, {xy[1]:.3f}) yaw {yaw:.2f}")
        world = prims.world()
        if obj not in world.objects:
            reason = f"step {k + 1}: unknown object '{obj}'"
            break
        pose, support = place_pose(world, obj, xy, yaw)
        out = prims.pick_place(("place-at", obj, support), world, {"pose": pose})
        plan += out.plan
        planning += out.planning_time_s
        if not out.ok and not out.actions:
            reason = f"step {k + 1} ({obj}): {out.reason}"
            break
    else:
        if not prims.executor.info.get("success", False):
            reason = f"goal not reached in {max_steps} steps"
    result = prims.finish(reason, t0)
    return EpisodeOutcome(
        result.success, plan, planning + thinking,
        max(0.0, result.wall_time - planning - thinking), result.failure_reason,
        {**(extra or {}), "steps": chosen, "policy_time_s": round(thinking, 4),
         "sim_time_s": result.sim_time, "control_steps": result.steps,
         "goal_status": {k: bool(v) for k, v in result.info.get("goal", {}).items()}})
