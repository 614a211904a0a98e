"""A carried object stays upright: the pads hold it by friction, so no path may turn it
over (a UR arm's wrist flipping between two postures on the way, or a joint on the other
whole turn, swings the load through 150 degrees and more). The checker refuses states
that tilt it past ``CollisionConfig.carry_tilt``, and the refinement picks and places in
postures a carry can join upright."""

from __future__ import annotations

import numpy as np
import pytest

import robots
from tamp.geometry.collision import CollisionChecker, CollisionConfig
from tamp.geometry.kinematics import Kinematics, turn_variants
from tamp.geometry.transforms import translation
from tamp.planner import Planner, PlannerConfig
from tamp.world import Shape, WorldModel

BOX = Shape("box", (0.04, 0.04, 0.04))
#: a top grasp: the tool points down, the object's up axis is the tool's -z
TOP_GRASP = np.diag([1.0, -1.0, -1.0, 1.0]) @ translation((0, 0, -0.02))


def _tilt(kin: Kinematics, q: np.ndarray, up: np.ndarray) -> float:
    """Degrees between the held object's up axis and the world's up, by pinocchio."""
    return float(np.degrees(np.arccos(np.clip(kin.tcp_pose(q)[:3, :3][2] @ up, -1, 1))))


@pytest.mark.parametrize("backend", ["kernel", "torch"])
@pytest.mark.parametrize("name", robots.available())
def test_a_load_tilted_past_the_limit_is_refused_and_an_upright_one_is_not(name, backend):
    robot = robots.load(name)
    kin = Kinematics(robot)
    checker = CollisionChecker(kin, WorldModel({}), CollisionConfig(backend=backend))
    limit = np.degrees(checker.config.carry_tilt)
    home = np.asarray(robot.home, float)
    up = TOP_GRASP[:3, 2]
    # the wrist's last pitching joint tilts the tool: a few angles either side of the limit
    pitch = robot.dof - 2
    states = []
    for delta in np.linspace(-1.2, 1.2, 13):
        q = home.copy()
        q[pitch] += delta
        states.append(q)
    states = np.array(states)
    states = states[checker.free(states)]  # the empty hand's free ones
    checker.attach("box", BOX, TOP_GRASP)
    tilts = np.array([_tilt(kin, q, up) for q in states])
    assert tilts.min() < 1.0 and tilts.max() > limit + 10.0
    np.testing.assert_array_equal(checker.tilted(states), tilts > limit)
    np.testing.assert_array_equal(checker.free(states), tilts <= limit)
    assert checker.is_free(home)
    tipped = states[np.argmax(tilts)]
    assert not checker.edge_free(home, tipped) and not checker.edge_upright(home, tipped)
    # without a limit the same states are free again
    loose = CollisionChecker(kin, WorldModel({}), CollisionConfig(carry_tilt=None))
    loose.attach("box", BOX, TOP_GRASP)
    assert loose.free(states).all() and loose.tilted(states) is None
    checker.detach()
    assert checker.tilted(states) is None and checker.free(states).all()


def test_turn_variants_are_the_same_pose_nearest_first():
    robot = robots.load("ur5e_2f85")
    kin = Kinematics(robot)
    q = np.array([0.84, -2.39, -0.93, -4.53, -1.57, 4.4])
    variants = turn_variants(q, q, robot.lower, robot.upper)
    # each of the six joints has two turns in -2pi..2pi (the elbow, +-pi, one)
    assert len(variants) == 2 ** 5
    np.testing.assert_allclose(variants[0], q)
    for v in variants:
        assert np.all(v >= robot.lower) and np.all(v <= robot.upper)
        np.testing.assert_allclose(kin.tcp_pose(v), kin.tcp_pose(q), atol=1e-9)
    gaps = [np.abs(v - q).max() for v in variants]
    assert gaps == sorted(gaps)
    # the wrist_1 turn that makes the arm's pitching joints sum as at home is among them
    home = np.asarray(robot.home)
    assert any(abs(v[1:4].sum() - home[1:4].sum()) < 0.05 for v in variants)


def _carry_tilts(robot, plan) -> list[float]:
    """Per carrying move of ``plan``: the most its load turns away from how it was
    picked up (degrees), over the move's samples (the TCP's approach axis)."""
    kin = Kinematics(robot)
    out = []
    for action in plan.actions:
        for seg in action.segments:
            if seg.kind == "move" and seg.holding is not None:
                z0 = kin.tcp_pose(seg.trajectory.positions[0])[:3, 2]
                out.append(max(float(np.degrees(np.arccos(np.clip(
                    kin.tcp_pose(q)[:3, 2] @ z0, -1, 1)))) for q in seg.trajectory.positions))
    return out


@pytest.mark.parametrize("task,seed", [("packing-boxes", 87014), ("sort-by-colour", 87045)])
def test_the_ur5e_carries_every_object_upright(task, seed):
    """On these seeds the UR5e's plan once carried a box through 154 degrees (its wrist
    flipped over between pick and place) and the box slid out of the pads."""
    from scenes.env import TabletopEnv

    robot = robots.load("ur5e_2f85")
    env = TabletopEnv(task, robot="ur5e_2f85")
    try:
        env.reset(seed=seed)
        plan = Planner(robot, PlannerConfig(seed=seed)).plan(
            env.oracle_world(), env.instance.goal, env.sim.arm_positions())
    finally:
        env.close()
    assert plan.success, plan.reason
    tilts = _carry_tilts(robot, plan)
    assert len(tilts) >= 3 * 4  # lift, transfer and lower of four objects at least
    assert max(tilts) <= np.degrees(CollisionConfig().carry_tilt) + 0.5, tilts
