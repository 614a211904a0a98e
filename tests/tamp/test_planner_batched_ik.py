"""``IKConfig.batch``: the starts of each IK query solved at once in torch (on the CPU
device here) give the planner the plans the one-at-a-time pinocchio solver gives."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from scenes.tasks import make_task
from tamp.geometry.batch_ik import BatchedKinematics
from tamp.geometry.kinematics import IKConfig, Kinematics
from tamp.planner import Planner, PlannerConfig
from tamp.world import WorldModel


def _plan(robot, task: str, batch: str):
    instance = make_task(task).sample(np.random.default_rng(0))
    world = WorldModel({o.name: o for o in instance.objects},
                       zones={z.name: z for z in instance.zones})
    config = PlannerConfig(seed=0, time_budget=120.0, domain=instance.domain,
                           ik=IKConfig(batch=batch))
    planner = Planner(robot, config)
    return planner, planner.plan(world, instance.goal, robot.home)


def test_the_batch_setting_is_checked_and_picks_the_solver(robot):
    with pytest.raises(ValueError, match="unknown ik batch 'maybe'"):
        IKConfig(batch="maybe")
    assert type(Planner(robot, PlannerConfig(ik=IKConfig(batch="never"))).kin) is Kinematics
    assert type(Planner(robot, PlannerConfig()).kin) is Kinematics  # auto on the CPU
    assert isinstance(Planner(robot, PlannerConfig(ik=IKConfig(batch="always"))).kin,
                      BatchedKinematics)


def test_batched_ik_answers_as_the_sequential_solver(robot):
    """Same starts, same order, same step: on random reachable targets, with an ``accept``
    that turns the first solutions down, the same success and (but for a start that
    converges within rounding of the tolerance) the same solution."""
    seq, batched = Kinematics(robot), BatchedKinematics(robot)
    rng = np.random.default_rng(0)
    agree = 0
    for i in range(40):
        target = seq.tcp_pose(rng.uniform(robot.lower, robot.upper))
        seeds = [robot.home, rng.uniform(robot.lower, robot.upper)]
        seed = int(rng.integers(1 << 30))
        results = []
        for kin in (seq, batched):
            count = {"n": 0}

            def accept(q, count=count):
                count["n"] += 1
                return count["n"] > i % 3

            results.append((kin.ik(target, seeds, np.random.default_rng(seed), IKConfig(),
                                   accept), count["n"]))
        (a, tried_a), (b, tried_b) = results
        assert a.success == b.success
        if np.abs(a.q - b.q).max() < 1e-6:
            agree += 1
            assert tried_a == tried_b  # the same starts were offered to accept, in order
    assert agree >= 36
    # one start: the sequential solver itself
    target = seq.tcp_pose(robot.home)
    one = batched.ik(target, [robot.home], np.random.default_rng(0),
                     replace(IKConfig(), n_random_seeds=0))
    assert one.success and np.allclose(one.q, robot.home, atol=1e-3)


@pytest.mark.slow
@pytest.mark.parametrize("task", ["place-in-bowl", "clear-then-place"])
def test_the_planner_plans_alike_with_batched_ik(robot, task):
    _, sequential = _plan(robot, task, "never")
    planner, batched = _plan(robot, task, "always")
    assert isinstance(planner.kin, BatchedKinematics)
    assert sequential.success and batched.success, (sequential.reason, batched.reason)
    assert [(a.name, a.args) for a in batched.actions] == \
        [(a.name, a.args) for a in sequential.actions]
    for a, b in zip(sequential.actions, batched.actions):
        for s, t in zip(a.segments, b.segments):
            assert s.label == t.label
            if s.trajectory is not None:
                assert len(t.trajectory.positions) == len(s.trajectory.positions)
                np.testing.assert_allclose(t.trajectory.positions, s.trajectory.positions,
                                           atol=1e-4)
