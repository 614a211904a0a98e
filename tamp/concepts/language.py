"""Goals in words: a small grammar (no language model) from a sentence to predicate goals
over the objects that the sentence's descriptions pick out.

Sentences::

    put|place|move|drop  NP  in|into|inside  NP        -> in(x, y) for every x
    put|place|move|stack NP  on [top of]  NP            -> on(x, y)
    put|place|move  NP  [from PLACE]  on|onto|to  PLACE -> on(x, PLACE) for one object;
                                                           several: a tower on PLACE,
                                                           largest at the bottom
    pick up|lift|grab|hold  NP                          -> holding(x)
    build a tower of C1, C2 [and] C3 [NOUNS] [from the bottom|top]
                                                        -> on(C2, C1), on(C3, C2)
    build a pyramid: C1, C2 and C3 on the bottom [from left to right],
                     C4 and C5 in the middle, C6 on top -> on(C1, slot_1_1), ...
                                                           on(C6, slot_3_1)

    NP := [the|a|an|all [the]|every|each|both] [NUMBER] ADJ* NOUN [REL NP]
    NOUN := a shape concept (block, bowl, ...), "object", "thing", or "one" (the noun of
            the sentence's first description: "the yellow one")
    REL := left of | right of | behind | in front of | near | next to | on | in ...
    PLACE := [the] place|slot NUMBER+   (a marked place of the table: "place 3" is the
            zone place_3; pyramid slots are slot_ROW_K, row 1 on the table, K from the
            robot's left)

Adjectives and nouns come from the concept model's vocabulary, so a concept learned later
("pink") is a word at once. "the X" must pick out exactly one object, "all Xs" / "the Xs"
at least one, "both Xs" exactly two, "the 3 Xs" exactly three, "a X" at least one (the
most confident is used). Places are the table's marked zones (``SceneFacts.places``),
known to the robot like a map; a tower on a place orders its objects by their size
(``SceneFacts.sizes``), as the disks of towers of Hanoi must lie. Rows of a pyramid:
"on the bottom", "in the middle" (three rows), "on top", or "in row N"; a row of width w
has w places from left to right (or "from right to left").
Anything else raises :class:`GoalError` with one sentence naming the problem. This module
parses; :mod:`tamp.concepts.goal_grounding` grounds the parse in a scene
(:func:`~tamp.concepts.goal_grounding.ground_goal`).
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
NUMBER_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                "eight": 8, "nine": 9, "ten": 10}
#: words that name a marked place of the table when a number follows ("place 3", "slot 2
#: 1"); the first word of every zone name in the scene counts too
PLACE_NOUNS = ("place", "slot")
#: m: two objects whose characteristic sizes differ by less cannot be ordered by size
#: (perceived disk radii are good to a few mm; the towers of Hanoi differ by 10 mm in
#: diameter)
SIZE_RESOLUTION = 0.002


class GoalError(ValueError):
    """The goal cannot be parsed or grounded; the message names the problem."""


@dataclass(frozen=True)
class Vocabulary:
    nouns: tuple[str, ...]  #: shape concepts
    adjectives: tuple[str, ...]  #: every other unary concept
    relations: tuple[str, ...]
    place_nouns: tuple[str, ...] = PLACE_NOUNS  #: "place" in "place 3"

    @staticmethod
    def of(facts: SceneFacts) -> "Vocabulary":
        return Vocabulary.from_concepts(facts.groups, facts.concepts, facts.relations,
                                        facts.places)

    @staticmethod
    def from_concepts(groups: dict[str, tuple[str, ...]], concepts: tuple[str, ...],
                      relations: tuple[str, ...], places: tuple[str, ...] = ()
                      ) -> "Vocabulary":
        """Shape concepts are nouns; every other unary concept is an adjective; the first
        word of each place's name ("slot" of slot_1_2) names places."""
        nouns = tuple(groups.get("shape", ()))
        place_nouns = tuple(dict.fromkeys(PLACE_NOUNS + tuple(p.split("_")[0] for p in places)))
        return Vocabulary(nouns, tuple(c for c in concepts if c not in nouns), tuple(relations),
                          place_nouns)


@dataclass(frozen=True)
class Description:
    """A noun phrase: which objects it asks for."""

    determiner: str  #: "the", "a", "all" or "both"
    adjectives: tuple[str, ...]
    noun: str  #: a shape concept, or "" for any object
    plural: bool
    relation: tuple[str, "Description"] | None = None  #: e.g. ("left-of", <the green bowl>)
    text: str = ""
    count: int | None = None  #: "the 3 disks": exactly this many


@dataclass(frozen=True)
class Place:
    """A marked place of the table, by its zone name (``place_3``, ``slot_2_1``)."""

    name: str
    text: str  #: the words that named it, e.g. "place 3"


@dataclass(frozen=True)
class GoalClause:
    predicate: str  #: "in", "on" or "holding"
    args: tuple[Description | Place, ...]
    #: "" : every object of args[0] goes to the one object of args[1] (to a place: one
    #: object on it, or several as a tower, largest at the bottom); an attribute group
    #: ("color"): each object goes to the object of args[1] that shares its attribute
    pairing: str = ""
    origin: Place | None = None  #: "from place 1": must be a place of the table


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
        words = re.findall(r"[a-z]+|\d+|,", text.lower().replace("-", " "))
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


def _number(word: str) -> int | None:
    return int(word) if word.isdigit() else NUMBER_WORDS.get(word)


def _place(tok: _Tokens, vocab: Vocabulary) -> Place | None:
    """``[the] place 3`` (a zone's name in words) if it comes next, else None."""
    start = tok.i
    tok.accept("the")
    noun = tok.peek()
    if noun not in vocab.place_nouns or _number(tok.peek(1)) is None:
        tok.i = start
        return None
    tok.i += 1
    numbers = []
    while (k := _number(tok.peek())) is not None:
        numbers.append(str(k))
        tok.i += 1
    return Place("_".join((noun, *numbers)), " ".join(tok.words[start:tok.i]))


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
    count = _number(tok.peek())
    if count is not None:
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
    if count is not None and count > 1 and not plural:
        raise GoalError(f"'{' '.join(tok.words[start:tok.i])}' in '{tok.text}': "
                        f"{count} of them needs the plural")
    return Description(det, tuple(adjectives), noun, plural or det == "both", relation,
                       " ".join(tok.words[start:tok.i]), count)


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


def _row(tok: _Tokens) -> str | None:
    """Where a row of the pyramid goes: "bottom", "middle", "top" or a row number."""
    for phrase, row in ((("on", "the", "bottom"), "bottom"), (("at", "the", "bottom"), "bottom"),
                        (("in", "the", "bottom", "row"), "bottom"), (("on", "bottom"), "bottom"),
                        (("in", "the", "middle", "row"), "middle"),
                        (("in", "the", "middle"), "middle"), (("on", "the", "top"), "top"),
                        (("at", "the", "top"), "top"), (("in", "the", "top", "row"), "top"),
                        (("on", "top"), "top")):
        if tok.accept(*phrase):
            return row
    if tok.peek() == "in" and tok.peek(1) == "row" and _number(tok.peek(2)) is not None:
        tok.i += 3
        return str(_number(tok.words[tok.i - 1]))
    return None


def _pyramid(tok: _Tokens, vocab: Vocabulary) -> tuple[GoalClause, ...]:
    """Rows of colours, each with where it goes; blocks fill a row's places from the
    left (slot_ROW_1 is the robot's leftmost) unless the row says "from right to left"."""
    tok.accept("of")
    rows: list[tuple[str, list[str], bool]] = []  # (where, colours, right to left)
    noun = "block"
    while not tok.done():
        colours = []
        while True:
            if tok.peek() in vocab.adjectives:
                colours.append(tok.peek())
                tok.i += 1
            elif tok.peek() in (",", "and"):
                tok.i += 1
            else:
                break
        if tok.done() and not colours:
            break
        found = _singular(tok.peek(), vocab)
        if found is not None and found[0] != "one":
            noun = "" if found[0] in GENERIC_NOUNS else found[0]
            tok.i += 1
        if not colours:
            got = tok.peek() or "the end of the sentence"
            raise GoalError(f"expected the colours of a row of the pyramid in '{tok.text}', "
                            f"got '{got}'")
        backwards = tok.accept("from", "right", "to", "left")
        tok.accept("from", "left", "to", "right")
        where = _row(tok)
        if where is None:
            got = tok.peek() or "the end of the sentence"
            raise GoalError(f"say where '{', '.join(colours)}' go in the pyramid ('on the "
                            f"bottom', 'in the middle', 'on top' or 'in row 2'), got '{got}'")
        if tok.accept("from", "right", "to", "left"):
            backwards = True
        tok.accept("from", "left", "to", "right")
        rows.append((where, colours, backwards))
    bottom = [r for r in rows if r[0] in ("bottom", "1")]
    if len(bottom) != 1:
        raise GoalError(f"'{tok.text}' must say once which blocks go on the bottom")
    n = len(bottom[0][1])
    if n < 2:
        raise GoalError(f"a pyramid needs at least two blocks on the bottom in '{tok.text}'")
    clauses, given = [], {}
    for where, colours, backwards in rows:
        if where == "middle" and n != 3:
            raise GoalError(f"'in the middle' is unclear for a pyramid of {n} rows in "
                            f"'{tok.text}': say 'in row 2' ... 'in row {n - 1}'")
        row = {"bottom": 1, "middle": 2, "top": n}.get(where) or int(where)
        if not 1 <= row <= n:
            raise GoalError(f"a pyramid {n} blocks wide has rows 1 to {n}, not {row}, "
                            f"in '{tok.text}'")
        if row in given:
            raise GoalError(f"row {row} of the pyramid is given twice in '{tok.text}'")
        given[row] = colours
        if len(colours) != n - row + 1:
            raise GoalError(f"row {row} of a pyramid {n} blocks wide holds {n - row + 1} "
                            f"blocks, but '{tok.text}' names {len(colours)} "
                            f"({', '.join(colours)})")
        for k, c in enumerate(reversed(colours) if backwards else colours, 1):
            d = Description("the", (c,), noun, False, None, f"the {c} {noun or 'object'}")
            place = Place(f"slot_{row}_{k}", f"place {k} from the left in row {row} of the "
                                             "pyramid")
            clauses.append(GoalClause("on", (d, place)))
    missing = [str(r) for r in range(1, n + 1) if r not in given]
    if missing:
        raise GoalError(f"a pyramid {n} blocks wide has {n} rows; '{tok.text}' leaves out "
                        f"row {', '.join(missing)}")
    return tuple(clauses)


def parse_goal(text: str, vocab: Vocabulary) -> ParsedGoal:
    """The goal sentence ``text`` as clauses over descriptions (not yet objects)."""
    tok = _Tokens(text)
    if tok.done():
        raise GoalError("the goal is empty")
    tok.accept("please")
    if tok.accept("build", "a", "tower", "of") or tok.accept("build", "a", "tower", "from") \
            or tok.accept("rebuild", "the", "tower", "as") or tok.accept("stack", "up"):
        clauses = _tower(tok, vocab)
    elif tok.accept("build", "a", "pyramid"):
        clauses = _pyramid(tok, vocab)
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
        origin = None
        if tok.accept("from"):
            origin = _place(tok, vocab)
            if origin is None:
                got = tok.peek() or "the end of the sentence"
                raise GoalError(f"expected a place after 'from' in '{text}' (e.g. 'from "
                                f"place 1'), got '{got}'")
        to_place = tok.accept("to")
        if to_place or tok.accept("on", "top", "of") or tok.accept("onto") or tok.accept("on"):
            pred = "on"
        elif verb != "stack" and (tok.accept("into") or tok.accept("inside")
                                  or tok.accept("in")):
            pred = "in"
        else:
            got = tok.peek() or "the end of the sentence"
            raise GoalError(f"expected 'in' or 'on' after '{what.text}' in '{text}', "
                            f"got '{got}'")
        place = _place(tok, vocab) if pred == "on" else None
        if place is not None:
            if origin is not None and origin.name == place.name:
                raise GoalError(f"'{text}' moves from {place.text} to the same place")
            clauses = (GoalClause("on", (what, place), origin=origin),)
        elif to_place:
            got = tok.peek() or "the end of the sentence"
            raise GoalError(f"expected a place after 'to' in '{text}' (e.g. 'to place 3'), "
                            f"got '{got}'")
        else:
            where = _np(tok, vocab, what.noun)
            if where.plural or where.determiner == "all":
                raise GoalError(f"'{where.text}' must name one object to put things {pred}")
            clauses = (GoalClause(pred, (what, where), origin=origin),)
    else:
        raise GoalError(f"cannot read '{text}': start with put, place, move, pack, stack, "
                        "sort, pick up, build a tower or build a pyramid")
    if not tok.done():
        raise GoalError(f"unexpected '{' '.join(tok.words[tok.i:])}' at the end of '{text}'")
    return ParsedGoal(clauses, text)
