"""Point-cloud obstacles through a distance grid: conservative, and seen by both backends."""

from __future__ import annotations

import numpy as np
import torch

from tamp.geometry.batch import BatchCollisionChecker
from tamp.geometry.collision import CollisionChecker
from tamp.geometry.sdf import DistanceGrid, PointCloud
from tamp.world import WorldModel


def _cloud(rng, centre=(0.5, 0.0, 0.25), n=3000):
    # points on a 20 cm sphere shell: clutter seen by a camera
    d = rng.normal(size=(n, 3))
    return PointCloud(np.asarray(centre) + 0.1 * d / np.linalg.norm(d, axis=1, keepdims=True))


def test_grid_clearance_never_overstates_the_true_distance():
    rng = np.random.default_rng(0)
    cloud = _cloud(rng)
    grid = DistanceGrid.from_clouds([cloud], spacing=0.01)
    queries = rng.uniform((0.2, -0.3, -0.05), (0.8, 0.3, 0.55), (5000, 3))
    true = np.linalg.norm(queries[:, None] - cloud.points[None], axis=-1).min(axis=1) \
        - cloud.radius
    bound = grid.clearance(queries)
    assert np.all(bound <= true + 1e-9)
    near = true < 0.08  # inside the grid: the bound is within about a node diagonal
    assert near.sum() > 500
    assert np.median(true[near] - bound[near]) < 0.012


def test_robot_sees_the_cloud_with_both_backends(robot, kinematics):
    rng = np.random.default_rng(1)
    tcp = kinematics.tcp_pose(robot.home)[:3, 3]
    world = WorldModel({}, clouds={"clutter": _cloud(rng, centre=tcp)})
    kernel = CollisionChecker(kinematics, world)
    assert not kernel.is_free(robot.home)  # the hand sits in the middle of the shell
    far = WorldModel({}, clouds={"clutter": _cloud(rng, centre=(0.6, -0.5, 0.1))})
    assert CollisionChecker(kinematics, far).is_free(robot.home)
    # ignoring the cloud by name makes it vanish
    kernel.ignore(robot=("clutter",))
    assert kernel.is_free(robot.home)
    # the torch path agrees on a batch around the cloud
    qs = robot.home + rng.normal(scale=0.3, size=(300, 7))
    qs = np.clip(qs, robot.lower, robot.upper)
    torch_checker = BatchCollisionChecker(kinematics, world, backend="torch")
    kernel.ignore()
    a = kernel.clearances(qs) > 0
    b = torch_checker.check(torch.as_tensor(qs, dtype=torch.float32)).free.numpy()
    assert np.array_equal(a, b)
    assert 0 < a.sum() < len(a)
