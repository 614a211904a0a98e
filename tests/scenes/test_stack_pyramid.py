"""``stack-pyramid``: scenes, the goal in words, ground truth, plans and one episode."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scenes.tasks import make_task, task_names
from scenes.tasks.base import ObjectTruth
from tamp.planner import PlannerConfig, symbolic_state
from tamp.domains.pyramid import pyramid_slots
from tamp.world import WorldModel


def world_of(inst) -> WorldModel:
    return WorldModel({o.name: o for o in inst.objects}, zones={z.name: z for z in inst.zones})


def truth(world: WorldModel, resting: bool = True) -> ObjectTruth:
    names = list(world.objects)
    return ObjectTruth({n: resting for n in names}, {n: False for n in names},
                       {n: True for n in names})


def built(inst, world: WorldModel) -> WorldModel:
    """The goal pyramid, every block exactly in its slot."""
    slots = pyramid_slots(world)
    for _, block, slot in inst.goal:
        pose = world.objects[block].pose.copy()
        pose[:2, 3], pose[2, 3] = slots[slot].xy, slots[slot].z
        world = world.with_pose(block, pose)
    return world


def test_registered_with_a_gym_id():
    import gymnasium

    task = make_task("stack-pyramid")
    assert "stack-pyramid" in task_names() and task.gym_id == "tamp/StackPyramid-v0"
    assert task.gym_id in gymnasium.registry


def test_scenes_are_seeded_and_vary_within_the_stated_ranges():
    task = make_task("stack-pyramid")
    a, b = (task.sample(np.random.default_rng(7)) for _ in range(2))
    assert [o.name for o in a.objects] == [o.name for o in b.objects]
    assert all(np.array_equal(x.pose, y.pose) for x, y in zip(a.objects, b.objects))
    sizes, orders = set(), set()
    for seed in range(30):
        inst = task.sample(np.random.default_rng(seed))
        assert inst.domain == "pyramid" and len(inst.objects) == 6 and len(inst.goal) == 6
        colours = [o.color for o in inst.objects]
        assert len(set(colours)) == 6
        size = inst.objects[0].shape.size
        assert all(o.shape.size == size for o in inst.objects)
        assert size[0] == size[1] == size[2] and 0.04 <= size[0] <= 0.048
        sizes.add(size[0])
        # three marked places in a row, left (robot's +y) to right, 10-14 mm apart
        z = [p.pose[:2, 3] for p in inst.zones]
        assert [p.name for p in inst.zones] == ["slot_1_1", "slot_1_2", "slot_1_3"]
        assert z[0][1] > z[1][1] > z[2][1]
        gaps = [np.linalg.norm(z[k + 1] - z[k]) - size[0] for k in range(2)]
        assert all(0.01 - 1e-9 <= g <= 0.014 + 1e-9 for g in gaps)
        # loose blocks on the table, clear of the row and of each other
        world = world_of(inst)
        for o in inst.objects:
            assert o.position[2] == 0.0
            assert min(np.linalg.norm(o.position[:2] - c) for c in z) > 0.1
        orders.add(tuple(sorted(inst.goal)))
        assert not set(inst.goal) <= symbolic_state(world, "pyramid")
    assert len(sizes) == 30 and len(orders) == 30


def test_description_names_the_rows_in_the_goal_order():
    inst = make_task("stack-pyramid").sample(np.random.default_rng(4))
    colour = {f[2]: f[1].removesuffix("_block") for f in inst.goal}
    assert inst.description == (
        f"build a pyramid: {colour['slot_1_1']}, {colour['slot_1_2']} and "
        f"{colour['slot_1_3']} on the bottom from left to right, {colour['slot_2_1']} and "
        f"{colour['slot_2_2']} in the middle, {colour['slot_3_1']} on top")


def test_success_from_ground_truth_needs_every_block_in_place_and_at_rest():
    task = make_task("stack-pyramid")
    inst = task.sample(np.random.default_rng(2))
    world = built(inst, world_of(inst))
    report = task.success(inst, world, truth(world))
    assert report.success and len(report.details) == 6
    assert not task.success(inst, world, truth(world, resting=False)).success
    assert not task.success(inst, world_of(inst), truth(world)).success
    top = next(f[1] for f in inst.goal if f[2] == "slot_3_1")
    for offset, ok in (((0.008, 0, 0), True), ((0.012, 0, 0), False),
                       ((0, 0, 0.015), False)):
        pose = world.objects[top].pose.copy()
        pose[:3, 3] += offset
        report = task.success(inst, world.with_pose(top, pose), truth(world))
        assert report.success is ok
        assert report.details[f"on {top} slot_3_1"] is ok
    # two blocks swapped: the colours are in the wrong order
    a, b = (next(f[1] for f in inst.goal if f[2] == s) for s in ("slot_1_1", "slot_1_3"))
    pa, pb = world.objects[a].pose, world.objects[b].pose
    swapped = world.with_pose(a, pb).with_pose(b, pa)
    report = task.success(inst, swapped, truth(world))
    assert not report.success and not report.details[f"on {a} slot_1_1"]


def test_plan_builds_row_by_row(robot):
    from tamp.planner import Planner

    inst = make_task("stack-pyramid").sample(np.random.default_rng(3))
    plan = Planner(robot, PlannerConfig(seed=3, domain="pyramid")).plan(
        world_of(inst), inst.goal, robot.home)
    assert plan.success, plan.reason
    assert [a.name for a in plan.actions] == ["pick", "build"] * 6
    builds = [a.args for a in plan.actions if a.name == "build"]
    assert {(f"{b}", s) for b, s, *_ in builds} == {f[1:] for f in inst.goal}
    done = {"table"}
    for _, slot, left, right in builds:
        assert left in done and right in done  # both supports are built first
        done.add(slot)
    assert builds[-1][1] == "slot_3_1"


def test_a_block_pushed_off_its_slot_is_unstacked_and_built_again(robot):
    from tamp.planner import Planner

    inst = make_task("stack-pyramid").sample(np.random.default_rng(5))
    world = world_of(inst)
    slots = pyramid_slots(world)
    block = {f[2]: f[1] for f in inst.goal}
    for name in ("slot_1_1", "slot_1_2", "slot_1_3", "slot_2_1"):
        pose = world.objects[block[name]].pose.copy()
        pose[:2, 3], pose[2, 3] = slots[name].xy, slots[name].z
        if name == "slot_2_1":  # 15 mm across the row, as a dragging pad leaves it
            yaw = slots[name].yaw
            pose[:2, 3] += 0.015 * np.array([-math.sin(yaw), math.cos(yaw)])
        world = world.with_pose(block[name], pose)
    state = symbolic_state(world, "pyramid")
    pushed = block["slot_2_1"]
    assert ("over", pushed, block["slot_1_1"], block["slot_1_2"]) in state
    plan = Planner(robot, PlannerConfig(seed=5, domain="pyramid")).plan(
        world, inst.goal, robot.home)
    assert plan.success, plan.reason
    steps = [(a.name, *a.args) for a in plan.actions]
    assert ("unstack", pushed, block["slot_1_1"], block["slot_1_2"]) in steps
    k = steps.index(("unstack", pushed, block["slot_1_1"], block["slot_1_2"]))
    assert steps[k + 1][:3] == ("build", pushed, "slot_2_1")
    assert len(steps) == 6 and steps[-1][:3] == ("build", block["slot_3_1"], "slot_3_1")


@pytest.mark.slow
def test_episode_builds_the_pyramid():
    from policies import make_policy
    from scenes.env import TabletopEnv

    env = TabletopEnv("stack-pyramid")
    try:
        _, info = env.reset(seed=11)
        assert info["success"] is False
        outcome = make_policy("tamp", config=PlannerConfig(seed=11)).run(env)
        assert outcome.success, outcome.failure_reason
        # judged again here, from the simulator's ground truth
        report = env.task.success(env.instance, env.oracle_world(), env.object_truth())
        assert report.success and all(report.details.values()) and len(report.details) == 6
        world = env.oracle_world()
        slots = pyramid_slots(world)
        for _, block, slot in env.instance.goal:
            assert np.linalg.norm(world.objects[block].position[:2] - slots[slot].xy) < 0.01
        assert [a["name"] for a in outcome.plan] == ["pick", "build"] * 6
        top = next(f[1] for f in env.instance.goal if f[2] == "slot_3_1")
        size = world.objects[top].shape.height
        assert world.objects[top].position[2] == pytest.approx(2 * size, abs=0.01)
        assert math.isfinite(outcome.planning_time_s) and outcome.planning_time_s > 0
    finally:
        env.close()
