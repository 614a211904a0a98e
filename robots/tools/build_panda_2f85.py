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
pads parallel and carries them on an arc. We model the same pad motion with two slides
per pad: across, ``robotiq_finger_joint`` (actuated, 0 = open, 0.0425 m = closed per side)
and ``robotiq_right_finger_joint``, which mimics it; along the approach,
``robotiq_{left,right}_pad_drop_joint``, the arc's drop at that travel (up to 14.1 mm; a
non-linear function, which a URDF mimic cannot state: the robot YAML's
``gripper.linkage`` gives it, from the linkage's published dimensions, and
``tamp.geometry.linkage.pad_drop`` computes it for the planner and the simulator).
"""

from __future__ import annotations

import math
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np

from robots.tools.urdf_parts import (MATERIALS, _inertial, _joint, _rot_x,
                                     add_robotiq_2f85, capsule_link, to_text)

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


def _zero_config_frames() -> list[np.ndarray]:
    """World poses (4x4) of panda_link0..7 at q = 0."""
    frames = [np.eye(4)]
    for a, d, alpha in PANDA_DH:
        t = np.eye(4)
        t[:3, :3] = _rot_x(alpha)
        t[:3, 3] = [a, -d * math.sin(alpha), d * math.cos(alpha)]
        frames.append(frames[-1] @ t)
    return frames


def build() -> str:
    robot = ET.Element("robot", name="panda_2f85")
    for name, rgba in MATERIALS.items():
        ET.SubElement(ET.SubElement(robot, "material", name=name), "color", rgba=rgba)
    white, grey = "white", "grey"
    frames = _zero_config_frames()
    for i in range(8):
        capsule_link(robot, f"panda_link{i}", frames[i], PANDA_CAPSULES[i], LINK_MASS[i],
                     white if i % 2 == 0 else grey)
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

    add_robotiq_2f85(robot, "panda_flange")

    header = ("<!-- Generated by robots/tools/build_panda_2f85.py: do not edit by hand. "
              "Franka Panda (published DH) + Robotiq 2F-85 (pads on the linkage's arc). -->\n")
    return to_text(robot, header)


def main() -> None:
    OUT.write_text(build())
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
