"""Ground a lifted PDDL task into STRIPS actions over integer fact ids.

Only what is reachable is created: a fixpoint over positive preconditions (the delete
relaxation, negative preconditions ignored, which over-approximates reachability) grows
the set of reachable atoms and instantiates an action schema only with bindings whose
positive preconditions are all reachable, joining precondition atoms instead of
enumerating the cross product of parameter domains. Rounds are semi-naive: a schema is
re-instantiated only from atoms that became reachable in the previous round.

Static predicates (no action adds or deletes them) are evaluated here against the initial
state and vanish from the result, so search states hold fluent facts only. A state is an
``int`` bitset: bit ``i`` is set when fact ``i`` holds. Everything is sorted by name, so
fact ids, action order and therefore plans do not depend on Python's hash seed.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

from tamp.deadline import Deadline
from tamp.symbolic.pddl_io import ActionSchema, Atom, LiftedTask

#: a bitset of fact ids (bit i set: fact i holds)
State = int


class GroundingError(Exception):
    """Grounding exceeded its budget (time or number of actions)."""


@dataclass(frozen=True)
class GroundAction:
    """A STRIPS action over fact ids, with the same facts as bit masks for fast tests."""

    name: str
    args: tuple[str, ...]
    pre: tuple[int, ...]
    pre_neg: tuple[int, ...]
    add: tuple[int, ...]
    delete: tuple[int, ...]
    pre_mask: int = field(init=False, repr=False, compare=False)
    neg_mask: int = field(init=False, repr=False, compare=False)
    add_mask: int = field(init=False, repr=False, compare=False)
    keep_mask: int = field(init=False, repr=False, compare=False)  #: ~delete, as an int

    def __post_init__(self):
        def mask(ids):
            return sum(1 << i for i in set(ids))

        object.__setattr__(self, "pre_mask", mask(self.pre))
        object.__setattr__(self, "neg_mask", mask(self.pre_neg))
        object.__setattr__(self, "add_mask", mask(self.add))
        object.__setattr__(self, "keep_mask", ~mask(self.delete))

    @property
    def label(self) -> str:
        """IPC form, e.g. ``(stack a b)``."""
        return "(" + " ".join((self.name, *self.args)) + ")"

    def applicable(self, state: State) -> bool:
        return state & self.pre_mask == self.pre_mask and not state & self.neg_mask

    def apply(self, state: State) -> State:
        # PDDL semantics: deletes first, then adds (an atom both deleted and added holds)
        return (state & self.keep_mask) | self.add_mask


@dataclass(frozen=True)
class GroundingStats:
    schemas: int
    actions: int  #: ground actions kept
    facts: int  #: fluent facts
    static_predicates: tuple[str, ...]  #: evaluated at grounding time and removed
    time_s: float


@dataclass(frozen=True)
class GroundTask:
    """A grounded STRIPS task: facts, initial state, goal, reachable actions."""

    name: str
    facts: tuple[Atom, ...]  #: fact id -> atom
    init: State
    goal: tuple[int, ...]
    goal_neg: tuple[int, ...]  #: facts that must be false in a goal state
    actions: tuple[GroundAction, ...]
    #: goal literals that can never hold (shown by the relaxation); empty when none
    unreachable_goals: tuple[str, ...]
    stats: GroundingStats
    goal_mask: int = field(init=False, repr=False, compare=False)
    goal_neg_mask: int = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "goal_mask", sum(1 << i for i in set(self.goal)))
        object.__setattr__(self, "goal_neg_mask", sum(1 << i for i in set(self.goal_neg)))

    def is_goal(self, state: State) -> bool:
        return state & self.goal_mask == self.goal_mask and not state & self.goal_neg_mask

    def atoms(self, state: State) -> list[Atom]:
        """The atoms that hold in ``state``, in fact-id order."""
        return [self.facts[i] for i in state_facts(state)]


def state_facts(state: State) -> list[int]:
    """Ids of the set bits of ``state``, ascending."""
    out = []
    while state:
        low = state & -state
        out.append(low.bit_length() - 1)
        state ^= low
    return out


# --------------------------------------------------------------------------------------
# the reachability fixpoint works on plain tuples: ("on", "a", "b") is faster than Atom


class _Index:
    """Reached atoms per predicate, and per (predicate, position, object) for joins."""

    def __init__(self):
        self.by_pred: dict[str, list[tuple[str, ...]]] = {}
        self.by_arg: dict[tuple[str, int, str], list[tuple[str, ...]]] = {}

    def add(self, pred: str, args: tuple[str, ...]) -> None:
        self.by_pred.setdefault(pred, []).append(args)
        for i, a in enumerate(args):
            self.by_arg.setdefault((pred, i, a), []).append(args)

    def candidates(self, pred: str, pattern: tuple[str, ...], binding: dict[str, str]):
        """Reached argument tuples of ``pred`` that may match ``pattern`` under ``binding``."""
        best = self.by_pred.get(pred, ())
        for i, term in enumerate(pattern):
            value = binding.get(term) if term.startswith("?") else term
            if value is not None:
                rows = self.by_arg.get((pred, i, value), ())
                if len(rows) < len(best):
                    best = rows
        return best


@dataclass
class _Schema:
    """An action schema prepared for grounding."""

    schema: ActionSchema
    domains: dict[str, frozenset[str]]  #: variable -> objects of its type(s)
    order: tuple[str, ...]  #: variable names in parameter order
    joins: tuple[tuple[str, tuple[str, ...]], ...]  #: positive preconditions to join
    free: tuple[str, ...]  #: variables no positive precondition binds


def _bind(pattern: tuple[str, ...], row: tuple[str, ...], binding: dict[str, str],
          domains: dict[str, frozenset[str]]) -> dict[str, str] | None:
    """``binding`` extended so that ``pattern`` equals ``row``; None when they clash.

    Internal helper of the join: None here means "no match", not a failure.
    """
    out = binding
    for term, value in zip(pattern, row):
        if term.startswith("?"):
            bound = out.get(term)
            if bound is None:
                if value not in domains[term]:
                    return None
                if out is binding:
                    out = dict(binding)
                out[term] = value
            elif bound != value:
                return None
        elif term != value:
            return None
    return out


def _join(s: _Schema, index: _Index, start: tuple[int, dict[str, str]]):
    """All bindings of ``s``'s positive preconditions, with precondition ``start[0]``
    already matched by ``start[1]``."""
    first, binding = start
    rest = [j for j in range(len(s.joins)) if j != first]

    def extend(binding: dict[str, str], rest: list[int]):
        if not rest:
            yield binding
            return
        # join the most constrained atom next: fewer candidate rows
        scored = [(len(index.candidates(*s.joins[j], binding)), k) for k, j in enumerate(rest)]
        _, k = min(scored)
        pred, pattern = s.joins[rest[k]]
        remaining = rest[:k] + rest[k + 1:]
        for row in index.candidates(pred, pattern, binding):
            b = _bind(pattern, row, binding, s.domains)
            if b is not None:
                yield from extend(b, remaining)

    yield from extend(binding, rest)


class _Clock:
    """The deadline, looked at every ``every`` steps of the innermost loops (a single
    action schema with many free parameters can have billions of candidate bindings)."""

    def __init__(self, deadline: Deadline | None, every: int = 2048):
        self.deadline = deadline if deadline is not None and not deadline.never else None
        self.every, self.n = every, 0

    def tick(self) -> None:
        self.n += 1
        if self.deadline is not None and self.n % self.every == 0:
            self.check()

    def check(self) -> None:
        if self.deadline is not None and self.deadline.expired():
            raise GroundingError("time budget exhausted while grounding")


def _complete(s: _Schema, binding: dict[str, str], static_init: set[tuple[str, ...]],
              static_preds: set[str], clock: _Clock | None = None):
    """Argument tuples for ``binding`` extended over the free variables, filtered by
    equalities and static negative preconditions."""
    schema = s.schema
    for values in itertools.product(*(sorted(s.domains[v]) for v in s.free)):
        if clock is not None:
            clock.tick()
        b = {**binding, **dict(zip(s.free, values))}

        def val(term: str) -> str:
            return b[term] if term.startswith("?") else term

        if any((val(e.left) == val(e.right)) != e.positive for e in schema.equalities):
            continue
        if any(a.predicate in static_preds
               and (a.predicate, *map(val, a.args)) in static_init for a in schema.pre_neg):
            continue
        yield tuple(b[v] for v in s.order)


def _prepare(task: LiftedTask, schema: ActionSchema) -> _Schema:
    domains = {p.name: frozenset(task.objects_of_type(p.types)) for p in schema.parameters}
    joins = tuple((a.predicate, a.args) for a in schema.pre)
    bound = {t for _, args in joins for t in args if t.startswith("?")}
    free = tuple(p.name for p in schema.parameters if p.name not in bound)
    return _Schema(schema, domains, tuple(p.name for p in schema.parameters), joins, free)


def ground(task: LiftedTask, max_actions: int = 2_000_000,
           deadline: Deadline | None = None) -> GroundTask:
    """Ground ``task`` (see the module docstring); raises GroundingError past
    ``deadline`` (:class:`tamp.deadline.Deadline`) or past ``max_actions`` ground
    actions."""
    t0 = time.perf_counter()
    clock = _Clock(deadline)
    dom, prob = task.domain, task.problem
    fluent_preds = {a.predicate for s in dom.actions for a in s.add + s.delete}
    static_preds = set(dom.predicates) - fluent_preds
    init = {(a.predicate, *a.args) for a in prob.init}
    static_init = {a for a in init if a[0] in static_preds}

    schemas = [_prepare(task, s) for s in dom.actions]
    index = _Index()
    reached: set[tuple[str, ...]] = set()
    delta = sorted(init)
    found: dict[tuple[int, tuple[str, ...]], None] = {}  # insertion-ordered set
    first_round = True
    while delta or first_round:
        for atom in delta:
            reached.add(atom)
            index.add(atom[0], atom[1:])
        new: set[tuple[str, ...]] = set()
        by_pred: dict[str, list[tuple[str, ...]]] = {}
        for atom in delta:
            by_pred.setdefault(atom[0], []).append(atom[1:])
        for si, s in enumerate(schemas):
            starts = []
            if not s.joins and first_round:
                starts.append((-1, {}))
            for j, (pred, pattern) in enumerate(s.joins):
                for row in by_pred.get(pred, ()):
                    b = _bind(pattern, row, {}, s.domains)
                    if b is not None:
                        starts.append((j, b))
            for start in starts:
                bindings = _join(s, index, start) if start[0] >= 0 else iter([{}])
                for binding in bindings:
                    clock.tick()
                    for args in _complete(s, binding, static_init, static_preds, clock):
                        if (si, args) in found:
                            continue
                        found[(si, args)] = None
                        if len(found) > max_actions:
                            raise GroundingError(f"grounding exceeded {max_actions} actions")
                        sub = dict(zip(s.order, args))
                        for a in s.schema.add:
                            atom = (a.predicate, *(sub.get(t, t) for t in a.args))
                            if atom not in reached:
                                new.add(atom)
            clock.check()
        delta = sorted(new)
        first_round = False

    facts = sorted(a for a in reached if a[0] in fluent_preds)
    fid = {a: i for i, a in enumerate(facts)}
    actions = []
    for si, args in sorted(found, key=lambda k: (schemas[k[0]].schema.name, k[1])):
        clock.tick()
        s = schemas[si]
        sub = dict(zip(s.order, args))

        def atoms(lits):
            return [(a.predicate, *(sub.get(t, t) for t in a.args)) for a in lits]

        pre = [fid[a] for a in atoms(s.schema.pre) if a[0] in fluent_preds]
        # a negative precondition on a never-reachable atom always holds: drop it
        neg = [fid[a] for a in atoms(s.schema.pre_neg) if a in fid]
        add = [fid[a] for a in atoms(s.schema.add)]
        delete = [fid[a] for a in atoms(s.schema.delete) if a in fid]
        actions.append(GroundAction(s.schema.name, args, tuple(dict.fromkeys(pre)),
                                    tuple(dict.fromkeys(neg)), tuple(dict.fromkeys(add)),
                                    tuple(dict.fromkeys(delete))))

    goal, goal_neg, unreachable = _ground_goal(task, fid, static_preds, init, actions)
    stats = GroundingStats(len(schemas), len(actions), len(facts), tuple(sorted(static_preds)),
                           time.perf_counter() - t0)
    return GroundTask(prob.name, tuple(Atom(a[0], a[1:]) for a in facts),
                      sum(1 << fid[a] for a in init if a in fid), tuple(goal), tuple(goal_neg),
                      tuple(actions), tuple(unreachable), stats)


def _ground_goal(task: LiftedTask, fid: dict, static_preds: set[str], init: set,
                 actions: list[GroundAction]):
    """Goal fact ids; literals decided at grounding time are dropped (when true) or listed
    as unreachable (when false)."""
    goal, goal_neg, unreachable = [], [], []
    deleted = {f for a in actions for f in a.delete}
    for a in task.problem.goal:
        t = (a.predicate, *a.args)
        if t in fid:
            goal.append(fid[t])
        elif not (t[0] in static_preds and t in init):
            unreachable.append(str(a))
    for a in task.problem.goal_neg:
        t = (a.predicate, *a.args)
        if t in fid:
            if t in init and fid[t] not in deleted:
                unreachable.append(f"(not {a})")
            else:
                goal_neg.append(fid[t])
        elif t[0] in static_preds and t in init:
            unreachable.append(f"(not {a})")
    for e in task.problem.goal_equalities:
        if (e.left == e.right) != e.positive:
            unreachable.append(f"(= {e.left} {e.right})" if e.positive
                               else f"(not (= {e.left} {e.right}))")
    return sorted(set(goal)), sorted(set(goal_neg)), unreachable
