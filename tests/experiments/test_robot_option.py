"""Every ``--robot`` of every ``tamp`` command, found by walking the parsers: an unknown
name is one line naming the known robots, exit code 2; the commands that simulate a robot
all take it (``tamp deploy`` reads its robot from the workcell file)."""

from __future__ import annotations

import pytest

from cli_walk import options
from experiments.cli import main
from experiments.options import EXIT_USAGE, robot_name

OPTIONS = [p for p, a in options(lambda a: a.type is robot_name)]


def test_every_command_that_simulates_a_robot_takes_it():
    found = {" ".join(p) for p in OPTIONS}
    assert {"run", "bench episodes", "bench robot-time", "twin", "concepts train",
            "concepts eval", "concepts learn", "concepts bench", "concepts episodes",
            "policies demo", "policies train", "policies eval"} <= found, found


@pytest.mark.parametrize("path", OPTIONS, ids=[" ".join(p) for p in OPTIONS])
def test_an_unknown_robot_is_one_line_and_exit_2(capsys, path):
    assert main([*path, "--robot", "nope"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    import robots

    assert robots.available()[:1] == ["panda_2f85"] and "ur5e_2f85" in robots.available()
    assert err.startswith("error: ") and \
        f"unknown robot 'nope'; known: {', '.join(robots.available())}" in err
