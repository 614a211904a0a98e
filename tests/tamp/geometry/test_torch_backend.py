"""The planner's checker with ``CollisionConfig(backend="torch")`` gives the compiled
kernel's clearances: held load, ignore masks, point-cloud grid, joint limits, distance
cap and the self-collision switch included (on the CPU device)."""

from __future__ import annotations

import numpy as np
import pytest

from tamp.geometry.collision import CollisionChecker, CollisionConfig
from tamp.geometry.sdf import PointCloud
from tamp.geometry.transforms import translation
from tamp.world import Shape, WorldModel, WorldObject

# the clearances alone: the carried load's tilt limit (the same code on either backend)
# is tested in tests/tamp/test_upright_carry.py
KERNEL = CollisionConfig(carry_tilt=None)
TORCH = CollisionConfig(backend="torch", device="cpu", carry_tilt=None)


def _scene(kinematics, home) -> WorldModel:
    """Boxes, a cylinder, a bowl and a point cloud around the tool at ``home``."""
    tcp = kinematics.tcp_pose(home)[:3, 3]
    rng = np.random.default_rng(3)
    objects = {
        "box": WorldObject("box", "block", "red", Shape("box", (0.1, 0.1, 0.05)),
                           translation(tcp - (0, 0, 0.17))),
        "post": WorldObject("post", "block", "blue", Shape("cylinder", (0.03, 0.03, 0.3)),
                            translation(tcp + (0.12, 0.1, -0.05))),
        "bowl": WorldObject("bowl", "bowl", "green", Shape("bowl", (0.13, 0.09, 0.05)),
                            translation(tcp + (-0.05, -0.2, -0.2))),
        "wall": WorldObject("wall", "block", "gray", Shape("box", (0.02, 0.4, 0.4)),
                            translation(tcp + (0.2, 0.0, 0.0))),
    }
    d = rng.normal(size=(2000, 3))
    shell = tcp + (0.0, 0.2, 0.05) + 0.06 * d / np.linalg.norm(d, axis=1, keepdims=True)
    return WorldModel(objects, clouds={"clutter": PointCloud(shell)})


def _configurations(robot, n=600):
    """Configurations around ``home`` (most near an obstacle), a few past a limit."""
    rng = np.random.default_rng(0)
    qs = robot.home + rng.normal(scale=0.35, size=(n, len(robot.home)))
    qs = np.clip(qs, robot.lower, robot.upper)
    qs[:5, 3] = robot.upper[3] + 0.05
    return qs


def _pair(kinematics, world):
    return CollisionChecker(kinematics, world, KERNEL), CollisionChecker(kinematics, world, TORCH)


def _set(checkers, *, attach=None, gripper=None, **ignore):
    for c in checkers:
        if attach is not None:
            c.attach(*attach)
        if gripper is not None:
            c.gripper = gripper
        c.ignore(**ignore)


def _agree(kernel, torch_checker, qs, self_collision=True):
    a = kernel.clearances(qs, self_collision=self_collision)
    b = torch_checker.clearances(qs, self_collision=self_collision)
    assert np.array_equal(a > 0, b > 0) and np.array_equal(a < 0, b < 0)
    np.testing.assert_allclose(b, a, rtol=0, atol=1e-6)
    assert np.array_equal(kernel.free(qs), torch_checker.free(qs))
    return a


HELD = ("held", Shape("box", (0.04, 0.04, 0.2)), translation((0.0, 0.0, 0.03)))


@pytest.mark.parametrize("case", [
    dict(),
    dict(attach=HELD),
    dict(attach=HELD, robot=("clutter",), load=("box",)),
    dict(attach=HELD, robot=("post",), load=("bowl", "wall")),
    dict(attach=HELD, gripper=0.3, robot=("bowl",)),
], ids=["robot", "held", "held-ignore-cloud-and-box", "held-ignore-post", "held-gripper"])
def test_torch_backend_gives_the_kernels_clearances(robot, kinematics, case):
    world = _scene(kinematics, robot.home)
    kernel, torch_checker = _pair(kinematics, world)
    _set((kernel, torch_checker), **case)
    qs = _configurations(robot)
    d = _agree(kernel, torch_checker, qs)
    # the test means something: collisions, free ones, and clearances below the cap
    assert (d < 0).sum() > 50 and (d > 0).sum() > 50
    assert ((d > 0) & (d < kernel.config.distance_cap)).sum() > 20
    assert np.all(d[:5] == -1.0)
    _agree(kernel, torch_checker, qs, self_collision=False)
    for q0, q1 in zip(qs[5:40], qs[6:41]):
        assert kernel.edge_free(q0, q1) == torch_checker.edge_free(q0, q1)


def test_the_load_changes_what_the_torch_backend_reports(robot, kinematics):
    """The held object is not ignored: without it some configurations would read free."""
    world = _scene(kinematics, robot.home)
    kernel, torch_checker = _pair(kinematics, world)
    qs = _configurations(robot)
    bare = torch_checker.clearances(qs)
    _set((kernel, torch_checker), attach=HELD)
    held = _agree(kernel, torch_checker, qs)
    assert ((bare > 0) & (held < 0)).sum() > 10
    _set((kernel, torch_checker), load=("box", "wall", "post", "bowl", "table"))
    _agree(kernel, torch_checker, qs)
    for c in (kernel, torch_checker):
        c.detach()
    np.testing.assert_array_equal(torch_checker.clearances(qs), bare)


def test_backend_and_device_are_checked():
    assert CollisionConfig().resolved().backend == "kernel"
    assert CollisionConfig(backend="auto", device="cpu").resolved().backend == "kernel"
    with pytest.raises(ValueError, match="backend"):
        CollisionConfig(backend="gpu").resolved()
    with pytest.raises(ValueError, match="CPU only"):
        CollisionConfig(backend="kernel", device="cuda").resolved()
    with pytest.raises(ValueError, match="device"):
        CollisionConfig(backend="torch", device="tpu").resolved()
    auto = CollisionConfig(backend="auto", device="auto").resolved()
    assert (auto.device, auto.backend) in (("cpu", "kernel"), ("cuda", "torch"))


def _cluttered(rng) -> WorldModel:
    """Ten boxes and two cylinders on the table in front of the robot."""
    objects = {}
    for k in range(12):
        kind = "box" if k < 10 else "cylinder"
        size = (rng.uniform(0.04, 0.15), rng.uniform(0.04, 0.15), rng.uniform(0.04, 0.35))
        if kind == "cylinder":
            size = (size[0], size[0], size[2])
        pose = translation((rng.uniform(0.3, 0.8), rng.uniform(-0.45, 0.45), 0.0))
        yaw = rng.uniform(-np.pi, np.pi)
        pose[:2, :2] = [[np.cos(yaw), -np.sin(yaw)], [np.sin(yaw), np.cos(yaw)]]
        objects[f"o{k}"] = WorldObject(f"o{k}", "block", "grey", Shape(kind, size), pose)
    return WorldModel(objects)


@pytest.mark.parametrize("held", [False, True], ids=["bare", "held"])
def test_torch_backend_agrees_on_a_large_random_set(robot, kinematics, held):
    """20 000 configurations (uniform in the joint limits, and near the home pose, most of
    them near an obstacle or the arm itself): free flags identical and clearances within
    1e-6 m of the kernel's (float64), although the torch test culls its self-collision
    pairs by the clearance to the world and tests spheres in padded blocks."""
    rng = np.random.default_rng(7)
    world = _cluttered(rng)
    qs = np.concatenate([rng.uniform(robot.lower, robot.upper, size=(15_000, 7)),
                         np.clip(robot.home + rng.normal(scale=0.5, size=(5_000, 7)),
                                 robot.lower, robot.upper)])
    kernel, torch_checker = _pair(kinematics, world)
    if held:
        _set((kernel, torch_checker), attach=HELD)
    a = kernel.clearances(qs)
    assert (a < 0).sum() > 2000 and (a > 0).sum() > 2000
    assert ((a > 0) & (a < kernel.config.distance_cap)).sum() > 1000
    b = torch_checker.clearances(qs)
    assert np.array_equal(a > 0, b > 0) and np.array_equal(a < 0, b < 0)
    np.testing.assert_allclose(b, a, rtol=0, atol=1e-6)
    # and with the self test alone deciding (no world culling to lean on)
    torch_checker.ignore(robot=tuple(world.objects) + ("table",))
    kernel.ignore(robot=tuple(world.objects) + ("table",))
    np.testing.assert_allclose(torch_checker.clearances(qs[:3000]),
                               kernel.clearances(qs[:3000]), rtol=0, atol=1e-6)
