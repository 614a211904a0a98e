"""Pieces of ``tamp bench geometry``: the straight moves it times, its grasp trials and
its report."""

from __future__ import annotations

import numpy as np
import pytest

from experiments import bench_geometry as bg


def test_straight_path_moves_the_tcp_down_in_centimetre_steps(robot, kinematics):
    path = bg.straight_path(kinematics, robot.home, -0.10)
    assert len(path) == 11
    poses = [kinematics.tcp_pose(q) for q in path]
    z = np.array([p[2, 3] for p in poses])
    np.testing.assert_allclose(np.diff(z), -0.01, atol=2e-4)
    for p in poses:  # same orientation and x, y all along
        np.testing.assert_allclose(p[:3, :3], poses[0][:3, :3], atol=2e-3)
        np.testing.assert_allclose(p[:2, 3], poses[0][:2, 3], atol=2e-4)


def test_timings_compare_toppra_with_the_trapezoid(robot, kinematics):
    row = bg._timings(robot, bg.straight_path(kinematics, robot.home, -0.10))
    assert row["method"] == "toppra" and row["waypoints"] == 11
    assert row["toppra_s"] < 0.5 * row["trapezoid_s"]
    summary = bg._timing_summary([row, row])
    assert summary["n"] == 2 and summary["toppra_used"] == 2
    assert summary["ratio_median"] == pytest.approx(row["toppra_s"] / row["trapezoid_s"])


def test_report_lists_timing_and_grasp_rows():
    motion = {"n": 1, "speedup_median": 2.0,
              "kernel": {"success_rate": 1.0, "median_s": 0.01, "p95_s": 0.02},
              "pybullet": {"success_rate": 1.0, "median_s": 0.02, "p95_s": 0.04},
              "timing": {"straight": {"n": 3, "median_waypoints": 11.0,
                                      "trapezoid_median_s": 1.3, "toppra_median_s": 0.4,
                                      "ratio_median": 0.31, "ratio_max": 0.33,
                                      "toppra_used": 3, "compute_median_s": 0.01}}}
    results = {"collision": {"n_configs": 1, "in_collision": 0, "false_free": 0,
                             "false_alarm_rate": 0.0, "rows": []},
               "ik": {"n": 1, "success_rate": 1.0, "solves_per_s": 1.0,
                      "max_position_error": 0.0, "max_orientation_error": 0.0},
               "motion": motion,
               "grasps": {"bowl (sort-by-colour)": {"trials": 20, "lifted": 19, "rate": 0.95}}}
    text = bg.report(results, "tamp bench geometry")
    assert "| 10 cm straight TCP moves, 1 cm waypoints | 3 | 11 | 1.30 | 0.40 | 0.31 (0.33) " \
           "| 3/3 |" in text
    assert "| bowl (sort-by-colour) | 19 | 20 | 95 % |" in text
    assert "| torch CPU, torch.compile (cfg/s) |" in text
    assert "The torch checker as timed (self collision included): **– false" in text
    results["collision"].update(device="cuda:0", torch_false_free=0)
    text = bg.report(results, "tamp bench geometry")
    assert "| torch cuda:0, torch.compile (cfg/s) |" in text
    assert "The torch checker as timed (self collision included): **0 false" in text


@pytest.mark.slow
def test_a_bowl_is_lifted_by_its_rim(robot):
    """One physics trial of the grasp benchmark: the sort-by-colour bowl, pinched across
    its wall and lifted."""
    cfg = bg.GeometryBenchConfig(n_grasp_trials=1, grasp_kinds=("bowl (sort-by-colour)",))
    out = bg.bench_grasps(robot, cfg, lambda msg: None)
    assert out["bowl (sort-by-colour)"]["lifted"] == 1, out
