"""The 2F-85's pads sweep along the approach while they close (the linkage's arc): the
arm descends that much deeper and moves back by it as they close, so that in PyBullet the
fingertips meet the object at the planned height instead of rubbing down its sides."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pybullet as p
import pytest

from scenes.executor import Executor
from tamp.planner import Planner, PlannerConfig

FINGERS = ("robotiq_left_finger", "robotiq_right_finger")
FINGER_LENGTH = 0.065  #: m, the finger link's origin to its tip, pointing down


def _fingertips_z(sim) -> float:
    zs = [p.getLinkState(sim.robot_id, sim.link_index[link], computeForwardKinematics=True,
                         physicsClientId=sim.client)[4][2] - FINGER_LENGTH
          for link in FINGERS]
    return float(np.mean(zs))


def _pick(env, robot, seed: int):
    env.reset(seed=seed)
    plan = Planner(robot, PlannerConfig(seed=seed)).plan(
        env.oracle_world(), env.instance.goal, env.sim.arm_positions())
    assert plan.success, plan.reason
    return plan.actions[0]


def _fingertips_while_closing(env, action) -> list[float]:
    """Fingertip heights (m) over the close of ``action``, run in ``env`` up to it."""
    k = [s.label for s in action.segments].index("close")
    heights: list[float] = []
    executor = Executor(env)
    assert executor.run_actions([replace(action, segments=action.segments[:k])]) == ""
    executor.on_step = lambda e: heights.append(_fingertips_z(e.sim))
    executor.run_actions([replace(action, segments=action.segments[k:k + 1])])
    return heights


@pytest.mark.parametrize("seed", [3, 11])
def test_the_arm_moves_back_by_the_pads_sweep_while_they_close(env, robot, kinematics, seed):
    action = _pick(env, robot, seed)
    labels = [s.label for s in action.segments]
    close = action.segments[labels.index("close")]
    descend, lift = action.segments[labels.index("approach")], action.segments[
        labels.index("close") + 1]
    grasp_width = close.grip_width
    opening = action.segments[labels.index("open")].width
    g = robot.gripper
    sweep = g.pad_drop_at_width(grasp_width) - g.pad_drop_at_width(opening)
    assert sweep > 0.003  # a 44 mm block from 64 mm: about 4 mm
    # the close's arm move starts where the descent ends and ends where the lift starts,
    # the TCP backing off along the approach by the sweep, its orientation kept
    start, end = close.trajectory.positions[0], close.trajectory.positions[-1]
    assert np.array_equal(start, descend.trajectory.positions[-1])
    assert np.array_equal(end, lift.trajectory.positions[0])
    a, b = kinematics.tcp_pose(start), kinematics.tcp_pose(end)
    np.testing.assert_allclose(b[:3, 3] - a[:3, 3], -a[:3, 2] * sweep, atol=5e-4)
    np.testing.assert_allclose(a[:3, :3], b[:3, :3], atol=2e-3)

    # in PyBullet the fingertips keep their height while the pads close ...
    followed = _fingertips_while_closing(env, action)
    assert max(followed) - min(followed) < 0.4 * sweep, (sweep, max(followed) - min(followed))
    # ... where, with the arm held still, they sweep down by about the arc's drop
    env.reset(seed=seed)
    still = replace(action, segments=tuple(replace(s, trajectory=None, grip_width=None)
                                           if s.label == "close" else s
                                           for s in action.segments))
    swept = _fingertips_while_closing(env, still)
    assert max(swept) - min(swept) > sweep - 0.001, (sweep, max(swept) - min(swept))
