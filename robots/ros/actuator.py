"""A robot over ROS and a gripper driver as the closed loop's
:class:`~tamp.execution.interfaces.Actuator`.

Every arm motion goes through :meth:`robots.ros.deploy.Deployer.send_trajectory`: re-timed
to the speed scale and checked (position, velocity, acceleration and jerk limits,
workspace box, controller joints, start state) against the freshly measured joint state
before it is sent, and followed to its end by the execution monitor. The gripper's own object detection (gOBJ) is the truth about
holding: a close that meets nothing, or an object that is no longer between the pads
after a move that carried it, stops the step with a reason, and the loop looks and
replans instead of continuing blind.
"""

from __future__ import annotations

import time
from typing import Callable, Sequence

import numpy as np

from robots.ros.deploy import Deployer, Step
from robots.ros.safety import ArmTrajectory
from robots.ros.transport import TransportError
from tamp.execution.plan import Action
from tamp.robot import RobotSpec


class RosActuator:
    """``deployer`` must be configured with ``execute=True``; ``gripper`` is a
    :class:`robots.ros.gripper.RobotiqPort` (or anything with ``set_width``, ``holding``
    and ``status``), None to move the arm only (then holding cannot be checked)."""

    def __init__(self, deployer: Deployer, robot: RobotSpec, gripper=None,
                 log: Callable[[str], None] = lambda s: None):
        if not deployer.config.execute:
            raise ValueError("the actuator executes: give it a Deployer with execute=True")
        self.deployer = deployer
        self.robot = robot
        self.gripper = gripper
        self.log = log
        self.transport = deployer.transport
        self._joints = None
        self._width = robot.gripper.stroke  #: last commanded opening, m
        self.motions = 0  #: trajectories sent
        self.robot_time = 0.0  #: s of the trajectories sent (as re-timed)
        #: s per motion from sending to the controller's result, beyond the trajectory's
        #: own duration (messaging, the controller's settling)
        self.latencies: list[float] = []

    def controller_joints(self) -> tuple[str, ...]:
        if self._joints is None:
            self._joints = tuple(self.transport.controller_joints())
        return self._joints

    # -- the Actuator protocol -----------------------------------------------------------
    def arm_positions(self) -> np.ndarray:
        return self.transport.joint_state().positions_for(self.robot.arm_joints)

    def gripper_width(self) -> float:
        if self.gripper is not None:
            try:
                return float(self.gripper.status().width_m)
            except Exception:  # a status the link could not give: the commanded one
                pass
        return self._width

    def gripper_joint(self) -> float:
        return self.robot.gripper.joint_for_width(self.gripper_width())

    def run_actions(self, actions: Sequence[Action]) -> str:
        """Each segment in order; moves that flow into one another (``end == "flow"``,
        across actions too) go to the controller as one trajectory from rest to rest (as
        goals of their own, the controller would stop the arm at each join)."""
        queue = [(f"{a.name} {' '.join(a.args)}: {seg.label}", seg)
                 for a in actions for seg in a.segments]
        k = 0
        while k < len(queue):
            label, seg = queue[k]
            k += 1
            if seg.kind == "move":
                while seg.end == "flow" and k < len(queue) and queue[k][1].kind == "move":
                    label, seg = f"{label} + {queue[k][0]}", _joined(seg, queue[k][1])
                    k += 1
            reason = self._move(seg, label) if seg.kind == "move" else \
                self._grip(seg, label)
            if reason:
                return reason
        return ""

    def recover(self) -> None:
        """Open the hand (whatever it held is let go) and give the world a moment."""
        if self.gripper is not None:
            try:
                self.gripper.set_width(self.robot.gripper.stroke)
                self._width = self.robot.gripper.stroke
            except Exception as err:  # typed driver faults: report, do not mask the replan
                self.log(f"[recover] gripper: {type(err).__name__}: {err}")
        time.sleep(0.5)

    # -- one segment ---------------------------------------------------------------------
    def _move(self, seg, label: str) -> str:
        traj = ArmTrajectory.from_samples(self.robot.arm_joints, seg.trajectory.times,
                                          seg.trajectory.positions)
        step = Step(self.motions, label, "move", traj)
        try:
            state = self.deployer.settled_state(traj.positions[0], traj.joint_names)
            report = self.deployer.send_trajectory(traj, self.controller_joints(), state, step)
        except TransportError as err:
            return f"{label}: {err}"
        self.log("[run] " + self.deployer.describe(report))
        self.motions += 1
        if not report.prepared.report.ok:
            return f"{label}: refused by the safety checks: {report.prepared.report.summary()}"
        if not report.sent:
            return f"{label}: not sent ({report.note or 'stopped'})"
        self.robot_time += report.prepared.trajectory.duration
        self.latencies.append(max(0.0, report.result.elapsed
                                  - report.prepared.trajectory.duration))
        if not report.result.success:
            return f"{label}: controller: {report.result.describe()}"
        if seg.holding and self.gripper is not None and not self._holding():
            return f"{seg.holding} slipped out of the gripper during {seg.label} (gOBJ)"
        return ""

    def _grip(self, seg, label: str) -> str:
        """The gripper to ``seg.width``; a close the arm follows (``Segment.grip_width``)
        moves the arm along its trajectory meanwhile (:meth:`Deployer.grip`)."""
        width = float(seg.width or 0.0)
        traj = None if seg.trajectory is None else ArmTrajectory.from_samples(
            self.robot.arm_joints, seg.trajectory.times, seg.trajectory.positions)
        step = Step(self.motions, label, "gripper", traj, width=width,
                    grip_width=seg.grip_width)
        report = self.deployer.grip(step, self.controller_joints() if traj is not None
                                    else (), self.gripper_width(), self.gripper)
        self.log("[run] " + self.deployer.describe(report))
        if report.prepared is not None:
            self.motions += 1
            if not report.prepared.report.ok:
                return f"{label}: refused by the safety checks: " \
                    f"{report.prepared.report.summary()}"
            if report.sent:
                self.robot_time += report.prepared.trajectory.duration
        if report.note.startswith("FAILED"):
            what = f"grasp of {seg.holding} failed" if seg.holding and seg.label == "close" \
                else f"{label}: gripper"
            return f"{what}: {report.note.removeprefix('FAILED: ')}"
        if report.result is not None and not report.result.success:
            return f"{label}: controller: {report.result.describe()}"
        self._width = width
        return ""

    def _holding(self) -> bool:
        try:
            return bool(self.gripper.holding())
        except Exception:  # no answer is no evidence of holding
            return False


def _joined(first, second):
    """Move segment ``second`` appended to ``first`` (which flows into it: ``second``
    starts at ``first``'s last sample): one segment, holding what either holds."""
    from dataclasses import replace

    from tamp.geometry.timing import Trajectory

    a, b = first.trajectory, second.trajectory
    times = np.concatenate([a.times, a.times[-1] + b.times[1:]])
    positions = np.vstack([a.positions, b.positions[1:]])
    return replace(second, trajectory=Trajectory(times, positions, b.method),
                   holding=first.holding or second.holding)
