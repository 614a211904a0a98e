"""The TAMP agent: plan with :class:`tamp.planner.Planner`, execute, look again after every
pick-and-place, and replan from what is observed when the world disagrees with the plan
(an object slipped, was knocked over, a goal fact was undone).

The loop (:class:`ClosedLoop`) talks only to a perceiver and an actuator
(:mod:`tamp.execution.interfaces`); :class:`TampPolicy` runs it in the simulator
(:mod:`scenes.agent_io`), ``tamp deploy --goal`` on a robot over ROS.

Where the observed state comes from (``perception``):

* ``oracle``: the simulator's ground truth;
* ``learned``: the camera, segmented with the simulator's instance masks, with objects
  named and described by the learned concept model (:mod:`tamp.concepts`);
* ``learned-geometric``: the same without masks (table-plane fit and clustering).

The goal is the task's predicate goal, or, with learned perception or ``goal`` words,
those words grounded by :mod:`tamp.concepts.language` in the state the planner sees.
Success is always judged on the simulator's ground truth.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from policies.base import EpisodeOutcome, Monitor, Policy, register_policy
from scenes.env import TabletopEnv
from tamp.execution.interfaces import Actuator, Perceiver
from tamp.execution.plan import DRIFT_DISTANCE, Action, Plan, drift
from tamp.planner import Planner, PlannerConfig, goal_holds, symbolic_state
from tamp.refine import PICK_ACTIONS
from tamp.robot import RobotSpec
from tamp.world import WorldModel

PERCEPTION_MODES = ("oracle", "learned", "learned-geometric")
#: plans made again, per episode, because the next step's object or support lies away
#: from where the plan computed its grasp or placement (not failures: nothing went
#: wrong yet; they do not count against ``max_replans``)
MAX_REFRESHES = 10
#: m: how far a perceived object may lie from its planned position before that counts
#: (a camera's pose estimates move by a few mm from one view to the next)
PERCEIVED_DRIFT_DISTANCE = 0.012
#: m added to the arm's collision spheres when judging whether it hides part of an
#: object from the camera (the spheres fit the links, not their silhouettes)
LOOK_MARGIN = 0.03


def expected_facts(action: Action) -> set[tuple[str, ...]]:
    """What must hold once a place-like action is done."""
    if action.name == "place-in":
        return {("in", *action.args)}
    if action.name in ("stack", "place", "put"):
        return {("on", *action.args)}
    if action.name == "build":  # pyramid: (build block slot below-left below-right)
        return {("on", *action.args[:2])}
    return set()


def steps_of(actions: list[Action]) -> list[list[Action]]:
    """Group a plan into executable steps: a pick with the place that follows it."""
    groups: list[list[Action]] = []
    for a in actions:
        if a.name in PICK_ACTIONS or not groups:
            groups.append([a])
        else:
            groups[-1].append(a)
    return groups


@dataclass
class LoopResult:
    """How the closed loop ended: ``reason`` is "" when the goal holds in what the
    perceiver sees (or the plan ran to its end)."""

    reason: str
    first_plan: list = field(default_factory=list)
    executed: list = field(default_factory=list)
    planning_time: float = 0.0  #: s
    planning_cpu: float = 0.0  #: s
    replans: int = 0
    refreshes: int = 0  #: plans made again because things lay off their planned poses
    looks: int = 0  #: moves out of the camera's line of sight to look at the table


class ClosedLoop:
    """Observe -> plan -> execute one step -> look -> compare -> replan, against any
    :class:`~tamp.execution.interfaces.Perceiver` and
    :class:`~tamp.execution.interfaces.Actuator`. ``camera``: whether the perceiver
    looks through a camera the arm can hide the table from (then the arm is moved out of
    its line of sight to look); ``control_dt`` (s) sizes the progress bar."""

    def __init__(self, perceiver: Perceiver, actuator: Actuator, planner: Planner,
                 robot: RobotSpec, max_replans: int = 3, drift_distance: float = DRIFT_DISTANCE,
                 camera: bool = False, monitor: Monitor | None = None,
                 control_dt: float = 1 / 40, label: str = "oracle"):
        self.perceiver = perceiver
        self.actuator = actuator
        self.planner = planner
        self.robot = robot
        self.max_replans = max_replans
        self.drift_distance = drift_distance
        self.camera = camera
        self.monitor = monitor or Monitor()
        self.control_dt = control_dt
        self.label = label

    def run(self, world: WorldModel, goal, domain: str, words: str) -> LoopResult:
        """Reach ``goal`` (predicate atoms of ``domain``) from ``world``, the first
        observation."""
        monitor, planner, actuator = self.monitor, self.planner, self.actuator
        out = LoopResult("")
        first_plan = None
        reason = ""

        def looked_at(looked: Plan | None) -> None:
            if looked is not None:
                out.looks += 1
                out.planning_time += looked.planning_time
                out.planning_cpu += looked.planning_cpu_time

        while True:
            if goal_holds(world, goal, domain):
                reason = ""
                break
            monitor.stage(f"planning ({self.label} state): {words}"
                          + (f" [replan {out.replans}]" if out.replans else ""))
            plan = planner.plan(world, goal, actuator.arm_positions())
            planned_from = world
            out.planning_time += plan.planning_time
            out.planning_cpu += plan.planning_cpu_time
            if first_plan is None:
                first_plan = [a.as_dict() for a in plan.actions]
            if not plan.success:
                reason = f"planning failed: {plan.reason}"
                break
            monitor.stage(f"planned {len(plan.actions)} actions in {plan.planning_time:.2f} s;"
                          " executing")
            monitor.expect_steps(int(plan.duration / self.control_dt))
            reason = ""
            steps, moved = steps_of(plan.actions), ""
            for k, step in enumerate(steps):
                reason = actuator.run_actions(step)
                out.executed += [a.as_dict() for a in step]
                if not reason:
                    self.perceiver.expect(step)
                    # (a step that ends holding something, as for a "holding" goal,
                    # keeps it where it is: the look is for the empty hand)
                    holding = any(s.holding for s in step[-1].segments[-1:])
                    world, looked = self.observe_clear(move=not holding)
                    looked_at(looked)
                    missing = set().union(*(expected_facts(a) for a in step)) - \
                        symbolic_state(world, domain)
                    if missing:
                        reason = "after " + " ".join((step[-1].name, *step[-1].args)) + \
                            ", not observed: " + ", ".join(" ".join(f) for f in sorted(missing))
                    elif k + 1 < len(steps):
                        # the next step's grasp and placement were computed for where
                        # things were expected to be; if they are not there, plan again
                        moved = drift({n: p for a in steps[k + 1] for n, p in a.expects.items()},
                                      _same_kind_poses(world, planned_from),
                                      self.drift_distance)
                        if looked is not None and not moved:
                            # from the viewing pose, go straight to where the next
                            # step's first move was headed
                            back = _from_here(planner, world, actuator.arm_positions(),
                                              steps[k + 1])
                            out.planning_time += back.planning_time
                            out.planning_cpu += back.planning_cpu_time
                            if back.success:
                                steps[k + 1] = back.actions
                            else:
                                moved = f"no way on from the viewing pose ({back.reason})"
                if reason or moved:
                    break
            if moved and out.refreshes < MAX_REFRESHES:
                out.refreshes += 1
                monitor.stage(f"{moved}; planning again from what is observed")
                continue
            if not reason:
                break
            if out.replans >= self.max_replans:
                reason = f"gave up after {out.replans} replans: {reason}"
                break
            out.replans += 1
            monitor.stage(f"world disagrees with the plan ({reason}); replanning")
            actuator.recover()
            world, looked = self.observe_clear()
            looked_at(looked)
        out.reason = reason
        out.first_plan = first_plan or []
        return out

    def observe_clear(self, move: bool = True) -> tuple[WorldModel, Plan | None]:
        """The world observed, from out of the camera's line of sight if the arm hid part
        of it (see :meth:`look`; not when ``move`` is False); the half-hidden view is
        forgotten, so that it names nothing."""
        memory = self.perceiver.remember()
        world = self.perceiver.observe()
        looked = self.look(world) if move else None
        if looked is not None:
            self.perceiver.forget_since(memory)
            world = self.perceiver.observe()
        return world, looked

    def look(self, world: WorldModel) -> Plan | None:
        """With a camera: if the arm hides part of an object of ``world`` from it, move
        the arm home (out of the camera's view) so that the next look sees everything;
        the move made (its planning time counts), or None when none was needed or
        possible. A view half blocked by the arm fits objects too small, off-centre, or
        as something else."""
        from tamp.perception.self_filter import hidden_by, robot_filter, top_points

        camera = self.perceiver.camera_position
        if not self.camera or camera is None or not world.objects:
            return None
        q, home = self.actuator.arm_positions(), self.robot.home
        if np.abs(q - home).max() < 1e-3:
            return None
        robot = robot_filter(self.planner.kin, q,
                             self.robot.gripper.joint_for_width(self.actuator.gripper_width()),
                             margin=LOOK_MARGIN)
        points = np.vstack([top_points(o) for o in world.objects.values()])
        if not hidden_by(robot, camera, points).any():
            return None
        move = self.planner.plan_transit(world, q, home, "look")
        if not move.success:
            return None
        if self.actuator.run_actions(move.actions):
            return None
        return move


@register_policy("tamp")
class TampPolicy(Policy):
    def __init__(self, config: PlannerConfig | None = None, perception: str = "oracle",
                 max_replans: int = 3, goal: str | None = None,
                 concepts: str | Path | None = None):
        if perception not in PERCEPTION_MODES:
            raise ValueError(f"unknown perception mode '{perception}'; known: "
                             f"{', '.join(PERCEPTION_MODES)}")
        self.config = config or PlannerConfig()
        self.perception = perception
        self.max_replans = max_replans
        self.drift_distance = DRIFT_DISTANCE if perception == "oracle" else \
            PERCEIVED_DRIFT_DISTANCE
        self.goal = goal
        self.model = None
        #: the concept checkpoint; None: the shipped one for the episode's camera model
        self.concepts = concepts
        if perception != "oracle" and concepts is not None:
            from tamp.concepts.checkpoint import load_checkpoint

            self.model = load_checkpoint(concepts)
        self.perceiver: Perceiver | None = None  #: made per episode (see ``perceiver_for``)

    def perceiver_for(self, env: TabletopEnv) -> Perceiver:
        """The episode's perceiver: ground truth (oracle) or the learned one on the scene
        camera."""
        from scenes.agent_io import OraclePerceiver, SimCamera, nearest_body, robot_state

        if self.perception == "oracle":
            return OraclePerceiver(env)
        from scenes.sim import TABLE_TOP
        from tamp.concepts.perceiver import LearnedPerceiver

        return LearnedPerceiver(
            SimCamera(env), env.robot, self.perception, robot_state(env),
            table_height=TABLE_TOP, zones={z.name: z for z in env.instance.zones},
            concepts=self.concepts, model=self.model, bind=nearest_body(env))

    def observe(self, env: TabletopEnv) -> WorldModel:
        """One observation of ``env`` by this episode's perceiver (made on first use)."""
        if self.perceiver is None:
            self.perceiver = self.perceiver_for(env)
        return self.perceiver.observe()

    @property
    def facts(self):
        return None if self.perceiver is None else self.perceiver.facts

    @property
    def to_sim(self) -> dict[str, str]:
        """Perceived name -> simulator body name (learned perception)."""
        return {} if self.perceiver is None else dict(self.perceiver.bindings)

    def run(self, env: TabletopEnv, monitor: Monitor | None = None) -> EpisodeOutcome:
        from scenes.agent_io import SimActuator
        from tamp.concepts.facts import SceneFacts
        from tamp.concepts.language import GoalError, ground_goal

        monitor = monitor or Monitor()
        words = self.goal or env.instance.description
        if self.perception != "oracle":
            monitor.stage(f"perceiving ({self.perception})")
        self.perceiver = perceiver = self.perceiver_for(env)
        world = perceiver.observe()
        extra = dict(perceiver.record)
        try:
            if self.perception == "oracle" and self.goal is None:
                goal = judged = env.instance.goal  # the task's own predicates: no words
            else:
                facts = perceiver.facts or SceneFacts.from_world(world)
                grounded = ground_goal(words, facts)
                goal = grounded.atoms
                extra["goal_bindings"] = [{"words": b.description, "objects": list(b.objects),
                                           "confidence": round(b.confidence, 4)}
                                          for b in grounded.bindings]
                # judged on the task's goal, or on the words grounded in ground truth
                judged = env.instance.goal if self.goal is None else \
                    ground_goal(words, SceneFacts.from_world(env.oracle_world())).atoms
        except GoalError as err:
            return EpisodeOutcome(False, failure_reason=f"goal '{words}': {err}", extra=extra)
        extra["goal_atoms"] = [" ".join(a) for a in sorted(goal)]
        if self.goal is not None:
            extra["goal_facts"] = [" ".join(a) for a in sorted(judged)]
        domain = env.instance.domain  # the PDDL domain the task's goal is stated in
        planner = Planner(env.robot, replace(self.config, domain=domain))
        actuator = SimActuator(env, monitor.step, None if self.perception == "oracle"
                               else (lambda: perceiver.bindings))
        loop = ClosedLoop(perceiver, actuator, planner, env.robot, self.max_replans,
                          self.drift_distance, camera=self.perception != "oracle",
                          monitor=monitor, control_dt=env.control_dt, label=self.perception)
        t_exec = time.perf_counter()
        out = loop.run(world, goal, domain, words)
        result = actuator.executor.result(out.reason, t_exec)
        success, failure = result.success, result.failure_reason
        status = {k: bool(v) for k, v in result.info.get("goal", {}).items()}
        if self.goal is not None:
            success, failure, status = _judge(env, judged, result.failure_reason)
        if self.perception != "oracle":
            extra["simulator_names"] = dict(perceiver.bindings)
        return EpisodeOutcome(
            success, out.first_plan, out.planning_time,
            max(0.0, result.wall_time - out.planning_time), failure,
            {**extra, "planning_cpu_s": round(out.planning_cpu, 4),
             "sim_time_s": result.sim_time, "control_steps": result.steps,
             "replans": out.replans, "refreshes": out.refreshes, "looks": out.looks,
             "executed": out.executed, "goal_status": status})


def _from_here(planner: Planner, world: WorldModel, q: np.ndarray,
               step: list[Action]) -> Plan:
    """``step`` starting from ``q``: its first move replaced by a transit from ``q`` to
    where that move ends (the first move of a step is the empty hand's transit)."""
    for i, a in enumerate(step):
        for j, seg in enumerate(a.segments):
            if seg.kind != "move":
                continue
            if seg.holding:
                return Plan(False, reason="the step starts by carrying something")
            move = planner.plan_transit(world, q, seg.trajectory.positions[-1], seg.label)
            if not move.success:
                return move
            first = replace(a, segments=a.segments[:j] + move.actions[0].segments
                            + a.segments[j + 1:])
            return replace(move, actions=step[:i] + [first] + step[i + 1:])
    return Plan(True, list(step))


def _same_kind_poses(world: WorldModel, planned_from: WorldModel) -> dict:
    """Observed poses of the objects still seen as what the plan took them for (same
    category and shape kind). A camera view in which the arm hides most of an object can
    fit it as something else, thinner and off-centre; such a view is no reason to plan
    again, and no better a state to plan from."""
    out = {}
    for name, obj in world.objects.items():
        before = planned_from.objects.get(name)
        if before is not None and (obj.category, obj.shape.kind) == \
                (before.category, before.shape.kind):
            out[name] = obj.pose
    return out


def _judge(env: TabletopEnv, atoms, failure: str) -> tuple[bool, str, dict[str, bool]]:
    """Whether every goal atom (simulator names) holds in ground truth: success, the
    reason if not, and the status of each atom."""
    from scenes.tasks import make_task
    from tamp.concepts.definitions import relation_holds

    world, truth = env.oracle_world(), env.object_truth()
    status = {}
    for atom in sorted(atoms):
        try:
            status[" ".join(atom)] = bool(env.task.holds(atom, world, truth))
        except ValueError:  # a predicate this task does not know
            if atom[0] == "holding":  # as the lift task defines it
                status[" ".join(atom)] = bool(make_task("lift").holds(atom, world, truth))
            else:  # a relation, by its concept's definition, and at rest
                a, b = world.objects[atom[1]], world.objects[atom[2]]
                status[" ".join(atom)] = bool(relation_holds(atom[0], a, b)
                                              and truth.resting[a.name])
    if all(status.values()):
        return True, "", status
    failed = [k for k, v in status.items() if not v]
    return False, failure or "goal not reached: " + ", ".join(failed), status


@register_policy("tamp-learned")
class LearnedTampPolicy(TampPolicy):
    """The TAMP agent planning from the camera: the simulator's instance masks, objects
    named and described by the learned concept model, the goal's words grounded in what
    it sees (a column of its own in ``tamp bench episodes``)."""

    perception_mode = "learned"

    def __init__(self, config: PlannerConfig | None = None, max_replans: int = 3,
                 goal: str | None = None, concepts: str | Path | None = None):
        super().__init__(config, self.perception_mode, max_replans, goal, concepts)


@register_policy("tamp-learned-geometric")
class GeometricTampPolicy(LearnedTampPolicy):
    """As ``tamp-learned``, segmented without masks (table-plane fit and clustering), as
    on a real depth camera."""

    perception_mode = "learned-geometric"
