"""The symbolic state of a scene: every concept's probability for every object and pair.

Filled from a forward pass of the concept model (learned perception) or from a known
world with probabilities 0 and 1 (the oracle, and judging against ground truth). Beside
the concepts it may carry the table's marked places (by name) and each object's size
from its fitted primitive, for goals that name places or order objects by size.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from tamp.concepts.definitions import GROUPS, RELATIONS, characteristic_size, \
    relation_truth, unary_truth
from tamp.world import WorldModel


@dataclass(frozen=True)
class SceneFacts:
    names: tuple[str, ...]  #: object names, K
    concepts: tuple[str, ...]  #: unary concept names, U
    #: attribute groups: exactly one concept of a group holds (the most probable one)
    groups: dict[str, tuple[str, ...]]
    unary: np.ndarray  #: shape (K, U), probabilities
    relations: tuple[str, ...]  #: R
    pairs: np.ndarray  #: shape (K, K, R), probability that relation r(i, j) holds
    #: names of the table's marked places (``WorldModel.zones``), e.g. place_1; known to
    #: the robot like a map of the workcell, not perceived
    places: tuple[str, ...] = ()
    #: characteristic size of each object (the order of ``names``), m: its largest
    #: dimension, 2 x radius for round shapes; empty where unknown
    sizes: tuple[float, ...] = ()

    def _i(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"no object '{name}' in the scene") from None

    def prob(self, concept: str, name: str) -> float:
        return float(self.unary[self._i(name), self.concepts.index(concept)])

    def _group_of(self, concept: str) -> tuple[str, ...] | None:
        return next((g for g in self.groups.values() if concept in g), None)

    def attribute(self, name: str, group: str) -> tuple[str, float]:
        """The most probable concept of ``group`` for ``name``, and its probability."""
        names = self.groups[group]
        p = [self.prob(c, name) for c in names]
        k = int(np.argmax(p))
        return names[k], float(p[k])

    def match(self, name: str, concepts: tuple[str, ...]) -> float | None:
        """Confidence that ``name`` is all of ``concepts`` (a concept of a group must be
        its group's most probable one; any other must reach 0.5), or None."""
        conf = 1.0
        for c in concepts:
            group = self._group_of(c)
            p = self.prob(c, name)
            if group is not None:
                if max(self.prob(o, name) for o in group) > p:
                    return None
            elif p < 0.5:
                return None
            conf *= p
        return conf

    def size(self, name: str) -> float | None:
        """Characteristic size of ``name`` (m), or None where sizes are unknown."""
        return float(self.sizes[self._i(name)]) if self.sizes else None

    def relation(self, rel: str, a: str, b: str) -> float:
        if a == b:
            return 0.0
        return float(self.pairs[self._i(a), self._i(b), self.relations.index(rel)])

    def summary(self) -> str:
        """e.g. ``obj_0 red block, obj_1 green bowl``."""
        parts = []
        for n in self.names:
            words = [self.attribute(n, g)[0] for g in ("color", "shape") if g in self.groups]
            parts.append(f"{n} {' '.join(words)}")
        return ", ".join(parts) if parts else "no objects"

    def facts(self, threshold: float = 0.5) -> list[tuple[tuple[str, ...], float]]:
        """Facts believed true: group attributes (most probable), other unary concepts and
        relations with probability >= ``threshold``; each with its probability."""
        out: list[tuple[tuple[str, ...], float]] = []
        grouped = {c for g in self.groups.values() for c in g}
        for n in self.names:
            for g in self.groups:
                c, p = self.attribute(n, g)
                out.append(((c, n), p))
            out += [((c, n), self.prob(c, n)) for c in self.concepts
                    if c not in grouped and self.prob(c, n) >= threshold]
        for i, a in enumerate(self.names):
            for j, b in enumerate(self.names):
                if i != j:
                    out += [((r, a, b), float(self.pairs[i, j, k]))
                            for k, r in enumerate(self.relations)
                            if self.pairs[i, j, k] >= threshold]
        return out

    @staticmethod
    def from_world(world: WorldModel, names: list[str] | None = None) -> "SceneFacts":
        """Certain facts (0 or 1) of a known world, by the concepts' definitions."""
        names = list(world.objects) if names is None else names
        concepts = tuple(c for g in GROUPS.values() for c in g)
        unary = np.zeros((len(names), len(concepts)))
        for i, n in enumerate(names):
            for value in unary_truth(world.objects[n]).values():
                if value in concepts:
                    unary[i, concepts.index(value)] = 1.0
        return SceneFacts(tuple(names), concepts, dict(GROUPS), unary, RELATIONS,
                          relation_truth(world, names).astype(float), tuple(world.zones),
                          tuple(characteristic_size(world.objects[n].shape) for n in names))


def mean_facts(looks: list[SceneFacts], min_looks: int = 1) -> SceneFacts:
    """The facts of several looks at one still scene, averaged per object and per pair
    over the looks that saw them (objects named alike across the looks; every object at
    least ``min_looks`` looks saw, in the order first seen). Each look's concept
    probabilities err by its frames' noise (a block a look calls a box, 0.999, and the
    next three call blocks): the mean of a few is what a single look is not, steady."""
    if not looks:
        raise ValueError("no looks to average")
    first = looks[0]
    seen = Counter(n for f in looks for n in f.names)
    names = [n for n in seen if seen[n] >= min_looks]  # (a Counter keeps first-seen order)
    index = {n: i for i, n in enumerate(names)}
    size, u, r = len(names), len(first.concepts), len(first.relations)
    unary, n_unary = np.zeros((size, u)), np.zeros(size)
    pairs, n_pairs = np.zeros((size, size, r)), np.zeros((size, size))
    for f in looks:
        if f.concepts != first.concepts or f.relations != first.relations:
            raise ValueError("looks with different concepts cannot be averaged")
        mine = np.array([j for j, n in enumerate(f.names) if n in index], int)
        idx = np.array([index[f.names[j]] for j in mine], int)
        unary[idx] += f.unary[mine]
        n_unary[idx] += 1
        pairs[np.ix_(idx, idx)] += f.pairs[np.ix_(mine, mine)]
        n_pairs[np.ix_(idx, idx)] += 1
    return SceneFacts(tuple(names), first.concepts, dict(first.groups),
                      unary / np.maximum(n_unary, 1)[:, None], first.relations,
                      pairs / np.maximum(n_pairs, 1)[..., None], first.places, ())
