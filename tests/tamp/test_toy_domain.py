"""A domain is one module: the toy ``lineup`` domain of ``tests/toy_domain`` (its .pddl,
types, facts, placement stream and effects) and a task stated in it plan and execute an
episode, and nothing outside that folder names them."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def lineup():
    """Import the toy module (which registers its domain and task); take both out again
    afterwards so that no other test sees them."""
    import gymnasium

    from scenes.tasks.registry import TASKS
    from tamp.domains import DOMAINS

    module = importlib.import_module("toy_domain.lineup")
    yield module
    DOMAINS.remove("lineup")
    TASKS.remove("lineup")
    gymnasium.registry.pop("tamp-test/Lineup-v0", None)
    sys.modules.pop("toy_domain.lineup", None)


def test_nothing_outside_the_toy_folder_names_the_domain():
    out = subprocess.run(["grep", "-rlwi", "-e", "lineup", "-e", "set-down",
                          "tamp", "policies", "scenes", "experiments", "robots"],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.stdout == ""


def test_the_toy_domain_plans_symbolically_and_refines(lineup):
    import numpy as np

    import robots
    from tamp.domains import get_domain
    from tamp.planner import Planner, PlannerConfig, symbolic_state
    from tamp.world import WorldModel

    inst = lineup.Lineup().sample(np.random.default_rng(0))
    world = WorldModel({o.name: o for o in inst.objects},
                       zones={z.name: z for z in inst.zones})
    assert ("at", "red_block", "floor") in symbolic_state(world, "lineup")
    assert get_domain("lineup").take_action(world, "red_block") == \
        ("grab", "red_block", "floor")
    robot = robots.load()
    plan = Planner(robot, PlannerConfig(domain="lineup", seed=0)).plan(world, inst.goal,
                                                                     robot.home)
    assert plan.success, plan.reason
    assert [a.name for a in plan.actions] == ["grab", "set-down"] * 2


@pytest.mark.slow
def test_an_episode_of_the_toy_task_succeeds_under_physics(lineup):
    from policies import make_policy
    from scenes.env import TabletopEnv
    from tamp.planner import PlannerConfig

    env = TabletopEnv("lineup")
    try:
        env.reset(seed=3)
        outcome = make_policy("tamp", config=PlannerConfig(seed=3)).run(env)
    finally:
        env.close()
    assert outcome.success, outcome.failure_reason
    assert [a["name"] for a in outcome.plan] == ["grab", "set-down"] * 2
    assert outcome.extra["goal_status"] == {"at blue_block spot_3": True,
                                            "at red_block spot_1": True}
