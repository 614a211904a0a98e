"""The TAMP agent: plan with :class:`tamp.planner.Planner`, execute in the simulator,
look again after every pick-and-place, and replan from what is observed when the world
disagrees with the plan (an object slipped, was knocked over, a goal fact was undone).

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
from dataclasses import replace
from pathlib import Path

import numpy as np

from policies.base import EpisodeOutcome, Monitor, Policy, register_policy
from scenes.env import TabletopEnv
from scenes.executor import Executor
from tamp.execution.plan import DRIFT_DISTANCE, Action, Plan, drift
from tamp.planner import Planner, PlannerConfig, goal_holds, symbolic_state
from tamp.refine import PICK_ACTIONS
from tamp.world import WorldModel

PERCEPTION_MODES = ("oracle", "learned", "learned-geometric")
#: m of displacement that a colour mismatch costs when re-identifying objects (a match
#: must cost less); a shape mismatch costs less, as a tipped or half-hidden object can
#: look like another shape while its colour stays
MISMATCH_COST = 1.0
SHAPE_MISMATCH_COST = 0.3
#: plans made again, per episode, because the next step's object or support lies away
#: from where the plan computed its grasp or placement (not failures: nothing went
#: wrong yet; they do not count against ``max_replans``)
MAX_REFRESHES = 10
#: m: how far a perceived object may lie from its planned position before that counts
#: (a camera's pose estimates move by a few mm from one view to the next)
PERCEIVED_DRIFT_DISTANCE = 0.012
#: m added to the arm's collision spheres when judging whether it hides part of an
#: object from the camera (the spheres fit the links, not their silhouettes)
LOOK_MARGIN = 0.03


def expected_facts(action: Action) -> set[tuple[str, ...]]:
    """What must hold once a place-like action is done."""
    if action.name == "place-in":
        return {("in", *action.args)}
    if action.name in ("stack", "place", "put"):
        return {("on", *action.args)}
    if action.name == "build":  # pyramid: (build block slot below-left below-right)
        return {("on", *action.args[:2])}
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

            self.model = load_checkpoint(concepts)
        # learned perception: what was seen last, under stable names (see ``_track``)
        self._seen: dict[str, tuple[str, str, np.ndarray]] = {}
        #: stable name -> shape concept -> summed probability over the views so far
        self._shape_votes: dict[str, dict[str, float]] = {}
        self._last: dict = {}  #: stable name -> WorldObject as last seen
        self._kin = None  #: the robot's kinematics, for the self-filter (no masks)
        self._camera: np.ndarray | None = None  #: the camera's position in the world, m
        self.to_sim: dict[str, str] = {}
        self.facts = None
        self.record: dict = {}

    def observe(self, env: TabletopEnv) -> WorldModel:
        if self.perception == "oracle":
            return env.oracle_world()
        return self._perceive(env)

    def run(self, env: TabletopEnv, monitor: Monitor | None = None) -> EpisodeOutcome:
        from tamp.concepts.facts import SceneFacts
        from tamp.concepts.language import GoalError, ground_goal

        monitor = monitor or Monitor()
        words = self.goal or env.instance.description
        if self.perception != "oracle":
            monitor.stage(f"perceiving ({self.perception})")
        world = self.observe(env)
        extra = dict(self.record)
        try:
            if self.perception == "oracle" and self.goal is None:
                goal = judged = env.instance.goal  # the task's own predicates: no words
            else:
                facts = self.facts or SceneFacts.from_world(world)
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
        executor = Executor(env, monitor.step)
        t_exec = time.perf_counter()
        planning_time, planning_cpu, executed, replans, first_plan = 0.0, 0.0, [], 0, None
        refreshes = 0  #: plans made again because things lay off their planned poses
        looks = 0  #: moves home to look at the table with the arm out of the way
        reason = ""
        while True:
            if goal_holds(world, goal, domain):
                reason = ""
                break
            monitor.stage(f"planning ({self.perception} state): {words}"
                          + (f" [replan {replans}]" if replans else ""))
            plan = planner.plan(world, goal, env.sim.arm_positions())
            planned_from = world
            planning_time += plan.planning_time
            planning_cpu += plan.planning_cpu_time
            if first_plan is None:
                first_plan = [a.as_dict() for a in plan.actions]
            if not plan.success:
                reason = f"planning failed: {plan.reason}"
                break
            monitor.stage(f"planned {len(plan.actions)} actions in {plan.planning_time:.2f} s;"
                          " executing")
            monitor.expect_steps(int(plan.duration / env.control_dt))
            reason = ""
            steps, moved = steps_of(plan.actions), ""
            for k, step in enumerate(steps):
                reason = executor.run_actions(self._in_simulator_names(step))
                executed += [a.as_dict() for a in step]
                if not reason:
                    self._expect(step)
                    # (a step that ends holding something, as for a "holding" goal,
                    # keeps it where it is: the look is for the empty hand)
                    holding = any(s.holding for s in step[-1].segments[-1:])
                    world, looked = self._observe_clear(env, executor, planner,
                                                        move=not holding)
                    if looked is not None:
                        looks += 1
                        planning_time += looked.planning_time
                        planning_cpu += looked.planning_cpu_time
                    missing = set().union(*(expected_facts(a) for a in step)) - \
                        symbolic_state(world, domain)
                    if missing:
                        reason = "after " + " ".join((step[-1].name, *step[-1].args)) + \
                            ", not observed: " + ", ".join(" ".join(f) for f in sorted(missing))
                    elif k + 1 < len(steps):
                        # the next step's grasp and placement were computed for where
                        # things were expected to be; if they are not there, plan again
                        moved = drift({n: p for a in steps[k + 1] for n, p in a.expects.items()},
                                      _same_kind_poses(world, planned_from),
                                      self.drift_distance)
                        if looked is not None and not moved:
                            # from home, go straight to where the next step's first
                            # move was headed
                            back = _from_here(planner, world, env.sim.arm_positions(),
                                              steps[k + 1])
                            planning_time += back.planning_time
                            planning_cpu += back.planning_cpu_time
                            if back.success:
                                steps[k + 1] = back.actions
                            else:
                                moved = f"no way on from the viewing pose ({back.reason})"
                if reason or moved:
                    break
            if moved and refreshes < MAX_REFRESHES:
                refreshes += 1
                monitor.stage(f"{moved}; planning again from what is observed")
                continue
            if not reason:
                break
            if replans >= self.max_replans:
                reason = f"gave up after {replans} replans: {reason}"
                break
            replans += 1
            monitor.stage(f"world disagrees with the plan ({reason}); replanning")
            executor.recover()
            world, looked = self._observe_clear(env, executor, planner)
            if looked is not None:
                looks += 1
                planning_time += looked.planning_time
                planning_cpu += looked.planning_cpu_time
        result = executor.result(reason, t_exec)
        success, failure = result.success, result.failure_reason
        status = {k: bool(v) for k, v in result.info.get("goal", {}).items()}
        if self.goal is not None:
            success, failure, status = _judge(env, judged, result.failure_reason)
        if self.perception != "oracle":
            extra["simulator_names"] = dict(self.to_sim)
        return EpisodeOutcome(
            success, first_plan or [], planning_time,
            max(0.0, result.wall_time - planning_time), failure,
            {**extra, "planning_cpu_s": round(planning_cpu, 4), "sim_time_s": result.sim_time, "control_steps": result.steps,
             "replans": replans, "refreshes": refreshes, "looks": looks, "executed": executed, "goal_status": status})

    # -- learned perception -------------------------------------------------------------
    def _expect(self, step: list[Action]) -> None:
        """Learned perception: the objects that ``step`` put somewhere are expected
        there, so the next view names what it sees there after them (a box in a tray
        may look a little more like a block than it did on the table)."""
        for action in step:
            for name, pose in action.leaves.items():
                if name in self._seen:
                    self._seen[name] = (*self._seen[name][:2], pose[:2, 3].copy())
                if name in self._last:
                    self._last[name] = replace(self._last[name], pose=pose.copy())

    def _observe_clear(self, env: TabletopEnv, executor: Executor, planner: Planner,
                       move: bool = True) -> tuple[WorldModel, Plan | None]:
        """The world observed, from home if the arm hid part of it (see ``_look``; not
        when ``move`` is False); the half-hidden view is forgotten, so that it names
        nothing."""
        memory = (dict(self._seen), dict(self._last), dict(self.to_sim))
        world = self.observe(env)
        looked = self._look(env, executor, planner, world) if move else None
        if looked is not None:
            self._seen, self._last, self.to_sim = memory
            world = self.observe(env)
        return world, looked

    def _look(self, env: TabletopEnv, executor: Executor, planner: Planner,
              world: WorldModel) -> Plan | None:
        """With a camera: if the arm hides part of an object of ``world`` from it, move
        the arm home (out of the camera's view) so that the next look sees everything;
        the move made (its planning time counts), or None when none was needed or
        possible. A view half blocked by the arm fits objects too small, off-centre, or
        as something else."""
        from tamp.perception.self_filter import hidden_by, robot_filter, top_points

        if self.perception == "oracle" or self._camera is None or not world.objects:
            return None
        q, home = env.sim.arm_positions(), env.robot.home
        if np.abs(q - home).max() < 1e-3:
            return None
        self._kin = self._kin or planner.kin
        robot = robot_filter(self._kin, q,
                             env.robot.gripper.joint_for_width(env.sim.gripper_width()),
                             margin=LOOK_MARGIN)
        points = np.vstack([top_points(o) for o in world.objects.values()])
        if not hidden_by(robot, self._camera, points).any():
            return None
        move = planner.plan_transit(world, q, home, "look")
        if not move.success:
            return None
        if executor.run_actions(move.actions):
            return None
        return move

    def _perceive(self, env: TabletopEnv) -> WorldModel:
        """The world as the camera and the concept model see it, under the names of the
        first observation; the first one also fills ``facts`` and ``record``."""
        from scenes.sim import TABLE_TOP
        from tamp.concepts.runtime import perceive_scene
        from tamp.perception.scene import PerceptionConfig

        mode, exclude = "instance", None
        if self.perception == "learned-geometric":
            # no masks: the arm's own points are removed with its sphere model
            from tamp.geometry.kinematics import Kinematics
            from tamp.perception.self_filter import robot_filter

            self._kin = self._kin or Kinematics(env.robot)
            mode = "geometric"
            exclude = robot_filter(self._kin, env.sim.arm_positions(),
                                   env.robot.gripper.joint_for_width(env.sim.gripper_width()))
        # a real camera streams frames: while the arm is still, a burst of them is fused
        # (an ideal camera's frames would all be the same)
        sensor = env.camera.sensor
        if self.model is None:
            from tamp.concepts.checkpoint import checkpoint_for_camera, load_checkpoint

            self.concepts = checkpoint_for_camera(sensor.name)
            self.model = load_checkpoint(self.concepts)
        # the workcell's table is level at a known height: the camera pose is refined
        # against it (a hand-eye calibration error shows as a tilted table)
        config = PerceptionConfig(segmentation=mode, noise=sensor.depth_noise(),
                                  table_height=TABLE_TOP)
        frames = env.capture() if sensor.ideal else env.capture_burst(config.depth.frames)
        scene = perceive_scene(frames, self.model, config, exclude)
        self._camera = scene.percept.camera_position
        facts = scene.facts
        attrs = {n: (facts.attribute(n, "color")[0], facts.attribute(n, "shape")[0])
                 for n in facts.names}
        xy = {o.name: o.fit.pose[:2, 3] for o in scene.percept.objects}
        rename = self._track(attrs, xy)
        scene = self._consistent_shapes(scene, rename)
        truth = env.oracle_world()
        for o in scene.percept.objects:
            # only the simulated executor's grasp monitor needs the body it carries: the
            # points' instance label, else the nearest body; the planner never sees it
            self.to_sim[rename[o.name]] = o.cloud.source or min(
                truth.objects, key=lambda n: np.linalg.norm(truth.objects[n].position[:2]
                                                            - xy[o.name]))
        objects = {rename[n]: replace(o, name=rename[n]) for n, o in scene.world.objects.items()}
        # an object out of sight now (hidden, or in the hand) is where it was last seen
        # (unless something seen now of its colour and kind stands where it was: then
        # that is it, and the earlier view saw it in two pieces)
        objects = {**{n: o for n, o in self._last.items()
                      if n not in objects and not _seen_again(o, objects.values())},
                   **objects}
        self._last = objects
        # the table's marked places (towers-of-hanoi's place_1..3, the pyramid's bottom
        # slots) are fixed markings of the workcell, known to the robot like a map and not
        # objects the camera segments: they come from the scene's layout, not from any
        # object's ground truth
        zones = {z.name: z for z in env.instance.zones}
        world = replace(scene.world, objects=objects, zones=zones)
        if self.facts is None:
            from tamp.concepts.definitions import characteristic_size

            # sizes from the fitted primitives (a disk's perceived radius), for goals that
            # order objects by size
            sizes = tuple(characteristic_size(scene.world.objects[n].shape)
                          for n in facts.names)
            self.facts = replace(facts, names=tuple(rename[n] for n in facts.names),
                                 places=tuple(zones), sizes=sizes)
            self.record = {**_record(scene, self.facts, rename, self.to_sim),
                           "concepts_checkpoint": Path(self.concepts).name}
        return world

    def _consistent_shapes(self, scene, rename: dict[str, str]):
        """``scene`` with each object's shape the one its views so far support most
        (summed probabilities under its stable name): an object does not change shape
        between views, but a view of it half covered (a disk under a smaller one shows
        a ring) can read as another shape. Refitted where a shape changes."""
        from tamp.concepts.definitions import SHAPE_KIND
        from tamp.perception.scene import refit, world_model

        facts = scene.facts
        shapes, changed = {}, False
        for n in facts.names:
            shape, p = facts.attribute(n, "shape")
            votes = self._shape_votes.setdefault(rename[n], {})
            votes[shape] = votes.get(shape, 0.0) + p
            shapes[n] = max(votes, key=votes.get)
            changed |= shapes[n] != shape
        if not changed:
            return scene
        percept = refit(scene.percept, {n: SHAPE_KIND[v] for n, v in shapes.items()})
        world = world_model(percept, {n: (shapes[n], facts.attribute(n, "color")[0])
                                      for n in facts.names})
        return replace(scene, percept=percept, world=replace(world, zones=scene.world.zones))

    def _track(self, attrs: dict[str, tuple[str, str]], xy: dict[str, np.ndarray]
               ) -> dict[str, str]:
        """Perceived names -> stable names: each object is matched to the one seen before
        of the same colour (and shape, preferably) that moved least (one assignment for
        all); an object never seen before gets a new name."""
        from scipy.optimize import linear_sum_assignment

        new = list(attrs)
        old = list(self._seen)
        rename = {}
        if old and new:
            cost = np.array([[np.linalg.norm(xy[n] - self._seen[o][2])
                              + MISMATCH_COST * (attrs[n][0] != self._seen[o][0])
                              + SHAPE_MISMATCH_COST * (attrs[n][1] != self._seen[o][1])
                              for o in old] for n in new])
            rows, cols = linear_sum_assignment(cost)
            rename = {new[r]: old[c] for r, c in zip(rows, cols)
                      if cost[r, c] < MISMATCH_COST}
        taken = set(rename.values()) | set(self._seen)
        k = 0
        for n in new:
            if n not in rename:
                while f"obj_{k}" in taken:
                    k += 1
                rename[n] = f"obj_{k}"
                taken.add(rename[n])
        for n in new:
            self._seen[rename[n]] = (*attrs[n], xy[n])
        return rename

    def _in_simulator_names(self, actions: list[Action]) -> list[Action]:
        """The actions with each carried object named as the simulator names it."""
        if self.perception == "oracle":
            return actions
        return [replace(a, segments=tuple(
            replace(s, holding=self.to_sim.get(s.holding, s.holding)) if s.holding else s
            for s in a.segments)) for a in actions]


def _from_here(planner: Planner, world: WorldModel, q: np.ndarray,
               step: list[Action]) -> Plan:
    """``step`` starting from ``q``: its first move replaced by a transit from ``q`` to
    where that move ends (the first move of a step is the empty hand's transit)."""
    for i, a in enumerate(step):
        for j, seg in enumerate(a.segments):
            if seg.kind != "move":
                continue
            if seg.holding:
                return Plan(False, reason="the step starts by carrying something")
            move = planner.plan_transit(world, q, seg.trajectory.positions[-1], seg.label)
            if not move.success:
                return move
            first = replace(a, segments=a.segments[:j] + move.actions[0].segments
                            + a.segments[j + 1:])
            return replace(move, actions=step[:i] + [first] + step[i + 1:])
    return Plan(True, list(step))


def _seen_again(remembered, seen) -> bool:
    """Whether an object of ``seen`` has the colour and category of ``remembered`` and
    stands where it stood (its centre within the other's footprint, at its height)."""
    from tamp.geometry.placements import footprint_half

    for o in seen:
        if (o.color, o.category) != (remembered.color, remembered.category):
            continue
        reach = max(max(footprint_half(o)), max(footprint_half(remembered)))
        if np.linalg.norm(o.position[:2] - remembered.position[:2]) < reach and \
                abs(o.position[2] - remembered.position[2]) < 0.5 * o.shape.height:
            return True
    return False


def _same_kind_poses(world: WorldModel, planned_from: WorldModel) -> dict:
    """Observed poses of the objects still seen as what the plan took them for (same
    category and shape kind). A camera view in which the arm hides most of an object can
    fit it as something else, thinner and off-centre; such a view is no reason to plan
    again, and no better a state to plan from."""
    out = {}
    for name, obj in world.objects.items():
        before = planned_from.objects.get(name)
        if before is not None and (obj.category, obj.shape.kind) == \
                (before.category, before.shape.kind):
            out[name] = obj.pose
    return out


def _record(scene, facts, rename: dict[str, str], to_sim: dict[str, str]) -> dict:
    """What the first observation saw, for the result file."""
    objects = []
    for o in scene.percept.objects:
        name = rename[o.name]
        attrs = {g: facts.attribute(name, g) for g in facts.groups}
        objects.append({
            "name": name, **{g: v for g, (v, _) in attrs.items()},
            **{f"{g}_confidence": round(p, 4) for g, (_, p) in attrs.items()},
            "primitive": o.fit.kind, "size_m": [round(float(v), 4) for v in o.fit.shape.size],
            "position_m": [round(float(v), 4) for v in o.fit.pose[:3, 3]],
            "points": o.cloud.n,
            "resting_on": rename.get(o.support, "table") if o.support else "table",
            "simulator_name": to_sim[name]})
    return {"perception_time_s": round(scene.perception_s, 4),
            "concepts_time_s": round(scene.concepts_s, 4),
            "perceived_objects": objects,
            "perceived_facts": [{"fact": " ".join(f), "confidence": round(p, 4)}
                                for f, p in facts.facts()]}


def _judge(env: TabletopEnv, atoms, failure: str) -> tuple[bool, str, dict[str, bool]]:
    """Whether every goal atom (simulator names) holds in ground truth: success, the
    reason if not, and the status of each atom."""
    from scenes.tasks import make_task
    from tamp.concepts.definitions import relation_holds

    world, truth = env.oracle_world(), env.object_truth()
    status = {}
    for atom in sorted(atoms):
        try:
            status[" ".join(atom)] = bool(env.task.holds(atom, world, truth))
        except ValueError:  # a predicate this task does not know
            if atom[0] == "holding":  # as the lift task defines it
                status[" ".join(atom)] = bool(make_task("lift").holds(atom, world, truth))
            else:  # a relation, by its concept's definition, and at rest
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

    def __init__(self, config: PlannerConfig | None = None, max_replans: int = 3,
                 goal: str | None = None, concepts: str | Path | None = None):
        super().__init__(config, self.perception_mode, max_replans, goal, concepts)


@register_policy("tamp-learned-geometric")
class GeometricTampPolicy(LearnedTampPolicy):
    """As ``tamp-learned``, segmented without masks (table-plane fit and clustering), as
    on a real depth camera."""

    perception_mode = "learned-geometric"
