"""What a PDDL domain is to the planner, in one place: :class:`Domain`.

A domain module (``tamp/domains/pick_place.py``, ``hanoi.py``, ``pyramid.py``, or one of
yours) builds one :class:`Domain` and adds it to :data:`DOMAINS`. It brings everything
that knows the domain's vocabulary: its .pddl file, how a world model reads as facts,
the placement stream of each place-like action, what a finished action makes true, how an
object is taken from where it lies, the names of its places, and the skills a
vision-language model may name. The planner, the closed loop and the policies ask the
domain; none of them branches on a domain's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from tamp.geometry import placements as pl
from tamp.registry import Registry
from tamp.world import WorldModel, WorldObject

Fact = tuple[str, ...]  #: e.g. ("in", "red_block_0", "green_bowl")
#: object categories that hold others (placed into, not onto)
CONTAINERS = ("bowl", "tray")


@dataclass(frozen=True)
class PlacementStream:
    """Where a place action may put the object, and what the load may touch then."""

    placements: pl.Placements
    #: obstacles (names or "name/part") the carried object may touch as it is set down
    load_may_touch: tuple[str, ...]
    #: objects already on the support, which may be what leaves no room
    occupants: tuple[str, ...] = ()


#: (world, object, action arguments, rng, placement config, context) -> stream; the
#: context holds what the planner knows beyond the world, e.g. ``context["goal"]``
PlacementFn = Callable[[WorldModel, WorldObject, tuple[str, ...], np.random.Generator,
                        "pl.PlacementConfig", dict], PlacementStream]


@dataclass(frozen=True)
class Skill:
    """A step a vision-language model may name: ``name(arg, ...)``, each argument of a
    kind (see :data:`ARGUMENT_KINDS`), and the primitive it runs: ``action(args)`` is a
    place-like action such as ``("place-in", "red_block_0", "green_bowl")``, or None for a
    pick alone."""

    name: str
    params: tuple[tuple[str, str], ...]  #: (argument name, kind)
    doc: str  #: what the step does, as the model is told
    action: Callable[[Sequence[str]], tuple[str, ...] | None]

    def signature(self) -> str:
        return f"{self.name}({', '.join(p for p, _ in self.params)})"


#: what each argument kind of a skill admits (described to the model in its prompt)
ARGUMENT_KINDS = {
    "movable": "an object that can be picked",
    "item": "an object that can be picked and is not a bowl or tray",
    "container": "a bowl or tray",
    "block": "an object with a flat top to stack on",
    "place": "a marked place of the table or a disk",
    "slot": "a slot of the pyramid",
}


def _lifted_from_surface(pick_action: tuple[str, ...] | None) -> tuple[str, ...]:
    """A pick from a surface: it touches the table (or a place marked on it)."""
    if pick_action is None or len(pick_action) < 3:
        return ("table",)
    return (pick_action[2], "table")


def _pick_from_support(pick: str, rests: str, obj: str,
                       state: frozenset[Fact]) -> tuple[str, ...]:
    """``pick`` from whatever the state's ``rests`` fact puts ``obj`` on (the table if
    none)."""
    for fact in sorted(state):
        if len(fact) == 3 and fact[0] == rests and fact[1] == obj:
            return (pick, obj, fact[2])
    return (pick, obj, "table")


def _marked_places(world: WorldModel) -> dict[str, str]:
    return {z: "a marked place of the table" for z in world.zones}


@dataclass(frozen=True)
class Domain:
    """A PDDL domain the planner can refine into motions. Only ``name``, ``pddl``,
    ``types``, ``state`` and ``streams`` are required; the rest have the defaults a
    domain with one ``pick`` action from surfaces needs."""

    name: str
    pddl: Path  #: the domain file
    #: the PDDL type of every object (and place) the domain plans with
    types: Callable[[WorldModel], dict[str, str]]
    #: the facts that hold in a world model (objects at rest)
    state: Callable[[WorldModel], frozenset[Fact]]
    #: the placement stream of each place-like action, by action name
    streams: Mapping[str, PlacementFn]
    #: actions whose first argument leaves its support and ends in the hand
    pick_actions: tuple[str, ...] = ("pick",)
    #: what must hold once a place-like action ``(name, *args)`` is done
    effects: Callable[[tuple[str, ...]], set[Fact]] = lambda action: set()
    #: what the object touches before a pick-like action lifts it off (obstacles the
    #: grasp may touch); None: a pick with no action (a lift)
    support: Callable[[tuple[str, ...] | None], tuple[str, ...]] = _lifted_from_surface
    #: the places that are not objects (marked places, slots), by name, with what they are
    places: Callable[[WorldModel], dict[str, str]] = _marked_places
    #: place names a goal may use, given the table's marked places (e.g. the pyramid's
    #: slots above its bottom row)
    place_names: Callable[[tuple[str, ...]], tuple[str, ...]] = lambda marked: marked
    #: the steps a vision-language model may name in this domain
    skills: tuple[Skill, ...] = ()
    #: the predicate ``(rests object support)`` that says where an object lies
    rests: str = "on"
    #: how an object is taken from where it lies now, given the state's facts: the
    #: pick-like action, e.g. ``("unstack", "b1", "b2")``; None: the first of
    #: ``pick_actions`` from the support its ``rests`` fact names
    take: Callable[[WorldModel, str, frozenset[Fact]], tuple[str, ...]] | None = None

    def take_action(self, world: WorldModel, obj: str) -> tuple[str, ...]:
        """The pick-like action that takes ``obj`` from where it lies in ``world``."""
        facts = self.state(world)
        if self.take is not None:
            return self.take(world, obj, facts)
        return _pick_from_support(self.pick_actions[0], self.rests, obj, facts)

    def stream(self, action: str) -> PlacementFn:
        """The placement stream of a place-like action: the domain's own, or the generic
        ones every domain shares (``place-at``: a pose chosen by a policy)."""
        if action in self.streams:
            return self.streams[action]
        return GENERIC_STREAMS.get(action)

    def places_things(self, action: str) -> bool:
        return action in self.streams or action in GENERIC_STREAMS


#: every domain the planner knows, by PDDL name (the bundled ones register themselves when
#: :mod:`tamp.domains` is imported)
DOMAINS: Registry[Domain] = Registry("domain")
#: placement streams any domain may use (the imitation and VLM policies' ``place-at``)
GENERIC_STREAMS: Registry[PlacementFn] = Registry("placement stream")


@GENERIC_STREAMS.register("place-at")
def at_given_pose(world, obj, args, rng, config, context) -> PlacementStream:
    """A pose chosen by someone else (an imitation policy, a VLM): ``context["pose"]``
    (4x4, the object's bottom centre), on ``args[1]`` (what it rests on there, which
    the load may touch)."""
    pose = context.get("pose")
    if pose is None:
        return PlacementStream(pl.Placements([], "place-at needs a pose in its context"),
                               ())
    support = args[1] if len(args) > 1 else "table"
    touch = (f"{support}/bottom",) if support in world.objects and \
        world.objects[support].category in CONTAINERS else (support,)
    return PlacementStream(pl.Placements([np.asarray(pose, float)]), touch)


def register_domain(domain: Domain) -> Domain:
    """Add ``domain`` to :data:`DOMAINS` (a module calls this once at import)."""
    return DOMAINS.add(domain.name, domain)


def get_domain(name: str) -> Domain:
    """The domain called ``name``; :class:`~tamp.registry.UnknownName` lists the known."""
    return DOMAINS.get(name)
