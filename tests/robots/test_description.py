"""The robot description: URDF and YAML agree, pinocchio and PyBullet agree."""

from __future__ import annotations

import numpy as np
import pinocchio as pin
import pybullet as p
import pytest

import robots
from robots.tools import build_panda_2f85
from tamp.robot import RobotSpec


def test_committed_urdf_matches_its_generator(robot):
    assert robot.urdf.read_text() == build_panda_2f85.build()


def test_unknown_robot_names_the_known_ones():
    with pytest.raises(KeyError, match="panda_2f85"):
        robots.load("ur5")


def test_jerk_limits_are_those_stated():
    # Panda: Franka Control Interface documentation (libfranka's kMaxJointJerk)
    np.testing.assert_array_equal(robots.load("panda_2f85").max_jerk,
                                  [7500, 3750, 5000, 6250, 7500, 10000, 10000])
    # UR5e: ours, the YAML's acceleration reached in 10 ms (UR publishes none)
    ur5e = robots.load("ur5e_2f85")
    np.testing.assert_array_equal(ur5e.max_jerk, [800, 800, 800, 1200, 1200, 1200])
    np.testing.assert_allclose(ur5e.max_jerk, 100 * ur5e.max_acceleration)


def _yaml_with(robot, tmp_path, **limits):
    """A copy of ``robot``'s YAML in ``tmp_path`` with ``limits`` changed (None: removed)."""
    import yaml

    source = robot.urdf.parent / f"{robot.name}.yaml"
    data = yaml.safe_load(source.read_text())
    data["urdf"] = str(robot.urdf)
    data["collision_spheres"] = str(source.parent / data["collision_spheres"])
    for key, value in limits.items():
        if value is None:
            del data["limits"][key]
        else:
            data["limits"][key] = value
    path = tmp_path / "robot.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("jerk, message", [
    (None, "'limits.jerk' is missing"),
    ([7500.0] * 6, "'max_jerk' must have 7 values"),
    ([7500.0] * 6 + [0.0], "'limits.jerk' must be > 0"),
])
def test_a_robot_yaml_without_valid_jerk_limits_is_refused(robot, tmp_path, jerk, message):
    path = _yaml_with(robot, tmp_path, jerk=jerk)
    with pytest.raises(ValueError, match=message) as err:
        RobotSpec.from_yaml(path)
    assert str(path) in str(err.value)


def test_yaml_limits_match_urdf(robot, kinematics):
    model = kinematics.model
    for i, name in enumerate(robot.arm_joints):
        jid = model.getJointId(name)
        q = model.joints[jid].idx_q
        assert model.lowerPositionLimit[q] == pytest.approx(robot.lower[i], abs=1e-6)
        assert model.upperPositionLimit[q] == pytest.approx(robot.upper[i], abs=1e-6)
        assert model.velocityLimit[model.joints[jid].idx_v] == pytest.approx(
            robot.max_velocity[i], abs=1e-6)
    g = robot.gripper
    jid = model.getJointId(g.joint)
    assert model.upperPositionLimit[model.joints[jid].idx_q] == pytest.approx(g.stroke / 2)


def test_panda_published_dimensions(kinematics, robot):
    # at q = 0 the flange is 0.088 m in front of the base axis and
    # 0.333 + 0.316 + 0.384 - 0.107 = 0.926 m above the base (Franka's DH table)
    flange = kinematics.frame_pose(np.zeros(7), robot.flange_link)
    np.testing.assert_allclose(flange[:3, 3], [0.088, 0.0, 0.926], atol=1e-9)
    np.testing.assert_allclose(flange[:3, 2], [0, 0, -1], atol=1e-9)


def _pybullet_robot(robot):
    cid = p.connect(p.DIRECT)
    body = p.loadURDF(str(robot.urdf), useFixedBase=True, physicsClientId=cid)
    index = {p.getJointInfo(body, j, physicsClientId=cid)[1].decode(): j
             for j in range(p.getNumJoints(body, physicsClientId=cid))}
    links = {p.getJointInfo(body, j, physicsClientId=cid)[12].decode(): j
             for j in range(p.getNumJoints(body, physicsClientId=cid))}
    return cid, body, index, links


@pytest.mark.parametrize("name", robots.available())
def test_pinocchio_and_pybullet_agree_on_tool_pose(name):
    from tamp.geometry.kinematics import Kinematics

    robot = robots.load(name)
    kinematics = Kinematics(robot)
    cid, body, index, links = _pybullet_robot(robot)
    rng = np.random.default_rng(42)
    try:
        worst_p, worst_r = 0.0, 0.0
        for _ in range(100):
            q = rng.uniform(robot.lower, robot.upper)
            grip = rng.uniform(*robot.gripper.joint_range)
            for name, v in zip(robot.arm_joints, q):
                p.resetJointState(body, index[name], v, physicsClientId=cid)
            s = p.getLinkState(body, links[robot.tcp_frame], computeForwardKinematics=True,
                               physicsClientId=cid)
            bullet = np.eye(4)
            bullet[:3, :3] = np.array(p.getMatrixFromQuaternion(s[5])).reshape(3, 3)
            bullet[:3, 3] = s[4]
            pino = kinematics.frame_pose(q, robot.tcp_frame, grip)
            worst_p = max(worst_p, float(np.linalg.norm(bullet[:3, 3] - pino[:3, 3])))
            worst_r = max(worst_r, float(np.abs(bullet[:3, :3] - pino[:3, :3]).max()))
        assert worst_p < 1e-6
        assert worst_r < 1e-6
    finally:
        p.disconnect(cid)


def test_gripper_opens_85_mm_between_pads(robot):
    cid, body, index, links = _pybullet_robot(robot)
    try:
        g = robot.gripper
        for width in (0.085, 0.04, 0.0):
            for j in (g.joint, *g.mimic_joints):
                p.resetJointState(body, index[j], g.joint_for_width(width), physicsClientId=cid)
            left = p.getLinkState(body, links["robotiq_left_finger"],
                                  computeForwardKinematics=True, physicsClientId=cid)[4]
            right = p.getLinkState(body, links["robotiq_right_finger"],
                                   computeForwardKinematics=True, physicsClientId=cid)[4]
            # finger frames sit on the pads' inner faces
            assert np.linalg.norm(np.subtract(left, right)) == pytest.approx(width, abs=1e-6)
    finally:
        p.disconnect(cid)


def test_gripper_mass_matches_datasheet(robot):
    cid, body, index, links = _pybullet_robot(robot)
    try:
        names = ["robotiq_base", "robotiq_left_finger", "robotiq_right_finger"]
        mass = sum(p.getDynamicsInfo(body, links[n], physicsClientId=cid)[0] for n in names)
        assert mass == pytest.approx(robot.gripper.mass, abs=1e-6)
        assert mass == pytest.approx(0.925, abs=1e-6)  # Robotiq 2F-85 datasheet
    finally:
        p.disconnect(cid)


# -- the 2F-85's pads on the linkage's arc -------------------------------------------------
def test_pad_arc_follows_the_stated_linkage():
    """The ROS-Industrial description's dimensions (the outer finger's joint on the knuckle
    (31.5, -4.1) mm, the inner finger's on it (6.1, 47.1) mm): a 57.1 mm radius at 41.2 deg
    when open; the knuckle's 0.8 rad close a pad 42.3 mm (the 85 mm stroke's half is 42.5)
    and lower it 13.9 mm; at a 44 mm opening, 11.5 mm."""
    import math

    for name in robots.available():
        g = robots.load(name).gripper
        assert g.linkage_radius == pytest.approx(math.hypot(0.0376, 0.0430), abs=1e-9)
        assert g.linkage_open_angle == pytest.approx(math.atan2(0.0376, 0.0430), abs=1e-9)
        r, a = g.linkage_radius, g.linkage_open_angle
        assert r * (math.sin(a) - math.sin(a - 0.8)) == pytest.approx(0.0425, abs=5e-4)
        assert g.pad_drop_at_width(g.stroke) == 0.0
        assert g.pad_drop_at_width(0.044) == pytest.approx(0.01150, abs=5e-5)
        assert g.pad_drop_at_width(0.0) == pytest.approx(0.01391, abs=5e-5)
        # lowest where the radius points along the approach: 37.6 mm of travel each
        # (9.8 mm apart), 14.1 mm; past it the pads rise again a little
        widths = np.linspace(g.stroke, 0.0, 200)
        drops = np.array([g.pad_drop_at_width(w) for w in widths])
        assert widths[np.argmax(drops)] == pytest.approx(0.085 - 2 * 0.0376, abs=5e-4)
        assert drops.max() == pytest.approx(r * (1 - math.cos(a)), abs=1e-6)
        assert drops.max() == pytest.approx(0.01413, abs=5e-5)


@pytest.mark.parametrize("name", robots.available())
def test_the_pads_are_further_from_the_flange_closed_than_open(name):
    """Flange to pad centre (the TCP's height when open, as the URDF builds it): 140.0 mm
    open, 153.9 mm closed, in pinocchio; PyBullet's pads follow the same arc."""
    from scenes.sim import Simulation
    from tamp.geometry.kinematics import Kinematics

    robot = robots.load(name)
    kin = Kinematics(robot)
    q = robot.home
    flange = kin.frame_pose(q, robot.flange_link)
    for width, expected in ((robot.gripper.stroke, 0.140), (0.044, 0.1515), (0.0, 0.1539)):
        value = robot.gripper.joint_for_width(width)
        finger = kin.frame_pose(q, "robotiq_left_finger", value)
        # the finger frame starts 95 mm from the flange; the pad's centre 45 mm below it
        along = (np.linalg.inv(flange) @ finger)[2, 3] + 0.045
        assert along == pytest.approx(expected, abs=2e-4)
    sim = Simulation(robot)
    try:
        for width in (0.07, 0.044, 0.01):
            sim.command(q, width)
            sim.step(480)
            value = robot.gripper.joint_for_width(sim.gripper_width())
            for link in ("robotiq_left_finger", "robotiq_right_finger"):
                bullet = p.getLinkState(sim.robot_id, sim.link_index[link],
                                        computeForwardKinematics=True,
                                        physicsClientId=sim.client)[4]
                pino = kin.frame_pose(sim.arm_positions(), link, value)[:3, 3]
                np.testing.assert_allclose(bullet, pino, atol=5e-4)
    finally:
        sim.close()


def test_the_pads_keep_to_the_arc_while_they_close_at_full_speed(robot):
    """The drop slides follow the closing travel within 0.5 mm at every physics step (held
    softly, they lagged 1.9 mm, and a held box tilted)."""
    from scenes.sim import Simulation

    sim = Simulation(robot)
    g = robot.gripper
    try:
        worst = 0.0
        for width in (0.0, g.stroke, 0.03):
            sim.command(robot.home, width)
            for _ in range(240):
                sim.step()
                travel = [s[0] for s in p.getJointStates(sim.robot_id, sim.finger_joints,
                                                         physicsClientId=sim.client)]
                drop = [s[0] for s in p.getJointStates(sim.robot_id, sim.drop_joints,
                                                       physicsClientId=sim.client)]
                worst = max(worst, *(abs(d - g.pad_drop(v)) for d, v in zip(drop, travel)))
        assert 0 < worst < 5e-4
    finally:
        sim.close()
