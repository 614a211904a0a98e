"""The ``pick-place`` domain: blocks (anything movable) on the table, on one another, or in
bowls and trays. Most tasks state their goals in it (place-in-bowl, sort-by-colour,
rebuild-tower, clear-then-place, packing-boxes, lift).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tamp.domains.base import (CONTAINERS, Domain, Fact, PlacementStream, Skill,
                               register_domain)
from tamp.geometry import placements as pl
from tamp.geometry.resting import resting_in, resting_on
from tamp.world import WorldModel

#: the reachable part of the table where objects may be set down, m (x range, y range)
TABLE_WORKSPACE = ((0.3, 0.72), (-0.4, 0.4))
#: m kept free around each box packed into a tray: a 2F-85 finger (14 mm) with room
FINGER_GAP = 0.035


def types(world: WorldModel) -> dict[str, str]:
    """PDDL type of every object: movable things are ``block``s, bowls are ``bowl``s."""
    return {o.name: "bowl" if o.category in CONTAINERS else "block"
            for o in world.objects.values() if o.movable or o.category in CONTAINERS}


def state(world: WorldModel) -> frozenset[Fact]:
    """Facts of the pick-place domain that hold in ``world`` (objects at rest)."""
    facts: set[Fact] = {("handempty",)}
    kinds = types(world)
    blocks = [world.objects[n] for n, t in kinds.items() if t == "block"]
    bowls = [world.objects[n] for n, t in kinds.items() if t == "bowl"]
    supporting: set[str] = set()
    for obj in blocks:
        bowl = next((b for b in bowls if resting_in(obj, b)), None)
        below = next((c for c in blocks if c.name != obj.name and resting_on(obj, c)), None)
        if bowl is not None:
            facts.add(("in", obj.name, bowl.name))
        elif below is not None:
            facts.add(("on", obj.name, below.name))
            supporting.add(below.name)
        else:
            facts.add(("on", obj.name, "table"))
    for obj in blocks:
        if obj.name not in supporting and not any(f[0] == "in" and f[1] == obj.name
                                                  for f in facts):
            facts.add(("clear", obj.name))
    return frozenset(facts)


# -- placement streams ---------------------------------------------------------------------
def into_container(world, obj, args, rng, config, context) -> PlacementStream:
    """``place-in``: into a bowl (sampled on its floor) or a tray (packed)."""
    bowl = world.objects[args[1]]
    occupants = [o for o in world.objects.values()
                 if o.name != obj.name and o.category not in CONTAINERS
                 and resting_in(o, bowl)]
    if bowl.shape.kind == "tray":
        return _into_tray(world, obj, bowl, occupants, context)
    return PlacementStream(pl.in_bowl(obj, bowl, occupants, rng, config),
                           (f"{bowl.name}/bottom",), tuple(o.name for o in occupants))


def _into_tray(world, obj, tray, occupants, context) -> PlacementStream:
    """Pack the tray: one arrangement for everything the goal puts in it, computed for
    the whole set (greedy one-by-one packing gets stuck where only some arrangements
    fit), with room for the fingers around every box."""
    from tamp.geometry.packing import PackingConfig, plan_packing

    goal = context.get("goal", frozenset())
    bound = [world.objects[f[1]] for f in sorted(goal) if f[0] == "in" and f[2] == tray.name
             and f[1] in world.objects]
    todo = [o for o in bound if o.name != obj.name and o not in occupants] + [obj]
    # the same set in the same (name) order gives the same arrangement on every call, so
    # the boxes placed earlier in the plan stand where this packing expects them
    members = sorted(occupants + todo, key=lambda o: o.name)
    packing = plan_packing(members, tray, PackingConfig(gap=FINGER_GAP, margin=FINGER_GAP))
    if not packing.success:
        return PlacementStream(pl.Placements([], packing.reason), (f"{tray.name}/bottom",),
                               tuple(o.name for o in occupants))
    # occupants already stand where they are: only a plan that keeps them is usable
    for o in occupants:
        if np.linalg.norm(packing.poses[o.name][:2, 3] - o.position[:2]) > 0.02:
            return PlacementStream(pl.Placements([], f"the objects already in {tray.name} "
                                                     "are not where a full packing needs "
                                                     "them"), (f"{tray.name}/bottom",),
                                   tuple(o.name for o in occupants))
    return PlacementStream(pl.Placements([packing.poses[obj.name]]), (f"{tray.name}/bottom",),
                           tuple(o.name for o in occupants))


def onto_block(world, obj, args, rng, config, context) -> PlacementStream:
    """``stack``: on top of another object."""
    lower = world.objects[args[1]]
    return PlacementStream(pl.on_top_of(obj, lower, [], rng, config), (lower.name,))


def onto_table(world, obj, args, rng, config, context) -> PlacementStream:
    """``place``: on a free spot of the table's reachable part."""
    (x0, x1), (y0, y1) = TABLE_WORKSPACE
    frame = np.eye(4)
    frame[:3, 3] = ((x0 + x1) / 2, (y0 + y1) / 2, world.table_height)
    region = pl.zone("table", frame, (x1 - x0, y1 - y0))
    others = [o for o in world.objects.values() if o.name != obj.name]
    return PlacementStream(pl.sample_placements(obj, region, others, rng, config), ("table",))


# -- how actions read ----------------------------------------------------------------------
def effects(action: tuple[str, ...]) -> set[Fact]:
    """What must hold once a place-like action is done."""
    name, args = action[0], tuple(action[1:])
    if name == "place-in":
        return {("in", *args)}
    if name in ("stack", "place"):
        return {("on", *args)}
    return set()


def support(pick_action: tuple[str, ...] | None) -> tuple[str, ...]:
    """What the object touches before a pick-like action lifts it off."""
    if pick_action is None:
        return ("table",)
    if pick_action[0] == "pick":  # from a surface: the table itself
        return (pick_action[2], "table")
    if pick_action[0] == "unstack":
        return tuple(pick_action[2:])
    if pick_action[0] == "take-out":
        return (f"{pick_action[2]}/bottom",)
    return ("table",)


def take(world: WorldModel, obj: str, facts: frozenset[Fact]) -> tuple[str, ...]:
    """``pick`` from the table, ``unstack`` from a block, ``take-out`` from a bowl or
    tray."""
    for fact in sorted(facts):
        if len(fact) == 3 and fact[1] == obj:
            if fact[0] == "in":
                return ("take-out", obj, fact[2])
            if fact[0] == "on":
                if fact[2] in world.objects:
                    return ("unstack", obj, fact[2])
                return ("pick", obj, fact[2])
    return ("pick", obj, "table")


SKILLS = (
    Skill("pick_place_in", (("object", "item"), ("container", "container")),
          "pick up the object and put it into the container (a bowl or the tray)",
          lambda a: ("place-in", a[0], a[1])),
    Skill("stack", (("object", "item"), ("onto", "block")),
          "pick up the object and put it on top of another object",
          lambda a: ("stack", a[0], a[1])),
    Skill("place_on_table", (("object", "movable"),),
          "pick up the object and put it down on a free spot of the table",
          lambda a: ("place", a[0], "table")),
    Skill("pick_up", (("object", "movable"),),
          "pick up the object and keep holding it (must be the last step)",
          lambda a: None),
)

PICK_PLACE = register_domain(Domain(
    name="pick-place", pddl=Path(__file__).with_name("pick-place.pddl"),
    types=types, state=state,
    streams={"place-in": into_container, "stack": onto_block, "place": onto_table},
    pick_actions=("pick", "unstack", "take-out"), effects=effects, support=support,
    take=take, skills=SKILLS))
