"""The ``hanoi-tabletop`` domain: disks on places marked on the table, each on the table
or on a larger disk (towers-of-hanoi).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tamp.domains.base import Domain, Fact, PlacementStream, Skill, register_domain
from tamp.geometry import placements as pl
from tamp.geometry.resting import resting_on
from tamp.world import WorldModel


def types(world: WorldModel) -> dict[str, str]:
    """Disks are ``disk``s; the table's marked places are ``peg``s."""
    kinds = {o.name: "disk" for o in world.objects.values() if o.category == "disk"}
    kinds.update({z: "peg" for z in world.zones})
    return kinds


def state(world: WorldModel) -> frozenset[Fact]:
    """Facts of the hanoi-tabletop domain: where each disk rests, what is clear, and the
    static size order (a disk may rest on any place and on any larger disk)."""
    facts: set[Fact] = {("handempty",)}
    disks = [o for o in world.objects.values() if o.category == "disk"]
    covered: set[str] = set()
    for d in disks:
        below = next((c for c in disks if c.name != d.name and resting_on(d, c)), None)
        if below is not None:
            facts.add(("on", d.name, below.name))
            covered.add(below.name)
            continue
        if d.position[2] > world.table_height + 0.01:
            continue  # neither on a disk nor on the table: in the hand, or tipped over
        zone = next((z for z in world.zones.values() if z.contains(d.position[:2])), None)
        if zone is not None:
            facts.add(("on", d.name, zone.name))
            covered.add(zone.name)
        else:  # slid off its place: it is picked up from the bare table
            facts.add(("on", d.name, "table"))
    for name in [d.name for d in disks] + list(world.zones):
        if name not in covered:
            facts.add(("clear", name))
    for d in disks:
        facts.update(("smaller", z, d.name) for z in world.zones)
        facts.update(("smaller", c.name, d.name) for c in disks
                     if c.shape.size[0] > d.shape.size[0])
    return frozenset(facts)


def onto_place_or_disk(world, obj, args, rng, config, context) -> PlacementStream:
    """``put``: onto a marked place of the table (its centre first) or onto a larger
    disk."""
    target = args[1]
    if target in world.zones:
        zone = world.zones[target]
        region = pl.zone(target, zone.pose, zone.extents)
        others = [o for o in world.objects.values() if o.name != obj.name]
        centred = replace(config, prefer="centre")
        return PlacementStream(pl.sample_placements(obj, region, others, rng, centred),
                               ("table",))
    lower = world.objects[target]
    return PlacementStream(pl.on_top_of(obj, lower, [], rng, config), (lower.name,))


def effects(action: tuple[str, ...]) -> set[Fact]:
    return {("on", *action[1:])} if action[0] == "put" else set()


HANOI = register_domain(Domain(
    name="hanoi-tabletop", pddl=Path(__file__).with_name("hanoi-tabletop.pddl"),
    types=types, state=state, streams={"put": onto_place_or_disk}, effects=effects,
    skills=(Skill("put", (("disk", "movable"), ("place", "place")),
                  "pick up the disk and put it on a marked place of the table or on a disk",
                  lambda a: ("put", a[0], a[1])),)))
