"""Robots as data: one folder per robot with a URDF and a YAML file.

``robots.load("panda_2f85")`` returns the :class:`tamp.robot.RobotSpec` the planner uses.
"""

from __future__ import annotations

from pathlib import Path

from tamp.robot import RobotSpec

ROOT = Path(__file__).resolve().parent
#: the robot every command and environment uses unless told otherwise
DEFAULT_ROBOT = "panda_2f85"


def available() -> list[str]:
    """Names of the robots described under ``robots/``."""
    return sorted(p.parent.name for p in ROOT.glob("*/*.yaml") if p.stem == p.parent.name)


def load(name: str = DEFAULT_ROBOT) -> RobotSpec:
    """The robot called ``name`` (a folder ``robots/NAME/`` with ``NAME.yaml``)."""
    path = ROOT / name / f"{name}.yaml"
    if not path.is_file():
        raise KeyError(f"unknown robot '{name}'; known: {', '.join(available())}")
    return RobotSpec.from_yaml(path)
