"""A small STRIPS layer: typed operators grounded over objects, breadth-first search.

Atoms are tuples such as ``("in", "red_block_0", "green_bowl")``. This is the minimal
symbolic core of the pick/place planner; domains in PDDL files come later.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass

Atom = tuple[str, ...]


@dataclass(frozen=True)
class Operator:
    """An action schema; atoms mention parameters by name, e.g. ``("holding", "?o")``."""

    name: str
    params: tuple[tuple[str, str], ...]  #: (variable, type) pairs
    pre: tuple[Atom, ...]
    pre_not: tuple[Atom, ...]
    add: tuple[Atom, ...]
    delete: tuple[Atom, ...]


@dataclass(frozen=True)
class GroundAction:
    name: str
    args: tuple[str, ...]
    pre: frozenset[Atom]
    pre_not: frozenset[Atom]
    add: frozenset[Atom]
    delete: frozenset[Atom]

    def applicable(self, state: frozenset[Atom]) -> bool:
        return self.pre <= state and not (self.pre_not & state)

    def apply(self, state: frozenset[Atom]) -> frozenset[Atom]:
        return (state - self.delete) | self.add


def ground(operators: list[Operator], objects: dict[str, str | frozenset[str]]
           ) -> list[GroundAction]:
    """All groundings of ``operators`` over ``objects`` (name -> type, or the set of types
    the object has), with distinct arguments."""
    types = {o: frozenset([t]) if isinstance(t, str) else frozenset(t)
             for o, t in objects.items()}
    out = []
    for op in operators:
        domains = [[o for o, ts in types.items() if typ in ts] for _, typ in op.params]
        for args in itertools.product(*domains):
            if len(set(args)) != len(args):
                continue
            sub = {var: a for (var, _), a in zip(op.params, args)}

            def bind(atoms):
                return frozenset(tuple(sub.get(x, x) for x in atom) for atom in atoms)

            out.append(GroundAction(op.name, tuple(args), bind(op.pre), bind(op.pre_not),
                                    bind(op.add), bind(op.delete)))
    return out


def search(init: frozenset[Atom], goal: frozenset[Atom], actions: list[GroundAction],
           max_states: int = 200_000) -> list[GroundAction] | None:
    """Shortest action sequence from ``init`` to a state containing ``goal`` (BFS)."""
    if goal <= init:
        return []
    parent: dict[frozenset[Atom], tuple[frozenset[Atom], GroundAction] | None] = {init: None}
    frontier = deque([init])
    while frontier and len(parent) < max_states:
        state = frontier.popleft()
        for action in actions:
            if not action.applicable(state):
                continue
            nxt = action.apply(state)
            if nxt in parent:
                continue
            parent[nxt] = (state, action)
            if goal <= nxt:
                plan = []
                while parent[nxt] is not None:
                    nxt, act = parent[nxt]
                    plan.append(act)
                return plan[::-1]
            frontier.append(nxt)
    return None


PICK_PLACE = [
    Operator("pick", (("?o", "movable"),),
             pre=(("handempty",),), pre_not=(),
             add=(("holding", "?o"),), delete=(("handempty",), ("on-table", "?o"))),
    Operator("place-in", (("?o", "movable"), ("?b", "bowl")),
             pre=(("holding", "?o"),), pre_not=(),
             add=(("in", "?o", "?b"), ("handempty",)), delete=(("holding", "?o"),)),
]
