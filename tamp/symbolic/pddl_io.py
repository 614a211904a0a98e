"""Read PDDL domain and problem files into this project's lifted STRIPS representation.

The text is parsed by the maintained ``pddl`` library; this module only translates its
formula objects into small frozen dataclasses and rejects what the planner cannot handle,
with one line naming the file and the construct. Supported: STRIPS with types (a type
hierarchy, ``either`` in parameter lists), constants, negative preconditions, equality
``(= ?x ?y)`` / ``(not (= ?x ?y))`` in preconditions and goals, conjunctive goals with
negative literals.

Names are case-insensitive in PDDL; everything is lower-cased here so that printed plans
and lookups agree. Variables keep their ``?`` prefix (``"?x"``) to tell them apart from
constants.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: the root of every type hierarchy; objects without a declared type belong to it
OBJECT = "object"

#: requirements this representation handles completely
SUPPORTED_REQUIREMENTS = frozenset({"strips", "typing", "negative-preconditions", "equality"})

#: folder with the bundled symbolic domains (``<name>.pddl``) and ``problems/<name>.pddl``
DOMAINS_DIR = Path(__file__).resolve().parent / "domains"
#: folder of the domains the planner refines into motions (each beside its module in
#: :mod:`tamp.domains`; found by path, so that the symbolic layer imports nothing above it)
PLANNING_DOMAINS_DIR = Path(__file__).resolve().parents[1] / "domains"


class PDDLError(Exception):
    """A PDDL file that cannot be read or uses something unsupported (one-line message)."""


@dataclass(frozen=True)
class Atom:
    """``(predicate arg ...)``; an argument is a variable ``"?x"`` or an object name."""

    predicate: str
    args: tuple[str, ...]

    def __str__(self) -> str:
        return "(" + " ".join((self.predicate, *self.args)) + ")"


@dataclass(frozen=True)
class Equality:
    """``(= left right)``, or ``(not (= left right))`` when ``positive`` is False."""

    left: str
    right: str
    positive: bool


@dataclass(frozen=True)
class Parameter:
    """A typed variable; more than one type means ``(either t1 t2 ...)``."""

    name: str  #: with the leading "?"
    types: tuple[str, ...]


@dataclass(frozen=True)
class ActionSchema:
    """A lifted STRIPS action; atoms mention parameters by their ``?name``."""

    name: str
    parameters: tuple[Parameter, ...]
    pre: tuple[Atom, ...]
    pre_neg: tuple[Atom, ...]
    equalities: tuple[Equality, ...]
    add: tuple[Atom, ...]
    delete: tuple[Atom, ...]


@dataclass(frozen=True)
class Domain:
    name: str
    requirements: tuple[str, ...]
    #: declared type -> parent type (``object`` for roots)
    types: dict[str, str]
    #: constant -> its type
    constants: dict[str, str]
    #: predicate -> its parameters
    predicates: dict[str, tuple[Parameter, ...]]
    actions: tuple[ActionSchema, ...]  #: sorted by name (the library keeps them in a set)

    def ancestors(self, typ: str) -> tuple[str, ...]:
        """``typ`` and all its supertypes up to ``object``."""
        out = [typ]
        while out[-1] != OBJECT:
            out.append(self.types.get(out[-1], OBJECT))
        return tuple(out)


@dataclass(frozen=True)
class Problem:
    name: str
    domain_name: str
    #: every object, the domain's constants included -> its type
    objects: dict[str, str]
    init: frozenset[Atom]
    goal: tuple[Atom, ...]
    goal_neg: tuple[Atom, ...]
    goal_equalities: tuple[Equality, ...]


@dataclass(frozen=True)
class LiftedTask:
    """A domain and one of its problems, checked against each other."""

    domain: Domain
    problem: Problem

    def objects_of_type(self, types: tuple[str, ...]) -> tuple[str, ...]:
        """Objects (sorted) that are instances of any of ``types``."""
        wanted = set(types)
        return tuple(sorted(o for o, t in self.problem.objects.items()
                            if wanted.intersection(self.domain.ancestors(t))))


# --------------------------------------------------------------------------------------
# reading


def _parse(path: Path, kind: str):
    """Run the library's parser, turning its many exception types into PDDLError."""
    from pddl.parser.domain import DomainParser
    from pddl.parser.problem import ProblemParser

    if not path.is_file():
        raise PDDLError(f"{path}: {kind} file not found")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise PDDLError(f"{path}: cannot read the {kind} file ({err})") from err
    parser = DomainParser() if kind == "domain" else ProblemParser()
    try:
        return parser(text)
    except RecursionError as err:
        raise PDDLError(f"{path}: {kind} nested too deeply to parse") from err
    except TypeError as err:
        # pddl 0.5.1 crashes with this TypeError on an action that has no :precondition
        # (AI-Planning/pddl issue 202); say what to write instead of the crash
        raise PDDLError(f"{path}: the pddl library could not parse this {kind} ({err}); "
                        "if an action has no :precondition, add ':precondition (and)'") from err
    except Exception as err:  # lark and pddl raise many unrelated types
        req = getattr(err, "requirement", None)  # PDDLMissingRequirementError
        if req is not None and str(req.value) not in SUPPORTED_REQUIREMENTS:
            raise PDDLError(f"{path}: uses a construct of unsupported requirement :{req.value}"
                            f" ({_supported()})") from err
        if req is not None and kind == "problem":
            # pddl 0.5.1 parses a goal with no requirements at all, declared or not
            raise PDDLError(f"{path}: the pddl library cannot parse :{req.value} in a "
                            "problem's :goal") from err
        if req is not None:
            raise PDDLError(f"{path}: uses :{req.value} without declaring it in "
                            ":requirements") from err
        raise PDDLError(f"{path}: {_one_line(err)}") from err


def _supported() -> str:
    return "supported: " + ", ".join(":" + n for n in sorted(SUPPORTED_REQUIREMENTS))


def _one_line(err: Exception) -> str:
    token = getattr(err, "token", None)  # lark's UnexpectedToken
    if token is not None and getattr(err, "line", -1) > 0:
        what = ("end of file (unbalanced parentheses?)" if token.type == "$END"
                else f"'{token}'")
        return f"syntax error at line {err.line}, column {err.column}: unexpected {what}"
    if getattr(err, "char", None) is not None and getattr(err, "line", -1) > 0:
        return f"syntax error at line {err.line}, column {err.column}: unexpected '{err.char}'"
    head = " ".join(str(err).split())
    if "['object']" in head:
        # pddl 0.5.1 has no name for the root type in typed lists
        head += ("; the pddl library rejects '- object': leave the type out, an untyped "
                 "name is an object")
    return head if len(head) < 300 else head[:300] + " ..."


def _requirements(path: Path, reqs) -> tuple[str, ...]:
    names = tuple(sorted(str(r.value).lower() for r in reqs))
    unsupported = [n for n in names if n not in SUPPORTED_REQUIREMENTS]
    if unsupported:
        raise PDDLError(f"{path}: unsupported requirement "
                        f"{', '.join(':' + n for n in unsupported)} ({_supported()})")
    return names


def _term(term) -> str:
    from pddl.logic.terms import Variable

    name = str(term.name).lower()
    return "?" + name if isinstance(term, Variable) else name


def _key(item) -> str:
    return str(item.name).lower()


def _type_tags(term) -> tuple[str, ...]:
    tags = tuple(sorted(str(t).lower() for t in term.type_tags))
    return tags or (OBJECT,)


def _literals(formula, where: str, path: Path):
    """Flatten a conjunction into (positive atoms, negative atoms, equalities)."""
    from pddl.logic.base import And, Not
    from pddl.logic.predicates import EqualTo, Predicate

    pos: list[Atom] = []
    neg: list[Atom] = []
    eqs: list[Equality] = []
    stack = [] if formula is None else [formula]
    while stack:
        f = stack.pop(0)
        if isinstance(f, And):
            stack[:0] = list(f.operands)
        elif isinstance(f, Predicate):
            pos.append(Atom(str(f.name).lower(), tuple(_term(t) for t in f.terms)))
        elif isinstance(f, EqualTo):
            eqs.append(Equality(_term(f.left), _term(f.right), True))
        elif isinstance(f, Not) and isinstance(f.argument, Predicate):
            a = f.argument
            neg.append(Atom(str(a.name).lower(), tuple(_term(t) for t in a.terms)))
        elif isinstance(f, Not) and isinstance(f.argument, EqualTo):
            eqs.append(Equality(_term(f.argument.left), _term(f.argument.right), False))
        else:
            raise PDDLError(f"{path}: {where}: unsupported {_construct(f)} '{f}' "
                            "(only conjunctions of literals and equalities)")
    return tuple(pos), tuple(neg), tuple(eqs)


def _construct(f) -> str:
    """A readable name for a formula class the planner does not handle."""
    names = {"Or": "disjunction", "Imply": "implication", "ExistsCondition": "existential "
             "quantifier", "ForallCondition": "universal quantifier", "Forall": "forall effect",
             "When": "conditional effect", "Not": "negation of a compound formula",
             "OneOf": "non-deterministic effect"}
    return names.get(type(f).__name__, f"{type(f).__name__} (numeric or other non-STRIPS)")


def _ancestors(types: dict[str, str], typ: str) -> tuple[str, ...]:
    """``typ`` and its supertypes up to ``object`` (``types``: type -> parent)."""
    out = [typ]
    while out[-1] != OBJECT and len(out) <= len(types) + 1:
        out.append(types.get(out[-1], OBJECT))
    return tuple(out)


def _check_atoms(path: Path, where: str, atoms, predicates: dict, variables: set[str],
                 objects: set[str], types: dict[str, str] | None = None,
                 type_of: dict[str, tuple[str, ...]] | None = None) -> None:
    """Every atom's predicate declared, its arity right, its arguments declared and, with
    ``types`` and ``type_of`` (argument -> its type, or its ``either`` types), of a type
    the predicate accepts there: each of the argument's types a subtype of one of the
    parameter's."""
    for atom in atoms:
        if atom.predicate not in predicates:
            raise PDDLError(f"{path}: {where}: predicate '{atom.predicate}' is not declared")
        if len(atom.args) != len(predicates[atom.predicate]):
            raise PDDLError(f"{path}: {where}: {atom} has {len(atom.args)} arguments, "
                            f"'{atom.predicate}' takes {len(predicates[atom.predicate])}")
        for arg in atom.args:
            if arg.startswith("?") and arg not in variables:
                raise PDDLError(f"{path}: {where}: {atom} uses {arg}, which is not a parameter")
            if not arg.startswith("?") and arg not in objects:
                raise PDDLError(f"{path}: {where}: {atom} uses '{arg}', which is not declared")
        if types is None or type_of is None:
            continue
        for k, (arg, param) in enumerate(zip(atom.args, predicates[atom.predicate])):
            accepted = set(param.types) | ({OBJECT} if not param.types else set())
            have = type_of.get(arg, (OBJECT,))
            if not all(accepted.intersection(_ancestors(types, t)) for t in have):
                what = "either " + " ".join(have) if len(have) > 1 else have[0]
                raise PDDLError(
                    f"{path}: {where}: {atom}: argument {k + 1} '{arg}' is of type {what}; "
                    f"'{atom.predicate}' takes {' or '.join(sorted(accepted))} there")


def _check_types(path: Path, types: dict[str, str], used: list[tuple[str, str]]) -> None:
    for typ, where in used:
        if typ != OBJECT and typ not in types:
            raise PDDLError(f"{path}: {where}: type '{typ}' is not declared in :types")


def load_domain(path: str | Path) -> Domain:
    """Parse and check a domain file; raises PDDLError."""
    path = Path(path)
    d = _parse(path, "domain")
    reqs = _requirements(path, d.requirements)
    if d.derived_predicates:
        raise PDDLError(f"{path}: derived predicates (:derived) are not supported")
    if d.functions:
        raise PDDLError(f"{path}: :functions (numeric fluents) are not supported")
    # object is the implicit root; the library stores "no parent" as None
    types = {str(t).lower(): (str(p).lower() if p is not None else OBJECT)
             for t, p in d.types.items() if str(t).lower() != OBJECT}
    for parent in set(types.values()) - set(types) - {OBJECT}:
        types[parent] = OBJECT  # a supertype only named after '-' is a root type
    # the library keeps these in sets: sort, so that error messages are reproducible
    constants = {str(c.name).lower(): _type_tags(c)[0] for c in sorted(d.constants, key=_key)}
    predicates = {str(p.name).lower(): tuple(Parameter(_term(t), _type_tags(t)) for t in p.terms)
                  for p in sorted(d.predicates, key=_key)}
    used = [(t, f"constant '{c}'") for c, t in constants.items()]
    used += [(t, f"predicate '{p}'") for p, ps in predicates.items() for q in ps for t in q.types]
    actions = []
    for a in sorted(d.actions, key=_key):
        name = str(a.name).lower()
        where = f"action '{name}'"
        params = tuple(Parameter(_term(v), _type_tags(v)) for v in a.parameters)
        used += [(t, where) for p in params for t in p.types]
        pre, pre_neg, eqs = _literals(a.precondition, f"{where} precondition", path)
        add, delete, eff_eqs = _literals(a.effect, f"{where} effect", path)
        if eff_eqs:
            raise PDDLError(f"{path}: {where} effect: equality cannot be an effect")
        variables = {p.name for p in params}
        type_of = {**{c: (t,) for c, t in constants.items()},
                   **{p.name: p.types or (OBJECT,) for p in params}}
        _check_atoms(path, where, pre + pre_neg + add + delete, predicates, variables,
                     set(constants), types, type_of)
        for e in eqs:
            for side in (e.left, e.right):
                if side.startswith("?") and side not in variables:
                    raise PDDLError(f"{path}: {where}: (= {e.left} {e.right}) uses {side}, "
                                    "which is not a parameter")
        actions.append(ActionSchema(name, params, pre, pre_neg, eqs, add, delete))
    _check_types(path, types, used)
    return Domain(str(d.name).lower(), reqs, types, constants, predicates, tuple(actions))


def load_problem(path: str | Path, domain: Domain) -> Problem:
    """Parse a problem file and check it against ``domain``; raises PDDLError."""
    from pddl.logic.base import Not
    from pddl.logic.predicates import Predicate

    path = Path(path)
    p = _parse(path, "problem")
    _requirements(path, p.requirements)
    if str(p.domain_name).lower() != domain.name:
        raise PDDLError(f"{path}: problem is for domain '{str(p.domain_name).lower()}', "
                        f"the domain file defines '{domain.name}'")
    if p.metric is not None:
        raise PDDLError(f"{path}: :metric is not supported (plans are unit cost)")
    objects = dict(domain.constants)
    for o in sorted(p.objects, key=_key):
        name, typ = str(o.name).lower(), _type_tags(o)[0]
        if objects.get(name, typ) != typ:
            raise PDDLError(f"{path}: object '{name}' is declared as '{typ}' and as "
                            f"'{objects[name]}' (a constant of the domain)")
        objects[name] = typ
    _check_types(path, domain.types, [(t, f"object '{o}'") for o, t in objects.items()])
    init = set()
    for f in p.init:
        if isinstance(f, Predicate):
            init.add(Atom(str(f.name).lower(), tuple(_term(t) for t in f.terms)))
        elif not isinstance(f, Not):  # negative initial facts are implied (closed world)
            raise PDDLError(f"{path}: :init: unsupported fact '{f}'")
    goal, goal_neg, goal_eqs = _literals(p.goal, ":goal", path)
    type_of = {o: (t,) for o, t in objects.items()}
    for section, atoms in ((":init", sorted(init, key=str)), (":goal", goal + goal_neg)):
        _check_atoms(path, section, atoms, domain.predicates, set(), set(objects),
                     domain.types, type_of)
    for e in goal_eqs:
        for side in (e.left, e.right):
            if side not in objects:
                raise PDDLError(f"{path}: :goal: '{side}' in (= {e.left} {e.right}) "
                                "is not declared")
    return Problem(str(p.name).lower(), str(p.domain_name).lower(), objects, frozenset(init),
                   goal, goal_neg, goal_eqs)


def load_task(domain_path: str | Path, problem_path: str | Path) -> LiftedTask:
    """Parse a domain and a problem file; raises PDDLError with a one-line message."""
    domain = load_domain(domain_path)
    return LiftedTask(domain, load_problem(problem_path, domain))


def bundled_domain(name: str) -> Path:
    """Path of a domain shipped with the package, e.g. ``bundled_domain("blocksworld")``
    (a symbolic one) or ``bundled_domain("pick-place")`` (one the planner refines)."""
    for folder in (DOMAINS_DIR, PLANNING_DOMAINS_DIR):
        if (folder / f"{name}.pddl").is_file():
            return folder / f"{name}.pddl"
    return DOMAINS_DIR / f"{name}.pddl"


def bundled_problem(name: str) -> Path:
    """Path of an example problem shipped with the package, e.g. ``"sussman"``."""
    return DOMAINS_DIR / "problems" / f"{name}.pddl"
