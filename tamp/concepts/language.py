"""Goals in words: a small grammar (no language model) from a sentence to predicate goals
over the objects that the sentence's descriptions pick out.

Sentences::

    put|place|move|drop  NP  in|into|inside  NP        -> in(x, y) for every x
    put|place|move|stack NP  on [top of]  NP            -> on(x, y)
    pick up|lift|grab|hold  NP                          -> holding(x)
    build a tower of C1, C2 [and] C3 [NOUNS] [from the bottom|top]
                                                        -> on(C2, C1), on(C3, C2)

    NP := [the|a|an|all [the]|every|each|both] ADJ* NOUN [REL NP]
    NOUN := a shape concept (block, bowl, ...), "object", "thing", or "one" (the noun of
            the sentence's first description: "the yellow one")
    REL := left of | right of | behind | in front of | near | next to | on | in ...

Adjectives and nouns come from the concept model's vocabulary, so a concept learned later
("pink") is a word at once. "the X" must pick out exactly one object, "all Xs" / "the Xs"
at least one, "both Xs" exactly two, "a X" at least one (the most confident is used).
Anything else raises :class:`GoalError` with one sentence naming the problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tamp.concepts.facts import SceneFacts

RELATION_PHRASES = {  # longest first where one is a prefix of another
    ("to", "the", "left", "of"): "left-of", ("left", "of"): "left-of",
    ("to", "the", "right", "of"): "right-of", ("right", "of"): "right-of",
    ("in", "front", "of"): "in-front-of", ("behind",): "behind",
    ("near",): "near", ("next", "to"): "near", ("close", "to"): "near",
    ("on", "top", "of"): "on", ("on",): "on", ("inside",): "in", ("in",): "in",
}
SYNONYMS = {"gray": "grey", "disc": "disk", "cube": "block", "dish": "bowl"}
#: nouns that also name a narrower concept: a block is a (nearly cubic) box, so "all the
#: boxes" includes the blocks, while "block" stays the narrower word
NOUN_INCLUDES = {"box": ("box", "block")}
GENERIC_NOUNS = ("object", "thing")
DETERMINERS = {"the": "the", "a": "a", "an": "a", "all": "all", "every": "all",
               "each": "all", "both": "both"}


class GoalError(ValueError):
    """The goal cannot be parsed or grounded; the message names the problem."""


@dataclass(frozen=True)
class Vocabulary:
    nouns: tuple[str, ...]  #: shape concepts
    adjectives: tuple[str, ...]  #: every other unary concept
    relations: tuple[str, ...]

    @staticmethod
    def of(facts: SceneFacts) -> "Vocabulary":
        return Vocabulary.from_concepts(facts.groups, facts.concepts, facts.relations)

    @staticmethod
    def from_concepts(groups: dict[str, tuple[str, ...]], concepts: tuple[str, ...],
                      relations: tuple[str, ...]) -> "Vocabulary":
        """Shape concepts are nouns; every other unary concept is an adjective."""
        nouns = tuple(groups.get("shape", ()))
        return Vocabulary(nouns, tuple(c for c in concepts if c not in nouns), tuple(relations))


@dataclass(frozen=True)
class Description:
    """A noun phrase: which objects it asks for."""

    determiner: str  #: "the", "a", "all" or "both"
    adjectives: tuple[str, ...]
    noun: str  #: a shape concept, or "" for any object
    plural: bool
    relation: tuple[str, "Description"] | None = None  #: e.g. ("left-of", <the green bowl>)
    text: str = ""


@dataclass(frozen=True)
class GoalClause:
    predicate: str  #: "in", "on" or "holding"
    args: tuple[Description, ...]
    #: "" : every object of args[0] goes to the one object of args[1]; an attribute group
    #: ("color"): each object goes to the object of args[1] that shares its attribute
    pairing: str = ""


@dataclass(frozen=True)
class ParsedGoal:
    clauses: tuple[GoalClause, ...]
    text: str


@dataclass(frozen=True)
class Binding:
    description: str
    objects: tuple[str, ...]
    confidence: float  #: product of the concept probabilities that selected them


@dataclass(frozen=True)
class GroundedGoal:
    atoms: frozenset  #: e.g. {("in", "obj_2", "obj_5")}
    bindings: tuple[Binding, ...]
    text: str
    confidence: float = field(default=1.0)  #: lowest binding confidence


# -- parsing ----------------------------------------------------------------------------
class _Tokens:
    def __init__(self, text: str):
        words = re.findall(r"[a-z]+|,", text.lower().replace("-", " "))
        self.words = [SYNONYMS.get(w, w) for w in words]
        self.i = 0
        self.text = text

    def peek(self, n: int = 0) -> str:
        return self.words[self.i + n] if self.i + n < len(self.words) else ""

    def accept(self, *phrase: str) -> bool:
        if tuple(self.words[self.i:self.i + len(phrase)]) == phrase:
            self.i += len(phrase)
            return True
        return False

    def done(self) -> bool:
        return self.i >= len(self.words)


def _singular(word: str, vocab: Vocabulary) -> tuple[str, bool] | None:
    """(noun, plural) if ``word`` names a noun, else None."""
    nouns = vocab.nouns + GENERIC_NOUNS + ("one",)
    for stem, plural in ((word, False), (word[:-1], True), (word[:-2], True)):
        if stem in nouns and (not plural or word in (stem + "s", stem + "es")):
            return stem, plural
    return None


def _relation(tok: _Tokens) -> str | None:
    """A relation word after a noun. Bare "in"/"on" belong to the verb ("put X in Y");
    as a relative clause they need "that is" ("the block that is in the bowl")."""
    explicit = tok.accept("that", "is") or tok.accept("that", "are") or \
        tok.accept("which", "is") or tok.accept("which", "are")
    for phrase, rel in RELATION_PHRASES.items():
        if tok.accept(*phrase):
            return rel if explicit or rel not in ("in", "on") else None
    return None


def _np(tok: _Tokens, vocab: Vocabulary, first_noun: str, nested: bool = True) -> Description:
    start = tok.i
    det = "the"
    if tok.accept("all", "of", "the") or tok.accept("all", "the"):
        det = "all"
    elif tok.peek() in DETERMINERS:
        det = DETERMINERS[tok.peek()]
        tok.i += 1
    adjectives = []
    while tok.peek() in vocab.adjectives:
        adjectives.append(tok.peek())
        tok.i += 1
    word = tok.peek()
    found = _singular(word, vocab)
    if found is None:
        if not word:
            raise GoalError(f"'{tok.text}' ends where an object was expected")
        known = ", ".join(sorted(set(vocab.adjectives) | set(vocab.nouns)))
        raise GoalError(f"unknown word '{word}' in '{tok.text}' (known words: {known})")
    tok.i += 1
    noun, plural = found
    if noun == "one":
        noun = first_noun
    elif noun in GENERIC_NOUNS:
        noun = ""
    if not noun and not adjectives and first_noun == "" and word.startswith("one"):
        raise GoalError(f"'{word}' in '{tok.text}' refers to no earlier object")
    relation = None
    if nested:
        save = tok.i
        rel = _relation(tok)
        if rel is not None and tok.peek() in DETERMINERS:
            relation = (rel, _np(tok, vocab, noun or first_noun, nested=False))
        else:
            tok.i = save
    return Description(det, tuple(adjectives), noun, plural or det == "both", relation,
                       " ".join(tok.words[start:tok.i]))


def _tower(tok: _Tokens, vocab: Vocabulary) -> tuple[GoalClause, ...]:
    colors = []
    while True:
        if tok.peek() in vocab.adjectives:
            colors.append(tok.peek())
            tok.i += 1
        elif tok.peek() in (",", "and"):
            tok.i += 1
        else:
            break
    noun = "block"
    found = _singular(tok.peek(), vocab)
    if found is not None and found[0] not in ("one",):
        noun = "" if found[0] in GENERIC_NOUNS else found[0]
        tok.i += 1
    top_first = False
    if tok.accept("from", "the", "top"):
        top_first = True
    else:
        tok.accept("from", "the", "bottom")
    if len(colors) < 2:
        raise GoalError(f"a tower needs at least two objects in '{tok.text}'")
    if top_first:
        colors.reverse()
    ds = [Description("the", (c,), noun, False, None, f"the {c} {noun or 'object'}")
          for c in colors]
    return tuple(GoalClause("on", (upper, lower)) for lower, upper in zip(ds, ds[1:]))


def parse_goal(text: str, vocab: Vocabulary) -> ParsedGoal:
    """The goal sentence ``text`` as clauses over descriptions (not yet objects)."""
    tok = _Tokens(text)
    if tok.done():
        raise GoalError("the goal is empty")
    tok.accept("please")
    if tok.accept("build", "a", "tower", "of") or tok.accept("build", "a", "tower", "from") \
            or tok.accept("rebuild", "the", "tower", "as") or tok.accept("stack", "up"):
        clauses = _tower(tok, vocab)
    elif tok.accept("sort"):
        what = _np(tok, vocab, "")
        if not (tok.accept("into") or tok.accept("in")):
            raise GoalError(f"expected 'into' after '{what.text}' in '{text}'")
        where = _np(tok, vocab, what.noun, nested=False)
        if not any(tok.accept(*p) for p in (("of", "their", "colour"), ("of", "their", "color"),
                                            ("by", "colour"), ("by", "color"))):
            raise GoalError(f"'{text}': say how to sort, e.g. '... of their colour'")
        clauses = (GoalClause("in", (what, where), "color"),)
    elif tok.accept("pick", "up") or tok.accept("lift") or tok.accept("grab") \
            or tok.accept("hold"):
        clauses = (GoalClause("holding", (_np(tok, vocab, ""),)),)
    elif tok.peek() in ("put", "place", "move", "drop", "stack", "set", "pack"):
        verb = tok.peek()
        tok.i += 1
        what = _np(tok, vocab, "")
        if tok.accept("on", "top", "of") or tok.accept("onto") or tok.accept("on"):
            pred = "on"
        elif verb != "stack" and (tok.accept("into") or tok.accept("inside")
                                  or tok.accept("in")):
            pred = "in"
        else:
            got = tok.peek() or "the end of the sentence"
            raise GoalError(f"expected 'in' or 'on' after '{what.text}' in '{text}', "
                            f"got '{got}'")
        where = _np(tok, vocab, what.noun)
        if where.plural or where.determiner == "all":
            raise GoalError(f"'{where.text}' must name one object to put things {pred}")
        clauses = (GoalClause(pred, (what, where)),)
    else:
        raise GoalError(f"cannot read '{text}': start with put, place, move, pack, stack, "
                        "sort, pick up or build a tower")
    if not tok.done():
        raise GoalError(f"unexpected '{' '.join(tok.words[tok.i:])}' at the end of '{text}'")
    return ParsedGoal(clauses, text)


# -- grounding --------------------------------------------------------------------------
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
    chosen = ranked[:1] if d.determiner == "a" else ranked
    return Binding(d.text, tuple(chosen), float(min(matches[n] for n in chosen)))


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


def ground_goal(goal: ParsedGoal | str, facts: SceneFacts) -> GroundedGoal:
    """Predicate atoms over object names for ``goal`` in the scene ``facts``."""
    if isinstance(goal, str):
        goal = parse_goal(goal, Vocabulary.of(facts))
    atoms, bindings = set(), []
    for clause in goal.clauses:
        bs = [resolve(d, facts) for d in clause.args]
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
        for obj in bs[0].objects:
            if obj == target:
                raise GoalError(f"'{bs[0].description}' and '{bs[1].description}' are the "
                                f"same object ({obj})")
            atoms.add((clause.predicate, obj, target))
    conf = min((b.confidence for b in bindings), default=1.0)
    return GroundedGoal(frozenset(atoms), tuple(bindings), goal.text, conf)
