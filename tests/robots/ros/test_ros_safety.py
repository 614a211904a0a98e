"""The safety checks one by one, re-timing, and a planned episode passing them."""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import pytest

from robots.ros.safety import (ArmTrajectory, Check, JointStateSample, SafetyChecker,
                               SafetyConfig, WorkspaceBox, finite_differences, finite_jerks)


@pytest.fixture(scope="module")
def checker(robot, kinematics):
    return SafetyChecker(robot, SafetyConfig(), kinematics)


def _move(robot, delta, duration, n=41, start=None):
    """A rest-to-rest cosine move from ``start`` (default home) by ``delta`` rad."""
    q0 = robot.home if start is None else np.asarray(start, float)
    t = np.linspace(0.0, duration, n)
    s = 0.5 - 0.5 * np.cos(np.pi * t / duration)
    return ArmTrajectory.from_samples(robot.arm_joints, t, q0 + np.outer(s, delta))


def _state(robot, q=None, age=0.0):
    q = robot.home if q is None else q
    return JointStateSample(robot.arm_joints, np.asarray(q, float), time.monotonic() - age)


def _check(checker, robot, traj, state=None, joints=None):
    state = _state(robot) if state is None else state
    return checker.check(traj, joints or robot.arm_joints, state, time.monotonic())


def test_a_slow_move_passes(checker, robot):
    report = _check(checker, robot, _move(robot, [0.3, 0, 0, 0, 0, 0, 0], 3.0))
    assert report.ok, report.summary()


def test_each_violation_is_reported_with_its_joint(checker, robot):
    # joint 2 past its upper limit, far too fast, and the start 0.05 rad off
    delta = np.zeros(7)
    delta[1] = robot.upper[1] - robot.home[1] + 0.01
    traj = _move(robot, delta, 0.3)
    state = _state(robot, robot.home + np.array([0, 0, 0, 0, 0.05, 0, 0]))
    report = _check(checker, robot, traj, state)
    kinds = {(v.check, v.joint) for v in report.violations}
    assert (Check.POSITION, "panda_joint2") in kinds
    assert (Check.VELOCITY, "panda_joint2") in kinds
    assert (Check.ACCELERATION, "panda_joint2") in kinds
    assert (Check.START_STATE, "panda_joint5") in kinds
    pos = report.of(Check.POSITION)[0]
    assert pos.count >= 1 and pos.worst > pos.limit
    assert pos.limit == pytest.approx(robot.upper[1] - SafetyConfig().position_margin)
    assert "REFUSED" in report.summary()


def test_position_margin_is_enforced(checker, robot):
    q = robot.home.copy()
    q[6] = robot.upper[6] - 0.5 * SafetyConfig().position_margin  # inside URDF, inside margin
    traj = _move(robot, q - robot.home, 10.0)
    assert [v.joint for v in _check(checker, robot, traj).of(Check.POSITION)] == ["panda_joint7"]


def test_joint_names_must_match_robot_and_controller(checker, robot):
    traj = _move(robot, np.zeros(7), 1.0)
    renamed = dataclasses.replace(traj, joint_names=robot.arm_joints[:6] + ("fr3_joint7",))
    report = _check(checker, robot, renamed)
    assert report.of(Check.JOINT_NAMES) and not report.ok
    controller = robot.arm_joints[:6] + ("other_joint",)
    report = _check(checker, robot, traj, joints=controller)
    assert len(report.of(Check.JOINT_NAMES)) == 1
    assert "other_joint" in report.of(Check.JOINT_NAMES)[0].message
    dup = dataclasses.replace(traj, joint_names=(robot.arm_joints[0],) + robot.arm_joints[:6])
    assert "duplicate" in _check(checker, robot, dup).of(Check.JOINT_NAMES)[0].message


def test_a_consistent_permutation_of_joints_is_fine(checker, robot):
    traj = _move(robot, [0.2, -0.1, 0.1, 0.1, 0, 0.1, 0.2], 4.0)
    order = [6, 0, 5, 1, 4, 2, 3]
    perm = ArmTrajectory(tuple(robot.arm_joints[i] for i in order), traj.times,
                         traj.positions[:, order])
    assert _check(checker, robot, perm).ok


def test_workspace_box_via_fk(robot, kinematics):
    traj = _move(robot, [0.3, 0, 0, 0, 0, 0, 0], 3.0)
    tcp_x = kinematics.tcp_pose(robot.home)[0, 3]
    box = WorkspaceBox(lower=(tcp_x + 0.01, -0.5, 0.0), upper=(0.9, 0.5, 0.9))
    tight = SafetyChecker(robot, SafetyConfig(workspace=box), kinematics)
    report = _check(tight, robot, traj)
    [v] = report.violations
    assert v.check == Check.WORKSPACE and v.first_index == 0 and v.count > 0


@pytest.mark.parametrize("lower, upper", [
    ((0.15, -0.55, 0.025), (math.nan, 0.55, 0.85)),
    ((math.nan,) * 3, (math.nan,) * 3),
    ((0.15, -math.inf, 0.025), (0.85, 0.55, 0.85)),
])
def test_a_non_finite_workspace_box_is_refused(lower, upper):
    with pytest.raises(ValueError, match="finite"):
        WorkspaceBox(lower=lower, upper=upper)


def test_a_nan_box_that_slipped_past_validation_passes_nothing(robot, kinematics):
    # defence in depth: were a NaN bound ever to reach the checker (a config built around
    # __post_init__), every sample counts as outside instead of inside
    box = WorkspaceBox()
    object.__setattr__(box, "upper", (math.nan, math.nan, math.nan))
    checker = SafetyChecker(robot, SafetyConfig(workspace=box), kinematics)
    report = _check(checker, robot, _move(robot, [0.1, 0, 0, 0, 0, 0, 0], 3.0))
    [v] = report.violations
    assert v.check == Check.WORKSPACE and v.first_index == 0 and v.count == 41


def test_start_state_must_be_fresh_and_complete(checker, robot):
    traj = _move(robot, np.zeros(7), 1.0)
    stale = _check(checker, robot, traj, _state(robot, age=5.0))
    assert "old" in stale.of(Check.START_STATE)[0].message
    partial = JointStateSample(robot.arm_joints[:6], robot.home[:6], time.monotonic())
    assert "lacks" in _check(checker, robot, traj, partial).of(Check.START_STATE)[0].message
    none = checker.check(traj, robot.arm_joints, None, time.monotonic())
    assert "no joint state" in none.of(Check.START_STATE)[0].message
    within = _check(checker, robot, traj, _state(robot, robot.home + 0.009))
    assert within.ok


@pytest.mark.parametrize("mutate, check", [
    (lambda t, q: (t + 0.1, q), Check.TIMING),  # does not start at 0
    (lambda t, q: (np.r_[t[:3], t[2], t[4:]], q), Check.TIMING),  # repeated time
    (lambda t, q: (t, np.where(np.arange(q.size).reshape(q.shape) == 9, np.nan, q)),
     Check.FINITE),
    (lambda t, q: (t[:1], q[:1]), Check.TIMING),  # a single sample
    (lambda t, q: (t, q[:, :6]), Check.SHAPE),
])
def test_malformed_trajectories_are_refused(checker, robot, mutate, check):
    traj = _move(robot, np.zeros(7), 1.0, n=11)
    t, q = mutate(traj.times.copy(), traj.positions.copy())
    report = _check(checker, robot, ArmTrajectory(traj.joint_names, t, q))
    assert report.of(check), report.summary()


def test_retime_slows_down_uniformly_to_the_speed_scale(checker, robot):
    fast = _move(robot, [0.5, 0.4, 0, -0.3, 0, 0.2, 0.6], 0.5, n=51)
    assert not _check(checker, robot, fast).ok
    r = checker.retime(fast)
    assert r.factor > 1
    assert np.array_equal(r.trajectory.positions, fast.positions)  # same path
    np.testing.assert_allclose(r.trajectory.times, fast.times * r.factor, atol=1e-9)
    assert np.all(np.round(r.trajectory.times * 1e9) / 1e9 == r.trajectory.times)  # on wire
    assert _check(checker, robot, r.trajectory).ok
    vel, acc = finite_differences(r.trajectory.times, r.trajectory.positions)
    jerk = finite_jerks(r.trajectory.times, acc)
    s = SafetyConfig().speed_scale
    ratio = max(np.max(np.abs(vel) / (s * robot.max_velocity)),
                np.max(np.abs(acc) / (s * robot.max_acceleration)),
                np.max(np.abs(jerk) / (s * robot.max_jerk)))
    assert 0.99 < ratio <= 1.0  # as fast as allowed, and no faster
    assert checker.retime(r.trajectory).factor == pytest.approx(1 + checker.RETIME_SLACK)


def test_retime_never_speeds_up_and_drops_only_duplicates(checker, robot):
    slow = _move(robot, [0.1, 0, 0, 0, 0, 0, 0], 20.0, n=21)
    t = np.append(slow.times, slow.times[-1] + 1e-9)  # the planner's last-sample twin
    q = np.vstack([slow.positions, slow.positions[-1]])
    r = checker.retime(ArmTrajectory(slow.joint_names, t, q))
    assert r.factor == pytest.approx(1.0, abs=1e-3)
    assert r.trajectory.n_points == slow.n_points
    assert np.array_equal(r.trajectory.positions[-1], slow.positions[-1])
    # velocities sent with the samples: zero at both ends, within the bound
    assert np.all(r.trajectory.velocities[[0, -1]] == 0)


def test_speed_scale_is_bounded():
    with pytest.raises(ValueError):
        SafetyConfig(speed_scale=0.95)
    with pytest.raises(ValueError):
        SafetyConfig(speed_scale=0.0)
    assert SafetyConfig().speed_scale <= 0.25
    with pytest.raises(ValueError):
        WorkspaceBox(lower=(0.5, 0, 0), upper=(0.4, 1, 1))


def test_finite_differences_bound_a_constant_acceleration():
    # q = a t^2 / 2 from rest: every estimate equals a, including at the first sample
    a = 2.0
    t = np.linspace(0, 1, 11)
    q = (0.5 * a * t ** 2)[:, None]
    vel, acc = finite_differences(t, q)
    np.testing.assert_allclose(acc[:-1, 0], a)
    assert math.isclose(vel[0, 0], a * t[1] / 2)


def test_finite_jerks_are_exact_for_a_cubic():
    # q = j t^3 / 6 from rest: every estimate between samples equals j, except the last,
    # where the arm is taken to stop
    j = 5.0
    t = np.linspace(0, 1, 11)
    _, acc = finite_differences(t, (j * t ** 3 / 6)[:, None])
    np.testing.assert_allclose(finite_jerks(t, acc)[:-1, 0], j)


def test_jerk_estimates_bound_a_smooth_motion_however_it_is_sampled():
    """Rest to rest along half a cosine, whose jerk peaks at amp * w^3: at any sample
    times (at least 0.1 ms apart, as the timing check demands) no estimate exceeds it."""
    amp, w = 0.7, 3.0
    duration, true_max = math.pi / w, amp * w ** 3
    rng = np.random.default_rng(5)
    worst, tried = 0.0, 0
    while tried < 2000:
        n = int(rng.integers(2, 60))
        inner = rng.uniform(0, 1, n - 2) if tried % 2 else rng.beta(0.3, 0.3, n - 2)
        t = np.concatenate([[0.0], np.sort(inner) * duration, [duration]])
        if np.any(np.diff(t) < SafetyConfig().min_dt):
            continue
        tried += 1
        _, acc = finite_differences(t, (amp * (1 - np.cos(w * t)))[:, None])
        worst = max(worst, float(np.max(np.abs(finite_jerks(t, acc)))))
    assert worst <= true_max * (1 + 1e-6)
    assert worst > 0.99 * true_max  # and the bound is tight


def _trapezoid(robot, joint, accel, speed, distance, dt):
    """Joint ``joint`` moves ``distance`` rad from home at a trapezoidal speed profile
    (``accel`` rad/s^2, ``speed`` rad/s), sampled every ``dt`` s and at the end; its
    acceleration steps at the start and end of the cruise. Returns the trajectory and the
    time at which the cruise begins."""
    t_acc = speed / accel
    duration = 2 * t_acc + (distance - speed * t_acc) / speed
    t = np.append(np.arange(0.0, duration - 1e-9, dt), duration)
    s = np.where(t < t_acc, 0.5 * accel * t ** 2,
                 np.where(t < duration - t_acc, speed * (t - t_acc / 2),
                          distance - 0.5 * accel * (duration - t) ** 2))
    return ArmTrajectory.from_samples(robot.arm_joints, t,
                                      robot.home + np.outer(s, np.eye(robot.dof)[joint])), t_acc


def test_an_acceleration_step_breaks_the_jerk_limit_and_retime_repairs_it(robot, kinematics):
    # jerk limits that reach the acceleration limit in 100 ms; the trapezoid's steps to
    # and from 3 rad/s^2 (within 0.25 x 15), sampled at 1 ms, estimate to ~3000 rad/s^3
    soft = dataclasses.replace(robot, max_jerk=10.0 * robot.max_acceleration)
    checker = SafetyChecker(soft, SafetyConfig(), kinematics)
    traj, t_acc = _trapezoid(robot, 0, 3.0, 0.4, 0.3, 1e-3)
    report = _check(checker, robot, traj)
    assert not report.of(Check.VELOCITY) and not report.of(Check.ACCELERATION)
    [v] = report.violations
    assert v.check == Check.JERK and v.joint == "panda_joint1"
    assert abs(v.worst) > 10 * v.limit
    assert v.limit == pytest.approx(SafetyConfig().speed_scale * soft.max_jerk[0])
    assert abs(traj.times[v.first_index] - t_acc) <= 2e-3  # where the cruise begins
    assert "jerk_limit" in report.summary()
    r = checker.retime(traj)
    assert r.factor == pytest.approx((abs(v.worst) / v.limit) ** (1 / 3), rel=2e-4)
    assert _check(checker, robot, r.trajectory).ok
    _, acc = finite_differences(r.trajectory.times, r.trajectory.positions)
    ratio = np.max(np.abs(finite_jerks(r.trajectory.times, acc)) / (0.25 * soft.max_jerk))
    assert 0.99 < ratio <= 1.0


def test_retimed_fine_samples_keep_the_jerk_limit_on_the_wire(checker, robot):
    # samples 0.5 ms apart: rounding the re-timed times to whole nanoseconds moves the
    # jerk estimates by parts in a thousand, more than RETIME_SLACK leaves
    for joint in range(robot.dof):
        for fraction in (0.5, 0.65, 0.8, 0.95):
            accel = fraction * SafetyConfig().speed_scale * robot.max_acceleration[joint]
            traj, _ = _trapezoid(robot, joint, accel, 0.3, 0.1, 5e-4)
            r = checker.retime(traj)
            assert r.factor > 1
            report = _check(checker, robot, r.trajectory)
            assert report.ok, (joint, fraction, report.summary())


def test_a_smooth_finely_sampled_move_within_the_limits_passes(checker, robot):
    traj = _move(robot, [0.3, -0.2, 0.1, 0.2, 0, 0.3, 0.4], 2.0, n=2001)  # 1 ms apart
    assert _check(checker, robot, traj).ok
    assert checker.retime(traj).factor == pytest.approx(1 + checker.RETIME_SLACK)


@pytest.mark.slow
def test_a_planned_episode_passes_after_retiming(env, robot, kinematics):
    from robots.ros.deploy import plan_steps
    from tamp.planner import Planner, PlannerConfig

    env.reset(seed=0)
    margin = SafetyConfig().position_margin + 1e-3
    planning_robot = dataclasses.replace(robot, lower=robot.lower + margin,
                                         upper=robot.upper - margin)
    q = env.sim.arm_positions()
    plan = Planner(planning_robot, PlannerConfig(seed=0)).plan(env.oracle_world(),
                                                               env.instance.goal, q)
    assert plan.success, plan.reason
    checker = SafetyChecker(robot, SafetyConfig(), kinematics)
    for step in plan_steps(plan, robot.arm_joints):
        if step.trajectory is None:  # a gripper command the arm does not follow
            continue
        p = checker.prepare(step.trajectory, robot.arm_joints, _state(robot, q), time.monotonic())
        assert p.report.ok, (step.label, p.report.summary())
        assert p.retime_factor >= 1.0
        q = step.trajectory.positions[-1]
