"""The robot's actuator over a transport and a gripper driver: the gripper's object
detection is the truth about holding (a close on nothing, an object lost in transit stop
the step with a reason), every motion passes the safety checks, and a controller that
fails a goal stops the step. The transport records what would go on the wire; the
gripper is a TEST DOUBLE with the driver port's methods (the real driver is tested
against the register simulator in tests/robots/robotiq and end to end with the twin)."""

from __future__ import annotations

import numpy as np
import pytest

from robots.ros.actuator import RosActuator
from robots.ros.safety import JointStateSample
from robots.ros.deploy import DeployConfig, Deployer
from tamp.execution.plan import Action, Segment
from tamp.geometry.timing import Trajectory


def fresh_state(names, positions) -> JointStateSample:
    """A joint state measured now."""
    import time

    return JointStateSample(tuple(names), np.asarray(positions, float), time.monotonic())


class GripperDouble:
    """TEST DOUBLE of :class:`robots.ros.gripper.RobotiqPort`: closes on an object unless
    ``empty``; drops it (gOBJ no longer 2) after ``drop_after`` status reads."""

    def __init__(self, empty: bool = False, drop_after: int | None = None):
        self.empty = empty
        self.drop_after = drop_after
        self.reads = 0
        self.widths: list[float] = []

    def set_width(self, width: float) -> str:
        self.widths.append(width)
        if width == 0.0 and self.empty:
            raise RuntimeError("closed without meeting the object: gripper reached at 0.0 mm")
        return f"gripper to {width * 1000:.0f} mm"

    def holding(self) -> bool:
        self.reads += 1
        return self.drop_after is None or self.reads <= self.drop_after

    def status(self):
        raise OSError("no status in the double")


def _move(robot, label, holding=None, start=None, end=None):
    start = robot.home if start is None else start
    end = start + 0.05 if end is None else end
    times = np.linspace(0.0, 1.0, 11)
    q = start + (end - start) * times[:, None]
    return Segment("move", label, Trajectory(times, q), holding=holding)


def _pick_place(robot):
    q0, q1, q2 = robot.home, robot.home + 0.05, robot.home + 0.1
    pick = Action("pick", ("obj_1", "table"), (
        Segment("gripper", "open", width=0.07), _move(robot, "approach", None, q0, q1),
        Segment("gripper", "close", width=0.0, holding="obj_1"),
        _move(robot, "lift", "obj_1", q1, q2)))
    place = Action("place-in", ("obj_1", "obj_5"), (
        _move(robot, "transfer", "obj_1", q2, q1),
        Segment("gripper", "release", width=0.085), _move(robot, "retreat", None, q1, q0)))
    return [pick, place]


@pytest.fixture
def actuator(robot, recording_transport):
    def make(gripper, **config):
        state = fresh_state(robot.arm_joints, robot.home)
        transport = recording_transport(robot.arm_joints, state, moves=True)
        deployer = Deployer(transport, robot, DeployConfig(execute=True, settle_time=0.0,
                                                           **config), gripper=gripper)
        return RosActuator(deployer, robot, gripper), transport
    return make


def test_a_pick_and_place_goes_on_the_wire_in_order(actuator, robot):
    gripper = GripperDouble()
    act, transport = actuator(gripper)
    assert act.run_actions(_pick_place(robot)) == ""
    assert len(transport.sent) == 4 and act.motions == 4
    assert gripper.widths == [0.07, 0.0, 0.085]
    np.testing.assert_allclose(transport.sent[-1].positions[-1], robot.home, atol=1e-9)


def test_a_close_that_meets_nothing_stops_the_step(actuator, robot):
    act, transport = actuator(GripperDouble(empty=True))
    reason = act.run_actions(_pick_place(robot))
    assert reason.startswith("grasp of obj_1 failed") and "closed without meeting" in reason
    assert len(transport.sent) == 1  # the approach; no lift


def test_an_object_lost_in_transit_stops_the_step(actuator, robot):
    act, transport = actuator(GripperDouble(drop_after=1))  # held after the lift only
    reason = act.run_actions(_pick_place(robot))
    assert reason == "obj_1 slipped out of the gripper during transfer (gOBJ)"
    assert len(transport.sent) == 3  # approach, lift, transfer; no release or retreat


def test_a_motion_the_safety_checks_refuse_is_not_sent(actuator, robot):
    act, transport = actuator(GripperDouble())
    beyond = robot.upper + 0.2
    bad = Action("move", ("look",), (_move(robot, "look", None, robot.home, beyond),))
    reason = act.run_actions([bad])
    assert "refused by the safety checks" in reason and transport.sent == []


def test_a_dry_run_deployer_cannot_be_an_actuator(robot, recording_transport):
    transport = recording_transport(robot.arm_joints, fresh_state(robot.arm_joints, robot.home))
    with pytest.raises(ValueError, match="execute=True"):
        RosActuator(Deployer(transport, robot, DeployConfig(execute=False)), robot)


@pytest.mark.parametrize("outcome, code, words", [
    ("REJECTED", -1, "rejected, INVALID_GOAL (-1)"),
    ("ABORTED", -4, "aborted, PATH_TOLERANCE_VIOLATED (-4)")])
def test_a_goal_the_controller_rejects_or_aborts_stops_the_step(robot, recording_transport,
                                                                 outcome, code, words):
    """The controller's verdict is the step's: a rejected goal, or a tracking error,
    ends the step with the controller's code (the loop then looks and replans)."""
    from robots.ros.transport import ControllerResult, GoalHandle, Outcome

    class Failed(GoalHandle):
        def done(self) -> bool:
            return True

        def result(self) -> ControllerResult:
            return ControllerResult(Outcome[outcome], code, "as the controller said")

        def cancel(self) -> None:
            pass

    class Refusing(recording_transport):
        def send_goal(self, traj):
            self._record(traj)
            return Failed()

    transport = Refusing(robot.arm_joints, fresh_state(robot.arm_joints, robot.home), moves=True)
    gripper = GripperDouble()
    act = RosActuator(Deployer(transport, robot, DeployConfig(execute=True, settle_time=0.0)),
                      robot, gripper)
    reason = act.run_actions(_pick_place(robot))
    assert reason.startswith("pick obj_1 table: approach: controller: ") and words in reason
    assert len(transport.sent) == 1 and gripper.widths == [0.07]  # nothing after it


def test_a_gripper_fault_mid_step_stops_the_step_with_the_driver_error(robot,
                                                                        recording_transport):
    """A driver fault (here the link lost while letting go) is the step's reason, typed
    and named; the retreat after it is not sent."""
    from robots.robotiq.errors import LinkLostError

    class Faulty(GripperDouble):
        def set_width(self, width: float) -> str:
            if width == 0.085:
                raise LinkLostError("no answer from the gripper for 1.0 s")
            return super().set_width(width)

    transport = recording_transport(robot.arm_joints, fresh_state(robot.arm_joints, robot.home),
                                    moves=True)
    act = RosActuator(Deployer(transport, robot, DeployConfig(execute=True, settle_time=0.0)),
                      robot, Faulty())
    reason = act.run_actions(_pick_place(robot))
    assert reason == ("place-in obj_1 obj_5: release: gripper: LinkLostError: no answer from "
                      "the gripper for 1.0 s")
    assert len(transport.sent) == 3  # approach, lift, transfer; no retreat


def _smooth(robot, label, start, end, holding=None, end_kind="flow", rest_start=True,
            rest_end=False):
    """A move from ``start`` to ``end`` that starts and ends at rest or moving (a cubic
    in time), as the flow timing makes them."""
    from tamp.geometry.timing import Trajectory

    t = np.linspace(0.0, 1.0, 41)
    s = {(True, True): 3 * t ** 2 - 2 * t ** 3, (True, False): t ** 2,
         (False, True): 2 * t - t ** 2, (False, False): t}[(rest_start, rest_end)]
    q = start + (end - start) * s[:, None]
    return Segment("move", label, Trajectory(t, q), holding=holding, end=end_kind)


def test_moves_that_flow_into_one_another_go_as_one_trajectory(actuator, robot):
    """The flow timing's lift, transfer and lower pass their joins without stopping: one
    goal for the three, from rest to rest (as goals of their own, the controller would
    stop the arm at each join)."""
    gripper = GripperDouble()
    act, transport = actuator(gripper)
    q0, q1, q2, q3 = (robot.home + d for d in (0.0, 0.02, 0.06, 0.08))
    pick = Action("pick", ("obj_1", "table"), (
        Segment("gripper", "close", width=0.0, holding="obj_1"),
        _smooth(robot, "lift", q0, q1, "obj_1", "flow", True, False)))
    place = Action("place-in", ("obj_1", "obj_5"), (
        _smooth(robot, "transfer", q1, q2, "obj_1", "flow", False, False),
        _smooth(robot, "lower", q2, q3, "obj_1", "reach", False, True),
        Segment("gripper", "release", width=0.085)))
    assert act.run_actions([pick, place]) == ""
    assert len(transport.sent) == 1 and act.motions == 1
    sent = transport.sent[0]
    assert sent.n_points == 3 * 41 - 2  # the shared samples once
    np.testing.assert_allclose(sent.positions[0], q0)
    np.testing.assert_allclose(sent.positions[-1], q3)
    assert gripper.widths == [0.0, 0.085]
    # moves that end at rest go one by one
    act, transport = actuator(GripperDouble())
    apart = [Action("move", ("a",), (_smooth(robot, "a", q0, q1, None, "reach", True, True),
                                     _smooth(robot, "b", q1, q2, None, "reach", True, True)))]
    assert act.run_actions(apart) == "" and len(transport.sent) == 2


def _following_pick(robot, rise_to):
    """Open, approach, a close the arm follows up to ``rise_to`` (0.1 s as planned), lift."""
    from dataclasses import replace

    q1 = robot.home + 0.05
    rise = _smooth(robot, "close", q1, rise_to, None, "reach", True, True).trajectory
    rise = replace(rise, times=rise.times * 0.1)
    return Action("pick", ("obj_1", "table"), (
        Segment("gripper", "open", width=0.064), _move(robot, "approach", None, robot.home, q1),
        Segment("gripper", "close", width=0.0, holding="obj_1", trajectory=rise,
                grip_width=0.044),
        _move(robot, "lift", "obj_1", rise_to, rise_to + 0.05)))


class SettledGripper(GripperDouble):
    """TEST DOUBLE as above, with the driver port's speed setting, noting which thread
    and when each command came."""

    def __init__(self):
        from robots.ros.gripper import GripperSettings

        super().__init__()
        self.settings = GripperSettings(speed=0.05)
        self.threads: list[str] = []

    def set_width(self, width: float) -> str:
        import threading

        self.threads.append(threading.current_thread().name)
        return super().set_width(width)


def test_a_close_the_arm_follows_moves_the_arm_while_the_pads_close(actuator, robot):
    """The 2F-85's pads sweep along the approach while they close; the plan's close
    carries the arm's move back by that sweep. It is checked and sent while the gripper
    closes (on another thread), played as long as the pads take from their opening to the
    object's width at the gripper's speed: (64 - 44) mm at 50 mm/s = 0.4 s, not the 0.1 s
    planned; the lift then starts where it ends."""
    gripper = SettledGripper()
    act, transport = actuator(gripper)
    q2 = robot.home + 0.054
    assert act.run_actions([_following_pick(robot, q2)]) == ""
    assert gripper.widths == [0.064, 0.0] and gripper.threads[1] == "gripper"
    assert len(transport.sent) == 3 and act.motions == 3
    follow = transport.sent[1]
    np.testing.assert_allclose(follow.positions[-1], q2, atol=1e-9)
    assert follow.duration == pytest.approx(0.4, rel=0.02)
    np.testing.assert_allclose(transport.sent[2].positions[0], q2, atol=1e-9)


def test_a_close_whose_arm_move_is_refused_does_not_close(actuator, robot):
    gripper = SettledGripper()
    act, transport = actuator(gripper)
    reason = act.run_actions([_following_pick(robot, robot.upper + 0.2)])
    assert "close: refused by the safety checks" in reason
    assert gripper.widths == [0.064] and len(transport.sent) == 1  # the approach only
