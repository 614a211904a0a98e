"""Robots as data: one folder per robot with a URDF and a YAML file.

``robots.load("panda_2f85")`` returns the :class:`tamp.robot.RobotSpec` the planner uses.
"""

from __future__ import annotations

from pathlib import Path

from tamp.registry import Registry
from tamp.robot import RobotSpec

ROOT = Path(__file__).resolve().parent
#: the robot every command and environment uses unless told otherwise
DEFAULT_ROBOT = "panda_2f85"


def _described() -> None:
    """Register every folder ``robots/NAME/`` that holds ``NAME.yaml``."""
    for path in sorted(ROOT.glob("*/*.yaml")):
        if path.stem == path.parent.name:
            ROBOTS.add(path.stem, path)


#: the YAML description of every robot, by name (the folders are read on first use)
ROBOTS: Registry[Path] = Registry("robot", load=_described)


def available() -> list[str]:
    """Names of the robots described under ``robots/``."""
    return ROBOTS.names()


def load(name: str = DEFAULT_ROBOT) -> RobotSpec:
    """The robot called ``name`` (a folder ``robots/NAME/`` with ``NAME.yaml``)."""
    return RobotSpec.from_yaml(ROBOTS.get(name))


def sphere_model_path(name: str = DEFAULT_ROBOT) -> Path:
    """The stored collision sphere model of robot ``name``, padded as the planner pads it
    (``SphereModel.load`` reads it without pinocchio; ``python -m
    robots.tools.build_sphere_model NAME`` writes it)."""
    return ROBOTS.get(name).parent / f"{name}_sphere_model.npz"
