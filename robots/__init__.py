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
    """The robot called ``name`` (a folder ``robots/NAME/`` with ``NAME.yaml``). A YAML
    with a ``description:`` block names a third party's arm, composed with the project's
    gripper (``robots.description``)."""
    path = ROBOTS.get(name)
    made = _composed(name)
    if made is None:
        return RobotSpec.from_yaml(path)
    return RobotSpec.from_yaml(path, urdf=made.urdf, more_disabled=made.disabled_collisions)


def _composed(name: str):
    """The composed description of robot ``name`` (``robots.description.Composed``), or
    None when its folder holds its own URDF."""
    import yaml

    path = ROBOTS.get(name)
    description = (yaml.safe_load(path.read_text()) or {}).get("description")
    if description is None:
        return None
    from robots.description import compose

    return compose(name, description, path)


def urdf_path(name: str = DEFAULT_ROBOT) -> Path:
    """The URDF of robot ``name``: its folder's, or the one composed from a third party's
    description (without reading the robot's sphere file, which is fitted to it)."""
    made = _composed(name)
    if made is not None:
        return made.urdf
    import yaml

    path = ROBOTS.get(name)
    return (path.parent / yaml.safe_load(path.read_text())["urdf"]).resolve()


def sphere_model_path(name: str = DEFAULT_ROBOT) -> Path:
    """The stored collision sphere model of robot ``name``, padded as the planner pads it
    (``SphereModel.load`` reads it without pinocchio; ``python -m
    robots.tools.build_sphere_model NAME`` writes it)."""
    return ROBOTS.get(name).parent / f"{name}_sphere_model.npz"
