"""Run a :class:`~tamp.execution.plan.Plan` on a robot through a transport, safely.

Order of events:

1. read the controller's joint names and the latest joint state;
2. re-time and check *every* move of the plan (each later move is checked against the
   end of the one before), so that a plan is refused as a whole before anything moves;
3. dry run (the default): report what would be sent and stop there;
4. with ``execute=True``: for each step, re-check the move against the freshly measured
   joint state, send it, and follow it with the execution monitor; the first failure
   stops the plan.

Nothing reaches a transport's ``send_goal``/``publish`` except through
:meth:`Deployer.send_trajectory`, which sends only a trajectory whose safety report is
clean.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

import numpy as np

from robots.ros.monitor import ExecutionMonitor, MonitorConfig
from robots.ros.safety import (ArmTrajectory, JointStateSample, PreparedTrajectory,
                               SafetyChecker, SafetyConfig)
from robots.ros.transport import ControllerResult, TopicGoalHandle, Transport, TransportError
from tamp.execution.plan import Plan, follow_scale
from tamp.robot import RobotSpec


class GripperPort(Protocol):
    """What the deployer needs from a gripper driver."""

    def set_width(self, width: float) -> str:
        """Open or close to ``width`` m between the pads (0 = close until contact); return
        a one-line description of the outcome; raise on failure."""


@dataclass(frozen=True)
class DeployConfig:
    safety: SafetyConfig = field(default_factory=SafetyConfig)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    execute: bool = False  #: False: dry run, nothing is sent
    via: Literal["action", "topic"] = "action"  #: FollowJointTrajectory, or command topic
    slow_down: bool = True  #: re-time to the speed scale (False: only check the timing)
    settle_time: float = 1.0  #: s to wait for the arm to arrive before the next move


@dataclass(frozen=True)
class Step:
    """One thing the robot does: a joint move, or a gripper command."""

    index: int
    label: str  #: e.g. "pick red_block_0: transit"
    kind: Literal["move", "gripper"]
    #: for moves, as planned; for a gripper close, the arm's move while the pads close
    #: (``tamp.execution.plan.Segment.grip_width``), or None
    trajectory: ArmTrajectory | None = None
    width: float = 0.0  #: for gripper steps, m between the pads
    #: for a close the arm follows: the opening at which the pads meet the object, m
    grip_width: float | None = None


@dataclass(frozen=True)
class StepReport:
    step: Step
    prepared: PreparedTrajectory | None = None  #: moves: what would be / was sent
    sent: bool = False
    result: ControllerResult | None = None  #: the controller's answer when sent
    note: str = ""

    @property
    def ok(self) -> bool:
        if self.step.kind == "gripper":
            arm_ok = self.prepared is None or (self.prepared.report.ok and (
                self.result is None or self.result.success))
            return arm_ok and not self.note.startswith("FAILED")
        if self.prepared is None or not self.prepared.report.ok:
            return False
        return self.result.success if self.sent and self.result is not None else not self.sent


@dataclass(frozen=True)
class DeployReport:
    steps: tuple[StepReport, ...]
    executed: bool  #: False for a dry run
    success: bool
    reason: str = ""


def plan_steps(plan: Plan, joint_names: Sequence[str]) -> list[Step]:
    """The plan's segments in order, as moves (with joint names) and gripper commands."""
    steps: list[Step] = []
    for action in plan.actions:
        for seg in action.segments:
            label = f"{action.name} {' '.join(action.args)}: {seg.label}"
            traj = None if seg.trajectory is None else ArmTrajectory.from_samples(
                joint_names, seg.trajectory.times, seg.trajectory.positions)
            if seg.kind == "move":
                steps.append(Step(len(steps), label, "move", traj))
            else:
                steps.append(Step(len(steps), label, "gripper", traj,
                                  width=float(seg.width or 0.0), grip_width=seg.grip_width))
    return steps


class Deployer:
    """Checks and (when asked) executes trajectories through one transport."""

    def __init__(self, transport: Transport, robot: RobotSpec, config: DeployConfig | None = None,
                 gripper: GripperPort | None = None, log: Callable[[str], None] = lambda s: None,
                 checker: SafetyChecker | None = None):
        self.transport = transport
        self.robot = robot
        self.config = config or DeployConfig()
        self.checker = checker or SafetyChecker(robot, self.config.safety)
        self.monitor = ExecutionMonitor(transport, self.config.monitor)
        self.gripper = gripper
        self.log = log

    # -- one trajectory -----------------------------------------------------------------
    def send_trajectory(self, traj: ArmTrajectory, controller_joints: Sequence[str] | None = None,
                        state: JointStateSample | None = None, step: Step | None = None,
                        on_send: Callable[[], None] | None = None) -> StepReport:
        """Re-time and check ``traj``; if it passes and ``execute`` is on, send it and follow
        it to its end (``on_send`` is called just before it is sent).
        ``controller_joints``/``state`` default to fresh reads from the transport."""
        step = step or Step(0, "trajectory", "move", traj)
        joints = tuple(controller_joints) if controller_joints is not None \
            else self.transport.controller_joints()
        state = state if state is not None else self.transport.joint_state()
        prepared = self.checker.prepare(traj, joints, state, time.monotonic(),
                                        self.config.slow_down)
        if not prepared.report.ok or not self.config.execute:
            return StepReport(step, prepared)
        if self.monitor.stopped:
            return StepReport(step, prepared, note="not sent: stopped")
        sent = prepared.trajectory
        if on_send is not None:
            on_send()
        if self.config.via == "action":
            handle = self.transport.send_goal(sent)
        else:
            self.transport.publish(sent)
            handle = TopicGoalHandle(self.transport, sent,
                                     tolerance=self.config.safety.start_tolerance)
        result = self.monitor.follow(handle, sent.duration)
        return StepReport(step, prepared, sent=True, result=result)

    def stop(self) -> None:
        """Stop the arm now (any thread)."""
        self.monitor.stop()

    # -- a whole plan -------------------------------------------------------------------
    def run(self, steps: Sequence[Step]) -> DeployReport:
        joints = self.transport.controller_joints()
        state = self.transport.joint_state()
        self.log(f"[check] controller joints: {', '.join(joints)}; joint state "
                 f"{time.monotonic() - state.received:.2f} s old")
        checked = self._precheck(steps, joints, state)
        refused = [r for r in checked if r.prepared is not None and not r.prepared.report.ok]
        if refused or not self.config.execute:
            reason = (f"{len(refused)} of {sum(s.trajectory is not None for s in steps)} moves "
                      "refused by the safety checks; nothing was sent" if refused
                      else "dry run: nothing was sent")
            return DeployReport(tuple(checked), False, not refused, reason)
        done: list[StepReport] = []
        width = self.robot.gripper.stroke  # assumed open at the start, as the plan does
        for step in steps:
            report = self._execute(step, joints, width)
            width = step.width if step.kind == "gripper" else width
            done.append(report)
            if not report.ok or (step.kind == "move" and not report.sent):
                why = (report.result.describe() if report.result is not None
                       else report.prepared.report.summary() if report.prepared is not None
                       else report.note)
                return DeployReport(tuple(done), True, False,
                                    f"step {step.index} ({step.label}) failed: {why}")
        return DeployReport(tuple(done), True, True, "all steps succeeded")

    def _precheck(self, steps, joints, state) -> list[StepReport]:
        """Check every move up front; a later move starts where the previous one ends."""
        reports = []
        expected = state
        for step in steps:
            if step.kind == "gripper" and step.trajectory is None:
                reports.append(StepReport(step, note=self._gripper_note(step)))
                self.log("[check] " + self.describe(reports[-1]))
                continue
            prepared = self.checker.prepare(step.trajectory, joints, expected, time.monotonic(),
                                            self.config.slow_down)
            reports.append(StepReport(step, prepared, note=self._gripper_note(step)
                                      if step.kind == "gripper" else ""))
            self.log("[check] " + self.describe(reports[-1]))
            traj = step.trajectory
            expected = JointStateSample(traj.joint_names, traj.positions[-1], time.monotonic())
        return reports

    def _gripper_note(self, step: Step) -> str:
        if self.gripper is None:
            return f"gripper to {step.width * 1000:.1f} mm: skipped (no gripper configured)"
        return f"gripper to {step.width * 1000:.1f} mm"

    def _execute(self, step: Step, joints, width_now: float) -> StepReport:
        if step.kind == "gripper":
            report = self.grip(step, joints, width_now, self.gripper)
            self.log("[run] " + self.describe(report))
            return report
        try:
            state = self.settled_state(step.trajectory.positions[0], step.trajectory.joint_names)
            report = self.send_trajectory(step.trajectory, joints, state, step)
        except TransportError as err:
            report = StepReport(step, note=f"FAILED: {err}")
        self.log("[run] " + self.describe(report))
        return report

    def grip(self, step: Step, joints, width_now: float, gripper: GripperPort | None
             ) -> StepReport:
        """Drive ``gripper`` (None: none; the arm still moves) to ``step.width`` (from
        ``width_now``, m). A close with an arm
        trajectory (``Step.grip_width``) moves the arm along it meanwhile, played as long
        as the pads take to close onto the object at the gripper's speed: checked like any
        move first, and if the check refuses it the gripper does not move either."""
        if step.trajectory is None:
            if gripper is None:
                return StepReport(step, note=self._gripper_note(step))
            try:
                return StepReport(step, sent=True, note=gripper.set_width(step.width))
            except Exception as err:  # a driver failure ends the plan, typed or not
                return StepReport(step, note=f"FAILED: {type(err).__name__}: {err}")
        settings = getattr(gripper, "settings", None)
        speed = getattr(settings, "speed", self.robot.gripper.speed_range[0])
        traj = step.trajectory
        k = follow_scale(traj.duration, width_now, step.grip_width, speed)
        traj = replace(traj, times=traj.times * k,
                       velocities=traj.velocities / k if len(traj.velocities) else
                       traj.velocities)
        outcome: dict = {}

        def close() -> None:
            try:
                outcome["note"] = gripper.set_width(step.width)
            except Exception as err:  # reported with the step, like a close on its own
                outcome["note"] = f"FAILED: {type(err).__name__}: {err}"

        thread = threading.Thread(target=close, name="gripper", daemon=True)
        try:
            state = self.settled_state(traj.positions[0], traj.joint_names)
            report = self.send_trajectory(traj, joints, state, step, on_send=None
                                          if gripper is None else thread.start)
        except TransportError as err:
            report = StepReport(step, note=f"FAILED: {err}")
        if thread.ident is not None:
            thread.join()
        note = outcome.get("note", self._gripper_note(step) if gripper is None else
                           report.note or "gripper not moved: the arm's move was not sent")
        return replace(report, note=note)

    def settled_state(self, expected, names) -> JointStateSample:
        """The first joint state that arrives from now on and is within the start tolerance
        of ``expected``, waiting up to ``settle_time``; else the latest one (for the check
        to judge). A controller reports success within its goal tolerance, and its joint
        state may lag the result by a cycle, so the arm gets a moment to arrive."""
        t0 = time.monotonic()
        tol = self.config.safety.start_tolerance
        while True:
            state = self.transport.joint_state()
            try:
                near = float(np.max(np.abs(state.positions_for(names) - expected))) <= tol
            except KeyError:
                return state
            if (state.received > t0 and near) or time.monotonic() - t0 > self.config.settle_time:
                return state
            time.sleep(0.005)

    def describe(self, report: StepReport) -> str:
        """One line per step: what is (or would be) sent and the verdict."""
        step = report.step
        if report.prepared is None:
            return f"step {step.index} {step.label}: {report.note}"
        p = report.prepared
        t = p.trajectory
        line = (f"step {step.index} {step.label}: {len(t.joint_names)} joints, {t.n_points} "
                f"points, {t.duration:.2f} s (planned {p.planned_duration:.2f} s, "
                f"x{p.retime_factor:.2f}); safety {p.report.summary()}")
        if report.sent and report.result is not None:
            line += f"; controller: {report.result.describe()}"
        if report.note and not (report.sent and step.kind == "move"):
            line += f"; {report.note}"
        return line
