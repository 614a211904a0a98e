"""A robot as data: the URDF plus one YAML file (see ``robots/``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from tamp.geometry.linkage import pad_drop
from tamp.geometry.spheres import load_spheres


@dataclass(frozen=True)
class GripperSpec:
    """A parallel gripper driven by one actuated joint (others mimic it)."""

    model: str
    joint: str
    mimic_joints: tuple[str, ...]
    #: actuated joint range (open, closed), m per finger
    joint_range: tuple[float, float]
    #: pad-to-pad opening when fully open, m
    stroke: float
    force_range: tuple[float, float]  #: N
    speed_range: tuple[float, float]  #: m/s
    #: contact area of one pad: width across, length along the approach axis, m
    pad_size: tuple[float, float]
    mass: float  #: kg
    #: joints that move each pad along the approach axis as the linkage closes (see
    #: :meth:`pad_drop`); empty: the pads move on a straight line
    drop_joints: tuple[str, ...] = ()
    #: the linkage that carries each pad (parallel) on an arc: the arc's radius (m) and the
    #: angle (rad) of the radius from the approach axis, outward, with the pads open
    linkage_radius: float = 0.0
    linkage_open_angle: float = 0.0

    def pad_drop(self, value: float) -> float:
        """How much further from the flange (m) the pads are at actuated joint value
        ``value`` (m of closing travel per finger) than when open: the arc of a pad that a
        four-bar linkage keeps parallel, ``r (cos(a0 - t) - cos a0)`` where the closing
        travel is ``r (sin a0 - sin(a0 - t))``. 0 without a linkage."""
        return float(pad_drop(value, self.linkage_radius, self.linkage_open_angle))

    def pad_drop_at_width(self, width: float) -> float:
        """:meth:`pad_drop` with the pads ``width`` (m) apart."""
        return self.pad_drop(self.joint_for_width(width))

    def joint_for_width(self, width: float) -> float:
        """Actuated joint value (m) that leaves ``width`` (m) between the pads."""
        width = float(np.clip(width, 0.0, self.stroke))
        return (self.stroke - width) / 2.0

    def width_for_joint(self, value: float) -> float:
        """Pad-to-pad opening (m) at actuated joint value ``value`` (m)."""
        return self.stroke - 2.0 * float(value)


@dataclass(frozen=True)
class RobotSpec:
    """Everything the planner needs to know about one arm + gripper."""

    name: str
    urdf: Path
    base_link: str
    arm_joints: tuple[str, ...]
    lower: np.ndarray  #: joint position lower limits, shape (n_arm,), rad
    upper: np.ndarray  #: joint position upper limits, shape (n_arm,), rad
    max_velocity: np.ndarray  #: shape (n_arm,), rad/s
    max_acceleration: np.ndarray  #: shape (n_arm,), rad/s^2
    max_effort: np.ndarray  #: shape (n_arm,), N m
    max_jerk: np.ndarray  #: shape (n_arm,), rad/s^3 (from the YAML: URDFs carry no jerk)
    home: np.ndarray  #: shape (n_arm,), rad
    flange_link: str
    tcp_frame: str
    #: distance from the tool centre point to the fingertips along the approach axis, m
    tcp_to_fingertip: float
    gripper: GripperSpec
    disabled_collisions: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    #: spheres covering each link's collision geometry (stored beside the YAML)
    collision_spheres: dict = field(default_factory=dict)
    #: the trajectory controller its ROS driver runs (the default of a workcell file)
    ros_controller: str = "/position_joint_trajectory_controller"

    @property
    def dof(self) -> int:
        return len(self.arm_joints)

    @classmethod
    def from_yaml(cls, path: str | Path, urdf: Path | None = None,
                  more_disabled: tuple[tuple[str, str], ...] = ()) -> "RobotSpec":
        """The robot of YAML file ``path``; ``urdf``: its URDF when composed elsewhere (a
        description of a third party's, ``robots.description``), else the YAML's ``urdf``;
        ``more_disabled``: collision pairs to skip besides the YAML's (an SRDF's).
        Position, velocity and effort limits the YAML leaves out are the URDF's."""
        path = Path(path)
        data = yaml.safe_load(path.read_text())
        urdf = urdf or (path.parent / data["urdf"]).resolve()
        lim = dict(data["limits"])
        missing = [k for k in _URDF_LIMITS if k not in lim]
        if missing:
            lim.update({k: v for k, v in urdf_limits(urdf, data["arm_joints"]).items()
                        if k in missing})
        # every robot must state its jerk limits: the deploy safety layer checks them
        if "jerk" not in lim:
            raise ValueError(f"{path}: 'limits.jerk' is missing: give one jerk limit per arm "
                             "joint, rad/s^3, with its source")
        g = data["gripper"]
        spec = cls(
            name=data["name"],
            urdf=urdf,
            base_link=data["base_link"],
            arm_joints=tuple(data["arm_joints"]),
            lower=np.asarray(lim["lower"], float),
            upper=np.asarray(lim["upper"], float),
            max_velocity=np.asarray(lim["velocity"], float),
            max_acceleration=np.asarray(lim["acceleration"], float),
            max_effort=np.asarray(lim["effort"], float),
            max_jerk=np.asarray(lim["jerk"], float),
            home=np.asarray(data["home"], float),
            flange_link=data["flange_link"],
            tcp_frame=data["tcp_frame"],
            tcp_to_fingertip=float(data["tcp_to_fingertip"]),
            gripper=GripperSpec(
                model=g["model"], joint=g["joint"], mimic_joints=tuple(g["mimic_joints"]),
                joint_range=tuple(g["joint_range"]), stroke=float(g["stroke"]),
                force_range=tuple(g["force_range"]), speed_range=tuple(g["speed_range"]),
                pad_size=tuple(g["pad_size"]), mass=float(g["mass"]),
                **_linkage(g, path)),
            disabled_collisions=tuple(tuple(p) for p in data.get("disabled_collisions", []))
            + tuple(more_disabled),
            collision_spheres=(load_spheres(path.parent / data["collision_spheres"])
                               if "collision_spheres" in data else {}),
            ros_controller=str((data.get("ros") or {}).get(
                "controller", "/position_joint_trajectory_controller")),
        )
        n = spec.dof
        for name in ("lower", "upper", "max_velocity", "max_acceleration", "max_effort",
                     "max_jerk", "home"):
            if getattr(spec, name).shape != (n,):
                raise ValueError(f"{path}: '{name}' must have {n} values")
        for key, name in (("velocity", "max_velocity"), ("acceleration", "max_acceleration"),
                          ("jerk", "max_jerk")):
            if not np.all(getattr(spec, name) > 0):  # the safety layer divides by them
                raise ValueError(f"{path}: 'limits.{key}' must be > 0 for every joint")
        if np.any(spec.home < spec.lower) or np.any(spec.home > spec.upper):
            raise ValueError(f"{path}: home configuration outside the joint limits")
        return spec


#: the limits a URDF's ``<limit>`` carries: YAML key -> attribute
_URDF_LIMITS = {"lower": "lower", "upper": "upper", "velocity": "velocity", "effort": "effort"}


def urdf_limits(urdf: Path, joints: list[str]) -> dict[str, list[float]]:
    """Per YAML limit key (lower, upper, velocity, effort), the values of ``joints`` in the
    URDF's ``<limit>`` elements; a ``ValueError`` naming what the URDF lacks."""
    from xml.etree import ElementTree as ET

    found = {j.get("name"): j.find("limit") for j in ET.parse(urdf).getroot().iter("joint")}
    out: dict[str, list[float]] = {k: [] for k in _URDF_LIMITS}
    for name in joints:
        limit = found.get(name)
        for key, attribute in _URDF_LIMITS.items():
            if limit is None or limit.get(attribute) is None:
                raise ValueError(f"{urdf}: joint '{name}' has no limit '{attribute}': state "
                                 f"'limits.{key}' in the robot's YAML")
            out[key].append(float(limit.get(attribute)))
    return out


def _linkage(g: dict, path: Path) -> dict:
    """GripperSpec's linkage fields from a YAML's ``gripper`` block: ``drop_joints`` and
    ``linkage.pivot_to_pad`` (the vector, m, from a knuckle's pivot to where the pad's link
    hangs on it with the pads open: across, outward, and along the approach)."""
    if "linkage" not in g:
        return {}
    across, along = (float(v) for v in g["linkage"]["pivot_to_pad"])
    if "drop_joints" not in g or along <= 0:
        raise ValueError(f"{path}: 'gripper.linkage' needs 'gripper.drop_joints' and a "
                         "pivot_to_pad pointing along the approach")
    return {"drop_joints": tuple(g["drop_joints"]),
            "linkage_radius": float(np.hypot(across, along)),
            "linkage_open_angle": float(np.arctan2(across, along))}
