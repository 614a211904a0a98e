"""A planned episode, executed under physics with the block held by friction only."""

from __future__ import annotations

import pybullet as p
import pytest

from policies import make_policy
from tamp.planner import PlannerConfig


@pytest.mark.slow
def test_planned_episode_succeeds_with_friction_grasps(env):
    env.reset(seed=0)
    outcome = make_policy("tamp", config=PlannerConfig(seed=0)).run(env)
    assert outcome.success, outcome.failure_reason
    assert [a["name"] for a in outcome.plan][:2] == ["pick", "place-in"]
    # nothing attached the block to the gripper: the only constraint is the gripper's own
    # finger coupling, between two links of the robot
    cid = env.sim.client
    for k in range(p.getNumConstraints(physicsClientId=cid)):
        info = p.getConstraintInfo(p.getConstraintUniqueId(k, physicsClientId=cid),
                                   physicsClientId=cid)
        assert info[0] == env.sim.robot_id and info[2] == env.sim.robot_id
    assert all(outcome.extra["goal_status"].values())


@pytest.mark.slow
def test_executor_reports_a_dropped_block(env):
    """Closed-loop monitoring: weaken the grip so the block slips, and the executor says so."""
    env.reset(seed=1)
    env.sim.config = type(env.sim.config)(grip_force=0.3)
    outcome = make_policy("tamp", config=PlannerConfig(seed=1)).run(env)
    assert not outcome.success
    assert "slipped" in outcome.failure_reason or "grasp" in outcome.failure_reason


@pytest.mark.slow
def test_an_object_nudged_between_steps_is_picked_where_it_lies(env, monkeypatch):
    """After each step the agent compares where the next step's object is with where its
    grasp was computed; 2 cm off, it plans again from what it sees (not a failure)."""
    from scenes.executor import Executor

    env.reset(seed=0)
    actions = dict(pick=None)
    run_actions = Executor.run_actions

    def nudge_after_first_step(self, step):
        reason = run_actions(self, step)
        if actions["pick"] is None:  # once: push the block that is still on the table
            actions["pick"] = step[0].args[0]
            other = next(n for n in ("red_block_0", "red_block_1") if n != step[0].args[0])
            body = env.sim.bodies[other]
            pos, quat = p.getBasePositionAndOrientation(body, physicsClientId=env.sim.client)
            p.resetBasePositionAndOrientation(body, (pos[0] + 0.02, pos[1] - 0.01, pos[2]),
                                              quat, physicsClientId=env.sim.client)
        return reason

    monkeypatch.setattr(Executor, "run_actions", nudge_after_first_step)
    outcome = make_policy("tamp", config=PlannerConfig(seed=0)).run(env)
    assert outcome.success, outcome.failure_reason
    assert outcome.extra["refreshes"] == 1 and outcome.extra["replans"] == 0
