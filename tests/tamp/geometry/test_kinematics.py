"""Inverse kinematics with pinocchio."""

from __future__ import annotations

import numpy as np

from tamp.geometry.transforms import pose_error


def test_ik_reaches_poses_of_random_configurations(robot, kinematics):
    rng = np.random.default_rng(0)
    solved = 0
    for _ in range(30):
        q_true = rng.uniform(robot.lower, robot.upper)
        target = kinematics.tcp_pose(q_true)
        res = kinematics.ik(target, [robot.home], rng)
        if res.success:
            solved += 1
            assert np.all(res.q >= robot.lower - 1e-12) and np.all(res.q <= robot.upper + 1e-12)
            dp, dr = pose_error(kinematics.tcp_pose(res.q), target)
            assert dp <= 1e-4 and dr <= 1e-3
    assert solved >= 29


def test_ik_reports_failure_for_an_unreachable_pose(robot, kinematics):
    target = np.eye(4)
    target[:3, 3] = (2.0, 0.0, 0.5)  # 2 m away: the Panda reaches about 0.85 m
    res = kinematics.ik(target, [robot.home], np.random.default_rng(0))
    assert not res.success
    assert res.reason
    assert res.position_error > 0.5


def test_ik_returns_only_solutions_the_filter_accepts(robot, kinematics):
    """``accept`` (e.g. a collision check) rejects a solution: IK goes on to another
    seed; rejecting everything ends in a failure that says so."""
    rng = np.random.default_rng(3)
    q_true = (robot.lower + robot.upper) / 2 + 0.3
    target = kinematics.tcp_pose(q_true)
    first = kinematics.ik(target, [q_true], rng)
    assert first.success
    seen = []

    def not_the_first(q):
        seen.append(q.copy())
        return len(seen) > 1 and np.abs(q - first.q).max() > 1e-3

    other = kinematics.ik(target, [q_true], np.random.default_rng(4), accept=not_the_first)
    assert other.success and len(seen) >= 2
    assert np.abs(other.q - first.q).max() > 1e-3
    assert pose_error(kinematics.tcp_pose(other.q), target)[0] < 1e-4
    none = kinematics.ik(target, [q_true], np.random.default_rng(5), accept=lambda q: False)
    assert not none.success and "none accepted" in none.reason
