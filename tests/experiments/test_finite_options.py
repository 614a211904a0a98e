"""Every real-valued option of every subcommand, found by walking the parsers, refuses
``nan`` and ``inf`` in one line with exit code 2 (a NaN budget or limit would pass range
checks written as ``x <= 0`` and switch the check off)."""

from __future__ import annotations

import argparse

import pytest

from experiments.cli import EXIT_USAGE, build_parser, finite_float, main

#: arguments that a subcommand needs before its options are even read
REQUIRED = {("deploy",): ["--ros1"], ("pddl",): ["d.pddl", "p.pddl"],
            ("gripper", "status"): [], ("policies", "demo"): []}


def _real_options(parser: argparse.ArgumentParser, path=()):
    """(subcommand path, option string) of every option whose type is finite_float."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _real_options(sub, (*path, name))
        elif action.type is finite_float and action.option_strings:
            yield path, action.option_strings[-1]


OPTIONS = sorted(set(_real_options(build_parser())))


def test_the_walk_finds_the_budgets_and_limits():
    found = {(" ".join(p), o) for p, o in OPTIONS}
    assert {("run", "--time-budget"), ("bench episodes", "--time-budget"),
            ("pddl", "--time-budget"), ("deploy", "--timeout"),
            ("deploy", "--speed-scale")} <= found
    assert len(OPTIONS) >= 12


@pytest.mark.parametrize("path, option", OPTIONS, ids=[f"{' '.join(p)} {o}" for p, o in OPTIONS])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e999", "ten"])
def test_a_non_finite_number_is_one_line_and_exit_2(capsys, path, option, value):
    argv = [*path, *REQUIRED.get(tuple(path), []), f"{option}={value}"]
    assert main(argv) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and option in err
    assert "Traceback" not in err
