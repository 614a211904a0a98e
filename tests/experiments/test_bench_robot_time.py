"""``tamp bench robot-time``'s table: paired medians, and what looking added."""

from __future__ import annotations

from experiments.bench_robot_time import report, rows


def _result(seed, total, look, extra=None, success=True):
    r = {"method": "tamp-learned", "task": "towers-of-hanoi", "seed": seed,
         "success": success,
         "robot_time": {"total_s": total, "move_s": total / 2, "look_s": look,
                        "lower_bound_s": total / 4, "moves_timed": {"toppra": 3}}}
    if extra is not None:
        r["look_extra_s"] = extra
    return r


def test_the_table_pairs_seeds_and_states_the_looks_extra_time():
    results = {"stop": [_result(1, 10.0, 2.0, 3.0), _result(2, 12.0, 2.0, 5.0),
                        _result(3, 99.0, 0.0, success=False)],
               "flow": [_result(1, 6.0, 1.0, 0.5), _result(2, 8.0, 1.0, 1.5),
                        _result(3, 7.0, 1.0, 0.2)]}
    (row,) = rows(results)
    assert (row["ok_stop"], row["ok_flow"], row["paired"]) == (2, 3, 2)
    assert (row["median_stop"], row["median_flow"]) == (11.0, 7.0)
    assert (row["look_extra_stop"], row["look_extra_flow"]) == (4.0, 1.0)
    text = report([row], "tamp bench robot-time ...")
    assert "look extra s stop → flow" in text and "| 4.00 → 1.00 |" in text
    # results from before the look's extra time was recorded: a dash, not a failure
    (old,) = rows({t: [_result(1, 10.0, 2.0)] for t in ("stop", "flow")})
    assert "| – → – |" in report([old], "cmd")
