"""Pieces of the robots' URDFs that the generators share: number formatting, capsules
drawn in the zero configuration, joints, and the Robotiq 2F-85 (the same gripper on every
arm). The shapes are ours; the gripper's published facts are cited in
:mod:`robots.tools.build_panda_2f85`.
"""

from __future__ import annotations

import math
from xml.dom import minidom
from xml.etree import ElementTree as ET

import numpy as np

# Robotiq 2F-85 geometry in the gripper frame (origin on the flange, z along the approach
# direction, y the closing direction).
GRIPPER_MASS = 0.925
STROKE = 0.085
COUPLING = (0.0375, 0.011)  # radius, length
BODY = (0.06, 0.092, 0.084)  # x, y, z extent of the housing, above the coupling
FINGER_Z0 = 0.095  # where the finger links start
FINGER_SIZE = (0.022, 0.014, 0.065)  # x, y, z of one finger (linkage + pad), pad face inward
TCP_Z = 0.14  # tool centre point: between the pads, 2 cm above the fingertips (open)
#: the pads' arc: as the linkage closes, each pad also moves away from the flange, at most
#: this far (m; ``tamp.robot.GripperSpec.pad_drop`` gives it for every opening)
PAD_DROP_MAX = 0.015
PAD_FRICTION = 1.5
MATERIALS = {"white": "0.92 0.92 0.92 1", "grey": "0.35 0.35 0.38 1", "dark": "0.12 0.12 0.12 1"}




def _rot_x(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _fmt(v) -> str:
    return " ".join(f"{0.0 if abs(x) < 1e-12 else x:.10g}" for x in v)


def _rpy_from_matrix(r: np.ndarray) -> tuple[float, float, float]:
    """URDF roll-pitch-yaw (fixed axes X, Y, Z) of a rotation matrix."""
    pitch = math.atan2(-r[2, 0], math.hypot(r[0, 0], r[1, 0]))
    if abs(math.cos(pitch)) < 1e-9:
        return math.atan2(-r[1, 2], r[1, 1]), pitch, 0.0
    return math.atan2(r[2, 1], r[2, 2]), pitch, math.atan2(r[1, 0], r[0, 0])


def _z_to(direction: np.ndarray) -> np.ndarray:
    """A rotation taking +z onto ``direction`` (unit)."""
    z = direction / np.linalg.norm(direction)
    helper = np.array([1.0, 0, 0]) if abs(z[0]) < 0.9 else np.array([0, 1.0, 0])
    x = np.cross(helper, z)
    x /= np.linalg.norm(x)
    return np.column_stack([x, np.cross(z, x), z])


def _origin(parent: ET.Element, xyz, rpy=(0.0, 0.0, 0.0)) -> None:
    ET.SubElement(parent, "origin", xyz=_fmt(xyz), rpy=_fmt(rpy))


def _inertial(link: ET.Element, mass: float, extent, com=(0.0, 0.0, 0.0)) -> None:
    """Inertia of a solid box of the given extent: rough but positive definite."""
    ex, ey, ez = extent
    inertial = ET.SubElement(link, "inertial")
    _origin(inertial, com)
    ET.SubElement(inertial, "mass", value=f"{mass:.6g}")
    ixx, iyy, izz = (mass / 12 * (ey**2 + ez**2), mass / 12 * (ex**2 + ez**2),
                     mass / 12 * (ex**2 + ey**2))
    ET.SubElement(inertial, "inertia", ixx=f"{ixx:.6g}", ixy="0", ixz="0", iyy=f"{iyy:.6g}",
                  iyz="0", izz=f"{izz:.6g}")


def _shape(link: ET.Element, kind: str, geometry: dict, xyz, rpy, material: str) -> None:
    for tag in ("visual", "collision"):
        el = ET.SubElement(link, tag)
        _origin(el, xyz, rpy)
        ET.SubElement(ET.SubElement(el, "geometry"), kind, **geometry)
        if tag == "visual":
            ET.SubElement(el, "material", name=material)


def _capsule(link: ET.Element, p0: np.ndarray, p1: np.ndarray, radius: float, material: str):
    axis = p1 - p0
    length = float(np.linalg.norm(axis))
    rpy = _rpy_from_matrix(_z_to(axis))
    _shape(link, "cylinder", {"radius": f"{radius:.6g}", "length": f"{length:.6g}"},
           (p0 + p1) / 2, rpy, material)
    for p in (p0, p1):
        _shape(link, "sphere", {"radius": f"{radius:.6g}"}, p, (0, 0, 0), material)


def _joint(robot, name, kind, parent, child, xyz, rpy=(0, 0, 0), axis=None, limit=None,
           mimic=None) -> None:
    j = ET.SubElement(robot, "joint", name=name, type=kind)
    _origin(j, xyz, rpy)
    ET.SubElement(j, "parent", link=parent)
    ET.SubElement(j, "child", link=child)
    if axis is not None:
        ET.SubElement(j, "axis", xyz=_fmt(axis))
    if limit is not None:
        ET.SubElement(j, "limit", **{k: f"{v:.6g}" for k, v in limit.items()})
    if mimic is not None:
        ET.SubElement(j, "mimic", joint=mimic, multiplier="1", offset="0")


def capsule_link(robot: ET.Element, name: str, frame: np.ndarray, capsules, mass: float,
                 material: str) -> ET.Element:
    """A link made of ``capsules`` ((p0, p1, radius), given in the world frame with the
    arm at q = 0, where the link's frame is ``frame``), with a rough box inertia."""
    link = ET.SubElement(robot, "link", name=name)
    inv = np.linalg.inv(frame)
    pts = []
    for p0, p1, r in capsules:
        q0 = (inv @ np.array([*p0, 1.0]))[:3]
        q1 = (inv @ np.array([*p1, 1.0]))[:3]
        pts += [q0, q1]
        _capsule(link, q0, q1, r, material)
    pts = np.array(pts)
    _inertial(link, mass, np.ptp(pts, axis=0) + 0.1, pts.mean(axis=0))
    return link


def add_robotiq_2f85(robot: ET.Element, parent: str, xyz=(0.0, 0.0, 0.0),
                     rpy=(0.0, 0.0, 0.0)) -> None:
    """The 2F-85 (coupling, housing, two pads on the linkage's arc as two slides each, the tool
    centre point ``tcp``) mounted on ``parent`` at ``xyz``/``rpy``."""
    dark, grey = "dark", "grey"
    base = ET.SubElement(robot, "link", name="robotiq_base")
    r, l = COUPLING
    _shape(base, "cylinder", {"radius": f"{r:.6g}", "length": f"{l:.6g}"}, (0, 0, l / 2),
           (0, 0, 0), dark)
    bx, by, bz = BODY
    _shape(base, "box", {"size": _fmt(BODY)}, (0, 0, l + bz / 2), (0, 0, 0), dark)
    finger_mass = 0.05
    _inertial(base, GRIPPER_MASS - 2 * finger_mass, (bx, by, l + bz), (0, 0, (l + bz) / 2))
    _joint(robot, "robotiq_mount_joint", "fixed", parent, "robotiq_base", xyz, rpy)

    fx, fy, fz = FINGER_SIZE
    half = STROKE / 2
    for side, sign, name in ((+1, -1.0, "left"), (-1, 1.0, "right")):
        link = ET.SubElement(robot, "link", name=f"robotiq_{name}_finger")
        # Finger frame sits on the pad's inner face when the gripper is fully open.
        _shape(link, "box", {"size": _fmt(FINGER_SIZE)}, (0, side * fy / 2, fz / 2),
               (0, 0, 0), grey)
        _inertial(link, finger_mass, FINGER_SIZE, (0, side * fy / 2, fz / 2))
        contact = ET.SubElement(link, "contact")
        ET.SubElement(contact, "lateral_friction", value=f"{PAD_FRICTION:g}")
        # the linkage's arc as two slides: along the approach (this joint: the pad's drop,
        # a non-linear function of the closing travel that a URDF mimic cannot state; the
        # YAML's gripper.linkage gives it, and the planner and the simulator set it), then
        # across (the closing joint below)
        slide = ET.SubElement(robot, "link", name=f"robotiq_{name}_pad_slide")
        _inertial(slide, 0.001, (0.005, 0.005, 0.005))
        _joint(robot, f"robotiq_{name}_pad_drop_joint", "prismatic", "robotiq_base",
               slide.get("name"), (0, side * half, FINGER_Z0), axis=(0, 0, 1),
               limit={"lower": 0.0, "upper": PAD_DROP_MAX, "velocity": 0.15,
                      "effort": 235.0})
        joint = "robotiq_finger_joint" if name == "left" else "robotiq_right_finger_joint"
        _joint(robot, joint, "prismatic", slide.get("name"), link.get("name"),
               (0, 0, 0), axis=(0, sign, 0),
               limit={"lower": 0.0, "upper": half, "velocity": 0.15, "effort": 235.0},
               mimic=None if name == "left" else "robotiq_finger_joint")

    tcp = ET.SubElement(robot, "link", name="tcp")
    _inertial(tcp, 0.001, (0.01, 0.01, 0.01))
    _joint(robot, "tcp_joint", "fixed", "robotiq_base", "tcp", (0, 0, TCP_Z))



def to_text(robot: ET.Element, header: str) -> str:
    """The URDF as text, with ``header`` (an XML comment) after the declaration."""
    text = minidom.parseString(ET.tostring(robot)).toprettyxml(indent="  ")
    return text.replace('<?xml version="1.0" ?>\n', '<?xml version="1.0"?>\n' + header)
