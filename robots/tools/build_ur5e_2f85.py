"""Write ``robots/ur5e_2f85/ur5e_2f85.urdf`` from Universal Robots' published kinematics.

Run ``python -m robots.tools.build_ur5e_2f85`` after changing anything here; a test checks
that the committed URDF equals what this script writes, and that its forward kinematics is
the standard-DH formula with these numbers.

Sources (SI units: m, rad, N m, rad/s):

* UR5e standard Denavit-Hartenberg parameters: Universal Robots, "DH parameters for
  calculations of kinematics and dynamics" (support article, UR e-Series):
  d = (0.1625, 0, 0, 0.1333, 0.0997, 0.0996), a = (0, -0.425, -0.3922, 0, 0, 0),
  alpha = (pi/2, 0, 0, pi/2, -pi/2, 0).
* Joint ranges +-360 deg on every joint and maximum joint speed 180 deg/s on every joint:
  UR5e technical specifications. Joint torques 150 N m (base, shoulder, elbow) and
  28 N m (wrists): UR e-Series joint sizes 3 and 1.
* The elbow is limited to +-180 deg here, as in Universal Robots' own ROS description: the
  forearm would pass through the upper arm beyond that.

Standard DH (Rz(theta_i) Tz(d_i) Tx(a_i) Rx(alpha_i)) becomes URDF by putting link ``i``'s
frame at DH frame ``i-1`` turned by joint ``i``; joint ``i+1`` then sits at
``(a_i, 0, d_i)`` with roll ``alpha_i``, and the flange (``tool0``, the DH frame 6) at
``(a_6, 0, d_6)`` with roll ``alpha_6`` from the last joint. The links are named as in
Universal Robots' ROS description (``shoulder_pan_joint`` ... ``wrist_3_joint``), so that
the ROS driver's joint states and trajectories need no renaming.

The link shapes are *ours*: capsules around where the real links are at q = 0 (the arm
stretched out along -x at shoulder height): the upper arm runs 0.138 m to the side of the
base axis along the shoulder joint's axis, the forearm 0.007 m, and the wrists step out to
the 0.1333 m of d4. No mesh is used; masses are rough, for position-controlled simulation.
The 2F-85 is the same as on the Panda (:mod:`robots.tools.urdf_parts`), mounted on the
flange with its coupling.
"""

from __future__ import annotations

import math
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np

from robots.tools.urdf_parts import (MATERIALS, _inertial, _joint, add_robotiq_2f85,
                                     capsule_link, to_text)

OUT = Path(__file__).resolve().parents[1] / "ur5e_2f85" / "ur5e_2f85.urdf"

#: standard DH rows (a_i, d_i, alpha_i), i = 1..6
UR5E_DH = [
    (0.0, 0.1625, math.pi / 2),
    (-0.425, 0.0, 0.0),
    (-0.3922, 0.0, 0.0),
    (0.0, 0.1333, math.pi / 2),
    (0.0, 0.0997, -math.pi / 2),
    (0.0, 0.0996, 0.0),
]
JOINTS = ["shoulder_pan_joint", "shoulder_lift_joint", "elbow_joint", "wrist_1_joint",
          "wrist_2_joint", "wrist_3_joint"]
LINKS = ["base_link", "shoulder_link", "upper_arm_link", "forearm_link", "wrist_1_link",
         "wrist_2_link", "wrist_3_link"]
Q_LOWER = [-2 * math.pi, -2 * math.pi, -math.pi, -2 * math.pi, -2 * math.pi, -2 * math.pi]
Q_UPPER = [2 * math.pi, 2 * math.pi, math.pi, 2 * math.pi, 2 * math.pi, 2 * math.pi]
QD_MAX = [math.pi] * 6
TAU_MAX = [150.0, 150.0, 150.0, 28.0, 28.0, 28.0]
#: rough masses (kg); the arm weighs 20.6 kg (UR5e technical specifications)
LINK_MASS = [4.0, 3.7, 8.4, 2.3, 1.2, 1.2, 0.3]

_S, _E = -0.138, -0.007  # y of the upper arm and of the forearm at q = 0 (see above)
_Z1 = 0.1625  # shoulder height
_X3 = -0.425 - 0.3922  # x of the wrists at q = 0
#: capsules (p0, p1, radius) in the world frame at q = 0
UR5E_CAPSULES: dict[int, list[tuple[tuple[float, ...], tuple[float, ...], float]]] = {
    0: [((0, 0, 0.04), (0, 0, 0.09), 0.076)],
    1: [((0, 0, 0.11), (0, 0, _Z1), 0.065), ((0, 0.0, _Z1), (0, _S, _Z1), 0.065)],
    2: [((-0.05, _S, _Z1), (-0.375, _S, _Z1), 0.058), ((-0.425, _S, _Z1), (-0.425, _E, _Z1),
                                                       0.06)],
    3: [((-0.47, _E, _Z1), (_X3 + 0.04, _E, _Z1), 0.045)],
    4: [((_X3, -0.03, _Z1), (_X3, -0.1333, _Z1), 0.045)],
    5: [((_X3, -0.1333, _Z1 - 0.045), (_X3, -0.1333, _Z1 - 0.0997), 0.045)],
    6: [((_X3, -0.185, _Z1 - 0.0997), (_X3, -0.2229, _Z1 - 0.0997), 0.04)],
}


def dh_frames(q) -> list[np.ndarray]:
    """World poses (4x4) of the DH frames 0..6 at joint positions ``q``, by the
    standard-DH formula itself (frame 6 is the flange)."""
    frames = [np.eye(4)]
    for (a, d, alpha), theta in zip(UR5E_DH, q):
        c, s = math.cos(theta), math.sin(theta)
        ca, sa = math.cos(alpha), math.sin(alpha)
        frames.append(frames[-1] @ np.array([[c, -s * ca, s * sa, a * c],
                                             [s, c * ca, -c * sa, a * s],
                                             [0, sa, ca, d],
                                             [0, 0, 0, 1.0]]))
    return frames


def _link_frames_at_zero() -> list[np.ndarray]:
    """World poses of the URDF links at q = 0: link i is DH frame i-1 (turned by q_i = 0);
    the base link is frame 0."""
    frames = dh_frames(np.zeros(6))
    return [frames[0]] + frames[:6]


def build() -> str:
    robot = ET.Element("robot", name="ur5e_2f85")
    for name, rgba in MATERIALS.items():
        ET.SubElement(ET.SubElement(robot, "material", name=name), "color", rgba=rgba)
    frames = _link_frames_at_zero()
    for i, name in enumerate(LINKS):
        capsule_link(robot, name, frames[i], UR5E_CAPSULES[i], LINK_MASS[i],
                     "grey" if i in (0, 6) else "white")
        if i > 0:
            # joint i: at DH frame i-1, i.e. (a, 0, d) and roll alpha of row i-1 from link i-1
            a, d, alpha = UR5E_DH[i - 2] if i > 1 else (0.0, 0.0, 0.0)
            _joint(robot, JOINTS[i - 1], "revolute", LINKS[i - 1], name, (a, 0.0, d),
                   (alpha, 0, 0), axis=(0, 0, 1),
                   limit={"lower": Q_LOWER[i - 1], "upper": Q_UPPER[i - 1],
                          "velocity": QD_MAX[i - 1], "effort": TAU_MAX[i - 1]})
    # the flange: DH frame 6 (x, y, z of UR's tool0)
    flange = ET.SubElement(robot, "link", name="tool0")
    _inertial(flange, 0.001, (0.01, 0.01, 0.01))
    a, d, alpha = UR5E_DH[5]
    _joint(robot, "tool0_joint", "fixed", "wrist_3_link", "tool0", (a, 0.0, d), (alpha, 0, 0))
    add_robotiq_2f85(robot, "tool0")
    header = ("<!-- Generated by robots/tools/build_ur5e_2f85.py: do not edit by hand. "
              "UR5e (Universal Robots' standard DH) + Robotiq 2F-85 (pads on the linkage's "
              "arc). -->\n")
    return to_text(robot, header)


def main() -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(build())
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
