"""The gymnasium environment, the scene and the camera."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import scenes  # noqa: F401  (registers the gymnasium ids)
from scenes.tasks import make_task, task_names


def test_gymnasium_make_and_check_env():
    env = gymnasium.make("tamp/PlaceInBowl-v0", render_mode="rgb_array")
    try:
        check_env(env.unwrapped)
    finally:
        env.close()


def test_registry_lists_the_task_once_and_rejects_unknown_names():
    assert task_names().count("place-in-bowl") == 1
    with pytest.raises(KeyError, match="place-in-bowl"):
        make_task("stack-everything")


def test_reset_is_seeded(env):
    a, _ = env.reset(seed=7)
    b, _ = env.reset(seed=7)
    c, _ = env.reset(seed=8)
    np.testing.assert_array_equal(a["objects"], b["objects"])
    assert not np.array_equal(a["objects"], c["objects"])


def test_scenes_vary_within_the_stated_ranges():
    task = make_task("place-in-bowl")
    reds, others = set(), set()
    for seed in range(40):
        inst = task.sample(np.random.default_rng(seed))
        names = [o.name for o in inst.objects]
        n_red = sum(n.startswith("red_block") for n in names)
        reds.add(n_red)
        others.add(sum(o.category == "block" for o in inst.objects) - n_red)
        assert "green_bowl" in names
        assert inst.goal == frozenset(("in", f"red_block_{k}", "green_bowl")
                                      for k in range(n_red))
        blocks = [o for o in inst.objects if o.category == "block"]
        assert all(0.04 <= s <= 0.05 for o in blocks for s in o.shape.size)
        # no two objects overlap
        xy = np.array([o.position[:2] for o in inst.objects])
        d = np.linalg.norm(xy[:, None] - xy[None], axis=-1) + np.eye(len(xy))
        assert d.min() > 0.05
    assert reds == {1, 2} and others == {2, 3, 4}


def test_success_is_false_at_the_start(env):
    _, info = env.reset(seed=0)
    assert info["success"] is False
    assert set(info["goal"].values()) == {False}


def test_success_when_the_red_blocks_are_in_the_green_bowl(env):
    """Put the blocks in the bowl by hand (reset their poses) and let them settle."""
    import pybullet as p

    env.reset(seed=2)
    sim = env.sim
    bowl = sim.object_pose("green_bowl")
    reds = [n for n in sim.objects if n.startswith("red_block")]
    for k, name in enumerate(reds):
        offset = np.array([0.04 * (2 * k - 1) if len(reds) > 1 else 0.0, 0, 0.03])
        p.resetBasePositionAndOrientation(sim.bodies[name], bowl[:3, 3] + offset,
                                          (0, 0, 0, 1), physicsClientId=sim.client)
    for _ in range(80):
        _, reward, terminated, _, info = env.step(np.append(env.robot.home, 0.085))
    assert info["success"] and terminated and reward == 1.0


def test_camera_gives_rgb_metric_depth_and_masks(env):
    env.reset(seed=0)
    frame = env.capture()
    h, w = frame.depth.shape
    assert frame.rgb.shape == (h, w, 3) and frame.rgb.dtype == np.uint8
    # the camera looks at the table from ~1 m: depths are metric and plausible
    assert 0.3 < float(np.median(frame.depth)) < 2.0
    for name in env.sim.objects:
        mask = frame.mask(name)
        assert mask.sum() > 20, name
    # the green bowl's pixels are green
    g = frame.rgb[frame.mask("green_bowl")].mean(axis=0)
    assert g[1] > g[0] and g[1] > g[2]
    # back-projecting a mask's centre lands near the object (intrinsics/extrinsics agree)
    ys, xs = np.nonzero(frame.mask("green_bowl"))
    v, u = int(np.median(ys)), int(np.median(xs))
    z = frame.depth[v, u]
    ray = np.linalg.inv(frame.intrinsics) @ np.array([u + 0.5, v + 0.5, 1.0]) * z
    world = frame.extrinsics @ np.append(ray, 1.0)
    assert np.linalg.norm(world[:2] - env.sim.object_pose("green_bowl")[:2, 3]) < 0.1


@pytest.mark.parametrize("action, words", [
    (np.zeros(7), "shape"),
    (np.zeros((2, 8)), "shape"),
    (np.array([np.nan] + [0.0] * 7), "finite"),
    (np.array([0.0] * 7 + [np.inf]), "finite"),
])
def test_bad_actions_are_refused_and_leave_the_state_alone(env, action, words):
    env.reset(seed=0)
    before = env.sim.arm_positions().copy()
    with pytest.raises(ValueError, match=words):
        env.step(action)
    assert np.all(np.isfinite(env.sim.arm_positions()))
    np.testing.assert_array_equal(env.sim.arm_positions(), before)


def test_a_dropped_environment_releases_its_simulator():
    import gc

    import pybullet as p

    from scenes.env import TabletopEnv

    e = TabletopEnv("lift")
    client = e.sim.client
    assert p.isConnected(client)
    del e
    gc.collect()
    assert not p.isConnected(client)


def test_a_closed_environment_dropped_later_leaves_a_newer_one_alone():
    """PyBullet reuses client ids: the finaliser of an environment closed before must
    not disconnect the newer one that got its id."""
    import gc

    import pybullet as p

    from scenes.env import TabletopEnv

    old = TabletopEnv("lift")
    old.close()
    new = TabletopEnv("lift")
    try:
        del old
        gc.collect()
        assert p.isConnected(new.sim.client)
        new.reset(seed=0)
    finally:
        new.close()
