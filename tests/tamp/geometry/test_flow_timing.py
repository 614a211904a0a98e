"""The "flow" timing's pieces: the jerk window, corners cut by collision-checked curves,
and paths timed as one motion that does not stop where they join."""

from __future__ import annotations

import numpy as np
import pytest

from tamp.geometry.motion import round_corner, round_corners
from tamp.geometry.timing import (SHARP_TURN, jerk_ratio, jerk_window, limit_ratios,
                                  max_turn, time_chain, time_parameterize)
from tests.tamp.geometry.test_timing import _corners, _gentle
from tests.tamp.geometry.test_timing import _straight_move as _straight

DT = 1.0 / 40.0
SCALE = 0.5


def _time(path, robot, jerk):
    return time_parameterize(path, robot.max_velocity, robot.max_acceleration, DT, SCALE,
                             max_jerk=jerk)


def test_the_window_is_twice_the_acceleration_over_the_jerk(robot):
    assert jerk_window(robot.max_acceleration, robot.max_jerk) == pytest.approx(
        np.max(2 * robot.max_acceleration / robot.max_jerk))
    # Franka's published limits: every joint reaches its acceleration in 2 ms
    assert jerk_window(robot.max_acceleration, robot.max_jerk) == pytest.approx(0.004)


@pytest.mark.parametrize("make_path", [_corners, _gentle, _straight])
@pytest.mark.parametrize("factor", [3.0, 10.0, 500.0])
def test_a_jerk_limited_timing_keeps_every_limit(robot, make_path, factor):
    """Jerk limits low enough to matter at the 25 ms samples (3x and 10x the
    acceleration) and the Panda's own order (500x): the samples stay within the jerk
    limit, and within the velocity and acceleration limits as before."""
    jerk = robot.max_acceleration * factor
    path = make_path(robot)
    traj = _time(path, robot, jerk)
    assert jerk_ratio(traj.times, traj.positions, SCALE * jerk) <= 1.0 + 1e-6
    v, a = limit_ratios(traj.times, traj.positions, SCALE * robot.max_velocity,
                        SCALE * robot.max_acceleration)
    assert v <= 1.02 and a <= 1.02
    np.testing.assert_allclose(traj.positions[0], path[0])
    np.testing.assert_allclose(traj.positions[-1], path[-1])
    assert np.all(np.diff(traj.times) > 0)


@pytest.mark.parametrize("make_path", [_corners, _gentle, _straight])
def test_without_the_window_the_low_jerk_limits_are_broken(robot, make_path):
    """The test above can fail: the same paths timed without a jerk limit exceed it."""
    jerk = robot.max_acceleration * 3.0
    traj = _time(make_path(robot), robot, None)
    assert jerk_ratio(traj.times, traj.positions, SCALE * jerk) > 1.5


def test_without_a_jerk_limit_the_timing_is_the_original(robot):
    """No window, no change: the trapezoid and TOPP-RA sample as they always did."""
    for path in (_corners(robot), _gentle(robot)):
        a = _time(path, robot, None)
        b = _time(path, robot, robot.max_jerk)
        assert a.method == b.method
        # the window adds its own length (rounded up to whole samples) and no more
        assert 0.0 < b.duration - a.duration <= jerk_window(robot.max_acceleration,
                                                            robot.max_jerk) + DT


def test_a_corner_is_cut_by_a_free_curve_and_kept_when_none_is_free(robot):
    path = np.array([robot.home, robot.home + [0.5, 0, 0, 0, 0, 0, 0],
                     robot.home + [0.5, 0.5, 0, 0, 0, 0, 0]])
    cut, mid = round_corner(path, 1, 0.2, 0.2, lambda a, b: True)
    assert max_turn(cut) < max_turn(path) / 3
    np.testing.assert_allclose(cut[0], path[0])
    np.testing.assert_allclose(cut[-1], path[-1])
    # the curve's middle is where a path joined at the corner now passes
    np.testing.assert_allclose(cut[mid], path[1] + [-0.05, 0.05, 0, 0, 0, 0, 0], atol=1e-9)
    assert round_corner(path, 1, 0.2, 0.2, lambda a, b: False) is None
    # a curve that is free only when small: the lengths are halved until it is
    small = round_corner(path, 1, 0.2, 0.2,
                         lambda a, b: np.abs(np.vstack([a, b]) - path[1]).max() < 0.06)
    assert small is not None and np.abs(small[0][small[1]] - path[1]).max() < 0.06
    # every corner of a path, each where its curve is free
    blocked = path[1]
    kept = round_corners(path, lambda a, b: min(np.abs(a - blocked).max(),
                                                np.abs(b - blocked).max()) > 0.3)
    np.testing.assert_allclose(kept, path)  # the one corner's curves all pass near it


def test_paths_that_join_smoothly_are_passed_without_stopping(robot):
    gentle = _gentle(robot, n=7)
    first, second = gentle[:4], gentle[3:]
    parts = time_chain([first, second], robot.max_velocity, robot.max_acceleration, DT,
                       SCALE, max_jerk=robot.max_jerk)
    assert len(parts) == 2
    np.testing.assert_allclose(parts[0].positions[-1], parts[1].positions[0])
    np.testing.assert_allclose(parts[0].positions[0], first[0])
    np.testing.assert_allclose(parts[1].positions[-1], second[-1])
    # cut where the join is passed, and moving there
    assert np.abs(parts[0].positions[-1] - gentle[3]).max() < 0.05
    speed = np.abs(parts[0].positions[-1] - parts[0].positions[-2]).max() / DT
    assert speed > 0.2
    # the whole is one motion within every limit, and quicker than stopping at the join
    times = np.concatenate([parts[0].times, parts[0].times[-1] + parts[1].times[1:]])
    positions = np.vstack([parts[0].positions, parts[1].positions[1:]])
    assert jerk_ratio(times, positions, SCALE * robot.max_jerk) <= 1.0 + 1e-6
    alone = [time_parameterize(p, robot.max_velocity, robot.max_acceleration, DT, SCALE,
                               max_jerk=robot.max_jerk) for p in (first, second)]
    assert times[-1] < sum(t.duration for t in alone) - 0.05


def test_paths_joined_at_a_sharp_corner_stop_there(robot):
    a = np.array([robot.home, robot.home + [0.4, 0, 0, 0, 0, 0, 0]])
    b = np.array([a[-1], a[-1] + [0, 0.4, 0, 0, 0, 0, 0]])
    assert max_turn(np.vstack([a, b[1:]])) > SHARP_TURN
    parts = time_chain([a, b], robot.max_velocity, robot.max_acceleration, DT, SCALE,
                       max_jerk=robot.max_jerk)
    np.testing.assert_allclose(parts[0].positions[-1], a[-1], atol=1e-9)
    np.testing.assert_allclose(parts[1].positions[0], a[-1], atol=1e-9)
    assert "sharper" in parts[0].fallback_reason
