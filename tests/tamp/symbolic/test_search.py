"""Search and heuristics on the bundled examples, checked by the independent validator."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tamp.symbolic.grounding import ground
from tamp.symbolic.heuristics import INF, RelaxedHeuristic
from tamp.symbolic.search import SearchConfig, search
from tamp.symbolic.validate import PlanStep, validate

ROOT = Path(__file__).resolve().parents[3]


def solve(lifted, **config):
    return search(ground(lifted), SearchConfig(**config))


@pytest.mark.parametrize("heuristic", ["max", "blind"])
def test_sussman_shortest_plan_has_six_actions(bundled, heuristic):
    lifted = bundled("blocksworld", "sussman")
    result = solve(lifted, algorithm="astar", heuristic=heuristic)
    assert result.success and result.reason == ""
    assert [a.label for a in result.plan] == [
        "(unstack c a)", "(put-down c)", "(pick-up b)", "(stack b c)", "(pick-up a)",
        "(stack a b)"]
    assert validate(lifted, result.plan)


@pytest.mark.parametrize("algorithm, heuristic", [("gbfs", "ff"), ("gbfs", "add"),
                                                  ("astar", "ff"), ("astar", "add")])
def test_inadmissible_heuristics_solve_sussman(bundled, algorithm, heuristic):
    lifted = bundled("blocksworld", "sussman")
    result = solve(lifted, algorithm=algorithm, heuristic=heuristic)
    assert result.success and result.cost >= 6
    assert validate(lifted, result.plan)


@pytest.mark.parametrize("heuristic", ["ff", "add"])
def test_ten_blocks_within_a_few_seconds(bundled, heuristic):
    lifted = bundled("blocksworld", "blocksworld-10")
    result = solve(lifted, algorithm="gbfs", heuristic=heuristic, time_budget_s=10)
    assert result.success, result.reason
    assert result.time_s < 5
    check = validate(lifted, result.plan)
    assert check, check.reason
    assert check.steps == result.cost >= 18  # every block but e moves at least once


def test_hanoi_four_disks_optimal_with_astar(bundled):
    lifted = bundled("hanoi", "hanoi-4")
    result = solve(lifted, algorithm="astar", heuristic="max", time_budget_s=10)
    assert result.success and result.cost == 15
    assert validate(lifted, result.plan)


@pytest.mark.parametrize("algorithm, heuristic", [("gbfs", "ff"), ("gbfs", "add"),
                                                  ("astar", "ff")])
def test_hanoi_four_disks_heuristic_search(bundled, algorithm, heuristic):
    lifted = bundled("hanoi", "hanoi-4")
    result = solve(lifted, algorithm=algorithm, heuristic=heuristic, time_budget_s=10)
    assert result.success and result.cost >= 15
    assert validate(lifted, result.plan)


def test_pick_place_rebuild_and_bowl(bundled):
    lifted = bundled("pick-place", "pick-place-rebuild")
    result = solve(lifted)
    assert result.success and validate(lifted, result.plan)
    assert result.plan[-1].label in ("(place-in b4 green)", "(stack b1 b2)")


def test_unsolvable_ends_quickly_with_reason(bundled):
    result = solve(bundled("pick-place", "pick-place-unsolvable"), time_budget_s=5)
    assert not result.success and result.plan == ()
    assert result.reason.startswith("search space exhausted: no plan exists")
    assert result.time_s < 1


def test_relaxed_unreachable_goal_needs_no_search(make_task):
    graph = """(define (domain graph) (:requirements :strips)
      (:predicates (at ?n) (road ?a ?b) (visited ?n))
      (:action move :parameters (?a ?b) :precondition (and (at ?a) (road ?a ?b))
        :effect (and (at ?b) (visited ?b) (not (at ?a)))))"""
    lifted = make_task(graph, "(define (problem g) (:domain graph) (:objects n0 n1 n2 n3) "
                              "(:init (at n0) (road n0 n1) (road n2 n3)) (:goal (visited n3)))")
    result = solve(lifted)
    assert not result.success and result.expanded == 0
    assert result.reason == "goal unreachable in the relaxation: (visited n3) can never hold"


def test_time_budget_stops_the_search(bundled):
    result = solve(bundled("blocksworld", "blocksworld-10"), algorithm="astar",
                   heuristic="blind", time_budget_s=0.3)
    assert not result.success
    assert result.reason.startswith("time budget of 0.3 s exhausted")
    assert 0.3 <= result.time_s < 1.5


def test_node_budget_stops_the_search(bundled):
    result = solve(bundled("blocksworld", "blocksworld-10"), algorithm="astar",
                   heuristic="blind", node_budget=500)
    assert not result.success and result.reason == "node budget of 500 states exhausted"
    assert result.generated < 1000


NEG_GOAL = """
(define (problem neg) (:domain blocksworld) (:objects a b c)
  (:init (ontable a) (ontable b) (on c a) (clear c) (clear b) (handempty))
  (:goal (and (not (on c a)) (not (ontable b)) (handempty))))
"""


def test_negative_goal_literals(bundled, make_task):
    domain = (ROOT / "tamp/symbolic/domains/blocksworld.pddl").read_text()
    lifted = make_task(domain, NEG_GOAL)
    for heuristic in ("ff", "add", "max", "blind"):
        result = solve(lifted, algorithm="astar", heuristic=heuristic)
        assert validate(lifted, result.plan), heuristic
        if heuristic in ("max", "blind"):  # admissible: shortest plan
            assert result.cost == 4  # unstack c a, put-down c, pick-up b, stack b ...


def test_heuristic_values_at_the_initial_state(bundled):
    task = ground(bundled("blocksworld", "sussman"))
    h = {k: RelaxedHeuristic(task, k)(task.init) for k in ("ff", "add", "max", "blind")}
    # by hand: (on b c) costs 2 (pick-up b, stack b c); (on a b) costs 3 in h_max
    # (unstack c a, pick-up a, stack a b) and in h_add too; the relaxed plan has 5 actions
    assert (h["max"].h, h["add"].h, h["ff"].h) == (3, 5, 5)
    assert h["blind"].h == 1
    labels = {task.actions[i].label for i in h["ff"].preferred}
    assert labels and labels <= {"(unstack c a)", "(pick-up b)"}
    goal_state = validate_state(task, ["(unstack c a)", "(put-down c)", "(pick-up b)",
                                       "(stack b c)", "(pick-up a)", "(stack a b)"])
    assert all(RelaxedHeuristic(task, k)(goal_state).h == 0 for k in h)


def validate_state(task, labels):
    state = task.init
    by_label = {a.label: a for a in task.actions}
    for label in labels:
        assert by_label[label].applicable(state), label
        state = by_label[label].apply(state)
    return state


def test_dead_end_is_infinite(make_task):
    domain = """(define (domain oneway) (:requirements :strips)
      (:predicates (start) (gone) (goal))
      (:action leave :parameters () :precondition (start) :effect (and (gone) (not (start))))
      (:action finish :parameters () :precondition (start) :effect (goal)))"""
    lifted = make_task(domain, "(define (problem p) (:domain oneway) (:init (start)) "
                               "(:goal (and (goal) (gone))))")
    task = ground(lifted)
    gone = validate_state(task, ["(leave)"])
    assert RelaxedHeuristic(task, "ff")(gone).h == INF
    result = search(task, SearchConfig())
    assert [a.label for a in result.plan] == ["(finish)", "(leave)"]


def test_validator_rejects_wrong_plans(bundled):
    lifted = bundled("blocksworld", "sussman")
    task = ground(lifted)
    good = ["(unstack c a)", "(put-down c)", "(pick-up b)", "(stack b c)", "(pick-up a)",
            "(stack a b)"]
    assert validate(lifted, good) and validate(task, good)
    for target in (lifted, task):
        bad = validate(target, good[:1] + good[2:])
        assert not bad and bad.steps == 1 and "step 2 (pick-up b)" in bad.reason
        assert "goal not reached: (on a b)" in validate(target, good[:-1]).reason
        assert not validate(target, ["(fly a)"])
    assert "'z'" in validate(lifted, ["(pick-up z)"]).reason
    assert PlanStep.parse("(Stack A B)") == PlanStep("stack", ("a", "b"))


def test_same_plan_under_different_hash_seeds():
    # the pddl library keeps actions, objects and init in sets, whose iteration order
    # depends on PYTHONHASHSEED; plans must not
    code = ("from tamp.symbolic.pddl_io import *; from tamp.symbolic.grounding import ground;"
            "from tamp.symbolic.search import search;"
            "t = ground(load_task(bundled_domain('blocksworld'), "
            "bundled_problem('blocksworld-10')));"
            "print(' '.join(a.label for a in search(t).plan))")
    plans = set()
    for seed in ("1", "2", "3"):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             cwd=ROOT, check=True,
                             env={**os.environ, "PYTHONHASHSEED": seed}).stdout
        plans.add(out.strip())
    assert len(plans) == 1 and next(iter(plans)).startswith("(")


def test_same_result_twice_in_process(bundled):
    lifted = bundled("blocksworld", "blocksworld-10")
    a, b = solve(lifted), solve(lifted)
    assert a.plan == b.plan and a.expanded == b.expanded and a.generated == b.generated
