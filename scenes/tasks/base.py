"""What a task is: a random scene generator, a goal, and a ground-truth success test."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tamp.world import WorldModel, WorldObject

Atom = tuple[str, ...]  #: a ground fact, e.g. ("in", "red_block_0", "green_bowl")


HOLD_HEIGHT = 0.05  #: m above the table for an object to count as held up


@dataclass(frozen=True)
class TaskInstance:
    objects: list[WorldObject]
    goal: frozenset[Atom]  #: predicate goal, e.g. {("in", "red_block_0", "green_bowl")}
    description: str  #: the goal in words
    domain: str = "pick-place"  #: the PDDL domain the goal is stated in
    zones: tuple = ()  #: marked places of the table (tamp.world.Zone)


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
    #: the task this one is a protocol variant of (e.g. towers-of-hanoi-3 of
    #: towers-of-hanoi); variants are left out of ``all`` (:func:`suite_names`)
    variant_of: str | None = None

    def sample(self, rng: np.random.Generator) -> TaskInstance:
        raise NotImplementedError

    def holds(self, fact: Atom, world: WorldModel, truth: ObjectTruth) -> bool:
        """Whether ``fact`` is true in the simulator's ground truth (with the stated
        tolerances: 1 cm in position; "at rest" below 5 cm/s and not touching the robot;
        "held" at least 5 cm above the table, touching the robot and not the table)."""
        from tamp.geometry.resting import resting_in, resting_on

        kind, args = fact[0], fact[1:]
        objs = world.objects
        if kind == "in":
            return resting_in(objs[args[0]], objs[args[1]], 0.01) and truth.resting[args[0]]
        if kind == "on" and args[1] in world.zones:
            return world.zones[args[1]].contains(objs[args[0]].position[:2]) and \
                objs[args[0]].position[2] <= world.table_height + 0.01 and \
                truth.resting[args[0]]
        if kind == "on" and args[1] == "table":
            return objs[args[0]].position[2] <= world.table_height + 0.01 and \
                truth.resting[args[0]] and truth.touching_table[args[0]]
        if kind == "on":
            return resting_on(objs[args[0]], objs[args[1]], 0.01) and truth.resting[args[0]]
        if kind == "holding":
            return objs[args[0]].position[2] >= world.table_height + HOLD_HEIGHT and \
                truth.touching_robot[args[0]] and not truth.touching_table[args[0]]
        raise ValueError(f"task '{self.name}' cannot judge the fact {fact}")

    def success(self, instance: TaskInstance, world: WorldModel,
                truth: ObjectTruth) -> SuccessReport:
        details = {" ".join(f): self.holds(f, world, truth) for f in sorted(instance.goal)}
        return SuccessReport(all(details.values()), details)
