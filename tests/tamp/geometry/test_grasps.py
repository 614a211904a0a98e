"""Grasp candidates: top-down from the shape, antipodal from points."""

from __future__ import annotations

import numpy as np
import pytest

from tamp.geometry.antipodal import antipodal_grasps, gripper_collision_filter, surface_points
from tamp.geometry.collision import CollisionChecker
from tamp.geometry.grasps import top_grasps
from tamp.geometry.transforms import translation
from tamp.world import Shape, WorldModel, WorldObject


def _obj(shape, xy=(0.5, 0.0), name="obj"):
    return WorldObject(name, "block", "red", shape, translation((*xy, 0.0)))


def test_top_grasps_close_across_the_faces(robot):
    obj = _obj(Shape("box", (0.04, 0.06, 0.05)))
    cands = top_grasps(obj, robot)
    assert sorted({round(g.width, 3) for g in cands.grasps}) == [0.04, 0.06]
    for g in cands.grasps:
        np.testing.assert_allclose(g.obj_T_tcp[:3, 2], (0, 0, -1), atol=1e-12)
        fingertip = g.obj_T_tcp[2, 3] - robot.tcp_to_fingertip
        assert fingertip >= 0.012 - 1e-9


def test_top_grasps_refuse_objects_wider_than_the_stroke(robot):
    cands = top_grasps(_obj(Shape("box", (0.1, 0.1, 0.05))), robot)
    assert cands.grasps == [] and "85 mm" in cands.reason


@pytest.mark.parametrize("shape, widths", [
    (Shape("box", (0.045, 0.045, 0.045)), (0.045,)),
    (Shape("cylinder", (0.025, 0.025, 0.08)), (0.05,)),
    (Shape("cylinder", (0.035, 0.035, 0.02)), (0.07,)),
])
def test_antipodal_grasps_span_the_object(robot, shape, widths):
    obj = _obj(shape)
    rng = np.random.default_rng(0)
    pts, _ = surface_points(shape, obj.pose, 3000, rng)
    cands = antipodal_grasps(obj.name, pts, robot, rng, obj_pose=obj.pose)
    assert len(cands.grasps) >= 5, cands.reason
    best = cands.grasps[0]
    assert min(abs(best.width - w) for w in widths) < 0.006
    assert best.width <= robot.gripper.stroke
    tcp = best.tcp_pose(obj.pose)
    assert tcp[2, 2] < -0.9  # the best grasp comes from above
    assert tcp[2, 3] - robot.tcp_to_fingertip * -tcp[2, 2] >= 0.012 - 1e-6  # fingertips clear


def test_antipodal_needs_a_pair_within_the_stroke(robot):
    obj = _obj(Shape("box", (0.12, 0.12, 0.05)))
    rng = np.random.default_rng(0)
    pts, normals = surface_points(obj.shape, obj.pose, 2000, rng)
    cands = antipodal_grasps(obj.name, pts, robot, rng, obj_pose=obj.pose, normals=normals)
    assert all(g.width <= robot.gripper.stroke for g in cands.grasps)
    # only the 5 cm height fits: those pairs are vertical, so no top approach exists
    assert cands.grasps == [] and cands.reason


def test_gripper_filter_drops_grasps_into_a_neighbour(robot, kinematics):
    obj = _obj(Shape("box", (0.045, 0.045, 0.045)))
    wall = WorldObject("wall", "block", "grey", Shape("box", (0.02, 0.3, 0.06)),
                       translation((0.5 + 0.045, 0.0, 0.0)))  # 2 cm from the block's side
    checker = CollisionChecker(kinematics, WorldModel({"obj": obj, "wall": wall}))
    grasps = top_grasps(obj, robot).grasps
    kept, dropped = gripper_collision_filter(grasps, obj.pose, checker,
                                             robot.gripper.joint_for_width(0.065))
    # closing along x puts a finger into the wall; closing along y does not
    assert dropped == 2 and len(kept) == 2
    for g in kept:
        assert abs(g.tcp_pose(obj.pose)[1, 1]) > 0.99  # closing axis along world y
