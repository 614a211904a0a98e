"""Heuristic forward search over a GroundTask: greedy best-first and weighted A*.

Both are eager (a state is evaluated when generated), detect duplicates with a dict from
state bitset to node, and stop at a time budget or a node budget. Greedy best-first search
alternates between two open lists, all successors and successors reached by a preferred
operator, giving the preferred list a boost whenever the heuristic reaches a new minimum
(as in Fast Downward); the search stays complete because nothing is pruned. Weighted A*
orders by g + w*h and reopens a state when a cheaper path to it turns up, so A* with the
admissible "max" or "blind" heuristic and w = 1 returns optimal (shortest) plans.

Everything is deterministic: the queues break remaining ties by insertion order and
actions are tried in the task's sorted order.
"""

from __future__ import annotations

import heapq
import itertools
import time
from dataclasses import dataclass

from tamp.symbolic.grounding import GroundAction, GroundTask, State
from tamp.symbolic.heuristics import HEURISTICS, INF, RelaxedHeuristic

ALGORITHMS = ("gbfs", "astar")

#: how many extra pops the preferred-operator list gets after progress (Fast Downward: 1000)
_BOOST = 1000


@dataclass(frozen=True)
class SearchConfig:
    algorithm: str = "gbfs"  #: one of ALGORITHMS
    heuristic: str = "ff"  #: one of heuristics.HEURISTICS
    weight: float = 1.0  #: w in f = g + w*h (A* only)
    preferred_operators: bool = True  #: use the second open list (GBFS with "ff" only)
    time_budget_s: float = 10.0  #: wall-clock limit of the search, s
    node_budget: int = 2_000_000  #: most distinct states stored

    def __post_init__(self):
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"unknown search '{self.algorithm}'; known: {', '.join(ALGORITHMS)}")
        if self.heuristic not in HEURISTICS:
            raise ValueError(f"unknown heuristic '{self.heuristic}'; known: "
                             f"{', '.join(HEURISTICS)}")
        if self.time_budget_s <= 0 or self.node_budget <= 0 or self.weight < 0:
            raise ValueError("time_budget_s and node_budget must be > 0, weight >= 0")


@dataclass(frozen=True)
class SearchResult:
    """The plan (empty on failure) and why the search stopped."""

    plan: tuple[GroundAction, ...]
    success: bool
    reason: str  #: "" on success, otherwise why no plan was found
    expanded: int
    generated: int
    time_s: float

    @property
    def cost(self) -> int:
        """Plan cost with unit action costs."""
        return len(self.plan)


class _Successors:
    """Applicable actions by their first positive precondition, so a state only tests
    actions that can possibly apply."""

    def __init__(self, task: GroundTask):
        self.actions = task.actions
        self.always: list[int] = []
        self.by_fact: dict[int, list[int]] = {}
        for i, a in enumerate(task.actions):
            if a.pre:
                self.by_fact.setdefault(min(a.pre), []).append(i)
            else:
                self.always.append(i)

    def __call__(self, state: State) -> list[int]:
        acts = self.actions
        out = [i for i in self.always if not state & acts[i].neg_mask]
        for f, group in self.by_fact.items():
            if state >> f & 1:
                out.extend(i for i in group if acts[i].applicable(state))
        out.sort()  # deterministic: the task's action order
        return out


class _Nodes:
    """The search space: one entry per distinct state."""

    def __init__(self):
        self.index: dict[State, int] = {}
        self.states: list[State] = []
        self.parent: list[int] = []
        self.action: list[int] = []
        self.g: list[int] = []
        self.h: list[float] = []

    def add(self, state: State, parent: int, action: int, g: int, h: float) -> int:
        node = len(self.states)
        self.index[state] = node
        self.states.append(state)
        self.parent.append(parent)
        self.action.append(action)
        self.g.append(g)
        self.h.append(h)
        return node

    def plan(self, task: GroundTask, node: int) -> tuple[GroundAction, ...]:
        out = []
        while self.parent[node] >= 0:
            out.append(task.actions[self.action[node]])
            node = self.parent[node]
        return tuple(reversed(out))


def search(task: GroundTask, config: SearchConfig = SearchConfig()) -> SearchResult:
    """Find a plan for ``task``; see the module docstring."""
    t0 = time.perf_counter()

    def result(plan, reason, expanded, generated) -> SearchResult:
        return SearchResult(tuple(plan), not reason, reason, expanded, generated,
                            time.perf_counter() - t0)

    if task.unreachable_goals:
        return result((), "goal unreachable in the relaxation: "
                      f"{', '.join(task.unreachable_goals)} can never hold", 0, 0)
    heuristic = RelaxedHeuristic(task, config.heuristic)
    h0 = heuristic(task.init)
    if h0.h == INF:
        return result((), "goal unreachable in the relaxation: even ignoring deletes and "
                      "negative preconditions no action sequence reaches the goal", 0, 1)
    if task.is_goal(task.init):
        return result((), "", 0, 1)
    if config.algorithm == "gbfs":
        return _gbfs(task, config, heuristic, h0, t0, result)
    return _astar(task, config, heuristic, h0, t0, result)


def _budget_reason(config: SearchConfig, t0: float, nodes: _Nodes, expanded: int) -> str:
    if time.perf_counter() - t0 > config.time_budget_s:
        return (f"time budget of {config.time_budget_s:g} s exhausted "
                f"({expanded} states expanded)")
    if len(nodes.states) >= config.node_budget:
        return f"node budget of {config.node_budget} states exhausted"
    return ""


def _exhausted(expanded: int) -> str:
    return f"search space exhausted: no plan exists ({expanded} states expanded)"


def _gbfs(task, config, heuristic, h0, t0, result) -> SearchResult:
    successors = _Successors(task)
    nodes = _Nodes()
    counter = itertools.count()
    use_pref = config.preferred_operators and config.heuristic == "ff"
    queues: list[list] = [[], []]  # 0: every successor, 1: reached by a preferred operator
    priority = [0, 0]  # the non-empty queue with the lowest value is popped next
    root = nodes.add(task.init, -1, -1, 0, h0.h)
    heapq.heappush(queues[0], (h0.h, next(counter), root))
    preferred = {root: h0.preferred}
    closed: set[int] = set()
    best_h = h0.h
    expanded = 0
    while queues[0] or queues[1]:
        q = min((i for i in (1, 0) if queues[i]), key=lambda i: priority[i])
        priority[q] += 1
        _, _, node = heapq.heappop(queues[q])
        if node in closed:
            continue
        reason = _budget_reason(config, t0, nodes, expanded)
        if reason:
            return result((), reason, expanded, len(nodes.states))
        closed.add(node)
        expanded += 1
        state, g = nodes.states[node], nodes.g[node]
        helpful = preferred.pop(node, frozenset())
        for a in successors(state):
            succ = task.actions[a].apply(state)
            if succ in nodes.index:
                continue
            hv = heuristic(succ)
            child = nodes.add(succ, node, a, g + 1, hv.h)
            if task.is_goal(succ):
                return result(nodes.plan(task, child), "", expanded, len(nodes.states))
            if hv.h == INF:
                continue  # a proven dead end never needs expanding
            if hv.h < best_h:
                best_h = hv.h
                priority[1] -= _BOOST
            entry = (hv.h, next(counter), child)
            heapq.heappush(queues[0], entry)
            if use_pref:
                preferred[child] = hv.preferred
                if a in helpful:
                    heapq.heappush(queues[1], entry)
    return result((), _exhausted(expanded), expanded, len(nodes.states))


def _astar(task, config, heuristic, h0, t0, result) -> SearchResult:
    successors = _Successors(task)
    nodes = _Nodes()
    counter = itertools.count()
    w = config.weight
    root = nodes.add(task.init, -1, -1, 0, h0.h)
    # lower h breaks ties in f (it is closer to a goal), then insertion order
    queue = [(w * h0.h, h0.h, next(counter), root, 0)]
    closed: set[int] = set()
    expanded = 0
    while queue:
        _, _, _, node, g = heapq.heappop(queue)
        if g > nodes.g[node] or node in closed:
            continue  # stale entry: a cheaper path to this state was queued later
        state = nodes.states[node]
        if task.is_goal(state):
            return result(nodes.plan(task, node), "", expanded, len(nodes.states))
        reason = _budget_reason(config, t0, nodes, expanded)
        if reason:
            return result((), reason, expanded, len(nodes.states))
        closed.add(node)
        expanded += 1
        for a in successors(state):
            succ = task.actions[a].apply(state)
            child = nodes.index.get(succ)
            if child is None:
                h = heuristic(succ).h
                child = nodes.add(succ, node, a, g + 1, h)
            elif g + 1 < nodes.g[child]:
                # reopen: an inadmissible or inconsistent h can close a state too early
                nodes.g[child], nodes.parent[child], nodes.action[child] = g + 1, node, a
                closed.discard(child)
            else:
                continue
            h = nodes.h[child]
            if h != INF:
                heapq.heappush(queue, (g + 1 + w * h, h, next(counter), child, g + 1))
    return result((), _exhausted(expanded), expanded, len(nodes.states))
