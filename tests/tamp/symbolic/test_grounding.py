"""Grounding: only reachable actions, static predicates evaluated away, goals decided early."""

from __future__ import annotations

import pytest

from tamp.deadline import Deadline
from tamp.symbolic.grounding import GroundingError, ground, state_facts
from tamp.symbolic.pddl_io import Atom

GRAPH = """
(define (domain graph)
  (:requirements :strips :typing)
  (:types node)
  (:predicates (at ?n - node) (road ?a ?b - node) (visited ?n - node))
  (:action move
    :parameters (?a ?b - node)
    :precondition (and (at ?a) (road ?a ?b))
    :effect (and (at ?b) (visited ?b) (not (at ?a)))))
"""


def graph_problem(goal: str, n_chain: int = 30, n_island: int = 30) -> str:
    """A chain n0 -> n1 -> ... reachable from n0, and a separate chain (an island)."""
    nodes = [f"n{i}" for i in range(n_chain + n_island)]
    roads = [f"(road n{i} n{i + 1})" for i in range(n_chain - 1)]
    roads += [f"(road n{i} n{i + 1})" for i in range(n_chain, n_chain + n_island - 1)]
    return (f"(define (problem g) (:domain graph) (:objects {' '.join(nodes)} - node) "
            f"(:init (at n0) {' '.join(roads)}) (:goal {goal}))")


def test_only_reachable_actions_and_facts_are_created(make_task):
    task = ground(make_task(GRAPH, graph_problem("(visited n29)")))
    # 60 nodes: a cross product would give 3600 moves; 29 roads leave the reachable chain
    assert task.stats.actions == 29
    assert {a.args for a in task.actions} == {(f"n{i}", f"n{i + 1}") for i in range(29)}
    # at n0..n29 and visited n1..n29; nothing about the island, no static road facts
    assert task.stats.facts == 30 + 29
    assert all(f.predicate != "road" for f in task.facts)
    assert task.stats.static_predicates == ("road",)
    assert not task.unreachable_goals


def test_goal_on_the_island_is_unreachable_at_grounding(make_task):
    task = ground(make_task(GRAPH, graph_problem("(and (visited n5) (visited n45))")))
    assert task.unreachable_goals == ("(visited n45)",)


def test_static_smaller_is_evaluated_away_in_hanoi(bundled):
    lifted = bundled("hanoi", "hanoi-4")
    task = ground(lifted)
    assert task.stats.static_predicates == ("smaller",)
    assert all(f.predicate != "smaller" for f in task.facts)
    smaller = {a.args for a in lifted.problem.init if a.predicate == "smaller"}
    for action in task.actions:
        disk, _, to = action.args
        assert (to, disk) in smaller, action.label  # never a larger disk onto a smaller one
    # far below the 4 * 7 * 7 = 196 typed groundings of move(?d - disk ?from ?to - place)
    assert len(task.actions) < 100


NEG_EQ = """
(define (domain neq)
  (:requirements :strips :negative-preconditions :equality)
  (:predicates (item ?x) (broken ?x) (linked ?x ?y) (marked ?x))
  (:action link
    :parameters (?x ?y)
    :precondition (and (item ?x) (item ?y) (not (= ?x ?y)) (not (broken ?x))
                       (not (linked ?x ?y)))
    :effect (linked ?x ?y))
  (:action mark
    :parameters (?x)
    :precondition (and (item ?x) (not (marked ?x)))
    :effect (and (marked ?x) (marked ?x) (not (marked ?x)))))
"""
NEG_EQ_PROBLEM = """
(define (problem p) (:domain neq) (:objects a b c)
  (:init (item a) (item b) (item c) (broken c))
  (:goal (and (linked a b) (not (linked b a)) (not (broken a)) (item a))))
"""


def test_equality_static_negatives_and_fluent_negatives(make_task):
    task = ground(make_task(NEG_EQ, NEG_EQ_PROBLEM))
    links = {a.args for a in task.actions if a.name == "link"}
    # no (link x x); c is statically broken, so nothing starts at c
    assert links == {("a", "b"), ("a", "c"), ("b", "a"), ("b", "c")}
    assert set(task.stats.static_predicates) == {"item", "broken"}
    link_ab = next(a for a in task.actions if a.label == "(link a b)")
    # the fluent negative precondition stays, as a fact id
    assert [task.facts[i] for i in link_ab.pre_neg] == [Atom("linked", ("a", "b"))]
    assert link_ab.pre == ()
    # static goal literals are decided now: (item a) true, (not (broken a)) true
    assert [task.facts[i] for i in task.goal] == [Atom("linked", ("a", "b"))]
    assert [task.facts[i] for i in task.goal_neg] == [Atom("linked", ("b", "a"))]
    assert not task.unreachable_goals


def test_delete_then_add_keeps_an_atom_both_deleted_and_added(make_task):
    task = ground(make_task(NEG_EQ, NEG_EQ_PROBLEM))
    mark = next(a for a in task.actions if a.label == "(mark a)")
    after = mark.apply(task.init)
    assert Atom("marked", ("a",)) in task.atoms(after)
    assert not mark.applicable(after)  # (not (marked a)) is now false


@pytest.mark.parametrize("goal, unreachable", [
    ("(broken a)", ["(broken a)"]),  # static and false
    ("(not (broken c))", ["(not (broken c))"]),  # static and true
    ("(and (linked c a))", ["(linked c a)"]),  # c is broken: never linked from
    ("(not (item b))", ["(not (item b))"]),
    ("(and (linked a b) (not (linked c b)))", []),  # never reachable: trivially false
])
def test_goal_literals_decided_at_grounding(make_task, goal, unreachable):
    problem = NEG_EQ_PROBLEM.replace(
        "(and (linked a b) (not (linked b a)) (not (broken a)) (item a))", goal)
    task = ground(make_task(NEG_EQ, problem))
    assert list(task.unreachable_goals) == unreachable


def test_never_deleted_true_atom_cannot_become_false(make_task):
    domain = GRAPH.replace("(not (at ?a))", "")  # 'at' is never deleted
    task = ground(make_task(domain, graph_problem("(not (at n0))")))
    assert task.unreachable_goals == ("(not (at n0))",)


def test_state_bitset_round_trip(bundled):
    task = ground(bundled("blocksworld", "sussman"))
    atoms = {str(a) for a in task.atoms(task.init)}
    assert atoms == {"(ontable a)", "(ontable b)", "(on c a)", "(clear c)", "(clear b)",
                     "(handempty)"}
    assert state_facts(0b10110) == [1, 2, 4]


def test_grounding_budget_raises(bundled):
    with pytest.raises(GroundingError, match="exceeded 10 actions"):
        ground(bundled("blocksworld", "blocksworld-10"), max_actions=10)


@pytest.mark.timeout(60)
def test_grounding_keeps_its_deadline_inside_one_huge_schema(tmp_path):
    """A 6-parameter action without preconditions over 40 objects has 40^6 (4e9)
    candidate bindings: grounding must stop at its deadline while enumerating them (it
    looked at the clock only between schemas, and took 22 s and 1.2 GB for a 1 s budget).
    The pytest timeout, not a timing assertion, catches a regression."""

    from tamp.symbolic.grounding import GroundingError, ground
    from tamp.symbolic.pddl_io import load_task

    d, p = tmp_path / "d.pddl", tmp_path / "p.pddl"
    d.write_text("(define (domain wide) (:requirements :strips) (:predicates (done ?a ?b))"
                 " (:action six :parameters (?a ?b ?c ?d ?e ?f)"
                 "  :precondition (and) :effect (done ?a ?b)))")
    objects = " ".join(f"o{i}" for i in range(40))
    p.write_text(f"(define (problem p) (:domain wide) (:objects {objects}) (:init) "
                 "(:goal (done o1 o2)))")
    with pytest.raises(GroundingError, match="time budget"):
        ground(load_task(d, p), deadline=Deadline(0.5))
