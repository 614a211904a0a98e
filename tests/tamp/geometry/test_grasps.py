"""Grasp candidates: top-down from the shape, antipodal from points."""

from __future__ import annotations

import numpy as np
import pybullet as p
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


# -- bowls: pinched across the sloped wall at the rim -----------------------------------

#: the bowls of the tasks: lift's range ends, place-in-bowl and clear-then-place,
#: sort-by-colour
TASK_BOWLS = [Shape("bowl", (0.10, 0.07, 0.04)), Shape("bowl", (0.12, 0.08, 0.05)),
              Shape("bowl", (0.13, 0.09, 0.05)), Shape("bowl", (0.135, 0.10, 0.045))]


def _wall_radii(shape: Shape, z: float) -> tuple[float, float]:
    """Inner and outer radius of a bowl's wall at height z (the plates' faces)."""
    top, bottom, height = shape.size
    r0, z0, r1, z1 = bottom, shape.wall, top - shape.wall, height
    inner = r0 + (z - z0) * (r1 - r0) / (z1 - z0)
    slope = np.hypot(r1 - r0, z1 - z0) / (z1 - z0)
    return inner, inner + shape.wall * slope


@pytest.mark.parametrize("shape", TASK_BOWLS)
def test_antipodal_grasps_pinch_a_bowl_wall(robot, shape):
    obj = _obj(shape)
    rng = np.random.default_rng(1)
    pts, _ = surface_points(shape, obj.pose, 3000, rng)
    cands = antipodal_grasps(obj.name, pts, robot, rng, obj_pose=obj.pose)
    assert len(cands.grasps) >= 10, cands.reason
    for g in cands.grasps[:10]:
        # across the wall: about its thickness along the sloped normal
        assert abs(g.width - shape.wall) < 0.003
        t = g.obj_T_tcp
        r = float(np.hypot(t[0, 3], t[1, 3]))
        inner, outer = _wall_radii(shape, float(t[2, 3]))
        assert inner - 0.006 < r < outer + 0.006  # the pad centre sits on the wall
        # closing across the wall, along its sloped normal; approaching from above
        top, bottom, height = shape.size
        slope = np.arctan2(top - shape.wall - bottom, height - shape.wall)
        radial = np.array([t[0, 3], t[1, 3], 0.0]) / r
        normal = np.cos(slope) * radial + np.array([0.0, 0.0, -np.sin(slope)])
        assert abs(t[:3, 1] @ normal) > np.cos(np.radians(10))
        assert t[2, 2] < -0.6


@pytest.mark.parametrize("shape", TASK_BOWLS[::3])
def test_bowl_rim_grasps_keep_the_fingers_off_the_table(robot, kinematics, shape):
    """The outer finger of a grasp across a sloped wall reaches below the TCP: the
    sampler's finger envelope must keep the collision model's fingers off the table."""
    obj = _obj(shape, name="bowl")
    rng = np.random.default_rng(2)
    pts, _ = surface_points(shape, obj.pose, 3000, rng)
    cands = antipodal_grasps(obj.name, pts, robot, rng, obj_pose=obj.pose)
    checker = CollisionChecker(kinematics, WorldModel({"bowl": obj}))
    kept, dropped = gripper_collision_filter(
        cands.grasps, obj.pose, checker,
        robot.gripper.joint_for_width(max(g.open_width for g in cands.grasps)))
    assert len(kept) >= 0.9 * len(cands.grasps), f"{dropped} of {len(cands.grasps)} dropped"


def test_surface_points_are_dense_enough_on_a_large_shape():
    from tamp.geometry.antipodal import median_spacing

    rng = np.random.default_rng(0)
    bowl = Shape("bowl", (0.135, 0.10, 0.045))
    dense, _ = surface_points(bowl, np.eye(4), 3000, rng)
    sparse, _ = surface_points(bowl, np.eye(4), 3000, rng, max_spacing=None)
    assert len(sparse) <= 3000 < len(dense)
    assert median_spacing(dense) < 0.002 < median_spacing(sparse)
    # a small shape already has its n points at that spacing
    block, _ = surface_points(Shape("box", (0.045, 0.045, 0.045)), np.eye(4), 3000, rng)
    assert len(block) == 3000


def test_antipodal_says_when_points_are_too_sparse_for_normals(robot):
    bowl = Shape("bowl", (0.135, 0.10, 0.045))
    rng = np.random.default_rng(0)
    pts, _ = surface_points(bowl, np.eye(4), 1000, rng, max_spacing=None)
    cands = antipodal_grasps("bowl", pts, robot, rng)
    assert cands.grasps == [] and "too sparse" in cands.reason


def test_surface_variation_is_flat_on_faces_and_high_at_corners():
    from scipy.spatial import cKDTree

    from tamp.geometry.antipodal import surface_variation

    rng = np.random.default_rng(0)
    pts, _ = surface_points(Shape("box", (0.04, 0.04, 0.04)), np.eye(4), 4000, rng)
    var = surface_variation(pts, 0.007)
    # the batched computation against a plain loop over neighbourhoods
    tree = cKDTree(pts)
    for i in rng.choice(len(pts), 50, replace=False):
        nb = tree.query_ball_point(pts[i], 0.007)
        ev = np.linalg.eigvalsh(np.cov(pts[nb].T)) if len(nb) >= 4 else None
        expected = 1 / 3 if ev is None else min(ev[0] / ev.sum(), 1 / 3)
        assert var[i] == pytest.approx(expected, abs=1e-9)
    centre_of_face = np.abs(pts[:, 2] - 0.04) < 1e-9
    centre_of_face &= np.hypot(pts[:, 0], pts[:, 1]) < 0.01
    corner = np.all(np.abs(np.abs(pts - (0, 0, 0.02)) - 0.02) < 0.003, axis=1)
    assert var[centre_of_face].max() < 1e-6 and var[corner].min() > 0.02


@pytest.mark.parametrize("shape, depth", [
    (Shape("box", (0.045, 0.045, 0.045)), 0.045 - 0.012),  # pads as low as the clearance
    (Shape("cylinder", (0.031, 0.031, 0.023)), 0.023 - 0.012),  # a hanoi disk
    (Shape("box", (0.05, 0.05, 0.09)), 0.04)])  # tall: the pads' whole length
def test_the_fingertips_reach_past_the_top_by_what_the_grasp_says(robot, shape, depth):
    from tamp.geometry.grasps import fingertip_depth

    obj = _obj(shape)
    for g in top_grasps(obj, robot).grasps:
        # closed on the object: the pads hang lower by the linkage's arc
        closed = robot.tcp_to_fingertip + robot.gripper.pad_drop_at_width(g.width)
        assert fingertip_depth(obj, g, closed) == pytest.approx(depth)


def test_placements_with_room_for_the_fingers_come_first(robot, kinematics):
    """A block to be placed beside a wall: where the open fingers would hit the wall,
    the placement goes to the back, the others keep their order."""
    from tamp.geometry.antipodal import finger_room_first

    block = Shape("box", (0.045, 0.045, 0.045))
    wall = WorldObject("wall", "block", "grey", Shape("box", (0.02, 0.3, 0.06)),
                       translation((0.5 + 0.045, 0.0, 0.0)))
    checker = CollisionChecker(kinematics, WorldModel({"wall": wall}))
    obj = _obj(block, xy=(0.3, 0.0))
    # the grasp closing across x (towards the wall) and the one closing along y
    across = next(g for g in top_grasps(obj, robot).grasps
                  if abs(g.obj_T_tcp[0, 1]) > 0.9)
    near, far1, far2 = (translation((x, 0.0, 0.0)) for x in (0.5, 0.3, 0.35))
    open_joint = robot.gripper.joint_for_width(across.open_width)
    ordered = finger_room_first(across, [near, far1, far2], checker, open_joint)
    assert [p[0, 3] for p in ordered] == [0.3, 0.35, 0.5]


def test_a_top_grasp_closes_its_pads_where_planned_on_the_linkage_arc(robot, kinematics):
    """The 2F-85's pads drop 11.5 mm as they close from open onto a 44 mm block; the grasp
    raises the TCP by that much, so that in PyBullet (pads on the arc) the fingertips end
    the planned 12 mm above the table, not on it, and the block stays put."""
    from scenes.sim import Simulation

    obj = _obj(Shape("box", (0.044, 0.044, 0.044)))
    grasp = top_grasps(obj, robot).grasps[0]
    drop = robot.gripper.pad_drop_at_width(0.044)
    assert drop == pytest.approx(0.0115, abs=1e-4)
    assert grasp.obj_T_tcp[2, 3] == pytest.approx(0.012 + robot.tcp_to_fingertip + drop)
    solved = kinematics.ik(obj.pose @ grasp.obj_T_tcp, [robot.home], np.random.default_rng(0))
    assert solved.success
    sim = Simulation(robot)
    try:
        sim.add_object(obj)
        sim.set_arm(solved.q)
        sim.set_gripper_width(grasp.open_width)
        sim.command(solved.q, 0.0)
        sim.step(480)
        assert sim.gripper_width() == pytest.approx(0.044, abs=1e-3)  # on the block
        for link in ("robotiq_left_finger", "robotiq_right_finger"):
            state = p.getLinkState(sim.robot_id, sim.link_index[link],
                                   computeForwardKinematics=True, physicsClientId=sim.client)
            fingertip_z = state[4][2] - 0.065  # the finger is 65 mm long, pointing down
            assert fingertip_z == pytest.approx(0.012, abs=1e-3)
        assert sim.object_pose("obj")[2, 3] == pytest.approx(0.0, abs=1e-3)
    finally:
        sim.close()
