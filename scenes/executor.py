"""Execute a :class:`tamp.execution.plan.Plan` in a :class:`scenes.env.TabletopEnv`.

Motion segments are followed sample by sample through ``env.step`` (joint position
targets at the control rate); gripper segments run until the fingers stop. The object is
held by friction between the pads only. After each grasp and each transfer the executor
checks that the object is where the plan expects, and stops with a reason if not.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from scenes.env import TabletopEnv
from tamp.execution.plan import HOLD_TIME, REACH_TOLERANCE, Plan, Segment, follow_scale
from tamp.geometry.shapes import max_extent
from tamp.geometry.timing import rest_to_rest_time

GRIPPER_TIMEOUT = 1.5  #: s for the fingers to stop
SETTLE_TIME = HOLD_TIME  #: s holding the last target after a motion that ends in "hold"
HOLD_TOLERANCE = 0.012  #: m, pad opening vs object width after closing
RELEASE_RETRIES = 2  #: grip-and-open again when the pads stall while letting go
#: m the point of the object held between the pads may move away from the TCP before
#: the object counts as slipped (it may turn about the pads: a bowl held by its rim)
SLIP_TOLERANCE = 0.03


#: what the simulated time was spent on (:attr:`Executor.phase`): the arm following a
#: trajectory ("move"), one moved only to let the camera see ("look"), waiting for the arm
#: to arrive ("settle"), driving the gripper ("gripper"), letting go after a failed step
#: ("recover"); and, not the robot's time, the wait for the world to settle before the
#: episode is judged ("judge")
PHASES = ("move", "look", "settle", "gripper", "recover", "judge")


@dataclass
class ExecutionResult:
    success: bool  #: the task's goal holds at the end
    failure_reason: str = ""
    steps: int = 0  #: control steps taken
    sim_time: float = 0.0  #: s of simulated time
    wall_time: float = 0.0  #: s
    info: dict = field(default_factory=dict)
    #: s of simulated time per phase (see PHASES)
    time_in: dict = field(default_factory=dict)
    #: (start, end) joint positions of every motion from rest to rest
    stretches: list = field(default_factory=list)
    #: how the moves were timed (``Trajectory.method``: "toppra" along a spline, or
    #: "trapezoid", stopping at every waypoint, where TOPP-RA was not used) -> how many
    timed: dict = field(default_factory=dict)

    def robot_time(self, robot, speed_scale: float = 1.0) -> dict:
        """The robot's time (all phases but "judge"), its parts, and a lower bound on the
        moving time: each motion from rest to rest timed time-optimally at the limits
        (``speed_scale`` of the robot's velocity and acceleration limits) as if nothing
        were in the way, every joint on its own (:func:`rest_to_rest_time`)."""
        parts = {f"{k}_s": round(self.time_in.get(k, 0.0), 4) for k in PHASES}
        bound = sum(rest_to_rest_time(a, b, robot.max_velocity * speed_scale,
                                      robot.max_acceleration * speed_scale)
                    for a, b in self.stretches)
        total = sum(v for k, v in self.time_in.items() if k != "judge")
        return {"total_s": round(total, 4), **parts, "motions": len(self.stretches),
                "lower_bound_s": round(bound, 4),
                "moves_timed": dict(sorted(self.timed.items()))}


class Executor:
    def __init__(self, env: TabletopEnv, on_step: Callable[[TabletopEnv], None] | None = None):
        self.env = env
        self.on_step = on_step
        self.q_cmd = env.sim.arm_positions()
        self.width_cmd = env.sim.gripper_width()
        self.steps = 0
        self.info: dict = {}
        #: the last move ended in "flow": the next one starts at its last sample
        self.flowing = False
        self.phase = "move"  #: what the steps taken now are spent on (PHASES)
        self.steps_in: dict[str, int] = {}
        self.stretches: list[tuple[np.ndarray, np.ndarray]] = []
        #: how the moves were timed (``Trajectory.method``) -> how many
        self.timed: dict[str, int] = {}
        self._stretch_from: np.ndarray | None = None
        #: per held object, the TCP position in the object's frame when the pads closed
        self.grip_point: dict[str, np.ndarray] = {}

    def _step(self) -> None:
        _, _, _, _, self.info = self.env.step(np.append(self.q_cmd, self.width_cmd))
        self.steps += 1
        self.steps_in[self.phase] = self.steps_in.get(self.phase, 0) + 1
        if self.on_step is not None:
            self.on_step(self.env)

    def _settle(self, seconds: float) -> None:
        for _ in range(max(1, int(round(seconds / self.env.control_dt)))):
            self._step()

    def _move(self, seg: Segment) -> None:
        traj = seg.trajectory
        # resample the trajectory at the control period
        dt = self.env.control_dt
        ts = np.arange(0.0, traj.duration + 1e-9, dt)
        if self.flowing and np.abs(traj.positions[0] - self.q_cmd).max() < 1e-9:
            ts = ts[1:]  # its first sample was the last one sent
        else:
            self._stretch_from = traj.positions[0]
        self.phase = "look" if seg.label == "look" else "move"
        self.timed[traj.method] = self.timed.get(traj.method, 0) + 1
        for t in ts:
            self.q_cmd = _sample(traj, t)
            self._step()
        self.q_cmd = traj.positions[-1]
        self.flowing = seg.end == "flow"
        if not self.flowing:
            self.stretches.append((self._stretch_from, traj.positions[-1].copy()))
        self.phase = "settle"
        if seg.end == "hold":
            self._settle(SETTLE_TIME)
        elif seg.end == "reach":
            for _ in range(max(1, int(round(SETTLE_TIME / dt)))):
                self._step()
                if np.abs(self.env.sim.arm_positions() - self.q_cmd).max() < REACH_TOLERANCE:
                    break

    def _gripper(self, seg: Segment, done_at: float | None = None) -> None:
        """Drive the fingers to ``seg.width``: done when they get there (or, opening, past
        ``done_at``), or when they have stalled (on an object) for a while; never longer
        than GRIPPER_TIMEOUT."""
        self.width_cmd = float(seg.width)
        sim = self.env.sim
        history = [sim.gripper_width()]
        self.flowing = False
        self.phase = "gripper"
        dt = self.env.control_dt
        stall_steps = max(6, int(0.2 / dt))
        # the arm's move while the pads close (Segment.grip_width), as long as their closing
        follow = seg.trajectory
        scale = 1.0 if follow is None else follow_scale(
            follow.duration, history[0], seg.grip_width, 2.0 * sim.config.finger_speed)
        k = 0
        for k in range(1, int(GRIPPER_TIMEOUT / dt) + 1):
            if follow is not None:
                self.q_cmd = _sample(follow, k * dt / scale)
            self._step()
            history.append(sim.gripper_width())
            if abs(history[-1] - self.width_cmd) < 0.002 or \
                    (done_at is not None and history[-1] >= done_at):
                break
            recent = history[-stall_steps:]
            if len(history) > 2 * stall_steps and max(recent) - min(recent) < 2e-4:
                break
        while follow is not None and k * dt / scale < follow.duration:  # the arm's rest
            k += 1
            self.q_cmd = _sample(follow, k * dt / scale)
            self._step()

    def _release(self, seg: Segment) -> None:
        """Open the pads; if they stall short of the opening while something still
        touches them (a pad jammed against the object it held), grip once more and open
        again, so that the object is not carried away by the retreat."""
        # with a clear width, the pads go on opening during the next move
        reached = seg.width if seg.clear_width is None else seg.clear_width
        self._gripper(seg, seg.clear_width)
        for _ in range(RELEASE_RETRIES):
            sim = self.env.sim
            if sim.gripper_width() > reached - 0.005 or \
                    not any(sim.touching_robot(n) for n in sim.objects):
                return
            self._gripper(Segment("gripper", "regrip", width=0.0))
            self._gripper(seg, seg.clear_width)

    def run_actions(self, actions) -> str:
        """Execute ``actions`` in order; the reason the monitor stopped them, or ""."""
        for action in actions:
            for seg in action.segments:
                if seg.kind == "move":
                    self._move(seg)
                elif seg.label == "release":
                    self._release(seg)
                else:
                    self._gripper(seg)
                reason = self._check(seg)
                if reason:
                    return reason
        return ""

    def recover(self) -> None:
        """After a failed action: let go of whatever is in the hand and wait for the
        world to settle, so that it can be observed and planned from again."""
        self.width_cmd = self.env.robot.gripper.stroke
        self.flowing = False
        self.phase = "recover"
        self._settle(0.75)

    def result(self, reason: str, t0: float) -> ExecutionResult:
        """The episode's verdict from ground truth, with ``reason`` if it failed."""
        if not reason:
            self.phase = "judge"
            self._settle(0.5)
        success = bool(self.info.get("success", False))
        if not success and not reason:
            failed = [k for k, v in self.info.get("goal", {}).items() if not v]
            reason = "goal not reached: " + ", ".join(failed) if failed else "goal not reached"
        dt = self.env.control_dt
        return ExecutionResult(success, "" if success else reason, self.steps,
                               self.steps * dt, time.perf_counter() - t0, self.info,
                               {k: n * dt for k, n in self.steps_in.items()},
                               list(self.stretches), dict(self.timed))

    def run(self, plan: Plan) -> ExecutionResult:
        t0 = time.perf_counter()
        return self.result(self.run_actions(plan.actions), t0)

    def _check(self, seg: Segment) -> str:
        """Monitor: does the world agree with what this segment was meant to do?"""
        sim = self.env.sim
        if seg.kind == "gripper" and seg.label == "close" and seg.holding:
            width = sim.gripper_width()
            if width < 0.002 or width > max_extent(sim.objects[seg.holding].shape) + HOLD_TOLERANCE:
                return f"grasp of {seg.holding} failed (pads {width * 1000:.0f} mm apart)"
            obj = sim.object_pose(seg.holding)
            self.grip_point[seg.holding] = (np.linalg.inv(obj) @ np.append(
                sim.tcp_pose()[:3, 3], 1.0))[:3]
        if seg.kind == "move" and seg.holding:
            tcp = sim.tcp_pose()
            obj = sim.object_pose(seg.holding)
            grip = self.grip_point.get(seg.holding)
            # where the pads closed on the object, now; without that, its shape frame
            held_at = obj[:3, :3] @ grip + obj[:3, 3] if grip is not None else obj[:3, 3]
            limit = SLIP_TOLERANCE if grip is not None else 0.08
            if not sim.touching_robot(seg.holding) or \
                    np.linalg.norm(held_at - tcp[:3, 3]) > limit:
                return f"{seg.holding} slipped out of the gripper during {seg.label}"
        return ""


def _sample(traj, t: float) -> np.ndarray:
    """``traj``'s joint positions at time ``t`` (s; held at its ends), linearly between
    samples."""
    return np.array([np.interp(t, traj.times, traj.positions[:, j])
                     for j in range(traj.positions.shape[1])])
