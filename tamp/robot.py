"""A robot as data: the URDF plus one YAML file (see ``robots/``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

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
    def from_yaml(cls, path: str | Path) -> "RobotSpec":
        path = Path(path)
        data = yaml.safe_load(path.read_text())
        lim = data["limits"]
        # every robot must state its jerk limits: the deploy safety layer checks them
        if "jerk" not in lim:
            raise ValueError(f"{path}: 'limits.jerk' is missing: give one jerk limit per arm "
                             "joint, rad/s^3, with its source")
        g = data["gripper"]
        spec = cls(
            name=data["name"],
            urdf=(path.parent / data["urdf"]).resolve(),
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
                pad_size=tuple(g["pad_size"]), mass=float(g["mass"])),
            disabled_collisions=tuple(tuple(p) for p in data.get("disabled_collisions", [])),
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
