"""Letting go: pads that stall while something still touches them grip and open again."""

from __future__ import annotations

import numpy as np

from scenes.executor import RELEASE_RETRIES, Executor
from tamp.execution.plan import Segment


class _Sim:
    """Fingers that follow the command, except that they cannot open past ``jam`` (m)
    while ``jammed`` — a stand-in for a pad stuck against what it held."""

    def __init__(self, jam: float | None):
        self.width, self.cmd, self.jam = 0.04, 0.04, jam
        self.objects = {"disk": object()}
        self.commands: list[float] = []

    def arm_positions(self):
        return np.zeros(7)

    def gripper_width(self):
        return self.width

    def touching_robot(self, name):
        return self.jam is not None and self.width <= self.jam + 1e-9

    def advance(self, cmd):
        if not self.commands or self.commands[-1] != cmd:
            self.commands.append(cmd)
        step = np.clip(cmd - self.width, -0.002, 0.002)
        self.width = self.width + step
        if self.jam is not None and self.width > self.jam:
            self.width = self.jam


class _Env:
    control_dt = 0.025

    def __init__(self, sim):
        self.sim = sim

    def step(self, action):
        self.sim.advance(float(action[-1]))
        return None, 0.0, False, False, {}


def test_free_pads_open_once():
    sim = _Sim(jam=None)
    Executor(_Env(sim))._release(Segment("gripper", "release", width=0.085))
    assert sim.commands == [0.085] and abs(sim.width - 0.085) < 0.003


def test_jammed_pads_grip_and_open_again_a_bounded_number_of_times():
    sim = _Sim(jam=0.052)
    Executor(_Env(sim))._release(Segment("gripper", "release", width=0.085))
    assert sim.commands == [0.085] + [0.0, 0.085] * RELEASE_RETRIES
