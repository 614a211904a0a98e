"""``tamp pddl DOMAIN PROBLEM``: solve a purely symbolic PDDL problem, print the plan.

The plan goes to stdout in IPC form, one ``(action arg ...)`` per line, then
``; cost = N (unit cost)``; grounding and search statistics go to stderr. Exit codes as
for every command: 0 plan found, 1 no plan (the reason on stderr), 2 bad input.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from experiments import declare
from experiments.declare import opt as option
from experiments.options import EXIT_FAILED, EXIT_OK, UsageError
from tamp.symbolic.heuristics import HEURISTICS  # light: no third-party imports
from tamp.symbolic.search import ALGORITHMS

#: what to tell a user who asks for Fast Downward without having it
FAST_DOWNWARD_HINT = ("--backend fast-downward needs Fast Downward through the unified-planning "
                      "library: pip install unified-planning up-fast-downward")


@dataclass(frozen=True)
class PddlOptions:
    """The options of ``tamp pddl``."""

    domain: str = option(positional=True, metavar="DOMAIN", help="domain file (.pddl)")
    problem: str = option(positional=True, metavar="PROBLEM", help="problem file (.pddl)")
    search: str = option("gbfs", choices=ALGORITHMS,
                         help="greedy best-first (default) or weighted A*")
    heuristic: str = option("ff", choices=HEURISTICS,
                            help="relaxed-plan length (ff, default), h_add, h_max or blind")
    weight: float = option(1.0, help="w in f = g + w*h for --search astar (default 1)")
    #: s for grounding and search together
    time_budget: float = option(60.0, above=0, unit="s", help=(
        "seconds for grounding and search together (default 60)"))
    node_budget: int = option(2_000_000, range=(1, 10 ** 9), help=(
        "most distinct states kept by the search (default 2000000)"))
    backend: str = option("builtin", choices=("builtin", "fast-downward"), help=(
        "the built-in search (default) or Fast Downward, if installed"))

    def check(self) -> None:
        if self.weight < 0:
            raise UsageError(f"--weight must be >= 0, got {self.weight}")


def _cmd_pddl(args: PddlOptions) -> int:
    for label, path in (("domain", args.domain), ("problem", args.problem)):
        if not Path(path).is_file():
            raise UsageError(f"{label} file '{path}' not found")

    from tamp.symbolic import fast_downward
    from tamp.symbolic.grounding import GroundingError, ground
    from tamp.symbolic.pddl_io import PDDLError, load_task
    from tamp.symbolic.search import SearchConfig, search

    if args.backend == "fast-downward" and not fast_downward.available():
        raise UsageError(FAST_DOWNWARD_HINT)
    try:
        task = load_task(args.domain, args.problem)
    except PDDLError as err:
        raise UsageError(str(err)) from err

    from tamp.deadline import Deadline

    deadline = Deadline(args.time_budget)
    try:
        grounded = ground(task, deadline=deadline)
    except GroundingError as err:
        print(f"no plan: {err}", file=sys.stderr)
        return EXIT_FAILED
    s = grounded.stats
    print(f"[tamp] grounded {s.actions} actions over {s.facts} facts in {s.time_s:.3f} s"
          + (f" (static: {', '.join(s.static_predicates)})" if s.static_predicates else ""),
          file=sys.stderr)
    budget = max(deadline.left(), 1e-3)
    if args.backend == "fast-downward":
        result = fast_downward.solve(args.domain, args.problem, grounded, budget)
        print(f"[tamp] fast-downward (lama-first): {result.time_s:.3f} s", file=sys.stderr)
    else:
        config = SearchConfig(algorithm=args.search, heuristic=args.heuristic,
                              weight=args.weight, time_budget_s=budget,
                              node_budget=args.node_budget)
        result = search(grounded, config)
        print(f"[tamp] {args.search} + h_{args.heuristic}: {result.expanded} expanded, "
              f"{result.generated} generated in {result.time_s:.3f} s", file=sys.stderr)
    if not result.success:
        print(f"no plan: {result.reason}", file=sys.stderr)
        return EXIT_FAILED
    for action in result.plan:
        print(action.label.lower())
    print(f"; cost = {result.cost} (unit cost)")
    return EXIT_OK


def add_commands(subparsers) -> None:
    declare.command(
        subparsers, "pddl", PddlOptions, _cmd_pddl,
        help="solve a symbolic PDDL problem and print the plan",
        description="Solve a PDDL problem (STRIPS with types, negative preconditions and "
                    "equality) and print the plan, one (action arg ...) per line, then its "
                    "cost. Bundled domains are in tamp/symbolic/domains/.",
        epilog="Heuristics: ff and add are informative but not admissible; with --search "
               "astar, max (h_max) and blind give shortest plans.")
