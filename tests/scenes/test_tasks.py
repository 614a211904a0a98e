"""The task suite: registration, seeded variety, and solved episodes (slow)."""

from __future__ import annotations

import numpy as np
import pytest

from policies import make_policy
from scenes.env import TabletopEnv
from scenes.tasks import make_task, task_names
from tamp.planner import PlannerConfig, symbolic_state
from tamp.world import WorldModel

SUITE = ["place-in-bowl", "sort-by-colour", "rebuild-tower", "clear-then-place", "lift"]


def test_every_task_is_registered_once_with_a_gym_id():
    import gymnasium

    assert set(SUITE) <= set(task_names())
    for name in SUITE:
        task = make_task(name)
        assert task.gym_id in gymnasium.registry


@pytest.mark.parametrize("name", SUITE)
def test_scenes_are_seeded_and_the_goal_is_not_already_true(name):
    task = make_task(name)
    a = task.sample(np.random.default_rng(3))
    b = task.sample(np.random.default_rng(3))
    assert [o.name for o in a.objects] == [o.name for o in b.objects]
    assert all(np.array_equal(x.pose, y.pose) for x, y in zip(a.objects, b.objects))
    world = WorldModel({o.name: o for o in a.objects})
    assert not set(a.goal) <= symbolic_state(world)


def test_sort_by_colour_has_eight_or_more_blocks_matching_bowls():
    task = make_task("sort-by-colour")
    for seed in range(10):
        inst = task.sample(np.random.default_rng(seed))
        blocks = [o for o in inst.objects if o.category == "block"]
        bowls = {o.color for o in inst.objects if o.category == "bowl"}
        assert len(blocks) >= 8 and {b.color for b in blocks} <= bowls
        assert len(inst.goal) == len(blocks)


def test_rebuild_tower_starts_as_a_tower_and_asks_for_another_order():
    task = make_task("rebuild-tower")
    for seed in range(10):
        inst = task.sample(np.random.default_rng(seed))
        state = symbolic_state(WorldModel({o.name: o for o in inst.objects}))
        on_blocks = {f for f in state if f[0] == "on" and f[2] != "table"}
        assert len(on_blocks) == 2  # three blocks stacked
        assert not inst.goal <= on_blocks


def test_clear_then_place_bowl_is_full():
    from tamp.geometry.placements import in_bowl
    from tamp.refine import resting_in

    task = make_task("clear-then-place")
    for seed in range(10):
        inst = task.sample(np.random.default_rng(seed))
        objs = {o.name: o for o in inst.objects}
        bowl = objs["green_bowl"]
        inside = [o for o in inst.objects if o.category == "block" and resting_in(o, bowl)]
        assert len(inside) == 3
        places = in_bowl(objs["red_block"], bowl, inside, np.random.default_rng(0))
        assert places.poses == [] and places.reason


@pytest.mark.slow
@pytest.mark.parametrize("name, seed", [("rebuild-tower", 0), ("clear-then-place", 1)])
def test_episode_succeeds(name, seed):
    env = TabletopEnv(name)
    try:
        env.reset(seed=seed)
        outcome = make_policy("tamp", config=PlannerConfig(seed=seed)).run(env)
        assert outcome.success, outcome.failure_reason
        names = [a["name"] for a in outcome.plan]
        if name == "clear-then-place":  # an occupant is taken out before the red block goes in
            assert names[0] == "take-out" and ["pick", "place-in"] == names[-2:]
        else:
            assert "unstack" in names and "stack" in names
    finally:
        env.close()
