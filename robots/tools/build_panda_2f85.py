"""Write ``robots/panda_2f85/panda_2f85.urdf`` from published kinematic facts.

Run ``python -m robots.tools.build_panda_2f85`` after changing anything here; a test
checks that the committed URDF equals what this script writes.

Sources of the numbers (all SI units: m, rad, kg, N, rad/s):

* Franka Emika Panda: the modified Denavit-Hartenberg table, joint position limits,
  velocity limits and torque limits published in the Franka Control Interface
  documentation ("Robot and interface specifications").
* Robotiq 2F-85: 85 mm stroke, ~0.925 kg, 20-235 N grip force, 20-150 mm/s closing speed
  (Robotiq 2F-85 product specifications / instruction manual).

The link shapes are *ours*: capsules (a cylinder plus two spheres) drawn around where the
real links are at the zero configuration, and boxes for the gripper. No mesh is used.
Masses and inertias are rough estimates, adequate for position-controlled simulation.

The 2F-85's fingers are driven by one actuator through a 4-bar linkage that keeps the
pads parallel. We model the same pad motion as an equivalent pair of prismatic finger
joints: ``robotiq_finger_joint`` (actuated, 0 = open, 0.0425 m = closed per side) and
``robotiq_right_finger_joint``, which mimics it. The small vertical arc of the real pads
(a few mm over the stroke) is not modelled.
"""

from __future__ import annotations

import math
from pathlib import Path
from xml.dom import minidom
from xml.etree import ElementTree as ET

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "panda_2f85" / "panda_2f85.urdf"

# Modified DH (Craig): a_{i-1}, d_i, alpha_{i-1} for joints 1..7 and the flange.
PANDA_DH = [
    (0.0, 0.333, 0.0),
    (0.0, 0.0, -math.pi / 2),
    (0.0, 0.316, math.pi / 2),
    (0.0825, 0.0, math.pi / 2),
    (-0.0825, 0.384, -math.pi / 2),
    (0.0, 0.0, math.pi / 2),
    (0.088, 0.0, math.pi / 2),
]
FLANGE_D = 0.107
Q_LOWER = [-2.8973, -1.7628, -2.8973, -3.0718, -2.8973, -0.0175, -2.8973]
Q_UPPER = [2.8973, 1.7628, 2.8973, -0.0698, 2.8973, 3.7525, 2.8973]
QD_MAX = [2.1750, 2.1750, 2.1750, 2.1750, 2.6100, 2.6100, 2.6100]
TAU_MAX = [87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0]
# Rough link masses (kg); the arm weighs about 18 kg in total.
LINK_MASS = [2.9, 2.7, 2.7, 2.4, 2.4, 2.6, 1.5, 0.5]

# Capsules (p0, p1, radius) in the *world* frame with q = 0, where the arm stands straight
# up and the flange points down at (0.088, 0, 0.926).
PANDA_CAPSULES: dict[int, list[tuple[tuple[float, ...], tuple[float, ...], float]]] = {
    0: [((0, 0, 0.05), (0, 0, 0.15), 0.075), ((-0.09, 0, 0.05), (0, 0, 0.05), 0.06)],
    1: [((0, 0, 0.20), (0, 0, 0.30), 0.065)],
    2: [((0, -0.06, 0.333), (0, 0.06, 0.333), 0.065), ((0, 0, 0.333), (0, 0, 0.44), 0.06)],
    3: [((0, 0, 0.46), (0, 0, 0.60), 0.06), ((0.0, 0, 0.649), (0.0825, 0, 0.649), 0.055)],
    4: [((0.0825, -0.06, 0.649), (0.0825, 0.06, 0.649), 0.06),
        ((0.0825, 0, 0.649), (0.0, 0, 0.74), 0.055)],
    5: [((0, 0, 0.76), (0, 0, 0.98), 0.06)],
    6: [((0, -0.05, 1.033), (0, 0.05, 1.033), 0.06), ((0, 0, 1.033), (0.088, 0, 1.033), 0.05)],
    7: [((0.088, 0, 1.03), (0.088, 0, 0.95), 0.05)],
}

# Robotiq 2F-85 geometry in the gripper frame (origin on the flange, z along the approach
# direction, y the closing direction).
GRIPPER_MASS = 0.925
STROKE = 0.085
COUPLING = (0.0375, 0.011)  # radius, length
BODY = (0.06, 0.092, 0.084)  # x, y, z extent of the housing, above the coupling
FINGER_Z0 = 0.095  # where the finger links start
FINGER_SIZE = (0.022, 0.014, 0.065)  # x, y, z of one finger (linkage + pad), pad face inward
TCP_Z = 0.14  # tool centre point: between the pads, 2 cm above the fingertips
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


def _zero_config_frames() -> list[np.ndarray]:
    """World poses (4x4) of panda_link0..7 at q = 0."""
    frames = [np.eye(4)]
    for a, d, alpha in PANDA_DH:
        t = np.eye(4)
        t[:3, :3] = _rot_x(alpha)
        t[:3, 3] = [a, -d * math.sin(alpha), d * math.cos(alpha)]
        frames.append(frames[-1] @ t)
    return frames


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


def build() -> str:
    robot = ET.Element("robot", name="panda_2f85")
    for name, rgba in MATERIALS.items():
        ET.SubElement(ET.SubElement(robot, "material", name=name), "color", rgba=rgba)
    white, grey, dark = "white", "grey", "dark"
    frames = _zero_config_frames()
    for i in range(8):
        link = ET.SubElement(robot, "link", name=f"panda_link{i}")
        inv = np.linalg.inv(frames[i])
        pts = []
        for p0, p1, r in PANDA_CAPSULES[i]:
            q0 = (inv @ np.array([*p0, 1.0]))[:3]
            q1 = (inv @ np.array([*p1, 1.0]))[:3]
            pts += [q0, q1]
            _capsule(link, q0, q1, r, white if i % 2 == 0 else grey)
        pts = np.array(pts)
        _inertial(link, LINK_MASS[i], np.ptp(pts, axis=0) + 0.1, pts.mean(axis=0))
        if i > 0:
            a, d, alpha = PANDA_DH[i - 1]
            _joint(robot, f"panda_joint{i}", "revolute", f"panda_link{i - 1}",
                   f"panda_link{i}", (a, -d * math.sin(alpha), d * math.cos(alpha)),
                   (alpha, 0, 0), axis=(0, 0, 1),
                   limit={"lower": Q_LOWER[i - 1], "upper": Q_UPPER[i - 1],
                          "velocity": QD_MAX[i - 1], "effort": TAU_MAX[i - 1]})

    # Flange, rotated -45 deg about z as on the Franka hand, so that q7 = pi/4 aligns the
    # closing direction with the base's y axis.
    flange = ET.SubElement(robot, "link", name="panda_flange")
    _inertial(flange, 0.001, (0.01, 0.01, 0.01))
    _joint(robot, "panda_flange_joint", "fixed", "panda_link7", "panda_flange",
           (0, 0, FLANGE_D), (0, 0, -math.pi / 4))

    base = ET.SubElement(robot, "link", name="robotiq_base")
    r, l = COUPLING
    _shape(base, "cylinder", {"radius": f"{r:.6g}", "length": f"{l:.6g}"}, (0, 0, l / 2),
           (0, 0, 0), dark)
    bx, by, bz = BODY
    _shape(base, "box", {"size": _fmt(BODY)}, (0, 0, l + bz / 2), (0, 0, 0), dark)
    finger_mass = 0.05
    _inertial(base, GRIPPER_MASS - 2 * finger_mass, (bx, by, l + bz), (0, 0, (l + bz) / 2))
    _joint(robot, "robotiq_mount_joint", "fixed", "panda_flange", "robotiq_base", (0, 0, 0))

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
        joint = "robotiq_finger_joint" if name == "left" else "robotiq_right_finger_joint"
        _joint(robot, joint, "prismatic", "robotiq_base", link.get("name"),
               (0, side * half, FINGER_Z0), axis=(0, sign, 0),
               limit={"lower": 0.0, "upper": half, "velocity": 0.15, "effort": 235.0},
               mimic=None if name == "left" else "robotiq_finger_joint")

    tcp = ET.SubElement(robot, "link", name="tcp")
    _inertial(tcp, 0.001, (0.01, 0.01, 0.01))
    _joint(robot, "tcp_joint", "fixed", "robotiq_base", "tcp", (0, 0, TCP_Z))

    header = ("<!-- Generated by robots/tools/build_panda_2f85.py: do not edit by hand. "
              "Franka Panda (published DH) + Robotiq 2F-85 (equivalent prismatic pads). -->\n")
    text = minidom.parseString(ET.tostring(robot)).toprettyxml(indent="  ")
    return text.replace('<?xml version="1.0" ?>\n', '<?xml version="1.0"?>\n' + header)


def main() -> None:
    OUT.write_text(build())
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
