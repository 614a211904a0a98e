"""What a task is: a random scene generator, a goal, and a ground-truth success test."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tamp.symbolic.strips import Atom
from tamp.world import WorldModel, WorldObject


@dataclass(frozen=True)
class TaskInstance:
    objects: list[WorldObject]
    goal: frozenset[Atom]  #: predicate goal, e.g. {("in", "red_block_0", "green_bowl")}
    description: str  #: the goal in words


@dataclass(frozen=True)
class ObjectTruth:
    """Ground truth about each object beyond its pose, from the simulator."""

    resting: dict[str, bool]  #: moving slower than 5 cm/s and not touching the robot
    touching_robot: dict[str, bool]
    touching_table: dict[str, bool]


@dataclass(frozen=True)
class SuccessReport:
    success: bool
    details: dict[str, bool]  #: per goal fact


class Task:
    """Subclasses set ``name``/``gym_id`` through :func:`register_task`."""

    name: str = ""
    gym_id: str = ""

    def sample(self, rng: np.random.Generator) -> TaskInstance:
        raise NotImplementedError

    def holds(self, fact: Atom, world: WorldModel, truth: ObjectTruth) -> bool:
        """Whether ``fact`` is true in the simulator's ground truth."""
        raise NotImplementedError

    def success(self, instance: TaskInstance, world: WorldModel,
                truth: ObjectTruth) -> SuccessReport:
        details = {" ".join(f): self.holds(f, world, truth) for f in sorted(instance.goal)}
        return SuccessReport(all(details.values()), details)
