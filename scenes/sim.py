"""A PyBullet world: the robot on a table, and objects built from primitive shapes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pybullet as p

from tamp.geometry.shapes import primitives
from tamp.geometry.transforms import pose, to_pos_quat, translation
from tamp.robot import RobotSpec
from tamp.world import WorldModel, WorldObject

COLORS: dict[str, tuple[float, float, float]] = {
    "red": (0.85, 0.15, 0.15), "green": (0.2, 0.7, 0.25), "blue": (0.2, 0.35, 0.85),
    "yellow": (0.95, 0.8, 0.15), "purple": (0.55, 0.25, 0.7), "orange": (0.95, 0.5, 0.1),
    "cyan": (0.2, 0.75, 0.8), "white": (0.92, 0.92, 0.92), "grey": (0.5, 0.5, 0.5),
}
TABLE_EXTENT = (-0.3, 0.9, -0.6, 0.6)  #: x_min, x_max, y_min, y_max of the table top, m
TABLE_THICKNESS = 0.05
#: m, z of the table top in the robot's base frame: a fact of the workcell, measured once
#: when the robot is mounted (as a real cell's description states it)
TABLE_TOP = 0.0


@dataclass(frozen=True)
class SimConfig:
    timestep: float = 1.0 / 240.0  #: s per physics step
    solver_iterations: int = 150
    object_friction: float = 1.0
    spinning_friction: float = 0.1  #: per body; see the note in Simulation.reset
    table_friction: float = 0.8
    grip_force: float = 100.0  #: N per finger (the 2F-85 grips with 20-235 N)
    finger_speed: float = 0.075  #: m/s per finger (150 mm/s closing speed at most)
    #: m a contact point may separate before Bullet forgets it: its default while the pads
    #: grip (persistent points hold a grasp), a short one while they open: otherwise
    #: points with stale normals between a pad and a cylinder can leave a released disk
    #: hooked on the receding finger
    contact_breaking: float = 0.02
    release_contact_breaking: float = 0.002
    #: m/s per finger while the pads open: slowly enough not to fling a light object
    #: that still clings to a pad
    release_speed: float = 0.02
    pad_friction: float = 1.5  #: friction coefficient of the pads (Bullet multiplies by the object's)
    #: while the pads open: a receding pad that still grips drags what it let go of
    release_friction: float = 0.2


#: shapes PyBullet keeps in one compound collision or visual shape
MAX_COMPOUND_SHAPES = 16


class Simulation:
    """One PyBullet client (DIRECT unless ``gui``) holding the robot, table and objects."""

    def __init__(self, robot: RobotSpec, gui: bool = False, config: SimConfig = SimConfig()):
        self.robot = robot
        self.config = config
        self.client = p.connect(p.GUI if gui else p.DIRECT)
        self.objects: dict[str, WorldObject] = {}
        self.bodies: dict[str, int] = {}
        self._com: dict[str, np.ndarray] = {}  # shape frame -> body (centre of mass) frame
        self.reset()

    # -- set-up -------------------------------------------------------------------------
    def reset(self) -> None:
        """Empty world: table and robot at its home configuration."""
        cid = self.client
        p.resetSimulation(physicsClientId=cid)
        p.setGravity(0, 0, -9.81, physicsClientId=cid)
        p.setTimeStep(self.config.timestep, physicsClientId=cid)
        p.setPhysicsEngineParameter(numSolverIterations=self.config.solver_iterations,
                                    deterministicOverlappingPairs=1,
                                    contactBreakingThreshold=self.config.contact_breaking,
                                    physicsClientId=cid)
        self._releasing = False  #: the pads are opening (see SimConfig.contact_breaking)
        self.objects, self.bodies, self._com = {}, {}, {}
        self.zones = {}
        x0, x1, y0, y1 = TABLE_EXTENT
        half = ((x1 - x0) / 2, (y1 - y0) / 2, TABLE_THICKNESS / 2)
        col = p.createCollisionShape(p.GEOM_BOX, halfExtents=half, physicsClientId=cid)
        vis = p.createVisualShape(p.GEOM_BOX, halfExtents=half,
                                  rgbaColor=(0.78, 0.68, 0.55, 1), physicsClientId=cid)
        self.table = p.createMultiBody(0, col, vis, ((x0 + x1) / 2, (y0 + y1) / 2,
                                                     -TABLE_THICKNESS / 2), physicsClientId=cid)
        p.changeDynamics(self.table, -1, lateralFriction=self.config.table_friction,
                         physicsClientId=cid)
        self.robot_id = p.loadURDF(str(self.robot.urdf), useFixedBase=True,
                                   flags=p.URDF_USE_INERTIA_FROM_FILE, physicsClientId=cid)
        names = {p.getJointInfo(self.robot_id, j, physicsClientId=cid)[1].decode(): j
                 for j in range(p.getNumJoints(self.robot_id, physicsClientId=cid))}
        self.link_index = {p.getJointInfo(self.robot_id, j, physicsClientId=cid)[12].decode(): j
                           for j in names.values()}
        self.arm_joints = [names[n] for n in self.robot.arm_joints]
        g = self.robot.gripper
        self.finger_joints = [names[g.joint]] + [names[n] for n in g.mimic_joints]
        # the pads' arc: each pad's drop joint follows its own finger's closing travel
        # (pad_drop: non-linear, so no gear can couple them), set before every physics step
        self.drop_joints = [names[n] for n in g.drop_joints]
        self.tcp_link = self.link_index[self.robot.tcp_frame]
        for j in self.finger_joints:
            # PyBullet's point contacts have no torsional friction of their own; a 22 x 40 mm
            # pad resists twisting roughly like a friction patch of ~1 cm radius. Bullet
            # multiplies the two bodies' coefficients: 0.1 x 0.1 = 0.01 m.
            p.changeDynamics(self.robot_id, j, lateralFriction=self.config.pad_friction,
                             spinningFriction=self.config.spinning_friction,
                             frictionAnchor=1, physicsClientId=cid)
        # the 2F-85's linkage moves both fingers together: the mimic finger is geared to
        # the actuated one (ratio -1 mirrors it) and has no motor of its own. Without the
        # coupling, two equally strong fingers let a held object drift along the closing
        # axis. This joins two links of the robot; nothing attaches an object.
        self.finger_gear = p.createConstraint(
            self.robot_id, self.finger_joints[0], self.robot_id, self.finger_joints[1],
            jointType=p.JOINT_GEAR, jointAxis=(0, 1, 0), parentFramePosition=(0, 0, 0),
            childFramePosition=(0, 0, 0), physicsClientId=cid)
        p.changeConstraint(self.finger_gear, gearRatio=-1, maxForce=1000, erp=0.8,
                           physicsClientId=cid)
        for j in self.finger_joints[1:]:
            p.setJointMotorControl2(self.robot_id, j, p.VELOCITY_CONTROL, force=0,
                                    physicsClientId=cid)
        self.set_arm(self.robot.home)
        self.set_gripper_width(g.stroke)
        self.command(self.robot.home, g.stroke)

    def add_object(self, obj: WorldObject, mass: float | None = None) -> int:
        """Create ``obj`` as a rigid body from the same primitives the planner uses."""
        cid = self.client
        prims = primitives(obj.shape)
        # containers carry their mass low, in the floor
        com = np.array([0.0, 0.0, min(obj.shape.height / 2, 0.02)
                        if obj.shape.kind in ("bowl", "tray") else obj.shape.height / 2])
        kinds = {"box": p.GEOM_BOX, "cylinder": p.GEOM_CYLINDER}

        def shape_arrays(part):
            args = dict(shapeTypes=[kinds[q.kind] for q in part],
                        halfExtents=[q.half for q in part],
                        radii=[q.half[0] for q in part],
                        lengths=[2 * q.half[2] for q in part])
            frames = [translation(-com) @ q.local for q in part]
            positions = [to_pos_quat(f)[0] for f in frames]
            orientations = [to_pos_quat(f)[1] for f in frames]
            col = p.createCollisionShapeArray(collisionFramePositions=positions,
                                              collisionFrameOrientations=orientations,
                                              physicsClientId=cid, **args)
            vis = p.createVisualShapeArray(visualFramePositions=positions,
                                           visualFrameOrientations=orientations,
                                           physicsClientId=cid, **args)
            return col, vis

        # PyBullet keeps at most MAX_COMPOUND_SHAPES shapes of one compound and silently
        # drops the rest (a bowl has a floor and 16 wall plates): the pieces beyond go to
        # links fixed to the base, with a token mass at the body's centre of mass
        chunks = [prims[k:k + MAX_COMPOUND_SHAPES]
                  for k in range(0, len(prims), MAX_COMPOUND_SHAPES)]
        col, vis = shape_arrays(chunks[0])
        links = [shape_arrays(chunk) for chunk in chunks[1:]]
        if mass is None:
            mass = 0.3 if obj.shape.kind in ("bowl", "tray") else 0.1
        link_mass = 0.01 * mass
        body_pose = obj.pose @ translation(com)
        pos, quat = to_pos_quat(body_pose)
        n = len(links)
        body = p.createMultiBody(
            mass - n * link_mass, col, vis, pos, quat,
            linkMasses=[link_mass] * n, linkCollisionShapeIndices=[c for c, _ in links],
            linkVisualShapeIndices=[v for _, v in links], linkPositions=[[0, 0, 0]] * n,
            linkOrientations=[[0, 0, 0, 1]] * n, linkInertialFramePositions=[[0, 0, 0]] * n,
            linkInertialFrameOrientations=[[0, 0, 0, 1]] * n, linkParentIndices=[0] * n,
            linkJointTypes=[p.JOINT_FIXED] * n, linkJointAxis=[[0, 0, 1]] * n,
            physicsClientId=cid)
        for link in range(-1, n):
            p.changeVisualShape(body, link,
                                rgbaColor=(*COLORS.get(obj.color, (0.5, 0.5, 0.5)), 1),
                                physicsClientId=cid)
            p.changeDynamics(body, link, lateralFriction=self.config.object_friction,
                             spinningFriction=self.config.spinning_friction,
                             rollingFriction=0.0, physicsClientId=cid)
        self.objects[obj.name] = obj
        self.bodies[obj.name] = body
        self._com[obj.name] = com
        return body

    def add_zone(self, zone) -> None:
        """Mark a place on the table: a thin coloured patch, seen but never touched."""
        cid = self.client
        half = (zone.extents[0] / 2, zone.extents[1] / 2, 0.0005)
        vis = p.createVisualShape(p.GEOM_BOX, halfExtents=half, rgbaColor=(0.3, 0.3, 0.3, 1),
                                  physicsClientId=cid)
        pos, quat = to_pos_quat(zone.pose)
        p.createMultiBody(0, -1, vis, (pos[0], pos[1], 0.0005), quat, physicsClientId=cid)
        self.zones[zone.name] = zone

    # -- state --------------------------------------------------------------------------
    def set_arm(self, q: np.ndarray) -> None:
        for j, v in zip(self.arm_joints, q):
            p.resetJointState(self.robot_id, j, float(v), physicsClientId=self.client)

    def set_gripper_width(self, width: float) -> None:
        value = self.robot.gripper.joint_for_width(width)
        for j in self.finger_joints:
            p.resetJointState(self.robot_id, j, value, physicsClientId=self.client)
        for j in self.drop_joints:
            p.resetJointState(self.robot_id, j, self.robot.gripper.pad_drop(value),
                              physicsClientId=self.client)

    def arm_positions(self) -> np.ndarray:
        states = p.getJointStates(self.robot_id, self.arm_joints, physicsClientId=self.client)
        return np.array([s[0] for s in states])

    def gripper_width(self) -> float:
        states = p.getJointStates(self.robot_id, self.finger_joints, physicsClientId=self.client)
        return self.robot.gripper.width_for_joint(float(np.mean([s[0] for s in states])))

    def tcp_pose(self) -> np.ndarray:
        s = p.getLinkState(self.robot_id, self.tcp_link, computeForwardKinematics=True,
                           physicsClientId=self.client)
        return pose(s[4], s[5])

    def object_pose(self, name: str) -> np.ndarray:
        """Pose (4x4) of the object's shape frame (bottom centre)."""
        pos, quat = p.getBasePositionAndOrientation(self.bodies[name], physicsClientId=self.client)
        return pose(pos, quat) @ translation(-self._com[name])

    def object_speed(self, name: str) -> float:
        lin, _ = p.getBaseVelocity(self.bodies[name], physicsClientId=self.client)
        return float(np.linalg.norm(lin))

    def touching_robot(self, name: str) -> bool:
        return bool(p.getContactPoints(self.bodies[name], self.robot_id,
                                       physicsClientId=self.client))

    def touching_table(self, name: str) -> bool:
        return bool(p.getContactPoints(self.bodies[name], self.table,
                                       physicsClientId=self.client))

    def world_model(self) -> WorldModel:
        """Ground truth as the planner's world model (the ``oracle`` observation)."""
        return WorldModel({n: o.moved(self.object_pose(n)).upright()
                           for n, o in self.objects.items()},
                          TABLE_EXTENT, TABLE_TOP, zones=dict(self.zones))

    # -- control ------------------------------------------------------------------------
    def command(self, q_arm: np.ndarray, width: float) -> None:
        """Position targets for the arm joints (rad) and the gripper opening (m)."""
        cid, robot = self.client, self.robot
        p.setJointMotorControlArray(self.robot_id, self.arm_joints, p.POSITION_CONTROL,
                                    targetPositions=[float(v) for v in q_arm],
                                    forces=[float(f) for f in robot.max_effort], positionGains=[0.3] * robot.dof,
                                    physicsClientId=cid)
        target = robot.gripper.joint_for_width(width)
        # letting go: opening, or holding open; a pad that touches something then must
        # not carry it along (the retreat after a release, a transit with open pads)
        opening = width > self.gripper_width() - 1e-3
        if opening != self._releasing:
            self._releasing = opening
            threshold = self.config.release_contact_breaking if opening else \
                self.config.contact_breaking
            p.setPhysicsEngineParameter(contactBreakingThreshold=threshold,
                                        physicsClientId=cid)
            # anchored pad contacts hold what the pads pressed: a pad letting go would
            # drag the object along, or stall against it with its motor saturated
            for j in self.finger_joints:
                p.changeDynamics(self.robot_id, j, frictionAnchor=0 if opening else 1,
                                 lateralFriction=self.config.release_friction if opening
                                 else self.config.pad_friction,
                                 physicsClientId=cid)
        speed = self.config.release_speed if opening else self.config.finger_speed
        # only the actuated finger has a motor; the gear drives the other one
        p.setJointMotorControl2(self.robot_id, self.finger_joints[0], p.POSITION_CONTROL,
                                targetPosition=target, force=self.config.grip_force,
                                maxVelocity=speed, physicsClientId=cid)

    def step(self, n: int = 1) -> None:
        for _ in range(n):
            self._follow_arc()
            p.stepSimulation(physicsClientId=self.client)

    def _follow_arc(self) -> None:
        """Drive each pad's drop joint to the linkage's drop at its finger's travel."""
        if not self.drop_joints:
            return
        cid, g = self.client, self.robot.gripper
        travel = [s[0] for s in p.getJointStates(self.robot_id, self.finger_joints,
                                                  physicsClientId=cid)]
        p.setJointMotorControlArray(
            self.robot_id, self.drop_joints, p.POSITION_CONTROL,
            targetPositions=[g.pad_drop(v) for v in travel],
            forces=[1000.0] * len(self.drop_joints),
            positionGains=[1.0] * len(self.drop_joints), physicsClientId=cid)

    def close(self) -> None:
        # once only: PyBullet reuses client ids, so a second close (an environment's
        # finaliser after an explicit close) could disconnect a newer simulation that
        # was given the same id
        if getattr(self, "_closed", False):
            return
        self._closed = True
        if p.isConnected(self.client):
            p.disconnect(self.client)
