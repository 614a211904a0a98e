"""The motion primitives every method shares (policies/primitives.py)."""

from __future__ import annotations

import numpy as np
import pytest

from policies.primitives import Primitives, pose_at
from tamp.domains import get_domain
from scenes.env import TabletopEnv


@pytest.fixture
def bowl_env():
    env = TabletopEnv("place-in-bowl")
    env.reset(seed=3)
    yield env
    env.close()


def test_pick_action_is_named_as_the_domain_names_it(bowl_env):
    world = bowl_env.oracle_world()
    block = next(n for n, o in world.objects.items() if o.category == "block")
    assert get_domain("pick-place").take_action(world, block) == ("pick", block, "table")


def test_bad_requests_come_back_with_a_reason(bowl_env):
    prim = Primitives(bowl_env)
    q0 = bowl_env.sim.arm_positions()
    out = prim.pick_place(("fly", "red_block_0", "green_bowl"))
    assert not out.ok and "unknown place action 'fly'" in out.reason
    out = prim.pick_place(("place-in", "red_block_0", "purple_bowl"))
    assert not out.ok and "purple_bowl" in out.reason
    out = prim.pick_place_at("no_such_block", (0.5, 0.0))
    assert not out.ok and "no_such_block" in out.reason
    # nothing moved
    assert np.allclose(bowl_env.sim.arm_positions(), q0, atol=1e-3)


def test_place_at_a_point_rests_the_object_on_what_is_there(bowl_env):
    world = bowl_env.oracle_world()
    bowl = next(o for o in world.objects.values() if o.category == "bowl")
    block = next(n for n, o in world.objects.items() if o.category == "block")
    pose, support = pose_at(world, block, bowl.position[:2], 0.0)
    assert support == bowl.name and pose[2, 3] > bowl.position[2] + 0.001
    pose, support = pose_at(world, block, (0.5, -0.45), 0.0)
    assert support == "table" and abs(pose[2, 3] - 0.004) < 1e-9


@pytest.mark.slow
def test_one_symbolic_step_and_one_step_at_a_point_execute(bowl_env):
    prim = Primitives(bowl_env)
    goal = sorted(bowl_env.instance.goal)
    kind, block, bowl = goal[0]
    out = prim.pick_place(("place-in", block, bowl))
    assert out.ok, out.reason
    assert [a.name for a in out.actions] == ["pick", "place-in"]
    truth = bowl_env.object_truth()
    assert bowl_env.task.holds(goal[0], bowl_env.oracle_world(), truth)
    other = goal[1][1]
    from tamp.geometry.placements import PlacementConfig, on_table

    world = bowl_env.oracle_world()
    free = on_table(world.objects[other], world, np.random.default_rng(0),
                    PlacementConfig(margin=0.05, prefer="none")).poses
    # a free spot of the table within easy reach
    target = next(p[:2, 3] for p in free if 0.4 < np.linalg.norm(p[:2, 3]) < 0.65)
    out = prim.pick_place_at(other, target)
    assert out.ok, out.reason
    assert np.linalg.norm(bowl_env.oracle_world().objects[other].position[:2] - target) < 0.01
