"""The TAMP agent: plan with :class:`tamp.planner.Planner`, execute, look again after every
pick-and-place, and replan from what is observed when the world disagrees with the plan
(an object slipped, was knocked over, a goal fact was undone).

The loop (:class:`tamp.execution.loop.ClosedLoop`) talks only to a perceiver and an actuator
(:mod:`tamp.execution.interfaces`); :class:`TampPolicy` runs it in the simulator
(:mod:`scenes.agent_io`), ``tamp deploy --goal`` on a robot over ROS.

Where the observed state comes from (``perception``):

* ``oracle``: the simulator's ground truth;
* ``learned``: the camera, segmented with the simulator's instance masks, with objects
  named and described by the learned concept model (:mod:`tamp.concepts`);
* ``learned-geometric``: the same without masks (table-plane fit and clustering).

The goal is the task's predicate goal, or, with learned perception or ``goal`` words,
those words grounded by :mod:`tamp.concepts.language` in the state the planner sees.
Success is always judged on the simulator's ground truth.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path


from policies.base import EpisodeOutcome, Monitor, Policy, option, register_policy
from scenes.env import TabletopEnv
from tamp.execution.interfaces import Perceiver
from tamp.execution.loop import PERCEIVED_DRIFT_DISTANCE, ClosedLoop
from tamp.execution.plan import DRIFT_DISTANCE
from tamp.planner import Planner, PlannerConfig
from tamp.world import WorldModel

PERCEPTION_MODES = ("oracle", "learned", "learned-geometric")


@dataclass(frozen=True)
class LearnedTampOptions:
    """What the TAMP agent with its perception fixed (tamp-learned...) takes."""

    config: PlannerConfig | None = option(
        None, "the planner's settings (seed, --time-budget, --planner-config)")
    max_replans: int = option(3, "replans after a failed step before giving up")
    goal: str | None = option(None, "the goal in words (--goal); None: the task's")
    concepts: str | Path | None = option(
        None, "concept checkpoint (--concepts); None: the shipped one of the camera")


@dataclass(frozen=True)
class TampOptions(LearnedTampOptions):
    """What the TAMP agent takes."""

    perception: str = option("oracle", "where the state comes from (--perception): "
                                       + ", ".join(PERCEPTION_MODES))


@register_policy("tamp")
class TampPolicy(Policy):
    Options = TampOptions

    def __init__(self, config: PlannerConfig | None = None, perception: str = "oracle",
                 max_replans: int = 3, goal: str | None = None,
                 concepts: str | Path | None = None):
        if perception not in PERCEPTION_MODES:
            raise ValueError(f"unknown perception mode '{perception}'; known: "
                             f"{', '.join(PERCEPTION_MODES)}")
        self.config = config or PlannerConfig()
        self.perception = perception
        self.max_replans = max_replans
        self.drift_distance = DRIFT_DISTANCE if perception == "oracle" else \
            PERCEIVED_DRIFT_DISTANCE
        self.goal = goal
        self.model = None
        #: the concept checkpoint; None: the shipped one for the episode's camera model
        self.concepts = concepts
        if perception != "oracle" and concepts is not None:
            from tamp.concepts.checkpoint import load_checkpoint

            self.model = load_checkpoint(concepts, self.config.device)
        self.perceiver: Perceiver | None = None  #: made per episode (see ``perceiver_for``)

    def perceiver_for(self, env: TabletopEnv) -> Perceiver:
        """The episode's perceiver: ground truth (oracle) or the learned one on the scene
        camera, its concept model on the planner's device (``config.device``)."""
        from scenes.agent_io import OraclePerceiver, SimCamera, nearest_body, robot_state

        if self.perception == "oracle":
            return OraclePerceiver(env)
        from scenes.sim import TABLE_TOP
        from tamp.concepts.perceiver import LearnedPerceiver

        return LearnedPerceiver(
            SimCamera(env), env.robot, self.perception, robot_state(env),
            table_height=TABLE_TOP, zones={z.name: z for z in env.instance.zones},
            concepts=self.concepts, model=self.model, bind=nearest_body(env),
            device=self.config.device)

    def observe(self, env: TabletopEnv) -> WorldModel:
        """One observation of ``env`` by this episode's perceiver (made on first use)."""
        if self.perceiver is None:
            self.perceiver = self.perceiver_for(env)
        return self.perceiver.observe()

    @property
    def facts(self):
        return None if self.perceiver is None else self.perceiver.facts

    @property
    def to_sim(self) -> dict[str, str]:
        """Perceived name -> simulator body name (learned perception)."""
        return {} if self.perceiver is None else dict(self.perceiver.bindings)

    def run(self, env: TabletopEnv, monitor: Monitor | None = None) -> EpisodeOutcome:
        from scenes.agent_io import SimActuator
        from tamp.concepts.facts import SceneFacts
        from tamp.concepts.goal_grounding import GoalError, ground_goal

        monitor = monitor or Monitor()
        words = self.goal or env.instance.description
        if self.perception != "oracle":
            monitor.stage(f"perceiving ({self.perception})")
        self.perceiver = perceiver = self.perceiver_for(env)
        world = perceiver.observe()
        extra = dict(perceiver.record)
        try:
            if self.perception == "oracle" and self.goal is None:
                goal = judged = env.instance.goal  # the task's own predicates: no words
            else:
                facts = perceiver.facts or SceneFacts.from_world(world)
                grounded = ground_goal(words, facts)
                goal = grounded.atoms
                extra["goal_bindings"] = [{"words": b.description, "objects": list(b.objects),
                                           "confidence": round(b.confidence, 4)}
                                          for b in grounded.bindings]
                # judged on the task's goal, or on the words grounded in ground truth
                judged = env.instance.goal if self.goal is None else \
                    ground_goal(words, SceneFacts.from_world(env.oracle_world())).atoms
        except GoalError as err:
            return EpisodeOutcome(False, failure_reason=f"goal '{words}': {err}", extra=extra)
        extra["goal_atoms"] = [" ".join(a) for a in sorted(goal)]
        if self.goal is not None:
            extra["goal_facts"] = [" ".join(a) for a in sorted(judged)]
        domain = env.instance.domain  # the PDDL domain the task's goal is stated in
        planner = Planner(env.robot, replace(self.config, domain=domain))
        actuator = SimActuator(env, monitor.step, None if self.perception == "oracle"
                               else (lambda: perceiver.bindings))
        loop = ClosedLoop(perceiver, actuator, planner, env.robot, self.max_replans,
                          self.drift_distance, camera=self.perception != "oracle",
                          monitor=monitor, control_dt=env.control_dt, label=self.perception)
        t_exec = time.perf_counter()
        out = loop.run(world, goal, domain, words)
        result = actuator.executor.result(out.reason, t_exec)
        success, failure = result.success, result.failure_reason
        status = {k: bool(v) for k, v in result.info.get("goal", {}).items()}
        if self.goal is not None:
            success, failure, status = _judge(env, judged, result.failure_reason)
        if self.perception != "oracle":
            extra["simulator_names"] = dict(perceiver.bindings)
        return EpisodeOutcome(
            success, out.first_plan, out.planning_time,
            max(0.0, result.wall_time - out.planning_time), failure,
            {**extra, "planning_cpu_s": round(out.planning_cpu, 4),
             "sim_time_s": result.sim_time, "control_steps": result.steps,
             "robot_time": result.robot_time(env.robot, self.config.speed_scale),
             "timing": self.config.timing,
             "replans": out.replans, "relooks": out.relooks, "refreshes": out.refreshes,
             "looks": out.looks,
             "look_extra_s": round(out.look_extra, 3),
             "executed": out.executed, "goal_status": status})


def _judge(env: TabletopEnv, atoms, failure: str) -> tuple[bool, str, dict[str, bool]]:
    """Whether every goal atom (simulator names) holds in ground truth: success, the
    reason if not, and the status of each atom."""
    from tamp.concepts.definitions import relation_holds

    world, truth = env.oracle_world(), env.object_truth()
    status = {}
    for atom in sorted(atoms):
        try:
            status[" ".join(atom)] = bool(env.task.holds(atom, world, truth))
        except ValueError:  # a relation, by its concept's definition, and at rest
            a, b = world.objects[atom[1]], world.objects[atom[2]]
            status[" ".join(atom)] = bool(relation_holds(atom[0], a, b)
                                          and truth.resting[a.name])
    if all(status.values()):
        return True, "", status
    failed = [k for k, v in status.items() if not v]
    return False, failure or "goal not reached: " + ", ".join(failed), status


@register_policy("tamp-learned")
class LearnedTampPolicy(TampPolicy):
    """The TAMP agent planning from the camera: the simulator's instance masks, objects
    named and described by the learned concept model, the goal's words grounded in what
    it sees (a column of its own in ``tamp bench episodes``)."""

    perception_mode = "learned"
    Options = LearnedTampOptions

    def __init__(self, config: PlannerConfig | None = None, max_replans: int = 3,
                 goal: str | None = None, concepts: str | Path | None = None):
        super().__init__(config, self.perception_mode, max_replans, goal, concepts)


@register_policy("tamp-learned-geometric")
class GeometricTampPolicy(LearnedTampPolicy):
    """As ``tamp-learned``, segmented without masks (table-plane fit and clustering), as
    on a real depth camera."""

    perception_mode = "learned-geometric"
