"""The ``pyramid`` domain: slots, facts, slot placements, and the domain itself.

A pyramid is a set of *slots*. The bottom row are places marked on the table (zones named
``slot_1_1`` ... ``slot_1_n``, in order along the row); slot ``slot_r_k`` of a higher row
``r`` rests across ``slot_{r-1}_k`` and ``slot_{r-1}_{k+1}``: centred over the midpoint
of their centres, one block height higher. Everything is derived from the zones and the
height of the blocks, so the planner, the placement stream and the task's ground-truth
test all measure against the same slots.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tamp.domains.base import Domain, Fact, PlacementStream, Skill, register_domain
from tamp.world import WorldModel, WorldObject

#: m: a block is in a slot when its bottom centre is this close to the slot's, in the
#: horizontal and in height
SLOT_TOLERANCE = 0.01

_BASE = re.compile(r"slot_1_(\d+)$")


@dataclass(frozen=True)
class Slot:
    name: str
    row: int  #: 1 for the bottom row
    xy: np.ndarray = field(repr=False, compare=False)  #: centre, m (world)
    z: float  #: height of a block's bottom in this slot, m
    yaw: float  #: direction of the row, rad (world)
    supports: tuple[str, str]  #: the slots (or "table") it rests on, left then right


def slot_name(row: int, k: int) -> str:
    return f"slot_{row}_{k}"


def slot_names(zones) -> tuple[str, ...]:
    """Names of every slot of the pyramid whose bottom row is the ``slot_1_*`` among the
    zone names ``zones``, row by row from the bottom (as :func:`pyramid_slots` names
    them; no geometry needed)."""
    n = sum(1 for name in zones if _BASE.match(name))
    return tuple(slot_name(row, k) for row in range(1, n + 1) for k in range(1, n - row + 2))


def is_block(obj: WorldObject) -> bool:
    """A pyramid is built of box-shaped solids: blocks, and boxes (learned perception
    may call a block whose fit came out a little oblong a box)."""
    return obj.shape.kind == "box" and obj.category in ("block", "box")


def block_height(world: WorldModel) -> float:
    """Height of the pyramid's blocks (the median over the world's blocks), m."""
    heights = [o.shape.height for o in world.objects.values() if is_block(o)]
    return float(np.median(heights)) if heights else 0.0


def pyramid_slots(world: WorldModel, height: float | None = None) -> dict[str, Slot]:
    """Every slot of the pyramid whose bottom row is the world's ``slot_1_*`` zones."""
    base = sorted((int(m.group(1)), name) for name in world.zones
                  if (m := _BASE.match(name)))
    if not base:
        return {}
    h = block_height(world) if height is None else height
    slots: dict[str, Slot] = {}
    for k, name in base:
        pose = world.zones[name].pose
        slots[name] = Slot(name, 1, np.asarray(pose[:2, 3], float), world.table_height,
                           math.atan2(pose[1, 0], pose[0, 0]), ("table", "table"))
    n = len(base)
    for row in range(2, n + 1):
        for k in range(1, n - row + 2):
            left, right = slots[slot_name(row - 1, k)], slots[slot_name(row - 1, k + 1)]
            name = slot_name(row, k)
            slots[name] = Slot(name, row, (left.xy + right.xy) / 2,
                               world.table_height + (row - 1) * h, left.yaw,
                               (left.name, right.name))
    return slots


def in_slot(obj: WorldObject, slot: Slot, tolerance: float = SLOT_TOLERANCE) -> bool:
    """The object's bottom centre is within ``tolerance`` of the slot's, and upright."""
    return bool(np.linalg.norm(obj.position[:2] - slot.xy) <= tolerance
                and abs(obj.position[2] - slot.z) <= tolerance
                and obj.pose[2, 2] >= math.cos(0.1))


def occupants(world: WorldModel, slots: dict[str, Slot]) -> dict[str, str]:
    """slot name -> the block in it, for the filled slots."""
    out = {}
    for obj in world.objects.values():
        if not is_block(obj):
            continue
        slot = next((s for s in slots.values() if in_slot(obj, s)), None)
        if slot is not None and slot.name not in out:
            out[slot.name] = obj.name
    return out


def rests_on(upper: WorldObject, lower: WorldObject, tolerance: float = 0.01) -> bool:
    """``upper``'s bottom lies on ``lower``'s top and their footprints overlap (it may
    rest across ``lower`` and something else)."""
    from tamp.geometry.placements import footprint_of, overlap

    top = lower.position[2] + lower.shape.height
    if abs(upper.position[2] - top) > tolerance:
        return False
    return overlap(footprint_of(upper, upper.pose), footprint_of(lower, lower.pose))


def pyramid_types(world: WorldModel) -> dict[str, str]:
    """Blocks are ``block``s; the pyramid's slots are ``slot``s."""
    types = {o.name: "block" for o in world.objects.values() if is_block(o)}
    types.update({name: "slot" for name in pyramid_slots(world)})
    return types


def pyramid_state(world: WorldModel) -> frozenset[Fact]:
    """Facts of the pyramid domain: which block fills which slot, which blocks lie free
    on the table or loose on other blocks (nothing on them), and the static shape of the
    pyramid."""
    facts: set[Fact] = {("handempty",), ("filled", "table")}
    slots = pyramid_slots(world)
    filled = occupants(world, slots)
    for s in slots.values():
        facts.add(("rests", s.name, *s.supports))
        if s.name in filled:
            facts.update({("on", filled[s.name], s.name), ("filled", s.name)})
        else:
            facts.add(("vacant", s.name))
    blocks = [o for o in world.objects.values() if is_block(o)]
    in_slots = set(filled.values())
    for b in blocks:
        if b.name in in_slots or any(c.name != b.name and rests_on(c, b) for c in blocks):
            continue
        if b.position[2] <= world.table_height + SLOT_TOLERANCE:
            facts.add(("on", b.name, "table"))
            continue
        # off its slot on top of other blocks (a release that pushed it): unstack it
        below = sorted(c.name for c in blocks if c.name != b.name and rests_on(b, c))
        if len(below) in (1, 2) and b.pose[2, 2] >= math.cos(0.1):
            facts.add(("over", b.name, below[0], below[-1]))
    return frozenset(facts)


def slot_placements(world: WorldModel, obj: WorldObject, target: str,
                    drop_height: float) -> tuple[list[np.ndarray], str, tuple[str, ...],
                                                 tuple[str, ...]]:
    """Poses (4x4, bottom centre) that set ``obj`` into a slot: centred on it, square to
    the row (the four quarter turns, so that some grasp closes across the row, clear of
    the neighbours), released ``drop_height`` above its supports.

    Returns (poses, why there are none, what the load may touch as it is set down,
    objects in the way).
    """
    from tamp.geometry.placements import footprint_of, overlap

    slots = pyramid_slots(world)
    if target not in slots:
        return [], f"no slot named {target}", (), ()
    slot = slots[target]
    filled = occupants(world, slots)
    if slot.row == 1:
        z, touch = world.table_height, ("table",)
    else:
        missing = [s for s in slot.supports if s not in filled]
        if missing:
            return [], f"{slot.name} rests on {', '.join(missing)}, which are empty", (), ()
        lower = [world.objects[filled[s]] for s in slot.supports]
        tops = [o.position[2] + o.shape.height for o in lower]
        if abs(tops[0] - tops[1]) > 0.005:
            return [], (f"the tops of {lower[0].name} and {lower[1].name} differ by "
                        f"{1e3 * abs(tops[0] - tops[1]):.0f} mm"), (), ()
        z, touch = max(tops), tuple(o.name for o in lower)
    poses = []
    for quarter in range(4):
        yaw = slot.yaw + quarter * math.pi / 2
        pose = np.eye(4)
        pose[:2, :2] = [[math.cos(yaw), -math.sin(yaw)], [math.sin(yaw), math.cos(yaw)]]
        pose[:3, 3] = (slot.xy[0], slot.xy[1], z + drop_height)
        poses.append(pose)
    # anything at the slot's level whose footprint reaches into it is in the way
    mine = footprint_of(obj, poses[0], -0.002)
    blockers = tuple(o.name for o in world.objects.values()
                     if o.name != obj.name and o.name not in touch
                     and o.position[2] < z + obj.shape.height - 0.005
                     and o.position[2] + o.shape.height > z + 0.005
                     and overlap(mine, footprint_of(o, o.pose)))
    if blockers:
        return [], f"{', '.join(blockers)} in the way of {slot.name}", touch, blockers
    return poses, "", touch, ()


# -- the domain ----------------------------------------------------------------------------
def into_slot(world, obj, args, rng, config, context) -> PlacementStream:
    """``build``: into a slot, centred and square to the row."""
    from tamp.geometry import placements as pl

    poses, reason, touch, blockers = slot_placements(world, obj, args[1],
                                                     config.drop_height)
    return PlacementStream(pl.Placements(poses, reason), touch, blockers)


def effects(action: tuple[str, ...]) -> set[Fact]:
    """(build block slot below-left below-right): the block is on the slot."""
    return {("on", *action[1:3])} if action[0] == "build" else set()


def support(pick_action: tuple[str, ...] | None) -> tuple[str, ...]:
    """A block picked from the table (or its slot) touches the table; one taken off
    loose from other blocks touches both of them."""
    if pick_action is None:
        return ("table",)
    if pick_action[0] == "unstack":
        return tuple(pick_action[2:])
    return (pick_action[2], "table")


def places(world: WorldModel) -> dict[str, str]:
    """The slots, described."""
    out = {}
    for name in pyramid_slots(world):
        m = re.fullmatch(r"slot_(\d+)_(\d+)", name)
        out[name] = (f"slot {m.group(2)} of row {m.group(1)} of the pyramid (row 1 is "
                     "the bottom, marked on the table)") if m else "a slot of the pyramid"
    return out


PYRAMID = register_domain(Domain(
    name="pyramid", pddl=Path(__file__).with_name("pyramid.pddl"),
    types=pyramid_types, state=pyramid_state, streams={"build": into_slot},
    pick_actions=("pick", "unstack"), effects=effects, support=support, places=places,
    place_names=lambda marked: tuple(dict.fromkeys(marked + slot_names(marked))),
    skills=(Skill("build", (("block", "item"), ("slot", "slot")),
                  "pick up the block and set it into a slot of the pyramid (a slot above "
                  "the bottom row rests across the two slots below it, which must be "
                  "filled)", lambda a: ("build", a[0], a[1])),)))
