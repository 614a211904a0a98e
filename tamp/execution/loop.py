"""The closed loop of the agent: observe -> plan -> execute one step -> look -> compare ->
replan, against any :class:`~tamp.execution.interfaces.Perceiver` and
:class:`~tamp.execution.interfaces.Actuator` (the simulator's, or a robot's over ROS).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from tamp.domains import get_domain
from tamp.execution.interfaces import Actuator, Perceiver
from tamp.execution.plan import DRIFT_DISTANCE, Action, Plan, drift
from tamp.geometry.kinematics import IKConfig
from tamp.geometry.timing import rest_to_rest_time
from tamp.planner import Planner, goal_holds, symbolic_state
from tamp.robot import RobotSpec
from tamp.world import WorldModel

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
#: with the "flow" timing, where a look goes when no point of the next step's first move
#: lets the camera see every object: the quickest to reach (at the joint limits) of these
#: shares of the way home and of these heights (m) of the hand straight above where it is,
#: from which the camera sees every object; home if none
LOOK_SHARES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
LOOK_LIFTS = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3)
#: how many points of the next step's first move a look tries, evenly spaced along it
LOOK_AHEAD_POINTS = 12


def expected_facts(action: Action, domain: str) -> set[tuple[str, ...]]:
    """What must hold once a place-like action of ``domain`` is done."""
    return get_domain(domain).effects((action.name, *action.args))


def steps_of(actions: list[Action], domain: str) -> list[list[Action]]:
    """Group a plan of ``domain`` into executable steps: a pick with the place that
    follows it."""
    picks = get_domain(domain).pick_actions
    groups: list[list[Action]] = []
    for a in actions:
        if a.name in picks or not groups:
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
    #: plans that failed on what the camera saw, so that it looked again (they count
    #: among ``replans``)
    relooks: int = 0
    #: s of planned motion the looks added: each look's move, and where the next step
    #: then starts from the viewing pose, its first move less the one it replaced
    look_extra: float = 0.0


class ClosedLoop:
    """Observe -> plan -> execute one step -> look -> compare -> replan, against any
    :class:`~tamp.execution.interfaces.Perceiver` and
    :class:`~tamp.execution.interfaces.Actuator`. ``camera``: whether the perceiver
    looks through a camera the arm can hide the table from (then the arm is moved out of
    its line of sight to look); ``control_dt`` (s) sizes the progress bar."""

    def __init__(self, perceiver: Perceiver, actuator: Actuator, planner: Planner,
                 robot: RobotSpec, max_replans: int = 3, drift_distance: float = DRIFT_DISTANCE,
                 camera: bool = False, monitor=None,
                 control_dt: float = 1 / 40, label: str = "oracle"):
        self.perceiver = perceiver
        self.actuator = actuator
        self.planner = planner
        self.robot = robot
        self.max_replans = max_replans
        self.drift_distance = drift_distance
        self.camera = camera
        self.monitor = monitor or _Quiet()
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
                out.look_extra += looked.duration
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
                if not self.camera or out.replans >= self.max_replans:
                    break
                # what a camera saw errs by its noise (a block a few mm too wide leaves
                # the fingers no room between its neighbours): look again, the sizes
                # fused over the looks (the perceiver's), and plan on that
                out.replans += 1
                out.relooks += 1
                monitor.stage(f"{reason}; looking again")
                world, looked = self.observe_clear()
                looked_at(looked)
                continue
            monitor.stage(f"planned {len(plan.actions)} actions in {plan.planning_time:.2f} s;"
                          " executing")
            monitor.expect_steps(int(plan.duration / self.control_dt))
            reason = ""
            steps, moved = steps_of(plan.actions, domain), ""
            for k, step in enumerate(steps):
                reason = actuator.run_actions(step)
                out.executed += [a.as_dict() for a in step]
                if not reason:
                    self.perceiver.expect(step)
                    # (a step that ends holding something, as for a "holding" goal,
                    # keeps it where it is: the look is for the empty hand)
                    holding = any(s.holding for s in step[-1].segments[-1:])
                    world, looked = self.observe_clear(
                        move=not holding,
                        ahead=_first_path(steps[k + 1]) if k + 1 < len(steps) else None)
                    looked_at(looked)
                    missing = set().union(*(expected_facts(a, domain) for a in step)) - \
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
                                out.look_extra += _moving(back.actions) - _moving(steps[k + 1])
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

    def observe_clear(self, move: bool = True, ahead: np.ndarray | None = None
                      ) -> tuple[WorldModel, Plan | None]:
        """The world observed, from out of the camera's line of sight if the arm hid part
        of it (see :meth:`look`, ``ahead`` included; not when ``move`` is False); the
        half-hidden view is forgotten, so that it names nothing."""
        memory = self.perceiver.remember()
        world = self.perceiver.observe()
        looked = self.look(world, ahead) if move else None
        if looked is not None:
            self.perceiver.forget_since(memory)
            world = self.perceiver.observe()
        return world, looked

    def look(self, world: WorldModel, ahead: np.ndarray | None = None) -> Plan | None:
        """With a camera: if the arm hides part of an object of ``world`` from it, move
        the arm out of the camera's view so that the next look sees everything (home;
        with the "flow" timing only as far as needed: first to a point of ``ahead``, the
        path (configurations) the arm takes next, so that the look is the start of that
        move, then on the way home, see LOOK_SHARES); the move made (its planning time
        counts), or None when none was needed or possible. A view half blocked by the
        arm fits objects too small, off-centre, or as something else."""
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
        target = home
        if self.planner.config.timing == "flow":
            # only as far as the camera needs: the first point of the next move from which
            # the arm hides none of the objects (the look is then the start of that move),
            # else the quickest to reach of a few points up or on the way home
            gripper = self.robot.gripper.joint_for_width(self.actuator.gripper_width())

            def clear(q_look: np.ndarray) -> bool:
                return not hidden_by(robot_filter(self.planner.kin, q_look, gripper,
                                                  margin=LOOK_MARGIN), camera, points).any()

            on_path = [] if ahead is None or len(ahead) < 2 else ahead[np.unique(
                np.linspace(1, len(ahead) - 1, LOOK_AHEAD_POINTS).round().astype(int))]
            target = next((q_look for q_look in on_path if clear(q_look)), None)
            if target is None:
                options = [o for o in [*self._lifted(q), *(q + share * (home - q)
                                                           for share in LOOK_SHARES)]
                           if clear(o)]
                target = min(options, default=home, key=lambda o: rest_to_rest_time(
                    q, o, self.robot.max_velocity, self.robot.max_acceleration))
        move = self.planner.plan_transit(world, q, target, "look")
        if not move.success and target is not home:
            move = self.planner.plan_transit(world, q, home, "look")
        if not move.success:
            return None
        if self.actuator.run_actions(move.actions):
            return None
        return move

    def _lifted(self, q: np.ndarray) -> list[np.ndarray]:
        """Configurations with the hand ``LOOK_LIFTS`` straight above where it is at ``q``
        (same orientation; those inverse kinematics finds near ``q``)."""
        kin = self.planner.kin
        tcp = kin.tcp_pose(q)
        out = []
        for height in LOOK_LIFTS:
            target = tcp.copy()
            target[2, 3] += height
            solved = kin.ik(target, [q], np.random.default_rng(0),
                            IKConfig(n_random_seeds=0, batch="never"))
            if solved.success:
                out.append(solved.q)
        return out


def _moving(actions: list[Action]) -> float:
    """s of planned motion in ``actions``."""
    return Plan(True, list(actions)).duration


def _first_path(step: list[Action]) -> np.ndarray | None:
    """The configurations of ``step``'s first move of the empty hand (its transit); None
    if it starts otherwise."""
    for a in step:
        for seg in a.segments:
            if seg.kind == "move":
                return None if seg.holding else seg.trajectory.positions
    return None


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
            # moves it flows into without stopping are timed again with the new one
            k = j + 1
            while a.segments[k - 1].end == "flow" and k < len(a.segments) and \
                    a.segments[k].kind == "move":
                k += 1
            move = planner.plan_transit(world, q, seg.trajectory.positions[-1], seg.label,
                                        then=a.segments[j + 1:k])
            if not move.success:
                return move
            first = replace(a, segments=a.segments[:j] + move.actions[0].segments
                            + a.segments[k:])
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


class _Quiet:
    """A monitor that hears nothing (see ``policies.base.Monitor``)."""

    def stage(self, message: str) -> None:
        pass

    def expect_steps(self, n: int) -> None:
        pass

    def step(self, env) -> None:
        pass
