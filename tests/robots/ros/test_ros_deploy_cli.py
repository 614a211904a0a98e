"""``tamp deploy`` input checking: bad input is one line on stderr and exit code 2; an
unreachable robot is exit code 1. Loopback only unless --allow-remote."""

from __future__ import annotations

import pytest

from experiments.cli import EXIT_USAGE, main


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
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, words):
    assert main(["deploy", *argv]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and words in err


def test_an_unreachable_rosbridge_is_a_failure_not_a_hang(tamp):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = tamp("deploy", "--ros", f"ws://127.0.0.1:{port}", "--timeout", "1", timeout=60)
    assert run.returncode == 1 and "cannot connect" in run.stderr
    assert "Traceback" not in run.stderr


def test_help_lists_deploy():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "experiments.cli", "deploy", "--help"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "--execute" in out.stdout and "--allow-remote" in out.stdout
