"""The ``lift`` task with antipodal grasps found on the object's points."""

from __future__ import annotations

import pytest

from policies import make_policy
from scenes.env import TabletopEnv
from scenes.tasks.lift import Lift
from tamp.planner import PlannerConfig


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["cylinder", "disk"])
def test_antipodal_grasp_lifts_the_object(kind):
    env = TabletopEnv("lift")
    try:
        env.task = Lift(kind)
        _, info = env.reset(seed=5)
        assert info["success"] is False and info["description"] == f"pick up the red {kind}"
        outcome = make_policy("tamp", config=PlannerConfig(seed=5, grasp_source="antipodal")
                              ).run(env)
        assert outcome.success, outcome.failure_reason
        assert [a["name"] for a in outcome.plan] == ["pick"]
    finally:
        env.close()


def test_lift_is_not_success_while_the_object_rests():
    env = TabletopEnv("lift")
    try:
        for seed in range(3):
            _, info = env.reset(seed=seed)
            assert info["success"] is False
    finally:
        env.close()
