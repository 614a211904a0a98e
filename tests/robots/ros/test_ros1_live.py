"""Over real ROS 1: a master from Debian's ros-core on a free loopback port, the simulated
controller node, and ``tamp deploy --ros1`` as separate processes (rospy allows one node
per process). Each test uses its own controller namespace and joint state topic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from robots.ros.sim_controller import (GOAL_TOLERANCE_VIOLATED, INVALID_GOAL, INVALID_JOINTS,
                                       OLD_HEADER_TIMESTAMP, PATH_TOLERANCE_VIOLATED)

pytestmark = [pytest.mark.ros, pytest.mark.slow]
PROBE = str(Path(__file__).resolve().parent / "ros1_probe.py")
#: the replay of a simulated scene's plan, sent (the command line only dry-runs it)
REPLAY = str(Path(__file__).resolve().parent / "replay_probe.py")
REJECTED, ABORTED, SUCCEEDED = 5, 4, 3


def _deploy(master, ns: str, *extra: str):
    args = ["--task", "place-in-bowl", "--seed", "0", "--ros1", "--master", master.uri,
            "--controller", ns, "--joint-states", f"{ns}/joint_states"]
    if "--execute" in extra:
        return master.run(REPLAY, *args, *(e for e in extra if e != "--execute"))
    return master.run("-m", "experiments.cli", "deploy", *args, *extra)


def _controller(start, ns: str, *args: str):
    return start("--joint-states", f"{ns}/joint_states", *args, controller=ns)


def test_planned_episode_reaches_the_controller_and_succeeds(ros1_master, sim_controller):
    ns = "/arm_episode"
    _controller(sim_controller, ns, "--time-scale", "20")
    dry = _deploy(ros1_master, ns)
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert "dry run: nothing was sent" in dry.stderr
    assert ros1_master.param(f"{ns}/sim/goals_received") == 0
    moves = dry.stdout.count("safety OK")
    assert moves >= 6 and "REFUSED" not in dry.stdout

    run = _deploy(ros1_master, ns, "--execute")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "all steps succeeded" in run.stderr
    assert run.stdout.count("controller: succeeded") == moves
    sim = ros1_master.param(f"{ns}/sim")
    assert sim["goals_received"] == sim["goals_succeeded"] == moves
    assert sim["goals_rejected"] == sim["goals_aborted"] == 0


def test_a_wrong_joint_name_is_refused_before_sending(ros1_master, sim_controller):
    ns = "/arm_fr3"
    names = ",".join([f"panda_joint{i}" for i in range(1, 7)] + ["fr3_joint7"])
    _controller(sim_controller, ns, "--joint-names", names)
    run = _deploy(ros1_master, ns, "--execute")
    assert run.returncode == 1
    assert "[joint_names]" in run.stdout and "fr3_joint7" in run.stdout
    assert "nothing was sent" in run.stderr
    assert ros1_master.param(f"{ns}/sim/goals_received") == 0


def _probe(master, ns, *cases):
    out = master.run(PROBE, ns, *cases, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return {r["case"]: r for r in map(json.loads, out.stdout.splitlines())}


def test_controller_reports_the_standard_error_codes(ros1_master, sim_controller):
    ns = "/arm_codes"
    _controller(sim_controller, ns, "--time-scale", "5")
    got = _probe(ros1_master, ns, "wrong_joints", "beyond_limit", "too_fast", "time_backwards",
                 "old_stamp", "start_jump", "ok")
    expect = {"wrong_joints": (REJECTED, INVALID_JOINTS), "beyond_limit": (REJECTED, INVALID_GOAL),
              "too_fast": (REJECTED, INVALID_GOAL), "time_backwards": (REJECTED, INVALID_GOAL),
              "old_stamp": (REJECTED, OLD_HEADER_TIMESTAMP),
              "start_jump": (ABORTED, PATH_TOLERANCE_VIOLATED), "ok": (SUCCEEDED, 0)}
    assert {k: (v["status"], v["error_code"]) for k, v in got.items()} == expect
    assert all(got[k]["error_string"] for k in expect if k != "ok")


@pytest.mark.parametrize("fault, code", [("path", PATH_TOLERANCE_VIOLATED),
                                         ("goal", GOAL_TOLERANCE_VIOLATED)])
def test_tracking_faults_abort_with_their_codes(ros1_master, sim_controller, fault, code):
    ns = f"/arm_fault_{fault}"
    _controller(sim_controller, ns, "--time-scale", "5", "--fault", fault)
    got = _probe(ros1_master, ns, "ok")["ok"]
    assert (got["status"], got["error_code"]) == (ABORTED, code)


def test_deploy_reports_a_controller_error(ros1_master, sim_controller):
    ns = "/arm_abort"
    _controller(sim_controller, ns, "--time-scale", "20", "--fault", "goal")
    run = _deploy(ros1_master, ns, "--execute")
    assert run.returncode == 1
    assert "GOAL_TOLERANCE_VIOLATED (-5)" in run.stderr
    assert ros1_master.param(f"{ns}/sim/goals_received") == 1  # stopped at the first failure


def test_monitor_cancels_a_controller_that_runs_late(ros1_master, sim_controller):
    ns = "/arm_late"
    _controller(sim_controller, ns, "--time-scale", "0.3")  # 3.3 x slower than planned
    run = _deploy(ros1_master, ns, "--execute")
    assert run.returncode == 1
    assert "timed_out" in run.stderr and "cancelled" in run.stderr
    sim = ros1_master.param(f"{ns}/sim")
    assert sim["goals_received"] == 1 and sim["goals_canceled"] == 1


def test_no_master_fails_fast_with_a_clear_message(ros1_master):
    port = _unused_port()
    for what in (["--task", "place-in-bowl"],
                 ["--goal", "put the red block in the green bowl", "--workcell",
                  str(Path(__file__).resolve().parents[3] / "robots" / "workcells" /
                      "example.yaml")]):
        run = ros1_master.run("-m", "experiments.cli", "deploy", "--ros1", "--master",
                              f"http://127.0.0.1:{port}", *what, timeout=60)
        assert run.returncode == 1
        assert "unreachable" in run.stderr and "Traceback" not in run.stderr


def _unused_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
