"""The motion primitives every method shares: pick an object and put it somewhere.

The TAMP agent, the imitation policies and the VLM planner differ only in *what* they ask
for; *how* it is done is the same for all of them (the comparison is fair):

* :meth:`Primitives.pick_place` — a symbolic step, e.g. ``("place-in", "b1", "bowl")``,
  ``("stack", "b1", "b2")``, ``("put", "d1", "peg_2")``, ``("place", "b1", "table")``;
* :meth:`Primitives.pick_place_at` — put the object at a position chosen by the caller
  (an imitation policy's output): it rests on whatever is under that point.

Both refine one pick-and-place with the planner's streams (grasp, placement, IK, OMPL
motion; the same code as :class:`tamp.planner.Planner`), then execute it in the simulator
with the same monitors. A step that cannot be refined or executed comes back as a
:class:`StepOutcome` with the reason; nothing raises for a bad request.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace

import numpy as np

from scenes.env import TabletopEnv
from scenes.executor import Executor
from tamp.execution.plan import Action
from tamp.geometry import placements as pl
from tamp.domains import GENERIC_STREAMS, get_domain
from tamp.planner import Planner, PlannerConfig
from tamp.refine import RefinementError
from tamp.world import WorldModel


@dataclass
class StepOutcome:
    """One pick-and-place: done, or why not."""

    ok: bool
    reason: str = ""
    actions: list[Action] = field(default_factory=list)
    planning_time_s: float = 0.0

    @property
    def plan(self) -> list[dict]:
        return [a.as_dict() for a in self.actions]


def support_at(world: WorldModel, obj: str, xy) -> tuple[str, pl.Region]:
    """The highest surface under the point ``xy`` (m, world) that ``obj`` could rest on:
    the top of a block, the floor of a bowl or tray, else the table."""
    best = ("table", pl.table_region(world))
    for other in world.objects.values():
        if other.name == obj:
            continue
        region = pl.support_region(other)
        local = np.linalg.inv(region.frame) @ np.array([xy[0], xy[1], region.height, 1.0])
        if region.kind == "disk":
            inside = math.hypot(local[0], local[1]) <= region.half[0]
        else:
            inside = abs(local[0]) <= region.half[0] and abs(local[1]) <= region.half[1]
        if inside and region.height > best[1].height:
            best = (other.name, region)
    return best


def pose_at(world: WorldModel, obj: str, xy, yaw: float | None = None
            ) -> tuple[np.ndarray, str]:
    """The pose (4x4, bottom centre) at which ``obj`` rests at ``xy`` with ``yaw`` (rad,
    world; default: its present yaw), and the name of what it rests on."""
    o = world.objects[obj]
    if yaw is None:
        yaw = math.atan2(o.pose[1, 0], o.pose[0, 0])
    support, region = support_at(world, obj, xy)
    pose = np.eye(4)
    c, s = math.cos(yaw), math.sin(yaw)
    pose[:2, :2] = [[c, -s], [s, c]]
    pose[:3, 3] = (float(xy[0]), float(xy[1]), region.height + pl.PlacementConfig().drop_height)
    return pose, support


class Primitives:
    """Refine and execute single pick-and-place steps in ``env`` (already reset)."""

    def __init__(self, env: TabletopEnv, config: PlannerConfig | None = None,
                 on_step=None):
        self.env = env
        self.domain = env.instance.domain
        self.config = replace(config or PlannerConfig(), domain=self.domain)
        self.planner = Planner(env.robot, self.config)
        self.executor = Executor(env, on_step)
        self.steps_done = 0

    def world(self) -> WorldModel:
        return self.env.oracle_world()

    def pick_place(self, place_action: tuple[str, ...], world: WorldModel | None = None,
                   context: dict | None = None) -> StepOutcome:
        """Refine and execute the pick of ``place_action[1]`` and ``place_action``."""
        world = world or self.world()
        name = place_action[0] if place_action else ""
        domain = get_domain(self.domain)
        if not domain.places_things(name):
            known = sorted({*domain.streams, *GENERIC_STREAMS})
            return StepOutcome(False, f"unknown place action '{name}'; known: "
                                      f"{', '.join(known)}")
        # what the step may name: objects, marked places, and whatever else the task's
        # domain knows (e.g. the pyramid's slots)
        known = set(world.objects) | set(world.zones) | {"table"} | \
            set(domain.types(world))
        missing = [a for a in place_action[1:] if a not in known]
        if missing or len(place_action) < 3:
            return StepOutcome(False, f"'{' '.join(place_action)}' names unknown objects: "
                                      f"{', '.join(missing) or 'too few arguments'}")
        t0 = time.perf_counter()
        try:
            actions = self.planner.refine_step(world, tuple(place_action),
                                               self.env.sim.arm_positions(),
                                               self.config.seed + self.steps_done, context)
        except RefinementError as err:
            return StepOutcome(False, str(err), [], time.perf_counter() - t0)
        planning = time.perf_counter() - t0
        self.steps_done += 1
        reason = self.executor.run_actions(actions)
        if reason:
            self.executor.recover()
        return StepOutcome(not reason, reason, actions, planning)

    def pick_place_at(self, obj: str, xy, yaw: float | None = None,
                      world: WorldModel | None = None) -> StepOutcome:
        """Pick ``obj`` and set it down at ``xy`` (m, world) on whatever is there."""
        world = world or self.world()
        if obj not in world.objects:
            return StepOutcome(False, f"unknown object '{obj}'")
        pose, support = pose_at(world, obj, xy, yaw)
        return self.pick_place(("place-at", obj, support), world, {"pose": pose})

    def finish(self, reason: str, t0: float):
        """The episode's verdict from ground truth (see :meth:`Executor.result`)."""
        return self.executor.result(reason, t0)
