"""``tamp pddl DOMAIN PROBLEM``: IPC plan output and exit codes 0 / 1 / 2."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from experiments.cli import main
from tamp.symbolic import fast_downward
from tamp.symbolic.pddl_io import bundled_domain, bundled_problem, load_task
from tamp.symbolic.validate import validate

ROOT = Path(__file__).resolve().parents[3]
STEP = re.compile(r"^\([a-z][a-z0-9_-]*( [a-z][a-z0-9_-]*)*\)$")
BW, SUSSMAN = str(bundled_domain("blocksworld")), str(bundled_problem("sussman"))


def run_tamp(*args: str) -> subprocess.CompletedProcess:
    """The installed console script, as a user runs it."""
    exe = Path(sys.executable).with_name("tamp")
    # not "-m experiments.cli": that runs cli.py as __main__, whose UsageError is another
    # class than the experiments.cli.UsageError raised by command modules
    fallback = [sys.executable, "-c", "import sys; from experiments.cli import main; "
                                      "sys.exit(main())"]
    cmd = [str(exe)] if exe.exists() else fallback
    return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=120,
                          cwd=ROOT, env={**os.environ, "PYTHONWARNINGS": "ignore"})


def plan_lines(out: str) -> tuple[list[str], str]:
    lines = out.strip().splitlines()
    return lines[:-1], lines[-1]


def test_sussman_plan_in_ipc_form(capsys):
    assert main(["pddl", BW, SUSSMAN]) == 0
    steps, cost = plan_lines(capsys.readouterr().out)
    assert steps == ["(unstack c a)", "(put-down c)", "(pick-up b)", "(stack b c)",
                     "(pick-up a)", "(stack a b)"]
    assert cost == "; cost = 6 (unit cost)"


def test_options_astar_hmax_gives_optimal_hanoi(capsys):
    args = ["pddl", str(bundled_domain("hanoi")), str(bundled_problem("hanoi-4")),
            "--search", "astar", "--heuristic", "max", "--time-budget", "20"]
    assert main(args) == 0
    steps, cost = plan_lines(capsys.readouterr().out)
    assert cost == "; cost = 15 (unit cost)" and len(steps) == 15
    assert all(STEP.match(s) for s in steps)
    task = load_task(bundled_domain("hanoi"), bundled_problem("hanoi-4"))
    assert validate(task, steps)


def test_names_are_printed_lower_case(tmp_path, capsys):
    d, p = tmp_path / "d.pddl", tmp_path / "p.pddl"
    d.write_text("(define (domain Up) (:requirements :strips) (:predicates (Lit ?X))"
                 " (:action Switch-On :parameters (?X) :precondition (and) :effect (Lit ?X)))")
    p.write_text("(define (problem P) (:domain UP) (:objects Lamp1) (:init) (:goal (LIT lamp1)))")
    assert main(["pddl", str(d), str(p)]) == 0
    assert capsys.readouterr().out == "(switch-on lamp1)\n; cost = 1 (unit cost)\n"


def test_goal_true_initially_is_an_empty_plan(tmp_path, capsys):
    p = tmp_path / "p.pddl"
    p.write_text("(define (problem done) (:domain blocksworld) (:objects a) "
                 "(:init (ontable a) (clear a) (handempty)) (:goal (ontable a)))")
    assert main(["pddl", BW, str(p)]) == 0
    assert capsys.readouterr().out == "; cost = 0 (unit cost)\n"


@pytest.mark.parametrize("problem, extra, reason", [
    ("pick-place-unsolvable", [], "no plan: search space exhausted: no plan exists"),
    ("blocksworld-10", ["--search", "astar", "--heuristic", "blind", "--time-budget", "0.3"],
     "no plan: time budget"),  # spent in the search, or already in grounding when slow
])
def test_no_plan_is_exit_1_with_reason(capsys, problem, extra, reason):
    domain = "pick-place" if problem.startswith("pick") else "blocksworld"
    code = main(["pddl", str(bundled_domain(domain)), str(bundled_problem(problem)), *extra])
    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    assert reason in err.splitlines()[-1]


def bad_domain(tmp_path) -> str:
    path = tmp_path / "cond.pddl"
    path.write_text("(define (domain c) (:requirements :strips :conditional-effects) "
                    "(:predicates (p)) (:action a :parameters () :precondition (p) "
                    ":effect (when (p) (not (p)))))")
    return str(path)


@pytest.mark.parametrize("args, expected", [
    (["pddl", "missing.pddl", SUSSMAN], "error: domain file 'missing.pddl' not found"),
    (["pddl", BW, "missing.pddl"], "error: problem file 'missing.pddl' not found"),
    (["pddl", BW, BW], "blocksworld.pddl: syntax error at line"),
    (["pddl", str(bundled_domain("hanoi")), SUSSMAN],
     "problem is for domain 'blocksworld', the domain file defines 'hanoi'"),
    (["pddl", "BAD", SUSSMAN], "unsupported requirement :conditional-effects"),
    (["pddl", BW, SUSSMAN, "--search", "dfs"], "invalid choice: 'dfs'"),
    (["pddl", BW, SUSSMAN, "--time-budget", "0"], "--time-budget must be > 0 s"),
    (["pddl", BW], "the following arguments are required: PROBLEM"),
])
def test_bad_input_is_exit_2_one_line(tmp_path, capsys, args, expected):
    args = [bad_domain(tmp_path) if a == "BAD" else a for a in args]
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert expected in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert out == ""


@pytest.mark.skipif(fast_downward.available(),
                    reason="up_fast_downward is installed, so there is no error to show")
def test_fast_downward_backend_missing_says_how_to_install(capsys):
    assert main(["pddl", BW, SUSSMAN, "--backend", "fast-downward"]) == 2
    err = capsys.readouterr().err
    assert "pip install unified-planning up-fast-downward" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.skipif(not fast_downward.available(),
                    reason="up_fast_downward is not installed (optional backend)")
def test_fast_downward_backend_solves_hanoi(capsys):
    args = ["pddl", str(bundled_domain("hanoi")), str(bundled_problem("hanoi-4")),
            "--backend", "fast-downward"]
    assert main(args) == 0
    assert capsys.readouterr().out.strip().endswith("; cost = 15 (unit cost)")


def test_console_script_exit_codes():
    ok = run_tamp("pddl", BW, SUSSMAN)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines()[-1] == "; cost = 6 (unit cost)"
    assert all(STEP.match(line) for line in ok.stdout.splitlines()[:-1])

    none = run_tamp("pddl", str(bundled_domain("pick-place")),
                    str(bundled_problem("pick-place-unsolvable")))
    assert none.returncode == 1 and none.stdout == ""
    assert "no plan: search space exhausted" in none.stderr

    bad = run_tamp("pddl", BW, "nope.pddl")
    assert bad.returncode == 2
    assert bad.stderr.strip() == "error: problem file 'nope.pddl' not found"

    helptext = run_tamp("--help")
    assert helptext.returncode == 0 and "pddl" in helptext.stdout
