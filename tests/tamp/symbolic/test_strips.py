"""The symbolic layer: grounding and breadth-first search over pick/place."""

from __future__ import annotations

from tamp.symbolic.strips import PICK_PLACE, ground, search


def test_pick_place_plan_for_two_blocks():
    objects = {"a": "movable", "b": "movable", "bowl": "bowl"}
    init = frozenset({("handempty",), ("on-table", "a"), ("on-table", "b")})
    goal = frozenset({("in", "a", "bowl"), ("in", "b", "bowl")})
    plan = search(init, goal, ground(PICK_PLACE, objects))
    assert [(a.name, a.args) for a in plan][:2] in (
        [("pick", ("a",)), ("place-in", ("a", "bowl"))],
        [("pick", ("b",)), ("place-in", ("b", "bowl"))])
    assert len(plan) == 4
    names = [a.name for a in plan]
    assert names == ["pick", "place-in", "pick", "place-in"]


def test_goal_already_true_needs_no_action():
    init = frozenset({("handempty",), ("in", "a", "bowl")})
    plan = search(init, frozenset({("in", "a", "bowl")}),
                  ground(PICK_PLACE, {"a": "movable", "bowl": "bowl"}))
    assert plan == []


def test_unreachable_goal_returns_none():
    # an object cannot go into another that is not a bowl
    plan = search(frozenset({("handempty",)}), frozenset({("in", "a", "b")}),
                  ground(PICK_PLACE, {"a": "movable", "b": "movable"}))
    assert plan is None


def test_objects_can_have_several_types():
    # a bowl that is also movable can be picked and placed into another bowl
    objects = {"small": frozenset({"bowl", "movable"}), "big": "bowl"}
    plan = search(frozenset({("handempty",)}), frozenset({("in", "small", "big")}),
                  ground(PICK_PLACE, objects))
    assert [(a.name, a.args) for a in plan] == [("pick", ("small",)),
                                               ("place-in", ("small", "big"))]
