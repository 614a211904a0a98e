"""The sphere collision model is conservative and sees obstacles and the held object."""

from __future__ import annotations

import numpy as np
import pybullet as p
import pytest

from tamp.geometry.collision import CollisionChecker
from tamp.geometry.shapes import primitives
from tamp.geometry.spheres import box_spheres, cylinder_spheres, spheres_from_urdf
from tamp.geometry.transforms import translation
from tamp.world import Shape, WorldModel, WorldObject


def test_cylinder_and_box_covers_contain_their_solid():
    rng = np.random.default_rng(1)
    centres, r = cylinder_spheres(0.06, 0.2)
    pts = np.column_stack([rng.uniform(-1, 1, (4000, 2)) * 0.06, rng.uniform(-0.1, 0.1, 4000)])
    pts = pts[np.linalg.norm(pts[:, :2], axis=1) <= 0.06]
    d = np.linalg.norm(pts[:, None] - centres[None], axis=-1).min(axis=1)
    assert np.all(d <= r + 1e-12)
    half = (0.011, 0.007, 0.0325)
    centres, r = box_spheres(half)
    pts = rng.uniform(-1, 1, (4000, 3)) * half
    d = np.linalg.norm(pts[:, None] - centres[None], axis=-1).min(axis=1)
    assert np.all(d <= r + 1e-12)


def test_every_link_with_collision_geometry_has_spheres(robot):
    spheres = spheres_from_urdf(robot.urdf)
    for name in [f"panda_link{i}" for i in range(8)] + ["robotiq_base", "robotiq_left_finger",
                                                         "robotiq_right_finger"]:
        assert len(spheres[name].radii) > 0, name


def _box_world(centre, size):
    box = WorldObject("box", "block", "red", Shape("box", size),
                      translation((centre[0], centre[1], centre[2] - size[2] / 2)))
    return WorldModel({"box": box}, table_extent=(-0.3, 0.9, -0.6, 0.6), table_height=-1.0)


def test_free_by_spheres_means_free_in_pybullet(robot, kinematics):
    """Conservative: a configuration the checker calls free never touches the box in
    PyBullet's exact check of the URDF's own geometry."""
    cid = p.connect(p.DIRECT)
    try:
        body = p.loadURDF(str(robot.urdf), useFixedBase=True, physicsClientId=cid)
        index = {p.getJointInfo(body, j, physicsClientId=cid)[1].decode(): j
                 for j in range(p.getNumJoints(body, physicsClientId=cid))}
        centre, size = (0.5, 0.0, 0.3), (0.2, 0.3, 0.25)
        col = p.createCollisionShape(p.GEOM_BOX, halfExtents=np.array(size) / 2,
                                     physicsClientId=cid)
        box = p.createMultiBody(0, col, -1, centre, physicsClientId=cid)
        checker = CollisionChecker(kinematics, _box_world(centre, size))
        rng = np.random.default_rng(3)
        free = hits = false_free = 0
        for _ in range(1000):
            q = rng.uniform(robot.lower, robot.upper)
            for name, v in zip(robot.arm_joints, q):
                p.resetJointState(body, index[name], v, physicsClientId=cid)
            p.performCollisionDetection(physicsClientId=cid)
            touching = len(p.getClosestPoints(body, box, 0.0, physicsClientId=cid)) > 0
            hits += touching
            says_free = bool(checker.clearances(q, self_collision=False)[0] > 0)
            free += says_free
            false_free += says_free and touching
        assert hits > 50 and free > 50, (hits, free)  # the sample mixes both cases
        assert false_free == 0
    finally:
        p.disconnect(cid)


def test_obstacles_at_the_tool(robot, kinematics):
    tcp = kinematics.tcp_pose(robot.home)[:3, 3]
    empty = WorldModel({}, table_extent=(-0.3, 0.9, -0.6, 0.6))
    assert CollisionChecker(kinematics, empty).is_free(robot.home)
    # a box between the open pads fits; one inside the gripper's housing does not
    between_pads = CollisionChecker(kinematics, _box_world(tcp, (0.05, 0.05, 0.05)))
    assert between_pads.is_free(robot.home)
    between_pads.gripper = robot.gripper.joint_for_width(0.03)  # pads closed to 30 mm
    assert not between_pads.is_free(robot.home)
    housing = CollisionChecker(kinematics, _box_world(tcp + (0, 0, 0.08), (0.05, 0.05, 0.05)))
    assert not housing.is_free(robot.home)


def test_held_object_collides_with_the_world(robot, kinematics):
    tcp = kinematics.tcp_pose(robot.home)
    # an obstacle 12 cm below the tool: free for the robot, hit by a 20 cm tall load
    world = _box_world(tcp[:3, 3] - (0, 0, 0.17), (0.1, 0.1, 0.05))
    checker = CollisionChecker(kinematics, world)
    assert checker.is_free(robot.home)
    load = Shape("box", (0.04, 0.04, 0.2))
    # held upright, hanging 20 cm below the tool (its bottom there, its top at the TCP)
    checker.attach("load", load, translation((0, 0, 0.2)) @ np.diag([1, -1, -1, 1.0]))
    assert not checker.is_free(robot.home)
    checker.ignore(load=("box",))
    assert checker.is_free(robot.home)
    checker.detach()
    assert checker.is_free(robot.home)


def test_a_carried_block_is_covered_closely(robot, kinematics):
    """A held 48 mm block clears an obstacle 6 mm beside its face (a pyramid's blocks
    stand 10-14 mm apart, and perception errs by a few mm): its spheres reach at most
    0.37 ``load_cell`` beyond its faces, while 3 cm cells (two a side) reach 9 mm."""
    from dataclasses import replace

    from tamp.geometry.collision import CollisionConfig

    tcp = kinematics.tcp_pose(robot.home)
    size, gap = 0.048, 0.006
    load = Shape("box", (size, size, size))
    # held by its middle (its centre at the TCP), the obstacle beside its face along the
    # TCP's x axis, as tall as the load, its top below the fingers
    grip = translation((0, 0, size / 2)) @ np.diag([1, -1, -1, 1.0])
    beside = tcp[:3, 3] + tcp[:3, 0] * (size + gap) + (0, 0, -0.005)
    for cell, free in ((None, True), (0.03, False)):
        config = CollisionConfig() if cell is None else replace(CollisionConfig(),
                                                                load_cell=cell)
        checker = CollisionChecker(kinematics, _box_world(beside, (size, size, 0.03)),
                                   config)
        assert checker.is_free(robot.home)
        checker.attach("load", load, grip)
        assert checker.is_free(robot.home) is free, cell
        att = checker.attachment
        reach = np.abs(att.centres).max(axis=0) + att.radii.max()  # its centre at the TCP
        if cell is None:
            assert reach.max() <= size / 2 + 0.37 * config.load_cell + 1e-9
    # and the finer covering still contains the block
    centres, r = box_spheres((size / 2,) * 3, max_cell=0.012)
    pts = np.random.default_rng(2).uniform(-size / 2, size / 2, (4000, 3))
    assert np.all(np.linalg.norm(pts[:, None] - centres[None], axis=-1).min(axis=1) <= r)


def test_joint_limits_are_collisions(robot, kinematics):
    checker = CollisionChecker(kinematics, WorldModel({}))
    q = robot.home.copy()
    q[3] = robot.upper[3] + 0.1
    assert not checker.is_free(q)


def test_bowl_decomposition_is_closed_to_a_dropped_block():
    bowl = Shape("bowl", (0.13, 0.09, 0.05))
    parts = primitives(bowl)
    assert parts[0].part == "bottom" and all(q.part == "wall" for q in parts[1:])
    # walls reach the rim height and lean outwards
    tops = [q.local[2, 3] + abs(q.local[2, 2]) * q.half[2] for q in parts[1:]]
    assert max(tops) == pytest.approx(0.05, abs=0.006)
