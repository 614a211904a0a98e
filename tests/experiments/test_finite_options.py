"""Every real-valued option of every subcommand, found by walking the parsers, refuses
``nan`` and ``inf`` in one line with exit code 2 (a NaN budget or limit would pass range
checks written as ``x <= 0`` and switch the check off); every integer option has a stated
range and refuses what lies outside it, and what is no whole number, the same way."""

from __future__ import annotations

import pytest

from cli_walk import options
from experiments.cli import main
from experiments.options import EXIT_USAGE, finite_float

#: arguments that a subcommand needs before its options are even read
REQUIRED = {("deploy",): ["--ros1"], ("pddl",): ["d.pddl", "p.pddl"],
            ("gripper", "status"): [], ("policies", "demo"): []}


OPTIONS = [(p, a.option_strings[-1]) for p, a in options(lambda a: a.type is finite_float)]


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


INTS = [((p, a.option_strings[-1]), a.type) for p, a in options(
    lambda a: a.type is int or hasattr(a.type, "bounds"))]


def test_every_integer_option_states_its_range():
    bare = [f"{' '.join(p)} {o}" for (p, o), kind in INTS if kind is int]
    assert not bare, f"integer options without a range (use experiments.options): {bare}"
    found = {(" ".join(p), o) for (p, o), _ in INTS}
    assert {("run", "--seed"), ("bench episodes", "--episodes"), ("gripper status", "--retries"),
            ("model-server", "--port"), ("policies train", "--threads")} <= found
    assert len(INTS) >= 50


def _outside(kind):
    lo, hi = kind.bounds
    return [str(lo - 1), str(hi + 1), "1.5", "ten"]


CASES = [(p, o, v) for (p, o), kind in INTS if kind is not int for v in _outside(kind)]


@pytest.mark.parametrize("path, option, value", CASES,
                         ids=[f"{' '.join(p)} {o}={v}" for p, o, v in CASES])
def test_an_integer_outside_its_range_is_one_line_and_exit_2(capsys, path, option, value):
    argv = [*path, *REQUIRED.get(tuple(path), []), f"{option}={value}"]
    assert main(argv) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and option in err
    assert "Traceback" not in err
