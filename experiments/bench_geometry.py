"""``tamp bench geometry``: collision checking, IK and motion planning, each against a
PyBullet baseline measured in the same run on the same scenes.

Everything runs on one CPU core (torch and numba single-threaded). Scenes are cluttered
tables of seeded random boxes; the configurations are random ones near the obstacles.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from experiments.clutter import cluttered_world
from tamp.geometry.collision import CollisionChecker, CollisionConfig
from tamp.geometry.kinematics import Kinematics
from tamp.geometry.motion import MotionConfig, plan_motion
from tamp.geometry.sphere_model import SphereModel
from tamp.robot import RobotSpec
from tamp.world import WorldModel


class PyBulletChecker:
    """The baseline: PyBullet's own collision detection on the URDF's exact geometry, one
    configuration at a time (robot against the world and against itself, with the same
    allowed self-collision pairs as the sphere model)."""

    def __init__(self, robot: RobotSpec, kin: Kinematics, world: WorldModel,
                 resolution: float = CollisionConfig().resolution):
        import pybullet as p

        import scenes  # noqa: F401  (imports pybullet without its banner)
        from tamp.geometry.collision import world_primitives

        self.p, self.kin, self.resolution = p, kin, resolution
        self.cid = p.connect(p.DIRECT)
        cid = self.cid
        self.body = p.loadURDF(str(robot.urdf), useFixedBase=True,
                               flags=p.URDF_USE_SELF_COLLISION, physicsClientId=cid)
        n = p.getNumJoints(self.body, physicsClientId=cid)
        names = {p.getJointInfo(self.body, j, physicsClientId=cid)[1].decode(): j
                 for j in range(n)}
        link_of = {p.getJointInfo(self.body, j, physicsClientId=cid)[12].decode(): j
                   for j in range(n)}
        link_of[robot.base_link] = -1
        self.joints = [names[j] for j in robot.arm_joints]
        model = SphereModel.build(kin, robot.collision_spheres, 0.0)
        allowed = _allowed_names(model, kin, robot)
        links = list(link_of)
        for a in links:
            for b in links:
                if a < b and (a, b) not in allowed and (b, a) not in allowed:
                    p.setCollisionFilterPair(self.body, self.body, link_of[a], link_of[b], 0,
                                             physicsClientId=cid)
        self.obstacles = []
        for _, prim in world_primitives(world):
            pos, quat = _pos_quat(prim.local)
            if prim.kind == "box":
                col = p.createCollisionShape(p.GEOM_BOX, halfExtents=prim.half,
                                             physicsClientId=cid)
            else:
                col = p.createCollisionShape(p.GEOM_CYLINDER, radius=prim.half[0],
                                             height=2 * prim.half[2], physicsClientId=cid)
            self.obstacles.append(p.createMultiBody(0, col, -1, pos, quat, physicsClientId=cid))
        for o in self.obstacles:  # the bolted base never counts against the table
            p.setCollisionFilterPair(self.body, o, -1, -1, 0, physicsClientId=cid)

    def set(self, q: np.ndarray) -> None:
        self.p.resetJointStatesMultiDof(self.body, self.joints, [[float(v)] for v in q],
                                        physicsClientId=self.cid)

    def in_contact(self, q: np.ndarray) -> bool:
        """The per-configuration loop being benchmarked: contacts after a detection pass."""
        self.set(q)
        self.p.performCollisionDetection(physicsClientId=self.cid)
        return len(self.p.getContactPoints(bodyA=self.body, physicsClientId=self.cid)) > 0

    def exact_world_collision(self, q: np.ndarray) -> bool:
        """Ground truth: any robot link (not the base) within 0 m of an obstacle."""
        self.set(q)
        p = self.p
        for o in self.obstacles:
            for pt in p.getClosestPoints(self.body, o, 0.0, physicsClientId=self.cid):
                if pt[3] != -1:
                    return True
        return False

    def near_world(self, q: np.ndarray, distance: float) -> bool:
        self.set(q)
        p = self.p
        return any(pt[3] != -1 for o in self.obstacles
                   for pt in p.getClosestPoints(self.body, o, distance, physicsClientId=self.cid))

    # the interface plan_motion uses
    def is_free(self, q: np.ndarray) -> bool:
        robot = self.kin.robot
        if np.any(q < robot.lower) or np.any(q > robot.upper):
            return False
        return not self.in_contact(q)

    def edge_free(self, q0: np.ndarray, q1: np.ndarray) -> bool:
        n = max(1, int(np.ceil(np.abs(q1 - q0).max() / self.resolution)))
        return all(self.is_free(q0 + s * (q1 - q0)) for s in np.linspace(0, 1, n + 1)[1:])

    def close(self) -> None:
        self.p.disconnect(self.cid)


def _allowed_names(model: SphereModel, kin: Kinematics, robot: RobotSpec) -> set:
    from tamp.geometry.sphere_model import _allowed_link_pairs

    names = model.link_names
    pairs = _allowed_link_pairs(kin.model, names, list(model.link_joint),
                                robot.disabled_collisions)
    return {(names[a], names[b]) for a, b in pairs}


def _pos_quat(t: np.ndarray):
    from tamp.geometry.transforms import to_pos_quat

    pos, quat = to_pos_quat(t)
    return pos.tolist(), quat.tolist()


def _rate(fn, n_items: int, min_time: float = 1.0) -> float:
    """Items per second of ``fn`` (which handles ``n_items``), median of repeated runs."""
    fn()
    rates = []
    t_end = time.perf_counter() + min_time
    while time.perf_counter() < t_end or len(rates) < 3:
        t = time.perf_counter()
        fn()
        rates.append(n_items / (time.perf_counter() - t))
    return float(np.median(rates))


@dataclass
class GeometryBenchConfig:
    n_configs: int = 10_000
    near_distance: float = 0.10  #: m: configurations this close to an obstacle count
    batch_sizes: tuple[int, ...] = (1, 64, 1024, 8192)
    n_ik: int = 500
    n_motion: int = 24
    n_grasp_trials: int = 20  #: lift trials per object kind
    #: the lift task's kinds and the labels of ``GRASP_SCENES`` to grasp
    grasp_kinds: tuple[str, ...] = ("block", "box", "cylinder", "disk", "bowl",
                                    "bowl (place-in-bowl)", "bowl (sort-by-colour)")
    seed: int = 0
    device: str = "cpu"  #: torch device of the collision table's torch column


def bench_collision(robot: RobotSpec, cfg: GeometryBenchConfig, progress) -> dict:
    import torch

    from tamp.geometry.batch import BatchCollisionChecker

    torch.set_num_threads(1)
    rng = np.random.default_rng(cfg.seed)
    kin = Kinematics(robot)
    world = cluttered_world(rng)
    ours = CollisionChecker(kin, world)
    base = PyBulletChecker(robot, kin, world)
    try:
        progress("sampling configurations near the obstacles")
        qs = []
        while len(qs) < cfg.n_configs:
            q = rng.uniform(robot.lower, robot.upper)
            if base.near_world(q, cfg.near_distance):
                qs.append(q)
        qs = np.array(qs)
        progress("checking conservativeness against PyBullet's exact geometry")
        exact = np.array([base.exact_world_collision(q) for q in qs])
        said_free = ours.clearances(qs, self_collision=False) > 0
        false_free = int(np.sum(said_free & exact))
        false_alarm = int(np.sum(~said_free & ~exact))
        progress("timing")
        rows = []
        # the torch test fused by torch.compile (compiled in the first timed call's warm-up)
        torch_checker = BatchCollisionChecker(kin, world, device=cfg.device, backend="torch",
                                              compile=True)
        sync = torch.cuda.synchronize if cfg.device.startswith("cuda") else (lambda: None)
        torch_free = torch_checker.check(torch.as_tensor(qs, dtype=torch.float32,
                                                         device=cfg.device)).free.cpu().numpy()
        for b in cfg.batch_sizes:
            # the baseline is timed next to each row: the machine's load drifts
            few, fewer = qs[:2000], qs[:200]  # (fewer with --quick: rates count what ran)
            pb_rate = _rate(lambda: [base.in_contact(q) for q in few], len(few))
            batch = qs[np.arange(b) % len(qs)]
            if b == 1:  # one configuration per call, as a motion planner asks
                kernel = _rate(lambda: [ours.is_free(q) for q in few], len(few))
                torch_rate = _rate(lambda: ([torch_checker.check(q[None]) for q in fewer],
                                            sync()), len(fewer))
            else:
                kernel = _rate(lambda: ours.free(batch), b)
                tb = torch.as_tensor(batch, dtype=torch.float32, device=cfg.device)
                torch_rate = _rate(lambda: (torch_checker.check(tb), sync()), b)
            rows.append({"batch": b, "kernel_per_s": kernel, "torch_per_s": torch_rate,
                         "pybullet_per_s": pb_rate, "ratio_kernel": kernel / pb_rate,
                         "ratio_torch": torch_rate / pb_rate})
        return {"n_configs": len(qs), "in_collision": int(exact.sum()), "device": cfg.device,
                "false_free": false_free, "torch_false_free": int(np.sum(torch_free & exact)),
                "false_alarm_rate": false_alarm / max(1, int((~exact).sum())),
                "rows": rows}
    finally:
        base.close()


def bench_ik(robot: RobotSpec, cfg: GeometryBenchConfig, progress) -> dict:
    from tamp.geometry.transforms import pose_error

    progress("IK on reachable tabletop poses")
    rng = np.random.default_rng(cfg.seed + 1)
    kin = Kinematics(robot)
    targets = []
    while len(targets) < cfg.n_ik:
        q = rng.uniform(robot.lower, robot.upper)
        t = kin.tcp_pose(q)
        # over the table, tool pointing down within 45 degrees: a tabletop pose
        if 0.3 <= t[0, 3] <= 0.8 and abs(t[1, 3]) <= 0.45 and 0.02 <= t[2, 3] <= 0.4 \
                and t[2, 2] < -math.cos(math.radians(45)):
            targets.append(t)
    t0 = time.perf_counter()
    results = [kin.ik(t, [robot.home], rng) for t in targets]
    elapsed = time.perf_counter() - t0
    errs = [pose_error(kin.tcp_pose(r.q), t) for r, t in zip(results, targets) if r.success]
    return {"n": len(targets), "success_rate": float(np.mean([r.success for r in results])),
            "solves_per_s": len(targets) / elapsed,
            "max_position_error": max(e[0] for e in errs),
            "max_orientation_error": max(e[1] for e in errs)}


def motion_problems(robot: RobotSpec, kin: Kinematics, n: int, seed: int):
    """Seeded cluttered-table problems whose straight joint-space path is blocked."""
    problems = []
    rng = np.random.default_rng(seed + 2)
    while len(problems) < n:
        world = cluttered_world(rng)
        checker = CollisionChecker(kin, world)

        def tabletop_config():
            for _ in range(200):
                target = np.eye(4)
                target[:3, :3] = np.diag([1.0, -1.0, -1.0])
                target[:3, 3] = (rng.uniform(0.3, 0.75), rng.uniform(-0.4, 0.4),
                                 rng.uniform(0.1, 0.45))
                res = kin.ik(target, [robot.home], rng)
                if res.success and checker.is_free(res.q):
                    return res.q
            return None

        a, b = tabletop_config(), tabletop_config()
        if a is not None and b is not None and not checker.edge_free(a, b):
            problems.append((world, a, b))
    return problems


def bench_motion(robot: RobotSpec, cfg: GeometryBenchConfig, progress) -> dict:
    kin = Kinematics(robot)
    progress(f"building {cfg.n_motion} cluttered-table motion problems")
    problems = motion_problems(robot, kin, cfg.n_motion, cfg.seed)
    out = {}
    timings = {"transit": [], "straight": []}
    for name in ("kernel", "pybullet"):
        times, ok, valid = [], 0, 0
        for k, (world, a, b) in enumerate(problems):
            progress(f"motion planning with the {name} checker: problem {k + 1}/{len(problems)}")
            checker = CollisionChecker(kin, world) if name == "kernel" else \
                PyBulletChecker(robot, kin, world)
            plan = plan_motion(checker, a, b, query_seed=cfg.seed + k,
                               config=MotionConfig(time_limit=10.0))
            times.append(plan.planning_time)
            ok += plan.success
            if name == "kernel" and plan.success:
                timings["transit"].append(_timings(robot, plan.path))
                timings["straight"].append(_timings(robot, straight_path(kin, a, -0.10)))
            if plan.success:  # every edge of the answer is free for the sphere model
                exact = CollisionChecker(kin, world)
                valid += all(exact.edge_free(x, y) for x, y in zip(plan.path[:-1], plan.path[1:]))
            if name == "pybullet":
                checker.close()
        out[name] = {"success_rate": ok / len(problems), "median_s": float(np.median(times)),
                     "p95_s": float(np.percentile(times, 95)), "valid_paths": valid}
    out["n"] = len(problems)
    out["speedup_median"] = out["pybullet"]["median_s"] / out["kernel"]["median_s"]
    out["timing"] = {kind: _timing_summary(rows) for kind, rows in timings.items()}
    return out


def straight_path(kin: Kinematics, q0: np.ndarray, dz: float, step: float = 0.01):
    """Joint waypoints moving the TCP ``dz`` m straight along the world z axis at
    ``step`` m intervals (as the planner's approach and lift moves), from IK seeded with
    the previous waypoint."""
    start = kin.tcp_pose(q0)
    n = max(1, int(np.ceil(abs(dz) / step)))
    path, q = [q0], q0
    rng = np.random.default_rng(0)
    for s in np.linspace(0, 1, n + 1)[1:]:
        target = start.copy()
        target[2, 3] += s * dz
        res = kin.ik(target, [q], rng)
        if not res.success:
            break
        q = res.q
        path.append(q)
    return np.array(path)


def _timings(robot: RobotSpec, path: np.ndarray) -> dict:
    """Durations of one path timed both ways, at the planner's speed scale and period."""
    from tamp.geometry.timing import time_parameterize
    from tamp.planner import PlannerConfig

    pc = PlannerConfig()
    args = (path, robot.max_velocity, robot.max_acceleration, pc.dt, pc.speed_scale)
    t0 = time.perf_counter()
    timed = time_parameterize(*args, method="toppra")
    elapsed = time.perf_counter() - t0
    stop = time_parameterize(*args, method="trapezoid")
    return {"waypoints": len(path), "toppra_s": timed.duration, "trapezoid_s": stop.duration,
            "method": timed.method, "compute_s": elapsed}


def _timing_summary(rows: list[dict]) -> dict:
    if not rows:
        return {"n": 0}
    ratio = [r["toppra_s"] / r["trapezoid_s"] for r in rows if r["trapezoid_s"] > 0]
    return {"n": len(rows), "median_waypoints": float(np.median([r["waypoints"] for r in rows])),
            "trapezoid_median_s": float(np.median([r["trapezoid_s"] for r in rows])),
            "toppra_median_s": float(np.median([r["toppra_s"] for r in rows])),
            "ratio_median": float(np.median(ratio)), "ratio_max": float(np.max(ratio)),
            "toppra_used": sum(r["method"] == "toppra" for r in rows),
            "compute_median_s": float(np.median([r["compute_s"] for r in rows]))}


#: (row label, task, category of the object to lift: the first of its scene by name)
#: beyond the lift task's kinds: the bowls the other tasks use, at their sizes
GRASP_SCENES = (("bowl (place-in-bowl)", "place-in-bowl", "bowl"),
                ("bowl (sort-by-colour)", "sort-by-colour", "bowl"))


def bench_grasps(robot: RobotSpec, cfg: GeometryBenchConfig, progress) -> dict:
    """Antipodal grasps executed under physics, one object kind at a time.

    Each trial is the planner's pick alone (``Planner.plan_pick`` with antipodal grasps:
    approach, close, lift 10 cm) executed by the simulated executor, with no replanning;
    it counts when ground truth says the object is held (its bottom 5 cm above the table,
    touching the robot and not the table). The scenes are the ``lift`` task's, one per
    kind and seed, then the bowls of the tasks that use them (``GRASP_SCENES``). One
    grasp per trial, without the agent's replanning: this measures the grasps, not the
    task."""
    from scenes.env import TabletopEnv
    from scenes.tasks.lift import KINDS, Lift

    rows = [(kind, "lift", kind) for kind in cfg.grasp_kinds if kind in KINDS]
    rows += [r for r in GRASP_SCENES if r[0] in cfg.grasp_kinds]
    out = {}
    env = None
    try:
        for k, (label, task, category) in enumerate(rows):
            if env is None or env.task.name != task:
                if env is not None:
                    env.close()
                env = TabletopEnv(task)
            if task == "lift":
                env.task = Lift(label)
            ok, reasons = 0, []
            for trial in range(cfg.n_grasp_trials):
                seed = cfg.seed + 1000 * (k + 1) + trial
                progress(f"grasping a {label}: trial {trial + 1}/{cfg.n_grasp_trials}")
                env.reset(seed=seed)
                objects = env.oracle_world().objects
                name = next(n for n in sorted(objects) if objects[n].category == category)
                reason = lift_once(env, robot, name, seed)
                ok += not reason
                if reason:
                    reasons.append(f"seed {seed}: {reason}")
            out[label] = {"trials": cfg.n_grasp_trials, "lifted": ok,
                          "rate": ok / cfg.n_grasp_trials, "failures": reasons}
    finally:
        if env is not None:
            env.close()
    return out


def lift_once(env, robot: RobotSpec, name: str, seed: int) -> str:
    """Plan a pick of ``name`` with antipodal grasps and execute it in ``env``; "" when
    the object ends up held, else why not."""
    from scenes.executor import Executor
    from tamp.planner import Planner, PlannerConfig

    planner = Planner(robot, PlannerConfig(seed=seed, grasp_source="antipodal"))
    plan = planner.plan_pick(env.oracle_world(), name, env.sim.arm_positions())
    if not plan.success:
        return f"planning failed: {plan.reason}"
    executor = Executor(env)
    reason = executor.run_actions(plan.actions)
    if reason:
        return reason
    executor.result("", 0.0)  # lets the scene settle
    if not env.task.holds(("holding", name), env.oracle_world(), env.object_truth()):
        return f"{name} not held after the lift"
    return ""


def report(results: dict, command: str) -> str:
    """The Markdown section for docs/BENCHMARKS.md."""
    c, ik, m = results["collision"], results["ik"], results["motion"]
    torch_device = c.get("device", "cpu").replace("cpu", "CPU")
    lines = [
        "## Geometry",
        "",
        f"Command: `{command}` (one CPU core; medians of repeated timings; PyBullet "
        "baseline measured in the same run on the same scene).",
        "",
        f"### Collision checking ({c['n_configs']} random configurations within 10 cm of "
        f"10 boxes on a table; {c['in_collision']} in collision)",
        "",
        f"| batch | compiled kernel (cfg/s) | torch {torch_device}, torch.compile (cfg/s) | PyBullet loop "
        "(cfg/s) | kernel / PyBullet | torch / PyBullet |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in c["rows"]:
        lines.append(f"| {r['batch']} | {r['kernel_per_s']:,.0f} | {r['torch_per_s']:,.0f} | "
                     f"{r['pybullet_per_s']:,.0f} | {r['ratio_kernel']:.1f}x | "
                     f"{r['ratio_torch']:.2f}x |")
    lines += [
        "",
        f"Conservativeness against PyBullet's exact check of the URDF geometry: "
        f"**{c['false_free']} false \"free\"** of {c['n_configs']}; false-alarm rate "
        f"{100 * c['false_alarm_rate']:.1f} % of the truly free configurations (5 mm padding "
        "plus the spheres' overshoot of the primitives). The torch checker as timed (self "
        f"collision included): **{c.get('torch_false_free', '–')} false \"free\"**.",
        "",
        "### Inverse kinematics",
        "",
        f"{ik['n']} reachable tabletop poses: success {100 * ik['success_rate']:.1f} %, "
        f"{ik['solves_per_s']:.0f} solves/s, worst position error "
        f"{ik['max_position_error']:.1e} m, worst orientation error "
        f"{ik['max_orientation_error']:.1e} rad.",
        "",
        f"### Motion planning ({m['n']} cluttered-table problems, OMPL RRTConnect + "
        "shortcutting, 0.02 rad edge resolution)",
        "",
        "| validity checker | success | median (s) | 95th percentile (s) |",
        "|---|---:|---:|---:|",
        f"| compiled sphere kernel | {100 * m['kernel']['success_rate']:.0f} % | "
        f"{m['kernel']['median_s']:.3f} | {m['kernel']['p95_s']:.3f} |",
        f"| PyBullet | {100 * m['pybullet']['success_rate']:.0f} % | "
        f"{m['pybullet']['median_s']:.3f} | {m['pybullet']['p95_s']:.3f} |",
        "",
        f"Median speed-up over OMPL + PyBullet: **{m['speedup_median']:.1f}x**.",
        "",
    ]
    if "timing" in m:
        lines += [
            "### Time parameterisation (half the joint velocity and acceleration limits, "
            "as the planner runs)",
            "",
            "TOPP-RA along a spline within 0.005 rad of the path, against a trapezoid per "
            "straight segment that stops at every waypoint (the trapezoid is kept where it "
            "is quicker, and used directly on paths that turn by more than 30 degrees at a "
            "waypoint, where the spline would all but stop anyway).",
            "",
            "| paths | n | waypoints (median) | trapezoid median (s) | TOPP-RA median (s) "
            "| TOPP-RA / trapezoid median (max) | TOPP-RA used | time to compute (median, s) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        labels = {"transit": "planned transit paths (above)",
                  "straight": "10 cm straight TCP moves, 1 cm waypoints"}
        for kind, r in m["timing"].items():
            if r["n"]:
                lines.append(
                    f"| {labels.get(kind, kind)} | {r['n']} | {r['median_waypoints']:.0f} | "
                    f"{r['trapezoid_median_s']:.2f} | {r['toppra_median_s']:.2f} | "
                    f"{r['ratio_median']:.2f} ({r['ratio_max']:.2f}) | "
                    f"{r['toppra_used']}/{r['n']} | {r['compute_median_s']:.3f} |")
        lines.append("")
    if "grasps" in results:
        lines += [
            "### Antipodal grasps executed in PyBullet (held by friction)",
            "",
            "One planned pick per trial (approach, close, lift 10 cm), no replanning, on the "
            "`lift` task's scenes and on the bowls of `place-in-bowl` and `sort-by-colour`.",
            "",
            "| object | lifted | trials | rate |",
            "|---|---:|---:|---:|",
        ]
        for kind, r in results["grasps"].items():
            lines.append(f"| {kind} | {r['lifted']} | {r['trials']} | {100 * r['rate']:.0f} % |")
        lines.append("")
    return "\n".join(lines)
