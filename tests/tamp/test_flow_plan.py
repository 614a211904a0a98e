"""Plans timed to flow: the moves between two gripper actions are one motion that passes
its joins, within the velocity, acceleration and jerk limits; the original "stop"
timing is kept as it was."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from tamp.geometry.timing import jerk_ratio, limit_ratios
from tamp.planner import Planner, PlannerConfig

from tests.tamp.test_planner import GOAL, _world


def _motions(plan):
    """The arm's motions from rest to rest: runs of move segments that flow into one
    another, each as (times, positions)."""
    out, run = [], []
    for seg in (s for a in plan.actions for s in a.segments):
        if seg.kind != "move":
            continue
        run.append(seg.trajectory)
        if seg.end != "flow":
            times, positions = [run[0].times], [run[0].positions]
            for t in run[1:]:
                np.testing.assert_allclose(t.positions[0], positions[-1][-1], atol=1e-12)
                times.append(times[-1][-1] + t.times[1:])
                positions.append(t.positions[1:])
            out.append((np.concatenate(times), np.vstack(positions)))
            run = []
    assert not run, "a plan ends at rest"
    return out


def _plan(robot, timing, seed=0):
    plan = Planner(robot, PlannerConfig(seed=seed, timing=timing)).plan(_world(), GOAL,
                                                                         robot.home)
    assert plan.success, plan.reason
    return plan


def test_a_flowing_plan_stops_only_for_the_gripper(robot):
    plan = _plan(robot, "flow")
    moves = [(s.label, s.end) for a in plan.actions for s in a.segments if s.kind == "move"]
    assert moves == [("transit", "flow"), ("approach", "reach"), ("lift", "flow"),
                     ("transfer", "flow"), ("lower", "reach"), ("retreat", "reach")]
    # where one move flows into the next, the arm is still moving
    segs = [s for a in plan.actions for s in a.segments]
    for seg, nxt in zip(segs, segs[1:]):
        if seg.kind == "move" and seg.end == "flow":
            q = seg.trajectory.positions
            assert np.abs(q[-1] - q[-2]).max() / 0.025 > 0.05, seg.label
    assert len(_motions(plan)) == 3


@pytest.mark.parametrize("jerk_factor", [None, 3.0])
def test_every_motion_of_a_flowing_plan_keeps_the_limits(robot, jerk_factor):
    """The robot's own jerk limits, and limits low enough to bind at the 25 ms samples."""
    if jerk_factor is not None:
        robot = replace(robot, max_jerk=robot.max_acceleration * jerk_factor)
    s = PlannerConfig().speed_scale
    for times, q in _motions(_plan(robot, "flow")):
        v, a = limit_ratios(times, q, s * robot.max_velocity, s * robot.max_acceleration)
        assert v <= 1.03 and a <= 1.03
        assert jerk_ratio(times, q, s * robot.max_jerk) <= 1.0 + 1e-6


def test_the_stop_timing_ignores_jerk_and_holds_after_every_move(robot):
    """The original timing, kept for comparison: every move ends at rest and is held;
    with low jerk limits it breaks them (what the flow timing's window is for)."""
    low = replace(robot, max_jerk=robot.max_acceleration * 3.0)
    plan = _plan(low, "stop")
    assert {s.end for a in plan.actions for s in a.segments if s.kind == "move"} == {"hold"}
    motions = _motions(plan)
    assert len(motions) == 6
    assert max(jerk_ratio(t, q, 0.5 * low.max_jerk) for t, q in motions) > 1.5


def test_the_flow_timing_takes_less_robot_time(robot):
    stop, flow = _plan(robot, "stop"), _plan(robot, "flow")
    assert flow.duration < 0.9 * stop.duration


def test_an_unknown_timing_is_refused(robot):
    with pytest.raises(ValueError, match="unknown timing 'fast'"):
        PlannerConfig(timing="fast")


def test_an_unknown_timing_in_a_planner_config_file_is_one_line(tmp_path):
    from experiments.options import UsageError, planner_overrides

    path = tmp_path / "planner.yaml"
    path.write_text("timing: fast\n")
    with pytest.raises(UsageError, match="unknown timing 'fast'; known: flow, stop"):
        planner_overrides(str(path))
