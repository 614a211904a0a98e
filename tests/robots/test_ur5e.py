"""The UR5e + 2F-85 description: generated from Universal Robots' standard DH table, its
forward kinematics is that formula (pinocchio and PyBullet agree on it: see
test_description.py, for every robot), and the planner's collision model covers it."""

from __future__ import annotations

import math

import numpy as np
import pytest

import robots
from robots.tools import build_ur5e_2f85 as ur
from robots.tools.fit_spheres import build as fit_spheres


@pytest.fixture(scope="module")
def ur5e():
    return robots.load("ur5e_2f85")


@pytest.fixture(scope="module")
def kin(ur5e):
    from tamp.geometry.kinematics import Kinematics

    return Kinematics(ur5e)


def test_committed_files_match_their_generators(ur5e):
    assert ur5e.urdf.read_text() == ur.build()
    assert (ur5e.urdf.parent / "ur5e_2f85_spheres.yaml").read_text() == \
        fit_spheres("ur5e_2f85")
    assert "ur5e_2f85" in robots.available()


def test_forward_kinematics_is_the_standard_dh_formula(ur5e, kin):
    """The flange (UR's tool0) where the DH formula puts it, to 1e-9 m, on random joints
    over the whole range."""
    rng = np.random.default_rng(7)
    worst_p = worst_r = 0.0
    for _ in range(200):
        q = rng.uniform(ur5e.lower, ur5e.upper)
        dh = ur.dh_frames(q)[-1]
        urdf = kin.frame_pose(q, ur5e.flange_link)
        worst_p = max(worst_p, float(np.abs(urdf[:3, 3] - dh[:3, 3]).max()))
        worst_r = max(worst_r, float(np.abs(urdf[:3, :3] - dh[:3, :3]).max()))
    assert worst_p < 1e-9 and worst_r < 1e-9


def test_published_dimensions(ur5e, kin):
    # q = 0: stretched out along -x at shoulder height 0.1625, the flange 0.1333 + 0.0996
    # to the side and 0.0997 below: UR's table, read off directly
    flange = kin.frame_pose(np.zeros(6), ur5e.flange_link)
    np.testing.assert_allclose(flange[:3, 3], [-0.8172, -0.2329, 0.0628], atol=1e-9)
    # reach: the wrist centre's distance from the shoulder axis, arm straight
    assert math.hypot(0.425 + 0.3922, 0.1333) == pytest.approx(0.828, abs=1e-3)


def test_home_looks_down_at_the_table_like_the_panda(ur5e, kin):
    tcp = kin.tcp_pose(ur5e.home)
    np.testing.assert_allclose(tcp[:3, 3], [0.307, 0.0, 0.450], atol=1e-3)
    np.testing.assert_allclose(tcp[:3, 2], [0, 0, -1], atol=1e-3)  # approach straight down


def test_home_is_free_and_the_table_reachable(ur5e, kin):
    from tamp.geometry.collision import CollisionChecker
    from tamp.geometry.transforms import rpy_pose
    from tamp.world import WorldModel

    world = WorldModel({}, table_extent=(-0.3, 0.9, -0.6, 0.6), table_height=0.0)
    checker = CollisionChecker(kin, world)
    assert checker.clearances(ur5e.home)[0] > 0  # neither the table nor itself
    rng = np.random.default_rng(0)
    # grasps straight down over the tasks' table area, the tool 2 cm above the top
    for x, y in [(0.35, -0.3), (0.35, 0.3), (0.6, 0.0), (0.7, -0.25), (0.45, 0.0)]:
        target = rpy_pose((x, y, 0.04), (math.pi, 0.0, 0.0))
        result = kin.ik(target, [ur5e.home], rng)
        assert result.success, (x, y)
        assert checker.clearances(result.q)[0] > 0, (x, y)


def test_the_gymnasium_env_takes_the_robot_by_name():
    import gymnasium as gym

    import scenes  # noqa: F401  (registers the environments)

    env = gym.make("tamp/Lift-v0", robot="ur5e_2f85")
    try:
        assert env.action_space.shape == (7,)  # 6 joints and the gripper opening
        obs, _ = env.reset(seed=0)
        obs, *_ = env.step(np.append(env.unwrapped.robot.home, 0.085))
        assert obs["robot"].shape == (7,)
        with pytest.raises(ValueError, match=r"6 joint targets"):
            env.unwrapped.step(np.zeros(8))
    finally:
        env.close()


def test_an_episode_runs_with_the_ur5e_and_says_so(tmp_path):
    from experiments.cli import main

    assert main(["run", "--task", "lift", "--seed", "2", "--robot", "ur5e_2f85",
                 "--out", str(tmp_path)]) == 0
    import json

    result = json.loads((tmp_path / "result.json").read_text())
    assert result["robot"] == "ur5e_2f85" and result["success"] is True


def test_a_benchmark_resumes_only_results_of_the_same_robot(tmp_path):
    import json

    from experiments.bench_episodes import _result
    from experiments.episode import settings_of

    path = tmp_path / "result.json"
    old = {"task": "lift", "seed": 0, "camera": "ideal", **settings_of(60.0, {})}
    del old["robot"]  # a result from before robots were recorded: the Panda's
    path.write_text(json.dumps(old))
    assert _result(path, "ideal", settings_of(60.0, {}, "panda_2f85")) is not None
    assert _result(path, "ideal", settings_of(60.0, {}, "ur5e_2f85")) is None
