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

import numpy as np

from tamp.deadline import Deadline
from tamp.execution.plan import Action, Plan
from tamp.geometry.collision import CollisionConfig
from tamp.geometry.grasps import GraspConfig
from tamp.geometry.kinematics import IKConfig, Kinematics
from tamp.geometry.motion import MotionConfig
from tamp.geometry.placements import PlacementConfig
from tamp.domains import DOMAINS, get_domain
from tamp.refine import TIMINGS, Refiner, RefinementError
from tamp.robot import RobotSpec
from tamp.world import WorldModel, WorldObject

Fact = tuple[str, ...]  #: e.g. ("in", "red_block_0", "green_bowl")


@dataclass(frozen=True)
class PlannerConfig:
    time_budget: float = 60.0  #: s for the whole plan
    domain: str = "pick-place"  #: a registered domain (tamp/domains)
    max_skeletons: int = 12  #: symbolic plans tried before giving up
    #: times a skeleton whose placement failed is refined again with fresh samples for
    #: every stream (earlier placements, grasps) before that binding is given up on: the
    #: objects placed before may have taken the room the failing one needed
    max_resamples: int = 2
    #: m of straight motion along the tool axis onto an object and off it, lifting and
    #: lowering it (with the "flow" timing, the empty hand's at most: see
    #: ``approach_clearance``)
    approach_distance: float = 0.10
    #: with the "flow" timing, the empty hand's straight moves onto an object and off it
    #: start and end this far (m) above where its fingertips pass the object's top, where
    #: the hand is free there (else ``approach_distance``): the 2 cm leave the height
    #: errors of perception (a few mm) and of the arm's tracking (< 1 mm) several times over
    approach_clearance: float = 0.02
    cartesian_step: float = 0.01  #: m between IK solves on a straight move
    max_joint_jump: float = 0.25  #: rad allowed between consecutive straight-move solves
    speed_scale: float = 0.5  #: fraction of the joint velocity/acceleration/jerk limits
    #: how motions are made and timed: ``"flow"`` (corners of planned paths cut by
    #: collision-checked curves; the moves between two gripper actions timed as one
    #: motion that does not stop where they join, within the jerk limits; the executor
    #: waits only until the arm has arrived; the empty hand's straight moves only
    #: ``approach_clearance`` past the object's top; the retreat starts once the pads
    #: have let go; placements with room for the open fingers tried first; a look goes
    #: only as far towards home as needed) or ``"stop"`` (the planner as it was before
    #: all of these, kept to compare against: every move on its own, 0.25 s held after
    #: each, no jerk limit)
    timing: str = "flow"
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

    def __post_init__(self):
        if self.timing not in TIMINGS:
            raise ValueError(f"unknown timing '{self.timing}'; known: {', '.join(TIMINGS)}")

    @property
    def device(self) -> str:
        """The torch device of batched work (the collision checks in torch, the antipodal
        grasp search, the concept model of learned perception): the collision section's
        ``device``, "auto" decided; one setting for all of them. A ValueError as from
        :meth:`CollisionConfig.resolved`."""
        return self.collision.resolved().device


#: fields a planner configuration file may not set: each episode sets them (its seed, the
#: ``--time-budget``, the task's domain)
PER_EPISODE_FIELDS = ("seed", "time_budget", "domain")


def with_overrides(config, overrides: dict, where: str = ""):
    """``config`` (a frozen config dataclass, e.g. :class:`PlannerConfig`) with the values
    of ``overrides``: a mapping of field names to values, nested for nested configs
    (``{"max_grasps": 20, "motion": {"time_limit": 2.0}}``). ValueError, naming the key,
    for an unknown field or a value of the wrong type (an int is a valid float)."""
    from dataclasses import fields, is_dataclass

    known = {f.name: f for f in fields(config)}
    changes = {}
    for key, value in dict(overrides).items():
        path = f"{where}{key}"
        if key not in known:
            raise ValueError(f"unknown planner setting '{path}'; known: "
                             f"{', '.join(sorted(known))}")
        current = getattr(config, key)
        if is_dataclass(current):
            if not isinstance(value, dict):
                raise ValueError(f"planner setting '{path}' is a section: give a mapping")
            changes[key] = with_overrides(current, value, path + ".")
            continue
        kind = type(current)
        ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if kind is tuple and isinstance(value, list):
            value, ok = tuple(value), True
        if not ok:
            raise ValueError(f"planner setting '{path}' must be {kind.__name__}, got "
                             f"{type(value).__name__} {value!r}")
        changes[key] = value
    return replace(config, **changes)


def symbolic_state(world: WorldModel, domain: str = "pick-place") -> frozenset[Fact]:
    """The facts of ``domain`` that hold in ``world``."""
    return get_domain(domain).state(world)


@lru_cache(maxsize=8)
def _domain(name: str):
    """The parsed .pddl of the domain ``name``."""
    from tamp.symbolic.pddl_io import load_domain

    return load_domain(get_domain(name).pddl)


class Planner:
    """Plans goals such as ``{("in", "red_block_0", "green_bowl")}`` or
    ``{("on", "b1", "b2")}`` from a world model and the arm's current configuration."""

    def __init__(self, robot: RobotSpec, config: PlannerConfig | None = None):
        self.robot = robot
        self.config = config or PlannerConfig()
        self.kin = Kinematics(robot)
        if self.config.ik.batch == "always" or (self.config.ik.batch == "auto"
                                            and self.config.device.startswith("cuda")):
            from tamp.geometry.batch_ik import BatchedKinematics  # the IK starts at once

            self.kin = BatchedKinematics(robot, self.config.device)
        # set-up, not planning: parse the domain and load the grasp solvers (open3d) now,
        # so that the first plan's time is the planner's own
        import tamp.geometry.antipodal  # noqa: F401

        try:  # the time parameterisation's solver (seconds to import)
            import toppra.algorithm  # noqa: F401
            import toppra.constraint  # noqa: F401
        except ImportError:
            pass

        if self.config.domain in DOMAINS:
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
        if cfg.domain not in DOMAINS:
            return Plan(False, reason=f"unknown domain '{cfg.domain}'; known: "
                                      f"{', '.join(DOMAINS)}")
        if len(goal) == 1 and next(iter(goal))[0] == "holding":
            # holding one object needs nothing but its pick, whatever the domain calls it
            # (a bowl is a container to the pick-place domain, yet it can be lifted)
            return self.plan_pick(world, next(iter(goal))[1], q_start)
        types = get_domain(cfg.domain).types(world)
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
        domain = get_domain(cfg.domain)
        seed = cfg.seed + 7919 * salt
        actions: list[Action] = []
        k = 0
        while k < len(skeleton):
            act = skeleton[k]
            nxt = skeleton[k + 1] if k + 1 < len(skeleton) else None
            if act[0] not in domain.pick_actions:
                raise RefinementError(f"cannot refine '{act[0]}' on its own")
            try:
                if nxt is not None and domain.places_things(nxt[0]):
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

    def refine_step(self, world: WorldModel, place_action: tuple[str, ...],
                    q_start: np.ndarray, seed: int, context: dict | None = None
                    ) -> list[Action]:
        """One pick-and-place refined outside a plan (a policy's chosen step): the pick
        that takes ``place_action``'s object from where it lies (as the domain names it),
        then ``place_action``, e.g. ``("place-at", obj, support)`` with ``context["pose"]``.
        Raises :class:`RefinementError` with the reason."""
        t0 = time.perf_counter()
        refiner = Refiner(self, world, np.asarray(q_start, float), t0)
        refiner.context.update(context or {})
        pick = get_domain(self.config.domain).take_action(world, place_action[1])
        return refiner.pick_place(pick, tuple(place_action), rng_seed=seed)

    def refine_pick(self, world: WorldModel, obj: str, q_start: np.ndarray,
                    seed: int) -> Action:
        """The pick of ``obj`` alone, refined (grasp, IK, motion) and lifted; raises
        :class:`RefinementError` with the reason."""
        refiner = Refiner(self, world, np.asarray(q_start, float), time.perf_counter())
        return refiner.pick_only(obj, seed,
                                 get_domain(self.config.domain).take_action(world, obj))

    def plan_transit(self, world: WorldModel, q_start: np.ndarray, q_goal: np.ndarray,
                     label: str = "transit", then: tuple = ()) -> Plan:
        """A collision-free move of the empty hand from ``q_start`` to ``q_goal`` in
        ``world``: one action ``move`` with one segment labelled ``label``; ``then``: move
        segments that follow it without a stop (their samples are the paths), timed
        again together with it and appended."""
        t0 = time.perf_counter()
        refiner = Refiner(self, world, np.asarray(q_start, float), t0)
        try:
            path = refiner.transit(np.asarray(q_start, float), np.asarray(q_goal, float),
                                   label)
        except RefinementError as err:
            return Plan(False, [], time.perf_counter() - t0, str(err))
        moves = [(path, label, None)] + [(s.trajectory.positions, s.label, s.holding)
                                         for s in then]
        return Plan(True, [Action("move", (label,), tuple(refiner.chain(moves)))],
                    time.perf_counter() - t0)


def goal_holds(world: WorldModel, goal: frozenset[Fact], domain: str = "pick-place") -> bool:
    """Whether every goal fact holds in ``world`` (symbolically, objects at rest)."""
    return set(goal) <= symbolic_state(world, domain)


__all__ = ["Planner", "PlannerConfig", "RefinementError", "WorldObject", "goal_holds",
           "symbolic_state", "with_overrides"]
