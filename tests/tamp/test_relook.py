"""A plan that fails on what a camera saw is tried again on a second look (the first
look's fit may have erred), within the loop's replans; without a camera it is final."""

from __future__ import annotations

from dataclasses import replace

import pytest

from scenes.agent_io import OraclePerceiver, SimActuator
from tamp.execution.loop import ClosedLoop
from tamp.planner import Planner, PlannerConfig
from tamp.world import Shape


class FirstLookTooWide(OraclePerceiver):
    """TEST DOUBLE: ground truth, except that the first ``wrong`` looks see every block
    20 cm wide (wider than the gripper opens: no grasp), as a badly fitted view might."""

    def __init__(self, env, wrong: int = 1):
        super().__init__(env)
        self.wrong = wrong
        self.looks = 0

    def observe(self):
        world = super().observe()
        self.looks += 1
        if self.looks > self.wrong:
            return world
        return replace(world, objects={
            n: replace(o, shape=Shape("box", (0.2, 0.2, o.shape.height)))
            if o.category == "block" else o for n, o in world.objects.items()})


@pytest.mark.parametrize("camera, wrong, max_replans, reached", [
    (True, 1, 3, True),     # looked again, planned, done
    (True, 2, 3, True),     # twice
    (True, 1, 0, False),    # no replans left
    (False, 1, 3, False),   # no camera: the state is what it is
])
def test_a_plan_failed_on_a_look_is_tried_on_the_next(env, camera, wrong, max_replans,
                                                      reached):
    env.reset(seed=0)
    perceiver = FirstLookTooWide(env, wrong)
    planner = Planner(env.robot, PlannerConfig(domain=env.instance.domain, time_budget=10.0))
    loop = ClosedLoop(perceiver, SimActuator(env), planner, env.robot, max_replans,
                      camera=camera)
    out = loop.run(perceiver.observe(), env.instance.goal, env.instance.domain, "goal")
    if reached:
        assert out.reason == "" and out.relooks == out.replans == wrong
        assert env.task.success(env.instance, env.oracle_world(), env.object_truth()).success
    else:
        assert out.reason.startswith("planning failed") and out.relooks == 0
        assert perceiver.looks == 1
