"""Check a plan by replaying it on the lifted task, independently of the grounder.

The replay instantiates each step's action schema itself (types, equalities, static and
fluent preconditions alike) on a set of atoms, so a plan that the grounder or the search
got wrong is caught here rather than trusted; tests use it as their oracle.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from tamp.symbolic.grounding import GroundTask
from tamp.symbolic.pddl_io import Atom, LiftedTask


class Step(Protocol):
    """Anything with an action name and arguments, e.g. a GroundAction."""

    name: str
    args: tuple[str, ...]


@dataclass(frozen=True)
class PlanStep:
    name: str
    args: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> PlanStep:
        """``"(stack a b)"`` -> ``PlanStep("stack", ("a", "b"))`` (case-insensitive)."""
        words = text.strip().strip("()").lower().split()
        if not words:
            raise ValueError(f"empty plan step {text!r}")
        return cls(words[0], tuple(words[1:]))


@dataclass(frozen=True)
class Validation:
    """``valid`` and, when not, the first problem found; truthy when valid."""

    valid: bool
    reason: str  #: "" when valid
    steps: int  #: steps replayed successfully

    def __bool__(self) -> bool:
        return self.valid


def validate(task: LiftedTask | GroundTask, plan: Iterable[Step | str]) -> Validation:
    """Replay ``plan`` from the initial state and check that it ends in a goal state.

    On a LiftedTask the schemas are instantiated here (independent of the grounder); on a
    GroundTask each step must be one of its reachable ground actions.
    """
    steps = [PlanStep.parse(s) if isinstance(s, str) else s for s in plan]
    if isinstance(task, GroundTask):
        return _validate_ground(task, steps)
    schemas = {s.name: s for s in task.domain.actions}
    objects = task.problem.objects
    state = {(a.predicate, *a.args) for a in task.problem.init}
    done = 0  # steps replayed so far
    for step in steps:
        name, args = step.name.lower(), tuple(a.lower() for a in step.args)
        label = "(" + " ".join((name, *args)) + ")"

        def fail(why: str) -> Validation:
            return Validation(False, f"step {done + 1} {label}: {why}", done)

        schema = schemas.get(name)
        if schema is None:
            return fail(f"no action '{name}' in domain '{task.domain.name}'")
        if len(args) != len(schema.parameters):
            return fail(f"takes {len(schema.parameters)} arguments")
        for p, value in zip(schema.parameters, args):
            if value not in objects:
                return fail(f"unknown object '{value}'")
            if not set(p.types).intersection(task.domain.ancestors(objects[value])):
                return fail(f"'{value}' is a {objects[value]}, {p.name} needs "
                            f"{' or '.join(p.types)}")
        sub = {p.name: v for p, v in zip(schema.parameters, args)}

        def inst(atom: Atom) -> tuple[str, ...]:
            return (atom.predicate, *(sub.get(t, t) for t in atom.args))

        for e in schema.equalities:
            if (sub.get(e.left, e.left) == sub.get(e.right, e.right)) != e.positive:
                return fail(f"equality {'' if e.positive else 'not '}(= {e.left} {e.right}) "
                            "fails")
        for atom in schema.pre:
            if inst(atom) not in state:
                return fail(f"precondition {_show(inst(atom))} is false")
        for atom in schema.pre_neg:
            if inst(atom) in state:
                return fail(f"precondition (not {_show(inst(atom))}) is false")
        state = (state - {inst(a) for a in schema.delete}) | {inst(a) for a in schema.add}
        done += 1
    missing = [_show(t) for t in ((a.predicate, *a.args) for a in task.problem.goal)
               if t not in state]
    extra = [f"(not {_show(t)})" for t in ((a.predicate, *a.args)
                                          for a in task.problem.goal_neg) if t in state]
    bad_eq = [f"(= {e.left} {e.right})" for e in task.problem.goal_equalities
              if (e.left == e.right) != e.positive]
    if missing or extra or bad_eq:
        return Validation(False, f"goal not reached: {', '.join(missing + extra + bad_eq)}", done)
    return Validation(True, "", done)


def _validate_ground(task: GroundTask, steps: list[Step]) -> Validation:
    by_label = {a.label: a for a in task.actions}
    state = task.init
    for done, step in enumerate(steps):
        label = "(" + " ".join((step.name, *step.args)).lower() + ")"
        action = by_label.get(label)
        if action is None:
            return Validation(False, f"step {done + 1} {label}: not a reachable ground action "
                              "of this task", done)
        if not action.applicable(state):
            false = [str(task.facts[f]) for f in action.pre if not state >> f & 1]
            false += [f"(not {task.facts[f]})" for f in action.pre_neg if state >> f & 1]
            return Validation(False, f"step {done + 1} {label}: precondition "
                              f"{', '.join(false)} is false", done)
        state = action.apply(state)
    if not task.is_goal(state):
        missing = [str(task.facts[f]) for f in task.goal if not state >> f & 1]
        missing += [f"(not {task.facts[f]})" for f in task.goal_neg if state >> f & 1]
        return Validation(False, f"goal not reached: {', '.join(missing)}", len(steps))
    return Validation(True, "", len(steps))


def _show(atom: tuple[str, ...]) -> str:
    return "(" + " ".join(atom) + ")"
