"""The executor's grasp monitor on a stand-in simulator: an object held off-centre (a
bowl by its rim) may turn about the pads, but not slide out of them."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from scenes.executor import SLIP_TOLERANCE, Executor
from tamp.execution.plan import Segment
from tamp.geometry.transforms import rpy_pose, translation
from tamp.world import Shape, WorldObject

BOWL = Shape("bowl", (0.13, 0.09, 0.05))


class FakeSim:
    def __init__(self):
        self.objects = {"bowl": WorldObject("bowl", "bowl", "red", BOWL, np.eye(4))}
        self.obj = translation((0.5, 0.0, 0.0))
        self.tcp = translation((0.5 + 0.12, 0.0, 0.04))  # at the rim, 12 cm off centre
        self.width = 0.008  # pads on the wall
        self.touching = True

    def arm_positions(self):
        return np.zeros(7)

    def gripper_width(self):
        return self.width

    def tcp_pose(self):
        return self.tcp

    def object_pose(self, name):
        return self.obj

    def touching_robot(self, name):
        return self.touching


def _executor():
    sim = FakeSim()
    return Executor(SimpleNamespace(sim=sim, control_dt=0.025)), sim


CLOSE = Segment("gripper", "close", width=0.0, holding="bowl")
LIFT = Segment("move", "lift", holding="bowl")


def test_a_bowl_lifted_by_its_rim_may_turn_about_the_pads():
    ex, sim = _executor()
    assert ex._check(CLOSE) == ""
    # lifted 10 cm and swung 20 degrees about the pads: the held point stays at the TCP
    sim.tcp = translation((0.62, 0.0, 0.14))
    grip = np.array([0.12, 0.0, 0.04, 1.0])  # the TCP in the bowl's frame at the close
    turn = rpy_pose((0, 0, 0), (0.0, np.radians(20), 0.0))
    sim.obj = translation(sim.tcp[:3, 3]) @ turn @ translation(-grip[:3])
    assert np.linalg.norm(sim.obj[:3, 3] - sim.tcp[:3, 3]) > 0.08  # far off the TCP
    assert ex._check(LIFT) == ""


def test_a_bowl_sliding_out_of_the_pads_is_reported():
    ex, sim = _executor()
    ex._check(CLOSE)
    sim.tcp = translation((0.62, 0.0, 0.14))
    sim.obj = translation((0.5, 0.0, 0.1 - SLIP_TOLERANCE - 0.01))  # slid down the pads
    assert "slipped" in ex._check(LIFT)
    sim.obj = translation((0.5, 0.0, 0.1))  # where it should be, but let go of
    sim.touching = False
    assert "slipped" in ex._check(LIFT)
    sim.touching = True
    assert ex._check(LIFT) == ""


def test_pads_closed_on_nothing_fail_the_grasp():
    ex, sim = _executor()
    sim.width = 0.001
    assert "grasp of bowl failed" in ex._check(CLOSE)
