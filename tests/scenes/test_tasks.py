"""The task suite: registration, seeded variety, and solved episodes (slow)."""

from __future__ import annotations

import numpy as np
import pytest

from policies import make_policy
from scenes.env import TabletopEnv
from scenes.tasks import make_task, task_names
from tamp.planner import PlannerConfig, symbolic_state
from tamp.world import WorldModel

SUITE = ["place-in-bowl", "sort-by-colour", "rebuild-tower", "clear-then-place", "lift",
         "towers-of-hanoi", "packing-boxes", "stack-pyramid"]


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
    world = WorldModel({o.name: o for o in a.objects}, zones={z.name: z for z in a.zones})
    assert not set(a.goal) <= symbolic_state(world, a.domain)


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
    from tamp.geometry.resting import resting_in

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


def test_hanoi_starts_stacked_largest_first_on_the_first_place():
    task = make_task("towers-of-hanoi")
    for seed in range(6):
        inst = task.sample(np.random.default_rng(seed))
        world = WorldModel({o.name: o for o in inst.objects},
                           zones={z.name: z for z in inst.zones})
        state = symbolic_state(world, "hanoi-tabletop")
        n = len(inst.objects)
        assert n in (3, 4)
        assert ("on", f"disk_{n}", "place_1") in state and ("clear", "disk_1") in state
        assert all(("on", f"disk_{k}", f"disk_{k + 1}") in state for k in range(1, n))
        assert {("clear", "place_2"), ("clear", "place_3")} <= state
        # the static size order: nothing larger may go on a smaller disk
        assert ("smaller", "disk_2", "disk_1") in state
        assert ("smaller", "disk_1", "disk_2") not in state


def test_hanoi_three_disks_is_planned_in_seven_moves(robot):
    from tamp.planner import Planner

    task = make_task("towers-of-hanoi")
    task.n_disks = 3
    inst = task.sample(np.random.default_rng(1))
    world = WorldModel({o.name: o for o in inst.objects}, zones={z.name: z for z in inst.zones})
    plan = Planner(robot, PlannerConfig(seed=1, domain=inst.domain)).plan(
        world, inst.goal, robot.home)
    assert plan.success, plan.reason
    assert [a.name for a in plan.actions] == ["pick", "put"] * 7


def test_packing_boxes_fit_only_when_packed_as_a_set():
    from tamp.geometry.packing import PackingConfig, plan_packing
    from tamp.domains.pick_place import FINGER_GAP

    task = make_task("packing-boxes")
    for seed in range(8):
        inst = task.sample(np.random.default_rng(seed))
        tray = next(o for o in inst.objects if o.category == "tray")
        boxes = sorted((o for o in inst.objects if o.category == "box"), key=lambda o: o.name)
        plan = plan_packing(boxes, tray, PackingConfig(gap=FINGER_GAP, margin=FINGER_GAP))
        assert plan.success, plan.reason
        assert all(max(o.shape.size[:2]) <= 0.09 and min(o.shape.size[:2]) <= 0.065
                   for o in boxes)  # every box can be grasped across one side


@pytest.mark.slow
def test_packing_episode_plans_every_box_into_the_tray(robot):
    from tamp.planner import Planner

    inst = make_task("packing-boxes").sample(np.random.default_rng(0))
    world = WorldModel({o.name: o for o in inst.objects})
    plan = Planner(robot, PlannerConfig(seed=0)).plan(world, inst.goal, robot.home)
    assert plan.success, plan.reason
    assert [a.name for a in plan.actions].count("place-in") == 4


def test_hanoi_disk_off_its_place_can_still_be_picked_up(robot):
    """A disk that slid off every marked place is on the bare table: the planner picks it
    up from there (it is never put there), so replanning can recover from the slip."""
    from dataclasses import replace

    from tamp.planner import Planner, PlannerConfig

    inst = make_task("towers-of-hanoi").sample(np.random.default_rng(1))
    objects = {o.name: o for o in inst.objects}
    n = len(objects)
    # the smallest disk lies on the table between the places, away from all of them
    pose = objects["disk_1"].pose.copy()
    zones = {z.name: z for z in inst.zones}
    mid = (zones["place_1"].pose[:2, 3] + zones["place_2"].pose[:2, 3]) / 2
    pose[:2, 3] = mid + np.array([0.12, 0.0])
    pose[2, 3] = 0.0
    objects["disk_1"] = replace(objects["disk_1"], pose=pose)
    world = WorldModel(objects, zones=zones)
    state = symbolic_state(world, "hanoi-tabletop")
    assert ("on", "disk_1", "table") in state and ("clear", "disk_2") in state
    assert not any(f[0] == "smaller" and f[1] == "table" for f in state)
    plan = Planner(robot, PlannerConfig(domain="hanoi-tabletop", time_budget=60)).plan(
        world, inst.goal, robot.home)
    assert plan.success, plan.reason
    names = [(a.name, *a.args) for a in plan.actions]
    assert ("pick", "disk_1", "table") in names
    assert all(not (a[0] == "put" and a[2] == "table") for a in names)
    # every disk ends where the goal wants it: the last put of each is its goal fact
    last = {a[1]: a[2] for a in names if a[0] == "put"}
    assert last[f"disk_{n}"] == "place_3"
    assert all(last[f"disk_{k}"] == f"disk_{k + 1}" for k in range(1, n))


def test_packing_keeps_the_tray_and_boxes_within_reach():
    """Every footprint of a packing scene lies 0.22-0.74 m from the robot's base, where
    top-down grasps and releases are in reach (a tray corner at 0.83 m was not)."""
    from tamp.geometry.shapes import footprint_radius

    task = make_task("packing-boxes")
    for seed in range(30):
        for o in task.sample(np.random.default_rng(seed)).objects:
            d = float(np.linalg.norm(o.position[:2]))
            r = footprint_radius(o.shape)
            assert 0.22 <= d - r and d + r <= 0.74, (seed, o.name, d, r)


def test_tray_footprint_radius_is_its_half_diagonal():
    from tamp.geometry.shapes import footprint_radius
    from tamp.world import Shape

    assert abs(footprint_radius(Shape("tray", (0.3, 0.4, 0.03), 0.008)) - 0.25) < 1e-12
