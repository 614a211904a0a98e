"""``tamp pddl DOMAIN PROBLEM``: solve a purely symbolic PDDL problem, print the plan.

The plan goes to stdout in IPC form, one ``(action arg ...)`` per line, then
``; cost = N (unit cost)``; grounding and search statistics go to stderr. Exit codes as
for every command: 0 plan found, 1 no plan (the reason on stderr), 2 bad input.
"""

from __future__ import annotations

import sys
from pathlib import Path

from experiments import options as opt
from experiments.options import EXIT_FAILED, EXIT_OK, UsageError, finite_float

#: what to tell a user who asks for Fast Downward without having it
FAST_DOWNWARD_HINT = ("--backend fast-downward needs Fast Downward through the unified-planning "
                      "library: pip install unified-planning up-fast-downward")


def _cmd_pddl(args) -> int:
    for label, path in (("domain", args.domain), ("problem", args.problem)):
        if not Path(path).is_file():
            raise UsageError(f"{label} file '{path}' not found")
    if args.time_budget <= 0:
        raise UsageError(f"--time-budget must be > 0 s, got {args.time_budget}")
    if args.weight < 0:
        raise UsageError(f"--weight must be >= 0, got {args.weight}")

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
    from tamp.symbolic.heuristics import HEURISTICS  # light: no third-party imports
    from tamp.symbolic.search import ALGORITHMS

    p = subparsers.add_parser(
        "pddl", help="solve a symbolic PDDL problem and print the plan",
        description="Solve a PDDL problem (STRIPS with types, negative preconditions and "
                    "equality) and print the plan, one (action arg ...) per line, then its "
                    "cost. Bundled domains are in tamp/symbolic/domains/.",
        epilog="Heuristics: ff and add are informative but not admissible; with --search "
               "astar, max (h_max) and blind give shortest plans.")
    p.add_argument("domain", metavar="DOMAIN", help="domain file (.pddl)")
    p.add_argument("problem", metavar="PROBLEM", help="problem file (.pddl)")
    p.add_argument("--search", choices=ALGORITHMS, default="gbfs",
                   help="greedy best-first (default) or weighted A*")
    p.add_argument("--heuristic", choices=HEURISTICS, default="ff",
                   help="relaxed-plan length (ff, default), h_add, h_max or blind")
    p.add_argument("--weight", type=finite_float, default=1.0,
                   help="w in f = g + w*h for --search astar (default 1)")
    p.add_argument("--time-budget", type=finite_float, default=60.0,
                   help="seconds for grounding and search together (default 60)")
    p.add_argument("--node-budget", type=opt.int_in(1, 10 ** 9), default=2_000_000,
                   help="most distinct states kept by the search (default 2000000)")
    p.add_argument("--backend", choices=("builtin", "fast-downward"), default="builtin",
                   help="the built-in search (default) or Fast Downward, if installed")
    p.set_defaults(func=_cmd_pddl)
