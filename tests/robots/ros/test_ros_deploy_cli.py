"""``tamp deploy`` input checking: bad input is one line on stderr and exit code 2; an
unreachable robot is exit code 1. Loopback only unless --allow-remote."""

from __future__ import annotations

import pytest

from experiments.cli import EXIT_USAGE, main

WORKCELL = str(__import__("pathlib").Path(__file__).resolve().parents[3] / "robots" /
               "workcells" / "example.yaml")


@pytest.mark.parametrize("argv, words", [
    (["--ros", "ws://192.0.2.7:9090"], "--allow-remote"),
    (["--ros1", "--master", "http://10.0.0.2:11311"], "--allow-remote"),
    (["--ros1", "--master", "ws://127.0.0.1:11311"], "http://"),
    (["--ros", "http://127.0.0.1:9090"], "ws://"),
    (["--ros", "ws://127.0.0.1:9090", "--master", "http://127.0.0.1:11311"], "--master"),
    (["--ros1", "--ros-version", "2"], "--ros-version"),
    (["--ros1", "--speed-scale", "0.95"], "speed scale"),
    (["--ros1", "--speed-scale", "0"], "speed scale"),
    (["--ros1", "--workspace", "0,1,0,1"], "6 numbers"),
    (["--ros1", "--workspace", "1,0,0,1,0,1"], "lower < upper"),
    # NaN is false in every comparison: a box with a NaN bound must not pass as valid
    # (it would then accept every point and switch the workspace check off)
    (["--ros1", "--workspace", "0.15,nan,-0.55,0.55,0.025,nan"], "finite"),
    (["--ros1", "--workspace", "nan,nan,nan,nan,nan,nan"], "finite"),
    (["--ros1", "--workspace", "0.15,inf,-0.55,0.55,0.025,0.85"], "finite"),
    (["--ros1", "--timeout", "nan"], "--timeout"),
    (["--ros1", "--time-budget", "nan"], "--time-budget"),
    (["--ros1", "--speed-scale", "nan"], "--speed-scale"),
    (["--ros1", "--gripper", "usb"], "serial:"),
    (["--ros1", "--gripper", "tcp:10.0.0.5:502"], "--allow-remote"),
    (["--ros1", "--task", "nope"], "unknown task"),
    (["--ros1", "--seed", "-1"], "--seed"),
    (["--task", "place-in-bowl"], "one of the arguments --ros --ros1 is required"),
    (["--ros", "ws://127.0.0.1:9090", "--ros1"], "not allowed with"),
    # what to do: a goal on the robot's table, or a dry-run replay of a simulated scene
    (["--ros1", "--seed", "0", "--no-task"], "give --goal TEXT with --workcell FILE"),
    (["--ros1", "--task", "place-in-bowl", "--goal", "put it away"], "give --goal TEXT"),
    # a replay of a simulated scene's plan never moves a robot: its objects are not there
    (["--ros1", "--task", "place-in-bowl", "--execute"], "dry run only"),
    (["--ros1", "--task", "place-in-bowl", "--workcell", WORKCELL], "--workcell and --report go with --goal"),
    (["--ros1", "--goal", "put the red block in the bowl"], "--goal needs --workcell"),
    (["--ros", "ws://127.0.0.1:9090", "--goal", "x", "--workcell", WORKCELL], "needs --ros1"),
    (["--ros1", "--goal", " ", "--workcell", WORKCELL], "--goal is empty"),
    (["--ros1", "--goal", "x", "--workcell", WORKCELL, "--domain", "nope"], "unknown --domain"),
    (["--ros1", "--goal", "x", "--workcell", WORKCELL, "--max-replans", "-1"], "--max-replans"),
    (["--ros1", "--goal", "x", "--workcell", "/no/such/workcell.yaml"], "No such file"),
    (["--ros1", "--goal", "x", "--workcell", __file__], "workcell"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, words):
    if "--no-task" in argv:
        argv = [a for a in argv if a != "--no-task"]
    elif "--task" not in argv and "--goal" not in argv:
        argv = [*argv, "--task", "place-in-bowl"]
    assert main(["deploy", *argv]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and words in err


def test_an_unreachable_rosbridge_is_a_failure_not_a_hang(tamp):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = tamp("deploy", "--task", "place-in-bowl", "--ros", f"ws://127.0.0.1:{port}",
               "--timeout", "1", timeout=60)
    assert run.returncode == 1 and "cannot connect" in run.stderr
    assert "Traceback" not in run.stderr


def test_help_lists_deploy():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "experiments.cli", "deploy", "--help"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "--execute" in out.stdout and "--allow-remote" in out.stdout
