"""The execution monitor: deadline, cancel on overrun, stop(); dry run sends nothing."""

from __future__ import annotations

import threading
import time

import numpy as np

from robots.ros.deploy import DeployConfig, Deployer, Step, plan_steps
from robots.ros.monitor import ExecutionMonitor, MonitorConfig
from robots.ros.safety import ArmTrajectory, JointStateSample, SafetyChecker
from robots.ros.transport import ControllerResult, GoalHandle, Outcome


class _Slow(GoalHandle):
    """Finishes ``after`` s once sent; cancel makes it report CANCELLED."""

    def __init__(self, after: float):
        self.t0, self.after, self.cancelled = time.monotonic(), after, 0

    def done(self):
        return self.cancelled > 0 or time.monotonic() - self.t0 >= self.after

    def result(self):
        if self.cancelled:
            return ControllerResult(Outcome.CANCELLED)
        return ControllerResult(Outcome.SUCCEEDED)

    def cancel(self):
        self.cancelled += 1


def test_deadline_follows_moveit():
    assert MonitorConfig().deadline(10.0) == 11.5


def test_monitor_cancels_past_the_deadline(recording_transport):
    transport = recording_transport((), None)
    monitor = ExecutionMonitor(transport, MonitorConfig(slack=0.1, poll_period=0.005))
    handle = _Slow(after=60.0)
    t0 = time.monotonic()
    result = monitor.follow(handle, planned_duration=0.2)
    waited = time.monotonic() - t0
    assert result.outcome == Outcome.TIMED_OUT and handle.cancelled == 1
    assert 1.1 * 0.2 + 0.1 <= waited < 1.0
    assert transport.stops == 1
    assert "cancelled" in result.error_string


def test_monitor_lets_an_on_time_goal_finish(recording_transport):
    monitor = ExecutionMonitor(recording_transport((), None), MonitorConfig(poll_period=0.005))
    handle = _Slow(after=0.1)
    assert monitor.follow(handle, planned_duration=0.1).success
    assert handle.cancelled == 0


class _OnClock(GoalHandle):
    """Finishes when ``clock`` (the robot's) reaches ``until``."""

    def __init__(self, clock, until: float):
        self.clock, self.until, self.cancelled = clock, until, 0

    def done(self):
        return self.cancelled > 0 or self.clock() >= self.until

    def result(self):
        return ControllerResult(Outcome.CANCELLED if self.cancelled else Outcome.SUCCEEDED)

    def cancel(self):
        self.cancelled += 1


def test_a_slow_robot_clock_is_followed_to_the_end(recording_transport):
    """A simulator at 1/50 of real time (a busy machine) is not a late controller: the
    goal, on time on the robot's clock, runs 50 times longer on the wall clock."""
    t0 = time.monotonic()
    clock = lambda: (time.monotonic() - t0) / 50.0  # noqa: E731
    monitor = ExecutionMonitor(recording_transport((), None),
                               MonitorConfig(slack=0.0, poll_period=0.002, stall_time=0.5),
                               clock=clock)
    result = monitor.follow(_OnClock(clock, 0.02), planned_duration=0.02)
    assert result.success, result.error_string
    assert time.monotonic() - t0 >= 0.02 * 50


def test_a_stopped_robot_clock_cancels_the_goal(recording_transport):
    """A simulator that hangs: its clock stands still; the goal is cancelled after
    ``stall_time`` of wall clock, however long the planned motion."""
    transport = recording_transport((), None)
    monitor = ExecutionMonitor(transport, MonitorConfig(poll_period=0.005, stall_time=0.3),
                               clock=lambda: 7.0)
    handle = _OnClock(lambda: 7.0, 100.0)
    t0 = time.monotonic()
    result = monitor.follow(handle, planned_duration=60.0)
    assert result.outcome == Outcome.TIMED_OUT and handle.cancelled == 1
    assert 0.3 <= time.monotonic() - t0 < 2.0
    assert "stood still" in result.error_string and transport.stops == 1


def test_stop_from_another_thread(recording_transport):
    transport = recording_transport((), None)
    monitor = ExecutionMonitor(transport, MonitorConfig(poll_period=0.005))
    handle = _Slow(after=60.0)
    threading.Timer(0.1, monitor.stop).start()
    result = monitor.follow(handle, planned_duration=30.0)
    assert result.outcome == Outcome.CANCELLED and handle.cancelled >= 1
    assert transport.stops >= 1


def _state(robot):
    return JointStateSample(robot.arm_joints, robot.home.copy(), time.monotonic())


def _steps(robot):
    t = np.linspace(0, 4, 21)
    q = robot.home + np.outer(0.5 - 0.5 * np.cos(np.pi * t / 4), [0.2, 0, 0, 0, 0, 0, 0])
    back = q[::-1]
    return [Step(0, "out", "move", ArmTrajectory.from_samples(robot.arm_joints, t, q)),
            Step(1, "close", "gripper", width=0.0),
            Step(2, "back", "move", ArmTrajectory.from_samples(robot.arm_joints, t, back))]


def test_dry_run_checks_everything_and_sends_nothing(robot, kinematics, recording_transport):
    transport = recording_transport(robot.arm_joints, _state(robot))
    lines = []
    deployer = Deployer(transport, robot, DeployConfig(), log=lines.append,
                        checker=SafetyChecker(robot, kinematics=kinematics))
    report = deployer.run(_steps(robot))
    assert report.success and not report.executed and transport.sent == []
    assert lines[0].startswith("[check] controller joints: panda_joint1")
    assert len(lines) == 4 and "safety OK" in lines[1] and "skipped" in lines[2]


def test_execute_sends_each_move_once(robot, kinematics, recording_transport):
    transport = recording_transport(robot.arm_joints, _state(robot), moves=True)
    lines = []
    deployer = Deployer(transport, robot, DeployConfig(execute=True), log=lines.append,
                        checker=SafetyChecker(robot, kinematics=kinematics))
    report = deployer.run(_steps(robot))
    assert report.success and report.executed, report.reason
    assert len(transport.sent) == 2
    assert [r.sent for r in report.steps] == [True, False, True]
    assert sum(line.startswith("[run]") for line in lines) == 3


def test_one_refused_move_refuses_the_whole_plan(robot, kinematics, recording_transport):
    transport = recording_transport(robot.arm_joints, _state(robot))
    steps = _steps(robot)
    bad = steps[2].trajectory
    q = bad.positions.copy()
    q[5, 3] = robot.upper[3] + 0.1  # a position past the limit in the last move
    steps[2] = Step(2, "back", "move", ArmTrajectory(bad.joint_names, bad.times, q))
    deployer = Deployer(transport, robot, DeployConfig(execute=True),
                        checker=SafetyChecker(robot, kinematics=kinematics))
    report = deployer.run(steps)
    assert not report.success and not report.executed and transport.sent == []
    assert "1 of 2 moves refused" in report.reason


def test_plan_steps_keep_order_and_labels(env, robot):
    from tamp.planner import Planner, PlannerConfig

    env.reset(seed=1)
    plan = Planner(robot, PlannerConfig(seed=1)).plan(env.oracle_world(), env.instance.goal,
                                                     env.sim.arm_positions())
    steps = plan_steps(plan, robot.arm_joints)
    segments = [s for a in plan.actions for s in a.segments]
    assert len(steps) == len(segments)
    assert [s.kind for s in steps] == [g.kind for g in segments]
    # a close the arm follows (the pads' sweep) carries the arm's trajectory with it
    closes = [s for s in steps if s.label.endswith(": close")]
    assert closes and all(s.trajectory is not None and s.grip_width > 0 for s in closes)
    assert all(s.index == i for i, s in enumerate(steps))
