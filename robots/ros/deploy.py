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

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

from robots.ros.monitor import ExecutionMonitor, MonitorConfig
from robots.ros.safety import (ArmTrajectory, JointStateSample, PreparedTrajectory,
                               SafetyChecker, SafetyConfig)
from robots.ros.transport import ControllerResult, TopicGoalHandle, Transport, TransportError
from tamp.execution.plan import Plan
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
    trajectory: ArmTrajectory | None = None  #: for moves, as planned
    width: float = 0.0  #: for gripper steps, m between the pads


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
            return not self.note.startswith("FAILED")
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
            if seg.trajectory is not None:
                traj = ArmTrajectory.from_samples(joint_names, seg.trajectory.times,
                                                  seg.trajectory.positions)
                steps.append(Step(len(steps), label, "move", traj))
            else:
                steps.append(Step(len(steps), label, "gripper",
                                  width=float(seg.width or 0.0)))
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
                        ) -> StepReport:
        """Re-time and check ``traj``; if it passes and ``execute`` is on, send it and follow
        it to its end. ``controller_joints``/``state`` default to fresh reads from the
        transport."""
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
        refused = [r for r in checked if r.step.kind == "move" and not r.prepared.report.ok]
        if refused or not self.config.execute:
            reason = (f"{len(refused)} of {sum(s.kind == 'move' for s in steps)} moves "
                      "refused by the safety checks; nothing was sent" if refused
                      else "dry run: nothing was sent")
            return DeployReport(tuple(checked), False, not refused, reason)
        done: list[StepReport] = []
        for step in steps:
            report = self._execute(step, joints)
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
            if step.kind == "gripper":
                reports.append(StepReport(step, note=self._gripper_note(step)))
                self.log("[check] " + self.describe(reports[-1]))
                continue
            prepared = self.checker.prepare(step.trajectory, joints, expected, time.monotonic(),
                                            self.config.slow_down)
            reports.append(StepReport(step, prepared))
            self.log("[check] " + self.describe(reports[-1]))
            traj = step.trajectory
            expected = JointStateSample(traj.joint_names, traj.positions[-1], time.monotonic())
        return reports

    def _gripper_note(self, step: Step) -> str:
        if self.gripper is None:
            return f"gripper to {step.width * 1000:.1f} mm: skipped (no gripper configured)"
        return f"gripper to {step.width * 1000:.1f} mm"

    def _execute(self, step: Step, joints) -> StepReport:
        if step.kind == "gripper":
            if self.gripper is None:
                report = StepReport(step, note=self._gripper_note(step))
            else:
                try:
                    report = StepReport(step, sent=True, note=self.gripper.set_width(step.width))
                except Exception as err:  # a driver failure ends the plan, typed or not
                    report = StepReport(step, note=f"FAILED: {type(err).__name__}: {err}")
            self.log(f"[run] step {step.index} {step.label}: {report.note}")
            return report
        try:
            state = self.settled_state(step.trajectory.positions[0], step.trajectory.joint_names)
            report = self.send_trajectory(step.trajectory, joints, state, step)
        except TransportError as err:
            report = StepReport(step, note=f"FAILED: {err}")
        self.log("[run] " + self.describe(report))
        return report

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
        if step.kind == "gripper" or report.prepared is None:
            return f"step {step.index} {step.label}: {report.note}"
        p = report.prepared
        t = p.trajectory
        line = (f"step {step.index} {step.label}: {len(t.joint_names)} joints, {t.n_points} "
                f"points, {t.duration:.2f} s (planned {p.planned_duration:.2f} s, "
                f"x{p.retime_factor:.2f}); safety {p.report.summary()}")
        if report.sent and report.result is not None:
            line += f"; controller: {report.result.describe()}"
        elif report.note:
            line += f"; {report.note}"
        return line
