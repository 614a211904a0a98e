"""tamp: task-and-motion planning for tabletop manipulation.

The public planner API, for policies and for users of the library::

    from tamp import Planner, PlannerConfig, WorldModel, WorldObject, Shape

    plan = Planner(robot, PlannerConfig(domain="pick-place")).plan(world, goal, q_start)

Names are loaded on first use, so that ``import tamp`` stays cheap (the command line's
help imports nothing heavy) and never loads a simulator.
"""

from __future__ import annotations

import importlib

#: public name -> the module that defines it
_PUBLIC = {
    "Planner": "tamp.planner", "PlannerConfig": "tamp.planner",
    "goal_holds": "tamp.planner", "symbolic_state": "tamp.planner",
    "RefinementError": "tamp.refine",
    "Plan": "tamp.execution.plan", "Action": "tamp.execution.plan",
    "Segment": "tamp.execution.plan",
    "WorldModel": "tamp.world", "WorldObject": "tamp.world", "Shape": "tamp.world",
    "Zone": "tamp.world",
    "RobotSpec": "tamp.robot",
    "Domain": "tamp.domains", "get_domain": "tamp.domains",
    "register_domain": "tamp.domains", "PlacementStream": "tamp.domains",
    "Registry": "tamp.registry", "UnknownName": "tamp.registry",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tamp' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
