"""Top-down grasps for a parallel gripper, chosen from an object's geometry."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tamp.geometry.transforms import invert
from tamp.robot import RobotSpec
from tamp.world import WorldObject


@dataclass(frozen=True)
class GraspConfig:
    #: lowest the fingertips may go above the object's bottom face, m
    fingertip_clearance: float = 0.012
    #: extra opening beyond the object's width before closing, m
    pre_grasp_margin: float = 0.02


@dataclass(frozen=True)
class Grasp:
    """Where the TCP holds the object: ``obj_T_tcp`` is the TCP pose in the object frame."""

    obj: str
    obj_T_tcp: np.ndarray
    width: float  #: object width between the pads, m
    open_width: float  #: gripper opening for the approach, m

    def tcp_pose(self, world_T_obj: np.ndarray) -> np.ndarray:
        return world_T_obj @ self.obj_T_tcp

    @property
    def tcp_T_obj(self) -> np.ndarray:
        return invert(self.obj_T_tcp)


@dataclass(frozen=True)
class GraspCandidates:
    grasps: list[Grasp]
    reason: str = ""  #: why the list is empty, if it is


def _top_down(yaw: float, height: float) -> np.ndarray:
    """TCP pose (object frame): approach axis (z) pointing down, closing axis (y) at yaw."""
    y = np.array([math.cos(yaw), math.sin(yaw), 0.0])
    z = np.array([0.0, 0.0, -1.0])
    t = np.eye(4)
    t[:3, :3] = np.column_stack([np.cross(y, z), y, z])
    t[:3, 3] = (0.0, 0.0, height)
    return t


def top_grasps(obj: WorldObject, robot: RobotSpec, config: GraspConfig = GraspConfig()
               ) -> GraspCandidates:
    """Top-down grasps across the faces of a box or the diameter of a cylinder.

    The pads close on the object as low as the fingertip clearance allows, so as much of
    the pad as possible touches it (where they are once closed: the 2F-85's pads move away
    from the flange as they close, ``GripperSpec.pad_drop``). Candidates are ordered by how little the wrist must
    turn from its home yaw.
    """
    g = robot.gripper
    sx, sy, sz = obj.shape.size
    fingertip = max(config.fingertip_clearance, sz - g.pad_size[1])
    height = fingertip + robot.tcp_to_fingertip
    if height > sz + robot.tcp_to_fingertip:
        return GraspCandidates([], f"{obj.name} is too short to grasp")
    options: list[tuple[float, float]] = []  # (closing-axis yaw in object frame, width)
    if obj.shape.kind == "box":
        options = [(0.0, sx), (math.pi / 2, sy)]
    elif obj.shape.kind == "cylinder":
        options = [(k * math.pi / 4, 2 * sx) for k in range(4)]
    else:
        return GraspCandidates([], f"no top-down grasp for a {obj.shape.kind}")
    grasps = []
    for yaw, width in options:
        open_width = width + config.pre_grasp_margin
        if open_width > g.stroke:
            continue
        # closed on the object, the pads hang lower by the linkage's arc: the TCP (fixed
        # on the gripper) goes that much higher, so that they close where they should
        tcp_z = height + g.pad_drop_at_width(width)
        for flip in (0.0, math.pi):
            grasps.append(Grasp(obj.name, _top_down(yaw + flip, tcp_z), width,
                                min(open_width, g.stroke)))
    if not grasps:
        return GraspCandidates([], f"{obj.name} is wider than the {g.stroke * 1000:.0f} mm "
                                   "stroke on every side")

    def wrist_turn(grasp: Grasp) -> float:
        world_y = obj.pose[:3, :3] @ grasp.obj_T_tcp[:3, 1]
        # at home the closing axis points along the world y axis
        return abs(math.atan2(world_y[0], world_y[1]))

    return GraspCandidates(sorted(grasps, key=wrist_turn))


def fingertip_depth(obj: WorldObject, grasp: Grasp, tcp_to_fingertip: float) -> float:
    """How far (m) the fingertips of ``grasp`` reach past the top of ``obj`` along the
    approach axis (0 if they stay above it): the corners of the object's primitives'
    bounding boxes, in the TCP frame, against the fingertips ``tcp_to_fingertip`` ahead."""
    from tamp.geometry.shapes import primitives

    tcp_T_obj = np.linalg.inv(grasp.obj_T_tcp)
    signs = np.array([[x, y, z, 1.0] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)])
    nearest = np.inf
    for prim in primitives(obj.shape):
        corners = signs.copy()
        corners[:, :3] *= np.asarray(prim.half)
        nearest = min(nearest, float((tcp_T_obj @ prim.local @ corners.T)[2].min()))
    return max(0.0, tcp_to_fingertip - nearest)
