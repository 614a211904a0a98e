"""Time parameterisation of joint paths: TOPP-RA along a spline through the waypoints,
the trapezoid per straight segment, and the fallback from one to the other."""

from __future__ import annotations

import numpy as np
import pytest

from tamp.geometry.timing import Trajectory, time_parameterize

DT = 1.0 / 40.0


def _fd(traj: Trajectory):
    """Velocities and accelerations by finite differences, at rest before and after."""
    t, q = traj.times, traj.positions
    h = np.diff(t)
    assert np.all(h > 0)
    q = np.vstack([q[:1], q, q[-1:]])
    h = np.concatenate([h[:1], h, h[-1:]])
    v = np.diff(q, axis=0) / h[:, None]
    a = np.diff(v, axis=0) / ((h[:-1] + h[1:]) / 2)[:, None]
    return v, a


def _distance_to_polyline(q: np.ndarray, path: np.ndarray) -> np.ndarray:
    """Euclidean distance (rad) from each configuration to the nearest segment."""
    a, b = path[:-1], path[1:]
    d = b - a
    s = np.clip(np.einsum("nsj,sj->ns", q[:, None] - a[None], d) / (d * d).sum(1), 0, 1)
    nearest = a[None] + s[..., None] * d[None]
    return np.linalg.norm(q[:, None] - nearest, axis=-1).min(axis=1)


def _straight_move(robot, n=11):
    """A 10 cm-like move sampled densely (as the planner's approach and lift moves)."""
    rng = np.random.default_rng(3)
    return np.linspace(robot.home, robot.home + rng.uniform(-0.3, 0.3, 7), n)


def _corners(robot, seed=5, n=5):
    rng = np.random.default_rng(seed)
    return robot.home + np.cumsum(rng.uniform(-0.4, 0.4, (n, 7)), axis=0)


def _gentle(robot, n=6):
    """Waypoints along a smooth arc: turns of a few degrees each."""
    t = np.linspace(0.0, 1.0, n)[:, None]
    return robot.home + 0.4 * np.hstack([t, t ** 2, -t, 0.5 * t ** 2, t, 0 * t, t ** 3])


def test_sharp_corners_are_timed_with_the_trapezoid_and_gentle_ones_with_toppra(robot):
    from tamp.geometry.timing import SHARP_TURN, max_turn

    sharp, gentle = _corners(robot), _gentle(robot)
    assert max_turn(sharp) > SHARP_TURN > max_turn(gentle)
    traj = time_parameterize(sharp, robot.max_velocity, robot.max_acceleration, DT, 0.5)
    assert traj.method == "trapezoid" and "corner" in traj.fallback_reason
    assert time_parameterize(gentle, robot.max_velocity, robot.max_acceleration, DT,
                             0.5).method == "toppra"


@pytest.mark.parametrize("make_path", [_straight_move, _corners, _gentle])
@pytest.mark.parametrize("scale", [0.5, 1.0])
def test_toppra_stays_within_the_limits_and_on_the_path(robot, make_path, scale):
    path = make_path(robot)
    traj = time_parameterize(path, robot.max_velocity, robot.max_acceleration, DT, scale,
                             method="toppra")
    assert traj.method in ("toppra", "trapezoid")
    if traj.method == "trapezoid":  # only when stopping costs no more, and it says so
        assert "quicker" in traj.fallback_reason or "corner" in traj.fallback_reason
    v, a = _fd(traj)
    assert np.all(np.abs(v) <= scale * robot.max_velocity * 1.03)
    assert np.all(np.abs(a) <= scale * robot.max_acceleration * 1.03)
    # endpoints exact, time from 0 at the sampling period (the last step may be shorter)
    np.testing.assert_array_equal(traj.positions[0], path[0])
    np.testing.assert_array_equal(traj.positions[-1], path[-1])
    assert traj.times[0] == 0.0
    assert np.all(np.diff(traj.times) <= DT + 1e-12)
    # on the planned polyline within the deviation allowed (5 mm rad per joint)
    assert _distance_to_polyline(traj.positions, path).max() <= 0.005 * np.sqrt(7) + 1e-9
    # through every waypoint, in order: some sample within one step's travel of each
    step = scale * robot.max_velocity.max() * DT
    closest = [int(np.argmin(np.linalg.norm(traj.positions - w, axis=1))) for w in path]
    assert closest == sorted(closest)
    for w, k in zip(path, closest):
        assert np.linalg.norm(traj.positions[k] - w) <= step


def test_toppra_does_not_stop_at_every_waypoint(robot):
    path = _straight_move(robot)
    timed = time_parameterize(path, robot.max_velocity, robot.max_acceleration, DT, 0.5)
    stop = time_parameterize(path, robot.max_velocity, robot.max_acceleration, DT, 0.5,
                             method="trapezoid")
    assert timed.method == "toppra" and timed.fallback_reason == ""
    assert stop.method == "trapezoid"
    # the same straight line without stops takes about as long as its one segment
    one = time_parameterize(path[[0, -1]], robot.max_velocity, robot.max_acceleration, DT,
                            0.5, method="trapezoid")
    assert timed.duration < 0.5 * stop.duration
    assert timed.duration == pytest.approx(one.duration, rel=0.05)


def test_a_failing_toppra_falls_back_to_the_trapezoid_and_says_why(robot, monkeypatch):
    import toppra.algorithm

    class Broken:
        def __init__(self, *args, **kwargs):
            raise RuntimeError("solver exploded")

    monkeypatch.setattr(toppra.algorithm, "TOPPRA", Broken)
    path = _gentle(robot)
    traj = time_parameterize(path, robot.max_velocity, robot.max_acceleration, DT, 0.5)
    assert traj.method == "trapezoid"
    assert "toppra failed" in traj.fallback_reason and "solver exploded" in traj.fallback_reason
    v, a = _fd(traj)
    assert np.all(np.abs(v) <= 0.5 * robot.max_velocity * 1.03)
    assert np.all(np.abs(a) <= 0.5 * robot.max_acceleration * 1.03)


def test_trapezoid_stops_at_each_waypoint(robot):
    path = _corners(robot, n=3)
    traj = time_parameterize(path, robot.max_velocity, robot.max_acceleration, DT, 0.5,
                             method="trapezoid")
    for w in path:
        k = np.where(np.all(np.isclose(traj.positions, w, atol=1e-12), axis=1))[0]
        assert len(k) >= 1  # sampled exactly there: the segment ends on a sample
    v, _ = _fd(traj)
    assert np.all(np.abs(v) <= 0.5 * robot.max_velocity * 1.03)


def test_single_configuration_and_unknown_method(robot):
    one = time_parameterize(robot.home[None], robot.max_velocity, robot.max_acceleration,
                            DT)
    assert one.duration == 0.0 and len(one.positions) == 1
    twice = time_parameterize(np.stack([robot.home, robot.home]), robot.max_velocity,
                              robot.max_acceleration, DT)
    assert twice.duration == 0.0
    np.testing.assert_array_equal(twice.positions[-1], robot.home)
    with pytest.raises(ValueError, match="unknown timing method"):
        time_parameterize(robot.home[None], robot.max_velocity, robot.max_acceleration, DT,
                          method="bang-bang")
