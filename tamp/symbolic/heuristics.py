"""Delete-relaxation heuristics over a GroundTask: h_add, h_max, h_FF, and blind.

All of them solve the relaxed task (deletes and negative preconditions ignored) by a
Dijkstra-like exploration from the state, so one piece of code serves all: h_add sums the
costs of an action's preconditions, h_max takes their maximum, h_FF extracts a relaxed
plan from the h_add best supporters and counts its actions. The relaxation only
over-approximates what is reachable, so an infinite value proves a dead end.

Negative goal literals are outside the relaxation; each one violated in the state counts
one more action (something must delete it), which keeps h = 0 exactly at goal states.

Preferred operators (FF's helpful actions, in Fast Downward's sense): the actions of the
relaxed plan that are applicable in the state, plus applicable deleters of violated
negative goals. Only h_FF computes them.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from tamp.symbolic.grounding import GroundTask, State, state_facts

INF = float("inf")

HEURISTICS = ("ff", "add", "max", "blind")


@dataclass(frozen=True)
class HeuristicValue:
    """``h`` is ``INF`` for a proven dead end; ``preferred`` holds action indices."""

    h: float
    preferred: frozenset[int] = frozenset()


class RelaxedHeuristic:
    """One of :data:`HEURISTICS`, evaluated by calling it with a state."""

    def __init__(self, task: GroundTask, kind: str):
        if kind not in HEURISTICS:
            raise ValueError(f"unknown heuristic '{kind}'; known: {', '.join(HEURISTICS)}")
        self.task = task
        self.kind = kind
        n_facts = len(task.facts)
        self.n_facts = n_facts
        self.pre = [a.pre for a in task.actions]
        self.add = [a.add for a in task.actions]
        self.n_pre = [len(p) for p in self.pre]
        #: actions that have fact f as a positive precondition
        self.users: list[list[int]] = [[] for _ in range(n_facts)]
        for i, pre in enumerate(self.pre):
            for f in pre:
                self.users[f].append(i)
        self.no_pre = [i for i, n in enumerate(self.n_pre) if n == 0]
        self.is_goal = [False] * n_facts
        for g in task.goal:
            self.is_goal[g] = True
        self.deleters: dict[int, list[int]] = {f: [] for f in task.goal_neg}
        for i, a in enumerate(task.actions):
            for f in a.delete:
                if f in self.deleters:
                    self.deleters[f].append(i)

    def __call__(self, state: State) -> HeuristicValue:
        task = self.task
        violated = [f for f in task.goal_neg if state >> f & 1]
        if self.kind == "blind":
            return HeuristicValue(0 if task.is_goal(state) else 1)
        cost, supporter = self._explore(state)
        goal_costs = [cost[g] for g in task.goal]
        if any(c == INF for c in goal_costs):
            return HeuristicValue(INF)
        if self.kind == "add":
            return HeuristicValue(sum(goal_costs) + len(violated))
        if self.kind == "max":
            # max, not sum: the action achieving the costliest goal may also be the deleter
            return HeuristicValue(max(max(goal_costs, default=0), 1 if violated else 0))
        plan = self._relaxed_plan(cost, supporter)
        preferred = {a for a in plan if all(cost[p] == 0 for p in self.pre[a])}
        for f in violated:
            preferred.update(self.deleters[f])
        return HeuristicValue(len(plan) + len(violated), frozenset(preferred))

    def _explore(self, state: State) -> tuple[list[float], list[int]]:
        """Relaxed cost of every fact from ``state`` (h_add or h_max combination) and the
        action that achieves it most cheaply (-1 for facts true in the state)."""
        # the hot loop of the whole planner: locals and inlined pushes on purpose
        cost: list[float] = [INF] * self.n_facts
        supporter = [-1] * self.n_facts
        true = state_facts(state)
        heap: list[tuple[float, int]] = [(0, f) for f in true]  # ascending: already a heap
        for f in true:
            cost[f] = 0
        remaining = self.n_pre[:]
        acc = [0] * len(remaining)
        add, users, is_goal = self.add, self.users, self.is_goal
        push, pop = heapq.heappush, heapq.heappop
        for a in self.no_pre:
            for g in add[a]:
                if 1 < cost[g]:
                    cost[g], supporter[g] = 1, a
                    push(heap, (1, g))
        # stop once every goal fact is final: the rest cannot change the goal costs
        goals_left = sum(1 for g in self.task.goal if cost[g] != 0)
        use_max = self.kind == "max"
        while heap and goals_left:
            c, f = pop(heap)
            if c > cost[f]:
                continue  # stale: f was reached more cheaply since
            if c and is_goal[f]:
                goals_left -= 1
            for a in users[f]:
                r = remaining[a] - 1
                remaining[a] = r
                if use_max:
                    if c > acc[a]:
                        acc[a] = c
                else:
                    acc[a] += c
                if r == 0:
                    ac = acc[a] + 1
                    for g in add[a]:
                        if ac < cost[g]:
                            cost[g], supporter[g] = ac, a
                            push(heap, (ac, g))
        return cost, supporter

    def _relaxed_plan(self, cost: list[float], supporter: list[int]) -> list[int]:
        """Actions of a relaxed plan for the goal, following best supporters backwards."""
        plan: dict[int, None] = {}  # insertion-ordered set keeps this deterministic
        seen = set()
        stack = [g for g in self.task.goal if cost[g] > 0]
        while stack:
            f = stack.pop()
            if f in seen:
                continue
            seen.add(f)
            a = supporter[f]
            if a not in plan:
                plan[a] = None
                stack.extend(p for p in self.pre[a] if cost[p] > 0)
        return list(plan)
