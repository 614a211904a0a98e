"""The TAMP agent: plan with :class:`tamp.planner.Planner`, execute in the simulator."""

from __future__ import annotations

from policies.base import EpisodeOutcome, Monitor, Policy, register_policy
from scenes.env import TabletopEnv
from scenes.executor import Executor
from tamp.planner import Planner, PlannerConfig


@register_policy("tamp")
class TampPolicy(Policy):
    """``perception="oracle"``: the world model is the simulator's ground truth."""

    def __init__(self, config: PlannerConfig | None = None, perception: str = "oracle"):
        if perception != "oracle":
            raise ValueError(f"perception mode '{perception}' is not available yet "
                             "(only 'oracle')")
        self.config = config or PlannerConfig()
        self.perception = perception

    def run(self, env: TabletopEnv, monitor: Monitor | None = None) -> EpisodeOutcome:
        monitor = monitor or Monitor()
        monitor.stage(f"planning ({self.perception} state): {env.instance.description}")
        planner = Planner(env.robot, self.config)
        world = env.oracle_world()
        plan = planner.plan(world, env.instance.goal, env.sim.arm_positions())
        steps = [a.as_dict() for a in plan.actions]
        if not plan.success:
            return EpisodeOutcome(False, steps, plan.planning_time, 0.0,
                                  f"planning failed: {plan.reason}")
        monitor.stage(f"planned {len(plan.actions)} actions in {plan.planning_time:.2f} s; "
                      "executing")
        monitor.expect_steps(int(plan.duration / env.control_dt))
        result = Executor(env, monitor.step).run(plan)
        return EpisodeOutcome(result.success, steps, plan.planning_time, result.wall_time,
                              result.failure_reason,
                              {"sim_time_s": result.sim_time, "control_steps": result.steps,
                               "planned_motion_s": plan.duration,
                               "goal_status": result.info.get("goal", {})})
