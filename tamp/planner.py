"""The task-and-motion planner.

1. The world is described symbolically in a PDDL domain (``pick-place`` by default):
   which block is on the table, on another block, or in a bowl; which blocks are clear.
2. A heuristic symbolic search (greedy best-first with the FF heuristic) finds a plan
   skeleton that reaches the goal.
3. Each pick-like action and the place-like action after it are refined by the streams
   of :mod:`tamp.refine`: grasp, placement, inverse kinematics and collision-free motion.
4. When a refinement fails, what failed is remembered: the ground place action is barred
   from later skeletons, and if a placement found no room because of objects already
   there, the next skeleton must first move one of them away. The search runs again
   until a skeleton refines or the time budget ends, with the reasons collected.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Callable

import numpy as np

from tamp.deadline import Deadline
from tamp.execution.plan import Action, Plan
from tamp.geometry.collision import CollisionConfig
from tamp.geometry.grasps import GraspConfig
from tamp.geometry.kinematics import IKConfig, Kinematics
from tamp.geometry.motion import MotionConfig
from tamp.geometry.placements import PlacementConfig
from tamp.refine import PICK_ACTIONS, PLACEMENT_STREAMS, Refiner, RefinementError, \
    resting_in, resting_on
from tamp.pyramid import pyramid_state, pyramid_types
from tamp.robot import RobotSpec
from tamp.world import WorldModel, WorldObject

Fact = tuple[str, ...]  #: e.g. ("in", "red_block_0", "green_bowl")

#: kept under its historic name: tasks judge containment with the same test
is_in_bowl = resting_in


@dataclass(frozen=True)
class PlannerConfig:
    time_budget: float = 60.0  #: s for the whole plan
    domain: str = "pick-place"  #: a bundled PDDL domain (tamp/symbolic/domains)
    max_skeletons: int = 12  #: symbolic plans tried before giving up
    #: times a skeleton whose placement failed is refined again with fresh samples for
    #: every stream (earlier placements, grasps) before that binding is given up on: the
    #: objects placed before may have taken the room the failing one needed
    max_resamples: int = 2
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


def pick_place_types(world: WorldModel) -> dict[str, str]:
    """PDDL type of every object: movable things are ``block``s, bowls are ``bowl``s."""
    containers = ("bowl", "tray")
    return {o.name: "bowl" if o.category in containers else "block"
            for o in world.objects.values() if o.movable or o.category in containers}


def pick_place_state(world: WorldModel) -> frozenset[Fact]:
    """Facts of the pick-place domain that hold in ``world`` (objects at rest)."""
    facts: set[Fact] = {("handempty",)}
    types = pick_place_types(world)
    blocks = [world.objects[n] for n, t in types.items() if t == "block"]
    bowls = [world.objects[n] for n, t in types.items() if t == "bowl"]
    supporting: set[str] = set()
    for obj in blocks:
        bowl = next((b for b in bowls if resting_in(obj, b)), None)
        below = next((c for c in blocks if c.name != obj.name and resting_on(obj, c)), None)
        if bowl is not None:
            facts.add(("in", obj.name, bowl.name))
        elif below is not None:
            facts.add(("on", obj.name, below.name))
            supporting.add(below.name)
        else:
            facts.add(("on", obj.name, "table"))
    for obj in blocks:
        if obj.name not in supporting and not any(f[0] == "in" and f[1] == obj.name
                                                  for f in facts):
            facts.add(("clear", obj.name))
    return frozenset(facts)


def hanoi_types(world: WorldModel) -> dict[str, str]:
    """Disks are ``disk``s; the table's marked places are ``peg``s."""
    types = {o.name: "disk" for o in world.objects.values() if o.category == "disk"}
    types.update({z: "peg" for z in world.zones})
    return types


def hanoi_state(world: WorldModel) -> frozenset[Fact]:
    """Facts of the hanoi-tabletop domain: where each disk rests, what is clear, and the
    static size order (a disk may rest on any place and on any larger disk)."""
    facts: set[Fact] = {("handempty",)}
    disks = [o for o in world.objects.values() if o.category == "disk"]
    covered: set[str] = set()
    for d in disks:
        below = next((c for c in disks if c.name != d.name and resting_on(d, c)), None)
        if below is not None:
            facts.add(("on", d.name, below.name))
            covered.add(below.name)
            continue
        if d.position[2] > world.table_height + 0.01:
            continue  # neither on a disk nor on the table: in the hand, or tipped over
        zone = next((z for z in world.zones.values() if z.contains(d.position[:2])), None)
        if zone is not None:
            facts.add(("on", d.name, zone.name))
            covered.add(zone.name)
        else:  # slid off its place: it is picked up from the bare table
            facts.add(("on", d.name, "table"))
    for name in [d.name for d in disks] + list(world.zones):
        if name not in covered:
            facts.add(("clear", name))
    for d in disks:
        facts.update(("smaller", z, d.name) for z in world.zones)
        facts.update(("smaller", c.name, d.name) for c in disks
                     if c.shape.size[0] > d.shape.size[0])
    return frozenset(facts)


@dataclass(frozen=True)
class DomainModel:
    """How a PDDL domain sees a world model: object types and the facts that hold."""

    types: Callable[[WorldModel], dict[str, str]]
    state: Callable[[WorldModel], frozenset[Fact]]


#: a domain file in tamp/symbolic/domains and its view of the world; a new domain adds
#: one entry (and, for a new place-like action, one placement stream in tamp/refine.py)
DOMAIN_MODELS: dict[str, DomainModel] = {
    "pick-place": DomainModel(pick_place_types, pick_place_state),
    "hanoi-tabletop": DomainModel(hanoi_types, hanoi_state),
    "pyramid": DomainModel(pyramid_types, pyramid_state),
}


def symbolic_state(world: WorldModel, domain: str = "pick-place") -> frozenset[Fact]:
    """The facts of ``domain`` that hold in ``world``."""
    return DOMAIN_MODELS[domain].state(world)


@lru_cache(maxsize=8)
def _domain(name: str):
    from tamp.symbolic.pddl_io import bundled_domain, load_domain

    return load_domain(bundled_domain(name))


class Planner:
    """Plans goals such as ``{("in", "red_block_0", "green_bowl")}`` or
    ``{("on", "b1", "b2")}`` from a world model and the arm's current configuration."""

    def __init__(self, robot: RobotSpec, config: PlannerConfig | None = None):
        self.robot = robot
        self.config = config or PlannerConfig()
        self.kin = Kinematics(robot)
        # set-up, not planning: parse the domain and load the grasp solvers (open3d) now,
        # so that the first plan's time is the planner's own
        import tamp.geometry.antipodal  # noqa: F401

        try:  # the time parameterisation's solver (seconds to import)
            import toppra.algorithm  # noqa: F401
            import toppra.constraint  # noqa: F401
        except ImportError:
            pass

        if self.config.domain in DOMAIN_MODELS:
            _domain(self.config.domain)

    def plan(self, world: WorldModel, goal: frozenset[Fact], q_start: np.ndarray) -> Plan:
        """A refined plan from ``world`` to ``goal``, or a failure with its reason, within
        the time budget; both the wall-clock and the CPU time it took are recorded."""
        cpu0 = time.thread_time()
        result = self._plan(world, goal, q_start)
        return replace(result, planning_cpu_time=time.thread_time() - cpu0)

    def _plan(self, world: WorldModel, goal: frozenset[Fact], q_start: np.ndarray) -> Plan:
        t0 = time.perf_counter()
        cfg = self.config
        if cfg.domain not in DOMAIN_MODELS:
            return Plan(False, reason=f"unknown domain '{cfg.domain}'; known: "
                                      f"{', '.join(DOMAIN_MODELS)}")
        if len(goal) == 1 and next(iter(goal))[0] == "holding":
            # holding one object needs nothing but its pick, whatever the domain calls it
            # (a bowl is a container to the pick-place domain, yet it can be lifted)
            return self.plan_pick(world, next(iter(goal))[1], q_start)
        types = DOMAIN_MODELS[cfg.domain].types(world)
        for atom in goal:
            for name in atom[1:]:
                if name not in types and name not in _domain(cfg.domain).constants:
                    return Plan(False, reason=f"goal mentions unknown object '{name}'",
                                planning_time=time.perf_counter() - t0)
        init = symbolic_state(world, cfg.domain)
        forbidden: set[tuple[str, ...]] = set()
        must_clear: set[Fact] = set()  # negative subgoals: objects to move out first
        stuck: set[str] = set()  # occupants that could not be taken out
        blockers_of: dict[tuple[str, ...], tuple[str, ...]] = {}
        last_blocked: tuple[str, ...] | None = None
        reasons: list[str] = []
        resampled = 0
        for attempt in range(cfg.max_skeletons + cfg.max_resamples):
            remaining = cfg.time_budget - (time.perf_counter() - t0)
            if remaining <= 0:
                reasons.append(f"planning time budget of {cfg.time_budget:.0f} s exhausted")
                break
            skeleton = self._skeleton(types, init, goal, must_clear, forbidden, remaining)
            if isinstance(skeleton, str):
                reasons.append(skeleton)
                break
            refiner = Refiner(self, world, np.asarray(q_start, float), t0)
            refiner.context["goal"] = frozenset(goal)
            try:
                actions = self._refine(refiner, skeleton, salt=resampled)
            except RefinementError as err:
                reasons.append(str(err))
                failed = getattr(err, "action", None)
                taken = getattr(err, "taken", None)
                cleared = [f for f in must_clear if taken is not None and f[1] == taken]
                if err.stage == "pick" and cleared:
                    # an occupant chosen to be moved away cannot be grasped: choose another
                    must_clear.difference_update(cleared)
                    stuck.update(f[1] for f in cleared)
                    failed = last_blocked
                elif err.stage == "pick" or failed is None:
                    break  # the object cannot be taken from where it is: nothing to vary
                blockers = err.blockers or blockers_of.get(failed, ())
                movable = [b for b in blockers if failed[0] == "place-in" and b not in stuck
                           and ("in", b, failed[2]) not in goal
                           and ("in", b, failed[2]) not in must_clear]
                if err.blockers:
                    blockers_of[failed] = err.blockers
                    last_blocked = failed
                if movable:  # no room: the next skeleton first takes one occupant away
                    must_clear.add(("in", movable[0], failed[2]))
                elif resampled < cfg.max_resamples:  # the same skeleton, fresh samples
                    resampled += 1
                else:  # this binding does not refine: try another
                    forbidden.add(failed)
                continue
            return Plan(True, actions, time.perf_counter() - t0)
        summary = "; ".join(dict.fromkeys(reasons)) or "no plan"
        return Plan(False, [], time.perf_counter() - t0, summary)

    def _skeleton(self, types, init, goal, must_clear, forbidden, remaining):
        """A symbolic plan as tuples ``(action, arg, ...)``, or why there is none."""
        from tamp.symbolic.grounding import GroundingError, ground
        from tamp.symbolic.pddl_io import Atom, LiftedTask, Problem
        from tamp.symbolic.search import SearchConfig, search

        domain = _domain(self.config.domain)
        objects = dict(types)
        objects.update(domain.constants)
        problem = Problem(
            "tamp", domain.name, objects, frozenset(Atom(f[0], tuple(f[1:])) for f in init),
            tuple(Atom(f[0], tuple(f[1:])) for f in sorted(goal)),
            tuple(Atom(f[0], tuple(f[1:])) for f in sorted(must_clear)), ())
        try:
            task = ground(LiftedTask(domain, problem), deadline=Deadline(remaining))
        except GroundingError as err:
            return f"grounding failed: {err}"
        if task.unreachable_goals:
            return "the goal cannot be reached symbolically: " + \
                ", ".join(task.unreachable_goals)
        if forbidden:
            from dataclasses import replace

            task = replace(task, actions=tuple(a for a in task.actions
                                                if (a.name, *a.args) not in forbidden))
        result = search(task, SearchConfig(time_budget_s=max(0.05, min(remaining, 10.0))))
        if not result.success:
            return f"no symbolic plan: {result.reason}"
        return [(a.name, *a.args) for a in result.plan]

    def _refine(self, refiner: Refiner, skeleton: list[tuple[str, ...]],
                salt: int = 0) -> list[Action]:
        """Refine ``skeleton`` action by action; ``salt`` > 0 draws other samples."""
        cfg = self.config
        seed = cfg.seed + 7919 * salt
        actions: list[Action] = []
        k = 0
        while k < len(skeleton):
            act = skeleton[k]
            nxt = skeleton[k + 1] if k + 1 < len(skeleton) else None
            if act[0] not in PICK_ACTIONS:
                raise RefinementError(f"cannot refine '{act[0]}' on its own")
            try:
                if nxt is not None and nxt[0] in PLACEMENT_STREAMS:
                    actions += refiner.pick_place(act, nxt, rng_seed=seed + k)
                    k += 2
                elif nxt is None:  # the goal is to hold it
                    actions.append(refiner.pick_only(act[1], seed + k, act))
                    k += 1
                else:
                    raise RefinementError(f"'{nxt[0]}' has no placement stream")
            except RefinementError as err:
                err.action = nxt if nxt is not None else act
                err.taken = act[1]
                raise
        return actions

    def plan_pick(self, world: WorldModel, obj_name: str, q_start: np.ndarray) -> Plan:
        """Pick ``obj_name`` and lift it (the ``pick`` action alone)."""
        t0 = time.perf_counter()
        if obj_name not in world.objects:
            return Plan(False, reason=f"unknown object '{obj_name}'")
        refiner = Refiner(self, world, np.asarray(q_start, float), t0)
        try:
            return Plan(True, [refiner.pick_only(obj_name, self.config.seed)],
                        time.perf_counter() - t0)
        except RefinementError as err:
            return Plan(False, [], time.perf_counter() - t0, str(err))

    def plan_transit(self, world: WorldModel, q_start: np.ndarray, q_goal: np.ndarray,
                     label: str = "transit") -> Plan:
        """A collision-free move of the empty hand from ``q_start`` to ``q_goal`` in
        ``world``: one action ``move`` with one segment labelled ``label``."""
        t0 = time.perf_counter()
        refiner = Refiner(self, world, np.asarray(q_start, float), t0)
        try:
            path = refiner._transit(np.asarray(q_start, float), np.asarray(q_goal, float),
                                    label)
        except RefinementError as err:
            return Plan(False, [], time.perf_counter() - t0, str(err))
        return Plan(True, [Action("move", (label,), (refiner._move(path, label),))],
                    time.perf_counter() - t0)


def goal_holds(world: WorldModel, goal: frozenset[Fact], domain: str = "pick-place") -> bool:
    """Whether every goal fact holds in ``world`` (symbolically, objects at rest)."""
    return set(goal) <= symbolic_state(world, domain)


__all__ = ["Planner", "PlannerConfig", "RefinementError", "WorldObject", "goal_holds",
           "is_in_bowl", "symbolic_state"]
