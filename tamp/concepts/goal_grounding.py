"""Goals in words, grounded: the descriptions of a parsed goal (:mod:`tamp.concepts.language`)
resolved to the objects they pick out in the scene's facts, checked against their
determiners and counts, and turned into predicate atoms (:func:`ground_goal`)."""

from __future__ import annotations

from tamp.concepts.facts import SceneFacts
from tamp.concepts.language import (NOUN_INCLUDES, SIZE_RESOLUTION, Binding, Description,
                                    GoalClause, GoalError, GroundedGoal, ParsedGoal, Place,
                                    Vocabulary, parse_goal)


def _describe(d: Description) -> str:
    words = " ".join(d.adjectives + ((d.noun,) if d.noun else ("object",)))
    if d.relation:
        words += f" {d.relation[0].replace('-', ' ')} the {_describe(d.relation[1])}"
    return words


def resolve(d: Description, facts: SceneFacts) -> Binding:
    """The objects that ``d`` picks out in ``facts``, checked against its determiner."""
    nouns = NOUN_INCLUDES.get(d.noun, (d.noun,)) if d.noun else ("",)
    matches = {}
    for n in facts.names:
        found = [c for noun in nouns if (c := facts.match(
            n, d.adjectives + ((noun,) if noun else ()))) is not None]
        if found:
            matches[n] = max(found)
    if d.relation is not None:
        rel, ref = d.relation
        refs = resolve(ref, facts).objects
        matches = {n: c * max(facts.relation(rel, n, r) for r in refs)
                   for n, c in matches.items()
                   if any(facts.relation(rel, n, r) >= 0.5 for r in refs if r != n)}
    what = _describe(d)
    if not matches and d.determiner == "the" and not d.plural and d.relation is None:
        matches = _presupposed(d, nouns, facts)
    if not matches:
        article = "an" if what[0] in "aeiou" else "a"
        raise GoalError(f"nothing in the scene is {article} {what} (seen: {facts.summary()})")
    ranked = sorted(matches, key=lambda n: -matches[n])
    if d.determiner == "the" and not d.plural and len(matches) > 1:
        raise GoalError(f"'{d.text}' is ambiguous: {len(matches)} objects match "
                        f"'{what}' ({', '.join(ranked)}); say 'all' or describe one more "
                        "closely")
    if d.determiner == "both" and len(matches) != 2:
        raise GoalError(f"'{d.text}' asks for two, but {len(matches)} objects match '{what}'")
    if d.count is not None and len(matches) != d.count:
        raise GoalError(f"'{d.text}' asks for {d.count}, but {len(matches)} objects match "
                        f"'{what}' ({', '.join(ranked)})")
    chosen = ranked[:1] if d.determiner == "a" else ranked
    return Binding(d.text, tuple(chosen), float(min(matches[n] for n in chosen)))


def _presupposed(d: Description, nouns: tuple[str, ...], facts: SceneFacts) -> dict:
    """"the purple block" says there is one. When no purple object is most probably a
    block, a purple object most probably of a shape modelled by the same primitive (a
    box: a block half hidden under another one can look more like a box) is meant: the
    only one, or the one at least twice as likely a block as any other. Only the noun is
    relaxed, and only to its own primitive; the adjectives must hold."""
    from tamp.concepts.definitions import SHAPE_KIND

    kinds = {SHAPE_KIND[noun] for noun in nouns if noun in SHAPE_KIND}
    if not kinds or "shape" not in facts.groups:
        return {}
    soft = {}
    for n in facts.names:
        adjectives = facts.match(n, d.adjectives)
        if adjectives is not None and SHAPE_KIND.get(facts.attribute(n, "shape")[0]) in kinds:
            soft[n] = adjectives * max(facts.prob(noun, n) for noun in nouns)
    ranked = sorted(soft, key=lambda n: -soft[n])
    if not ranked or (len(ranked) > 1 and soft[ranked[1]] >= soft[ranked[0]] / 2):
        return {}
    return {ranked[0]: soft[ranked[0]]}


def _paired(clause: GoalClause, bindings: list[Binding], facts: SceneFacts) -> set:
    """Each object of the first binding with the object of the second that shares its
    value of the attribute group ``clause.pairing``."""
    targets: dict[str, list[str]] = {}
    for t in bindings[1].objects:
        targets.setdefault(facts.attribute(t, clause.pairing)[0], []).append(t)
    atoms = set()
    for obj in bindings[0].objects:
        value = facts.attribute(obj, clause.pairing)[0]
        match = [t for t in targets.get(value, []) if t != obj]
        if len(match) != 1:
            raise GoalError(f"{obj} is {value}, and {len(match)} of "
                            f"'{bindings[1].description}' are {value}: need exactly one")
        atoms.add((clause.predicate, obj, match[0]))
    return atoms


def known_places(facts: SceneFacts) -> tuple[str, ...]:
    """The table's marked places, and the places every domain derives from them (e.g.
    the pyramid's slots above its ``slot_1_*`` places)."""
    from tamp.domains import DOMAINS

    names = tuple(facts.places)
    for _, domain in DOMAINS.items():
        names += tuple(domain.place_names(tuple(facts.places)))
    return tuple(dict.fromkeys(names))


def resolve_place(place: Place, facts: SceneFacts) -> Binding:
    if place.name not in known_places(facts):
        marked = ", ".join(p.replace("_", " ") for p in facts.places) or "none"
        raise GoalError(f"there is no {place.text.removeprefix('the ')} on the table "
                        f"(marked places: {marked})")
    return Binding(place.text, (place.name,), 1.0)


def by_size(binding: Binding, facts: SceneFacts) -> list[str]:
    """The objects of ``binding`` from the largest to the smallest; each must be larger
    than the next by ``SIZE_RESOLUTION``, or the order is a guess."""
    objects = binding.objects
    if len(objects) > 1 and not facts.sizes:
        raise GoalError(f"the sizes of '{binding.description}' are unknown, so they cannot "
                        "be stacked largest first")
    ranked = sorted(objects, key=lambda n: -facts.size(n))
    for big, small in zip(ranked, ranked[1:]):
        if facts.size(big) - facts.size(small) < SIZE_RESOLUTION:
            raise GoalError(f"{big} and {small} of '{binding.description}' look the same size "
                            f"({1e3 * facts.size(big):.0f} and {1e3 * facts.size(small):.0f} mm)"
                            ": cannot tell which goes lower in the tower")
    return ranked


def ground_goal(goal: ParsedGoal | str, facts: SceneFacts) -> GroundedGoal:
    """Predicate atoms over object names for ``goal`` in the scene ``facts``."""
    if isinstance(goal, str):
        goal = parse_goal(goal, Vocabulary.of(facts))
    atoms, bindings = set(), []
    for clause in goal.clauses:
        if clause.origin is not None:
            resolve_place(clause.origin, facts)
        bs = [resolve_place(d, facts) if isinstance(d, Place) else resolve(d, facts)
              for d in clause.args]
        bindings += bs
        if clause.predicate == "holding":
            if len(bs[0].objects) != 1:
                raise GoalError(f"'{bs[0].description}' names {len(bs[0].objects)} objects; "
                                "the gripper holds one")
            atoms.add(("holding", bs[0].objects[0]))
            continue
        if clause.pairing:
            atoms |= _paired(clause, bs, facts)
            continue
        target = bs[1].objects[0]
        if isinstance(clause.args[1], Place) and len(bs[0].objects) > 1:
            # several things on one place: a tower, the largest at the bottom
            ranked = by_size(bs[0], facts)
            atoms.add((clause.predicate, ranked[0], target))
            atoms |= {(clause.predicate, upper, lower) for lower, upper in zip(ranked, ranked[1:])}
            continue
        for obj in bs[0].objects:
            if obj == target:
                raise GoalError(f"'{bs[0].description}' and '{bs[1].description}' are the "
                                f"same object ({obj})")
            atoms.add((clause.predicate, obj, target))
    where: dict[str, set[str]] = {}
    for atom in atoms:
        if atom[0] in ("on", "in"):
            where.setdefault(atom[1], set()).add(atom[2])
    for obj, targets in where.items():
        if len(targets) > 1:
            names = [b.description for b in bindings if obj in b.objects]
            raise GoalError(f"{obj} ({names[0] if names else obj}) cannot go on or in both "
                            f"{' and '.join(sorted(targets))}")
    conf = min((b.confidence for b in bindings), default=1.0)
    return GroundedGoal(frozenset(atoms), tuple(bindings), goal.text, conf)
