"""The TAMP agent: plan with :class:`tamp.planner.Planner`, execute in the simulator,
look again after every pick-and-place, and replan from what is observed when the world
disagrees with the plan (an object slipped, was knocked over, a goal fact was undone)."""

from __future__ import annotations

import time

from policies.base import EpisodeOutcome, Monitor, Policy, register_policy
from scenes.env import TabletopEnv
from scenes.executor import Executor
from tamp.execution.plan import Action
from tamp.planner import Planner, PlannerConfig, goal_holds, symbolic_state
from tamp.refine import PICK_ACTIONS


def expected_facts(action: Action) -> set[tuple[str, ...]]:
    """What must hold once a place-like action is done."""
    if action.name == "place-in":
        return {("in", *action.args)}
    if action.name in ("stack", "place"):
        return {("on", *action.args)}
    return set()


def steps_of(actions: list[Action]) -> list[list[Action]]:
    """Group a plan into executable steps: a pick with the place that follows it."""
    groups: list[list[Action]] = []
    for a in actions:
        if a.name in PICK_ACTIONS or not groups:
            groups.append([a])
        else:
            groups[-1].append(a)
    return groups


@register_policy("tamp")
class TampPolicy(Policy):
    """``perception="oracle"``: the world model is the simulator's ground truth."""

    def __init__(self, config: PlannerConfig | None = None, perception: str = "oracle",
                 max_replans: int = 3):
        if perception != "oracle":
            raise ValueError(f"perception mode '{perception}' is not available yet "
                             "(only 'oracle')")
        self.config = config or PlannerConfig()
        self.perception = perception
        self.max_replans = max_replans

    def observe(self, env: TabletopEnv):
        return env.oracle_world()

    def run(self, env: TabletopEnv, monitor: Monitor | None = None) -> EpisodeOutcome:
        monitor = monitor or Monitor()
        goal = env.instance.goal
        planner = Planner(env.robot, self.config)
        executor = Executor(env, monitor.step)
        t_exec = time.perf_counter()
        planning_time, executed, replans, first_plan = 0.0, [], 0, None
        reason = ""
        while True:
            world = self.observe(env)
            if goal_holds(world, goal):
                reason = ""
                break
            monitor.stage(f"planning ({self.perception} state): {env.instance.description}"
                          + (f" [replan {replans}]" if replans else ""))
            plan = planner.plan(world, goal, env.sim.arm_positions())
            planning_time += plan.planning_time
            if first_plan is None:
                first_plan = [a.as_dict() for a in plan.actions]
            if not plan.success:
                reason = f"planning failed: {plan.reason}"
                break
            monitor.stage(f"planned {len(plan.actions)} actions in {plan.planning_time:.2f} s;"
                          " executing")
            monitor.expect_steps(int(plan.duration / env.control_dt))
            reason = ""
            for step in steps_of(plan.actions):
                reason = executor.run_actions(step)
                executed += [a.as_dict() for a in step]
                if not reason:
                    missing = set().union(*(expected_facts(a) for a in step)) - \
                        symbolic_state(self.observe(env))
                    if missing:
                        reason = "after " + " ".join((step[-1].name, *step[-1].args)) + \
                            ", not observed: " + ", ".join(" ".join(f) for f in sorted(missing))
                if reason:
                    break
            if not reason:
                break
            if replans >= self.max_replans:
                reason = f"gave up after {replans} replans: {reason}"
                break
            replans += 1
            monitor.stage(f"world disagrees with the plan ({reason}); replanning")
            executor.recover()
        result = executor.result(reason, t_exec)
        return EpisodeOutcome(
            result.success, first_plan or [], planning_time,
            max(0.0, result.wall_time - planning_time), result.failure_reason,
            {"sim_time_s": result.sim_time, "control_steps": result.steps,
             "replans": replans, "executed": executed,
             "goal_status": result.info.get("goal", {})})
