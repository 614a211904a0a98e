"""The pick-and-place task-and-motion planner.

A symbolic plan over predicates (``pick``, ``place-in``) is found first; each pick/place
pair is then refined into continuous motion: a top-down grasp chosen from the object's
geometry, a stable placement inside the bowl, inverse kinematics (pinocchio), straight
approach/retreat moves along the tool axis and collision-free transit/transfer motion
(OMPL). A failed refinement tries the next grasp or placement until the time budget ends.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from tamp.execution.plan import Action, Plan, Segment
from tamp.geometry.collision import CollisionChecker, CollisionConfig
from tamp.geometry.grasps import Grasp, GraspConfig, top_grasps
from tamp.geometry.kinematics import IKConfig, Kinematics
from tamp.geometry.motion import MotionConfig, plan_motion, time_parameterize
from tamp.geometry.placements import PlacementConfig, in_bowl
from tamp.geometry.shapes import bowl_inner_radius
from tamp.geometry.transforms import translation
from tamp.robot import RobotSpec
from tamp.symbolic.strips import PICK_PLACE, Atom, ground, search
from tamp.world import WorldModel, WorldObject


@dataclass(frozen=True)
class PlannerConfig:
    time_budget: float = 60.0  #: s for the whole plan
    approach_distance: float = 0.10  #: m of straight motion along the tool axis
    cartesian_step: float = 0.01  #: m between IK solves on a straight move
    max_joint_jump: float = 0.25  #: rad allowed between consecutive straight-move solves
    speed_scale: float = 0.5  #: fraction of the joint velocity/acceleration limits
    dt: float = 1.0 / 40.0  #: s between trajectory samples
    max_placements: int = 8  #: placements tried per grasp
    max_grasps: int = 12  #: grasps tried per pick
    #: "top" (read off a box or cylinder), "antipodal" (searched on the object's points),
    #: or "auto" (top where it applies, antipodal otherwise)
    grasp_source: str = "auto"
    estimate_normals: bool = True  #: antipodal: normals from open3d rather than the model
    seed: int = 0
    collision: CollisionConfig = field(default_factory=CollisionConfig)
    motion: MotionConfig = field(default_factory=MotionConfig)
    ik: IKConfig = field(default_factory=IKConfig)
    grasp: GraspConfig = field(default_factory=GraspConfig)
    placement: PlacementConfig = field(default_factory=PlacementConfig)


class RefinementError(Exception):
    """A continuous parameter could not be found; the message says which and why."""


def symbolic_state(world: WorldModel) -> frozenset[Atom]:
    """Facts that hold in ``world``: where each block is, and an empty hand."""
    facts: set[Atom] = {("handempty",)}
    bowls = world.of_category("bowl")
    for obj in (o for o in world.objects.values() if o.movable and o.category != "bowl"):
        container = next((b for b in bowls if is_in_bowl(obj, b)), None)
        facts.add(("in", obj.name, container.name) if container else ("on-table", obj.name))
    return frozenset(facts)


def is_in_bowl(obj: WorldObject, bowl: WorldObject, tolerance: float = 0.01) -> bool:
    """The object's centre is over the bowl's flat bottom and it rests inside the bowl."""
    d = float(np.linalg.norm(obj.position[:2] - bowl.position[:2]))
    dz = float(obj.position[2] - bowl.position[2])
    return d <= bowl_inner_radius(bowl.shape) + tolerance and -tolerance <= dz <= bowl.shape.height


class Planner:
    """Plans pick/place goals such as ``{("in", "red_block_0", "green_bowl")}``."""

    def __init__(self, robot: RobotSpec, config: PlannerConfig | None = None):
        self.robot = robot
        self.config = config or PlannerConfig()
        self.kin = Kinematics(robot)

    def plan(self, world: WorldModel, goal: frozenset[Atom], q_start: np.ndarray) -> Plan:
        t0 = time.perf_counter()
        cfg = self.config
        # every movable object can be picked; bowls are also containers
        objects = {o.name: frozenset({o.category} | ({"movable"} if o.movable else set()))
                   for o in world.objects.values()}
        for atom in goal:
            for name in atom[1:]:
                if name not in objects:
                    return Plan(False, reason=f"goal mentions unknown object '{name}'",
                                planning_time=time.perf_counter() - t0)
        skeleton = search(symbolic_state(world), frozenset(goal), ground(PICK_PLACE, objects))
        if skeleton is None:
            return Plan(False, reason="no symbolic plan reaches the goal",
                        planning_time=time.perf_counter() - t0)
        refiner = _Refiner(self, world, np.asarray(q_start, float), t0)
        actions: list[Action] = []
        try:
            k = 0
            while k < len(skeleton):
                act = skeleton[k]
                nxt = skeleton[k + 1] if k + 1 < len(skeleton) else None
                if act.name == "pick" and nxt is not None and nxt.name == "place-in":
                    actions += refiner.pick_place(act.args[0], nxt.args[1], rng_seed=cfg.seed + k)
                    k += 2
                elif act.name == "pick" and nxt is None:  # the goal is to hold it
                    actions.append(refiner.pick_only(act.args[0], cfg.seed + k))
                    k += 1
                else:
                    raise RefinementError(f"cannot refine '{act.name}' here")
        except RefinementError as err:
            return Plan(False, actions, time.perf_counter() - t0, str(err))
        return Plan(True, actions, time.perf_counter() - t0)

    def plan_pick(self, world: WorldModel, obj_name: str, q_start: np.ndarray) -> Plan:
        """Pick ``obj_name`` and lift it (the ``pick`` action alone)."""
        t0 = time.perf_counter()
        if obj_name not in world.objects:
            return Plan(False, reason=f"unknown object '{obj_name}'")
        refiner = _Refiner(self, world, np.asarray(q_start, float), t0)
        try:
            return Plan(True, [refiner.pick_only(obj_name, self.config.seed)],
                        time.perf_counter() - t0)
        except RefinementError as err:
            return Plan(False, [], time.perf_counter() - t0, str(err))


def pick_grasps(obj: WorldObject, robot: RobotSpec, config: PlannerConfig,
                rng: np.random.Generator):
    """Grasp candidates for ``obj`` from the configured source: ``"top"`` reads them off
    the shape; ``"antipodal"`` searches the object's points (sampled from its shape here;
    from the camera once perception provides them)."""
    source = config.grasp_source
    if source not in ("top", "antipodal", "auto"):
        raise ValueError(f"unknown grasp source '{source}'")
    if source == "top" or (source == "auto" and obj.shape.kind in ("box", "cylinder")
                           and obj.category != "disk"):
        return top_grasps(obj, robot, config.grasp)
    from tamp.geometry.antipodal import antipodal_grasps, surface_points

    points, normals = surface_points(obj.shape, obj.pose, 3000, rng)
    return antipodal_grasps(obj.name, points, robot, rng, obj_pose=obj.pose,
                            normals=None if config.estimate_normals else normals)


class _Refiner:
    """Finds grasps, placements, IK solutions and motions for one plan skeleton."""

    def __init__(self, planner: Planner, world: WorldModel, q: np.ndarray, t0: float):
        self.p = planner
        self.cfg = planner.config
        self.kin = planner.kin
        self.world = world
        self.q = q
        self.t0 = t0
        self.checker = CollisionChecker(self.kin, world, self.cfg.collision)
        self.query = 0

    # -- helpers ------------------------------------------------------------------------
    def _check_budget(self) -> None:
        if time.perf_counter() - self.t0 > self.cfg.time_budget:
            raise RefinementError(f"planning time budget of {self.cfg.time_budget:.0f} s "
                                  "exhausted")

    def _ik(self, target: np.ndarray, seeds: list[np.ndarray], rng) -> np.ndarray | None:
        res = self.kin.ik(target, seeds, rng, self.cfg.ik)
        if not res.success or not self.checker.is_free(res.q):
            # try once more from other random seeds for a collision-free solution
            res = self.kin.ik(target, [], rng, self.cfg.ik)
            if not res.success or not self.checker.is_free(res.q):
                return None
        return res.q

    def _straight(self, q0: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray | None:
        """Joint waypoints moving the TCP in a straight line from pose ``start`` to ``end``
        (same orientation), each checked for collision; None if that is impossible."""
        dist = float(np.linalg.norm(end[:3, 3] - start[:3, 3]))
        n = max(1, int(np.ceil(dist / self.cfg.cartesian_step)))
        path, q = [q0], q0
        ik = self.cfg.ik
        for s in np.linspace(0, 1, n + 1)[1:]:
            target = start.copy()
            target[:3, 3] = start[:3, 3] + s * (end[:3, 3] - start[:3, 3])
            res = self.kin.ik(target, [q], np.random.default_rng(0),
                              IKConfig(ik.max_iterations, ik.damping, ik.step,
                                       ik.position_tolerance, ik.orientation_tolerance, 0))
            if not res.success or np.abs(res.q - q).max() > self.cfg.max_joint_jump:
                return None
            if not self.checker.edge_free(q, res.q):
                return None
            q = res.q
            path.append(q)
        return np.array(path)

    def _move(self, path: np.ndarray, label: str, holding: str | None = None) -> Segment:
        robot = self.p.robot
        traj = time_parameterize(path, robot.max_velocity, robot.max_acceleration,
                                 self.cfg.dt, self.cfg.speed_scale)
        return Segment("move", label, trajectory=traj, holding=holding)

    def _transit(self, q_from, q_to, what: str) -> np.ndarray:
        self._check_budget()
        self.query += 1
        motion = self.cfg.motion
        remaining = self.cfg.time_budget - (time.perf_counter() - self.t0)
        config = MotionConfig(motion.planner, min(motion.time_limit, max(remaining, 0.1)),
                              motion.shortcut_attempts, motion.seed)
        plan = plan_motion(self.checker, q_from, q_to, self.cfg.seed * 1000 + self.query, config)
        if not plan.success:
            raise RefinementError(f"no collision-free motion {what}: {plan.reason}")
        return plan.path

    # -- one pick and place -------------------------------------------------------------
    def pick_place(self, obj_name: str, bowl_name: str, rng_seed: int) -> list[Action]:
        rng = np.random.default_rng(rng_seed)
        obj = self.world.objects[obj_name]
        bowl = self.world.objects[bowl_name]
        cands = self._grasps(obj, rng)
        occupants = [o for o in self.world.objects.values()
                     if o.name != obj_name and o.category != "bowl" and is_in_bowl(o, bowl)]
        places = in_bowl(obj, bowl, occupants, rng, self.cfg.placement)
        if not places.poses:
            raise RefinementError(places.reason)
        reasons = []
        for grasp in cands[:self.cfg.max_grasps]:
            try:
                picked = self._pick(obj, grasp, rng)
            except RefinementError as err:
                reasons.append(str(err))
                continue
            for pose in places.poses[:self.cfg.max_placements]:
                try:
                    return self._place(obj, bowl, grasp, pose, picked, rng)
                except RefinementError as err:
                    reasons.append(str(err))
            self._undo_pick(obj)
        summary = "; ".join(dict.fromkeys(reasons)) or "no candidate worked"
        raise RefinementError(f"could not pick {obj_name} and place it in {bowl_name}: "
                              f"{summary}")

    def _grasps(self, obj: WorldObject, rng) -> list[Grasp]:
        """Grasp candidates for ``obj``, those whose open gripper would hit something
        dropped in one batch before any IK is tried."""
        from tamp.geometry.antipodal import gripper_collision_filter

        cands = pick_grasps(obj, self.p.robot, self.cfg, rng)
        if not cands.grasps:
            raise RefinementError(f"no grasp for {obj.name}: {cands.reason}")
        open_joint = self.p.robot.gripper.joint_for_width(cands.grasps[0].open_width)
        kept, dropped = gripper_collision_filter(cands.grasps, obj.pose, self.checker,
                                                 open_joint)
        if not kept:
            raise RefinementError(f"no grasp for {obj.name}: all {dropped} candidates put "
                                  "the open gripper in collision")
        return kept

    def pick_only(self, obj_name: str, rng_seed: int) -> Action:
        rng = np.random.default_rng(rng_seed)
        obj = self.world.objects[obj_name]
        cands = self._grasps(obj, rng)
        reasons = []
        for grasp in cands[:self.cfg.max_grasps]:
            try:
                transit, descend, lift = self._pick(obj, grasp, rng)
            except RefinementError as err:
                reasons.append(str(err))
                continue
            return self._pick_action(obj, grasp, transit, descend, lift)
        raise RefinementError(f"could not pick {obj_name}: " + "; ".join(dict.fromkeys(reasons)))

    def _pick_action(self, obj: WorldObject, grasp: Grasp, transit, descend, lift) -> Action:
        return Action("pick", (obj.name,), (
            Segment("gripper", "open", width=grasp.open_width),
            self._move(transit, "transit"),
            self._move(descend, "approach"),
            Segment("gripper", "close", width=0.0, holding=obj.name),
            self._move(lift, "lift", holding=obj.name),
        ))

    def _pick(self, obj: WorldObject, grasp: Grasp, rng):
        """Transit above the object, descend, close, lift. Leaves the object attached."""
        self._check_budget()
        ch, g = self.checker, self.p.robot.gripper
        ch.gripper = g.joint_for_width(grasp.open_width)
        tcp_grasp = grasp.tcp_pose(obj.pose)
        tcp_pre = tcp_grasp @ translation((0, 0, -self.cfg.approach_distance))
        q_pre = self._ik(tcp_pre, [self.q, self.p.robot.home], rng)
        if q_pre is None:
            raise RefinementError(f"no collision-free IK above {obj.name}")
        ch.ignore(robot=(obj.name,))
        descend = self._straight(q_pre, tcp_pre, tcp_grasp)
        ch.ignore()
        if descend is None:
            raise RefinementError(f"no straight descent onto {obj.name}")
        transit = self._transit(self.q, q_pre, f"to {obj.name}")
        # carry: the object leaves the world and moves with the tool
        ch.set_world(self.world.without(obj.name))
        ch.gripper = g.joint_for_width(grasp.width)
        ch.attach(obj.name, obj.shape, grasp.tcp_T_obj)
        ch.ignore(load=("table",))
        lift = self._straight(descend[-1], tcp_grasp, tcp_pre)
        ch.ignore()
        if lift is None:
            self._undo_pick(obj)
            raise RefinementError(f"cannot lift {obj.name} straight up")
        return transit, descend, lift

    def _undo_pick(self, obj: WorldObject) -> None:
        self.checker.detach()
        self.checker.set_world(self.world)

    def _place(self, obj: WorldObject, bowl: WorldObject, grasp: Grasp, pose: np.ndarray,
               picked, rng) -> list[Action]:
        self._check_budget()
        ch, g = self.checker, self.p.robot.gripper
        transit, descend, lift = picked
        tcp_place = grasp.tcp_pose(pose)
        tcp_pre = tcp_place @ translation((0, 0, -self.cfg.approach_distance))
        q_pre = self._ik(tcp_pre, [lift[-1], self.p.robot.home], rng)
        if q_pre is None:
            raise RefinementError(f"no collision-free IK above the placement in {bowl.name}")
        # the load may touch the bowl's bottom, where it is released
        ch.ignore(load=(f"{bowl.name}/bottom",))
        lower = self._straight(q_pre, tcp_pre, tcp_place)
        ch.ignore()
        if lower is None:
            raise RefinementError(f"no straight move into {bowl.name}")
        transfer = self._transit(lift[-1], q_pre, f"carrying {obj.name} to {bowl.name}")
        # release: the object joins the world at its placement
        placed_world = self.world.with_pose(obj.name, pose)
        ch.detach()
        ch.set_world(placed_world)
        # release as wide as the surroundings allow: an object that turned a little in
        # the grasp can wedge its diagonal between pads opened only slightly
        retreat, release = None, grasp.open_width
        for width in dict.fromkeys((g.stroke, (g.stroke + grasp.open_width) / 2,
                                    grasp.open_width)):
            ch.gripper = g.joint_for_width(width)
            ch.ignore(robot=(obj.name,))
            free_here = ch.is_free(lower[-1])
            retreat = self._straight(lower[-1], tcp_place, tcp_pre) if free_here else None
            ch.ignore()
            if retreat is not None:
                release = width
                break
        if retreat is None:
            ch.set_world(self.world.with_pose(obj.name, obj.pose))
            ch.gripper = g.joint_for_width(grasp.width)
            ch.attach(obj.name, obj.shape, grasp.tcp_T_obj)
            raise RefinementError(f"no straight retreat from {bowl.name}")
        self.world = placed_world
        self.q = retreat[-1]
        pick = self._pick_action(obj, grasp, transit, descend, lift)
        place = Action("place-in", (obj.name, bowl.name), (
            self._move(transfer, "transfer", holding=obj.name),
            self._move(lower, "lower", holding=obj.name),
            Segment("gripper", "release", width=release),
            self._move(retreat, "retreat"),
        ))
        return [pick, place]
