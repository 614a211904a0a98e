"""The ``lineup`` domain and task: put each block onto its own marked spot.

Everything the planner needs from a domain is here: the .pddl beside this file, the
PDDL types and facts of a world model, the placement stream of ``set-down``, and what
``set-down`` makes true. The task is registered under a test-only gymnasium id.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from scenes.tasks.base import Task, TaskInstance
from scenes.tasks.layout import block_shape
from scenes.tasks.registry import register_task
from tamp.domains import Domain, PlacementStream, register_domain
from tamp.geometry import placements as pl
from tamp.world import WorldModel, WorldObject, Zone

SPOTS = 3
TOLERANCE = 0.01  #: m: how far from its spot's centre a block may stand


def spot_of(world: WorldModel, obj: WorldObject) -> str | None:
    return next((z.name for z in world.zones.values() if z.contains(obj.position[:2])), None)


def types(world: WorldModel) -> dict[str, str]:
    kinds = {o.name: "block" for o in world.objects.values() if o.movable}
    kinds.update({z: "spot" for z in world.zones})
    return kinds


def state(world: WorldModel) -> frozenset[tuple[str, ...]]:
    facts = {("handempty",), ("free", "floor")}
    taken = set()
    for o in world.objects.values():
        if not o.movable or o.position[2] > world.table_height + 0.01:
            continue
        spot = spot_of(world, o)
        facts.add(("at", o.name, spot or "floor"))
        taken.add(spot)
    facts.update(("free", z) for z in world.zones if z not in taken)
    return frozenset(facts)


def onto_spot(world, obj, args, rng, config, context) -> PlacementStream:
    """``set-down``: onto the spot, its centre first."""
    zone = world.zones[args[1]]
    region = pl.zone(zone.name, zone.pose, zone.extents)
    others = [o for o in world.objects.values() if o.name != obj.name]
    return PlacementStream(pl.sample_placements(obj, region, others, rng,
                                                replace(config, prefer="centre")),
                           ("table",))


LINEUP = register_domain(Domain(
    name="lineup", pddl=Path(__file__).with_name("lineup.pddl"), types=types, state=state,
    streams={"set-down": onto_spot}, pick_actions=("grab",), rests="at",
    effects=lambda action: {("at", *action[1:])} if action[0] == "set-down" else set()))


@register_task("lineup", gym_id="tamp-test/Lineup-v0", max_episode_steps=3000)
class Lineup(Task):
    """Two blocks at random, three spots in a row; block k goes onto spot k + 1."""

    def sample(self, rng: np.random.Generator) -> TaskInstance:
        zones = []
        for k in range(SPOTS):
            pose = np.eye(4)
            pose[:3, 3] = (0.5, -0.15 + 0.15 * k, 0.0)
            zones.append(Zone(f"spot_{k + 1}", pose, (0.08, 0.08)))
        objects = []
        for k, colour in enumerate(("red", "blue")):
            pose = np.eye(4)
            pose[:3, 3] = (0.65 + rng.uniform(-0.03, 0.03), 0.2 - 0.3 * k, 0.0)
            objects.append(WorldObject(f"{colour}_block", "block", colour, block_shape(rng),
                                       pose))
        goal = frozenset({("at", "red_block", "spot_1"), ("at", "blue_block", "spot_3")})
        return TaskInstance(objects, goal, "line up the blocks", domain="lineup",
                            zones=tuple(zones))

    def holds(self, fact, world, truth) -> bool:
        if fact[0] != "at":
            return super().holds(fact, world, truth)
        obj, zone = world.objects[fact[1]], world.zones[fact[2]]
        return bool(np.linalg.norm(obj.position[:2] - zone.pose[:2, 3]) <= TOLERANCE
                    and truth.resting[obj.name])
