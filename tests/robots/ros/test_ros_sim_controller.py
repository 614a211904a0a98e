"""The simulated controller's goal checks and interpolation (no ROS needed here; the
node itself is exercised over ROS 1 in test_ros1_live.py)."""

from __future__ import annotations

import numpy as np

from robots.ros.safety import ArmTrajectory
from robots.ros.sim_controller import (INVALID_GOAL, INVALID_JOINTS, OLD_HEADER_TIMESTAMP,
                                       SUCCESSFUL, interpolate, validate)


def _validate(robot, traj, stamp=0.0, now=1000.0):
    return validate(traj, robot.arm_joints, robot.lower, robot.upper, robot.max_velocity,
                    stamp, now)


def _traj(robot, names=None, dt=0.1):
    t = np.arange(5) * dt
    q = robot.home + np.outer(np.arange(5), np.full(7, 0.01))  # 0.01 rad per sample
    return ArmTrajectory(tuple(names or robot.arm_joints), t, q)


def test_codes(robot):
    assert _validate(robot, _traj(robot)).error_code == SUCCESSFUL
    wrong = _traj(robot, robot.arm_joints[:6] + ("x",))
    assert _validate(robot, wrong).error_code == INVALID_JOINTS
    assert _validate(robot, _traj(robot, dt=1e-4)).error_code == INVALID_GOAL  # too fast
    old = _validate(robot, _traj(robot), stamp=900.0, now=1000.0)
    assert old.error_code == OLD_HEADER_TIMESTAMP and "ago" in old.message
    empty = ArmTrajectory(robot.arm_joints, np.zeros(0), np.zeros((0, 7)))
    assert _validate(robot, empty).error_code == INVALID_GOAL


def test_interpolate_starts_from_the_current_position():
    times = np.array([1.0, 2.0])
    q = np.array([[1.0], [3.0]])
    start = np.array([0.0])
    assert interpolate(times, q, 0.5, start)[0] == 0.5
    assert interpolate(times, q, 1.5, start)[0] == 2.0
    assert interpolate(times, q, 9.0, start)[0] == 3.0
