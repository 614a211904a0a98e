"""The simulator behind the agent's two seams (:mod:`tamp.execution.interfaces`): the
scene camera as a frame source, the ground truth as the oracle's perceiver, and the
simulated executor as the actuator.

Only here does the closed loop touch PyBullet. Ground truth leaves this module in two
named places only: :class:`OraclePerceiver` (the ``oracle`` perception mode), and the
binding of perceived objects to the simulator's bodies that the *simulated executor's*
grasp monitor needs (:func:`nearest_body`); the planner never sees either.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from scenes.camera import CameraFrame
from scenes.env import TabletopEnv
from scenes.executor import Executor
from tamp.execution.plan import Action
from tamp.world import WorldModel


class SimCamera:
    """The environment's scene camera as a :class:`~tamp.execution.interfaces.FrameSource`."""

    def __init__(self, env: TabletopEnv):
        self.env = env
        self.name = env.camera.sensor.name
        self.ideal = env.camera.sensor.ideal

    def depth_noise(self):
        return self.env.camera.sensor.depth_noise()

    def frames(self, n: int) -> Sequence[CameraFrame]:
        return [self.env.capture()] if self.ideal else self.env.capture_burst(n)


def robot_state(env: TabletopEnv) -> Callable[[], tuple[np.ndarray, float]]:
    """The arm's joint positions (rad) and the gripper joint, as encoders report them."""
    def state() -> tuple[np.ndarray, float]:
        sim = env.sim
        return sim.arm_positions(), env.robot.gripper.joint_for_width(sim.gripper_width())
    return state


def nearest_body(env: TabletopEnv) -> Callable[[np.ndarray], str]:
    """ORACLE BINDING, for the simulated executor only: the simulator body nearest to a
    perceived object's centre (x, y), m. The simulated executor's grasp monitor asks the
    simulator about "the body it carries"; a perceived object without an instance label
    is bound to a body this way. A real robot's executor needs no such thing: its gripper
    reports whether it holds something."""
    def bind(xy: np.ndarray) -> str:
        truth = env.oracle_world()
        return min(truth.objects,
                   key=lambda n: np.linalg.norm(truth.objects[n].position[:2] - xy))
    return bind


class OraclePerceiver:
    """ORACLE: the simulator's ground truth as the observed world (``oracle`` mode)."""

    camera_position = None
    facts = None

    def __init__(self, env: TabletopEnv):
        self.env = env
        self.record: dict = {}
        self.bindings: dict[str, str] = {}

    def observe(self) -> WorldModel:
        return self.env.oracle_world()

    def expect(self, step) -> None:
        pass

    def remember(self):
        return None

    def forget_since(self, snapshot) -> None:
        pass


class SimActuator:
    """The simulated executor (:class:`scenes.executor.Executor`) as an
    :class:`~tamp.execution.interfaces.Actuator`. ``bindings`` returns the map from the
    names the agent uses to the simulator's body names (learned perception names objects
    itself); None: the same names (the oracle's)."""

    def __init__(self, env: TabletopEnv, on_step=None,
                 bindings: Callable[[], dict[str, str]] | None = None):
        self.env = env
        self.executor = Executor(env, on_step)
        self.bindings = bindings

    def arm_positions(self) -> np.ndarray:
        return self.env.sim.arm_positions()

    def gripper_width(self) -> float:
        return self.env.sim.gripper_width()

    def run_actions(self, actions: Sequence[Action]) -> str:
        return self.executor.run_actions(self._simulator_names(actions))

    def recover(self) -> None:
        self.executor.recover()

    def _simulator_names(self, actions: Sequence[Action]) -> list[Action]:
        """The actions with each carried object named as the simulator names it."""
        from dataclasses import replace

        if self.bindings is None:
            return list(actions)
        to_sim = self.bindings()
        return [replace(a, segments=tuple(
            replace(s, holding=to_sim.get(s.holding, s.holding)) if s.holding else s
            for s in a.segments)) for a in actions]
