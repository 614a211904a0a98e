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


def test_whole_turns_come_back_nearest_the_seed():
    from tamp.geometry.kinematics import nearest_turns

    two_pi = 2 * np.pi
    lower, upper = np.array([-two_pi, -np.pi]), np.array([two_pi, np.pi])
    q = np.array([4.66, 0.5])
    np.testing.assert_allclose(nearest_turns(q, np.zeros(2), lower, upper),
                               [4.66 - two_pi, 0.5])
    # not past a limit: 4.66 + 2π is beyond 2π
    np.testing.assert_allclose(nearest_turns(q, np.array([6.0, 0.0]), lower, upper), q)
    # a joint of less than a turn's range never changes
    np.testing.assert_allclose(nearest_turns(np.array([0.0, 3.0]), np.array([0.0, -3.0]),
                                             lower, upper), [0.0, 3.0])


def test_a_ur_arm_keeps_its_posture_rather_than_spinning_or_flipping_its_wrist():
    """The UR5e's joints turn ±2π: many postures reach one pose. When the solution from
    where the arm is is not accepted (say, in collision), the random starts' solutions
    are offered nearest it first, each joint the whole turns nearest it: the posture the
    arm is in where that is allowed, not a wrist spun round or flipped over."""
    import robots
    from tamp.geometry.kinematics import Kinematics

    robot = robots.load("ur5e_2f85")
    kin = Kinematics(robot)
    q = robot.home + np.array([0.3, -0.2, 0.3, -0.1, 0.2, 0.4])
    target = kin.tcp_pose(q)
    offered = []

    def refuse_the_first(sol):
        offered.append(sol.copy())
        return False

    res = kin.ik(target, [q], np.random.default_rng(0), accept=refuse_the_first)
    assert not res.success and len(offered) > 3
    np.testing.assert_allclose(offered[0], q, atol=1e-3)  # from the seed itself
    distances = [float(np.abs(o - q).max()) for o in offered[1:]]
    assert distances == sorted(distances)
    assert distances[0] < 1e-2  # a random start found the seed's own posture again
    for o in offered[1:]:  # no joint a whole turn from where it could be
        assert np.all((np.abs(o - q) <= np.pi + 1e-9) | (o + 2 * np.pi > robot.upper)
                      | (o - 2 * np.pi < robot.lower))
