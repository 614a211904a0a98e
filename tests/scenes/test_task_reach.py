"""Every task's scene lies within every robot's reach: for each robot of ``robots/``, each
task and a few seeds, the robot's own kinematics finds a top-down pose of the tool over
every object of the reset scene (at its top, where a grasp holds it, and 10 cm above,
where the approach starts) and over every marked place (hanoi's places, the pyramid's),
at the height of the tallest thing in the scene, which a place must take."""

from __future__ import annotations

import math

import numpy as np
import pytest

import robots
from scenes.env import TabletopEnv
from scenes.tasks import task_names
from tamp.geometry.kinematics import Kinematics
from tamp.geometry.transforms import rpy_pose, yaw_of

SEEDS = range(6)
APPROACH = 0.10  #: m above a grasp where the straight descent starts


@pytest.fixture(scope="module")
def scenes():
    """(task, seed) -> (object name -> (x, y, top, yaw), place name -> (x, y, yaw), the
    tallest top), from the reset scene."""
    out = {}
    for task in task_names():
        env = TabletopEnv(task)
        try:
            for seed in SEEDS:
                env.reset(seed=seed)
                world = env.oracle_world()
                objects = {n: (*o.pose[:2, 3], o.pose[2, 3] + o.shape.height, yaw_of(o.pose))
                           for n, o in world.objects.items()}
                places = {n: (*z.pose[:2, 3], yaw_of(z.pose)) for n, z in world.zones.items()}
                out[task, seed] = objects, places, max(t for _, _, t, _ in objects.values())
        finally:
            env.close()
    return out


def _reachable(kin: Kinematics, x: float, y: float, z: float, yaw: float) -> bool:
    """A top-down tool pose at (x, y, z) turned by ``yaw`` or a quarter turn more (a
    gripper takes either side), solved from the robot's home."""
    rng = np.random.default_rng(0)
    return any(kin.ik(rpy_pose((x, y, z), (math.pi, 0.0, a)), [kin.robot.home], rng).success
               for a in (yaw, yaw + math.pi / 2))


@pytest.mark.parametrize("robot", robots.available())
def test_every_object_and_place_is_within_reach(robot, scenes):
    kin = Kinematics(robots.load(robot))
    out = []
    for (task, seed), (objects, places, tallest) in scenes.items():
        for name, (x, y, top, yaw) in objects.items():
            for z in (top, top + APPROACH):
                if not _reachable(kin, x, y, z, yaw):
                    out.append(f"{task} seed {seed}: {name} at ({x:.3f}, {y:.3f}, {z:.3f}), "
                               f"{math.hypot(x, y):.3f} m from the base")
        for name, (x, y, yaw) in places.items():
            if not _reachable(kin, x, y, tallest, yaw):
                out.append(f"{task} seed {seed}: place {name} at ({x:.3f}, {y:.3f}, "
                           f"{tallest:.3f})")
    assert len(scenes) == len(task_names()) * len(SEEDS)
    assert not out, f"out of {robot}'s reach:\n" + "\n".join(out)


def test_the_check_can_fail():
    """A point past the UR5e's 0.85 m reach and one beside the Panda's base are refused."""
    for name, xy in (("ur5e_2f85", (1.0, 0.0)), ("panda_2f85", (0.05, 0.0))):
        assert not _reachable(Kinematics(robots.load(name)), *xy, 0.03, 0.0), name
