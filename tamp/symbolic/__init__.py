"""Symbolic planning: PDDL domains, grounding and heuristic search (used by
``tamp.planner`` for the plan skeletons of the task-and-motion planner).

- ``pddl_io``: read domain/problem files (via the ``pddl`` library) into a lifted task
- ``grounding``: reachable ground actions over integer fact ids, static facts removed
- ``heuristics``, ``search``: h_FF / h_add / h_max, greedy best-first and weighted A*
- ``validate``: replay a plan and say why it fails
- ``fast_downward``: optional backend, when ``up-fast-downward`` is installed
- ``domains/``: bundled PDDL domains and ``problems/``

Nothing is imported here so that ``import tamp.symbolic`` stays cheap.
"""
