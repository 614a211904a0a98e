"""Batched forward kinematics, collision checking and IK (torch, on the CPU here)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import robots
from robots.tools import fit_spheres
from tamp.geometry.batch import BatchCollisionChecker, TorchKinematics
from tamp.geometry.batch_ik import BatchIK
from tamp.geometry.collision import CollisionChecker
from tamp.geometry.sphere_model import SphereModel
from tamp.geometry.spheres import load_spheres, spheres_from_urdf
from tamp.world import Shape, WorldModel, WorldObject

DEVICE = "cpu"


def _world(seed=0):
    rng = np.random.default_rng(seed)
    objects = {}
    for k in range(8):
        t = np.eye(4)
        t[:3, 3] = (rng.uniform(0.3, 0.8), rng.uniform(-0.4, 0.4), 0.0)
        kind = "box" if k % 2 else "cylinder"
        size = (0.05, 0.08, 0.2) if kind == "box" else (0.04, 0.04, 0.3)
        objects[f"o{k}"] = WorldObject(f"o{k}", "block", "grey", Shape(kind, size), t)
    return WorldModel(objects)


def test_stored_spheres_match_the_fitting_tool(robot):
    stored = (robots.ROOT / "panda_2f85" / "panda_2f85_spheres.yaml").read_text()
    assert stored == fit_spheres.build("panda_2f85")
    loaded = load_spheres(robots.ROOT / "panda_2f85" / "panda_2f85_spheres.yaml")
    fitted = spheres_from_urdf(robot.urdf)
    for name, s in fitted.items():  # rounding for the file never shrinks the cover
        assert np.abs(loaded[name].centres - s.centres).max() <= 5e-7
        assert np.all(loaded[name].radii >= s.radii + 5e-7)
    assert set(robot.collision_spheres) >= {"panda_link7", "robotiq_left_finger"}


def test_torch_fk_matches_pinocchio(robot, kinematics):
    model = SphereModel.build(kinematics, robot.collision_spheres, 0.0)
    fk = TorchKinematics(model, DEVICE, torch.float64)
    rng = np.random.default_rng(0)
    qs = rng.uniform(robot.lower, robot.upper, (100, 7))
    tcp = fk.tcp_pose(torch.as_tensor(qs), 0.02).numpy()
    for q, t in zip(qs, tcp):
        ref = kinematics.frame_pose(q, robot.tcp_frame, 0.02)
        assert np.abs(t[:3, 3] - ref[:3, 3]).max() < 1e-6
        assert np.abs(t[:3, :3] - ref[:3, :3]).max() < 1e-9


def test_torch_checker_agrees_with_the_compiled_kernel(robot, kinematics):
    world = _world()
    kernel = CollisionChecker(kinematics, world)
    batched = BatchCollisionChecker(kinematics, world, device=DEVICE, backend="torch")
    assert batched.backend == "torch"
    qs = np.random.default_rng(1).uniform(robot.lower, robot.upper, (2000, 7))
    d_kernel = kernel.clearances(qs)
    result = batched.check(torch.as_tensor(qs, dtype=torch.float32))
    assert result.free.dtype == torch.bool and result.free.shape == (2000,)
    assert np.array_equal(result.free.numpy(), d_kernel > 0)
    assert 0.2 < (d_kernel > 0).mean() < 0.9  # a real mix of free and colliding
    near = d_kernel < kernel.config.distance_cap
    assert np.abs(result.distance.numpy()[near] - d_kernel[near]).max() < 1e-5
    # gripper opening moves the finger spheres the same way on both paths
    closed = robot.gripper.joint_for_width(0.01)
    kernel.gripper = closed
    assert np.array_equal(batched.check(torch.as_tensor(qs[:300], dtype=torch.float32),
                                        gripper=closed).free.numpy(),
                          kernel.clearances(qs[:300]) > 0)


def test_auto_backend_and_device_checks(kinematics):
    world = _world()
    auto = BatchCollisionChecker(kinematics, world, device="cpu")
    assert auto.backend == "kernel"
    qs = torch.zeros(3, 7)
    assert auto.check(qs).free.shape == (3,)
    with pytest.raises(ValueError, match="backend"):
        BatchCollisionChecker(kinematics, world, backend="gpu-magic")
    with pytest.raises(ValueError, match="CPU only"):
        BatchCollisionChecker(kinematics, world, device="meta", backend="kernel")


def test_edge_check_stops_at_the_first_collision(robot, kinematics):
    world = _world()
    checker = CollisionChecker(kinematics, world)
    rng = np.random.default_rng(2)
    free = [q for q in rng.uniform(robot.lower, robot.upper, (400, 7)) if checker.is_free(q)]
    blocked = free_pairs = 0
    for a, b in zip(free[:-1:2], free[1::2]):
        n = int(np.ceil(np.abs(b - a).max() / checker.config.resolution))
        dense = all(checker.is_free(a + s * (b - a)) for s in np.linspace(0, 1, n + 1))
        assert checker.edge_free(a, b) == dense
        blocked += not dense
        free_pairs += dense
    assert blocked > 5 and free_pairs > 5


def test_batched_ik_solves_tabletop_poses_within_limits(robot, kinematics):
    model = SphereModel.build(kinematics, robot.collision_spheres, 0.0)
    ik = BatchIK(model, robot.lower, robot.upper, device=DEVICE)
    rng = np.random.default_rng(3)
    targets = []
    while len(targets) < 40:
        t = kinematics.tcp_pose(rng.uniform(robot.lower, robot.upper))
        if 0.3 <= t[0, 3] <= 0.8 and abs(t[1, 3]) <= 0.45 and 0.02 <= t[2, 3] <= 0.4 \
                and t[2, 2] < -math.cos(math.radians(45)):
            targets.append(t)
    res = ik.solve(np.array(targets), seeds=robot.home[None], rng=rng)
    assert res.success.float().mean().item() >= 0.97
    q = res.q.numpy()
    assert np.all(q >= robot.lower - 1e-9) and np.all(q <= robot.upper + 1e-9)
    for qi, t, ok in zip(q, targets, res.success.numpy()):
        if ok:
            assert np.linalg.norm(kinematics.tcp_pose(qi)[:3, 3] - t[:3, 3]) <= 1e-4


def test_batched_ik_rejects_colliding_solutions(robot, kinematics):
    model = SphereModel.build(kinematics, robot.collision_spheres, 0.0)
    ik = BatchIK(model, robot.lower, robot.upper, device=DEVICE)
    target = kinematics.tcp_pose(robot.home)
    # a box around the tool: every exact solution collides with it
    box = WorldObject("box", "block", "grey", Shape("box", (0.3, 0.3, 0.3)),
                      np.block([[np.eye(3), (target[:3, 3] - (0, 0, 0.15))[:, None]],
                                [np.zeros((1, 3)), np.ones((1, 1))]]))
    checker = BatchCollisionChecker(kinematics, WorldModel({"box": box}))
    res = ik.solve(target[None], seeds=robot.home[None], checker=checker)
    assert not bool(res.success[0]) and not bool(res.collision_free[0])
    assert float(res.position_error[0]) < 1e-4  # it did reach the pose


@pytest.mark.slow
def test_the_compiled_torch_checker_agrees_with_the_kernel(robot, kinematics):
    """``compile=True`` (the stages fused by torch.compile, shapes dynamic): the kernel's
    free flags and clearances on random configurations, at two batch sizes (the second
    runs without compiling again)."""
    world = _world()
    kernel = CollisionChecker(kinematics, world)
    compiled = BatchCollisionChecker(kinematics, world, device=DEVICE, backend="torch",
                                     compile=True)
    assert compiled.engine.compiled
    qs = np.random.default_rng(5).uniform(robot.lower, robot.upper, (3000, 7))
    d_kernel = kernel.clearances(qs)
    for n in (3000, 700):
        result = compiled.check(torch.as_tensor(qs[:n], dtype=torch.float32))
        assert np.array_equal(result.free.numpy(), d_kernel[:n] > 0)
        near = d_kernel[:n] < kernel.config.distance_cap
        assert np.abs(result.distance.numpy()[near] - d_kernel[:n][near]).max() < 1e-5
