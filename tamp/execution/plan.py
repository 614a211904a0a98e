"""What the planner hands to an executor: actions made of timed motion segments."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from tamp.geometry.timing import Trajectory

#: m an object may lie away from where a plan's grasp or placement assumed it: about a
#: quarter of the pads' centring tolerance on the smallest objects (a 42 mm disk)
DRIFT_DISTANCE = 0.005
#: degrees an object's up axis may turn before its planned grasps no longer fit
DRIFT_TILT = 10.0


#: s a move segment ending in ``"hold"`` holds its last sample (the original timing)
HOLD_TIME = 0.25
#: rad (every joint) within which a move ending in ``"reach"`` has reached its last sample:
#: about 0.4 mm at the tool of an arm reaching 0.8 m. The simulated arm gets there one
#: or two control periods after the trajectory ends
REACH_TOLERANCE = 5e-4


@dataclass(frozen=True)
class Segment:
    """One thing the robot does: follow a joint trajectory, or drive the gripper."""

    kind: Literal["move", "gripper"]
    label: str  #: e.g. "transit", "approach", "close"
    #: for ``move``; for a gripper ``close``, the arm's motion while the pads close, or
    #: None (the arm holds still): see ``grip_width``
    trajectory: Trajectory | None = None
    #: for ``gripper``: target opening, m (0 closes until the pads stall on the object)
    width: float | None = None
    holding: str | None = None  #: the object carried during this segment, if any
    #: for ``move``, how it ends: ``"hold"`` holds the last sample a fixed time
    #: (``HOLD_TIME``; the original timing), ``"reach"`` waits only until the arm is
    #: within ``REACH_TOLERANCE`` of it, ``"flow"`` goes straight on: the next segment
    #: continues the motion from the last sample, which the arm passes without stopping
    end: Literal["hold", "reach", "flow"] = "hold"
    #: for a ``gripper`` release: m of opening at which the pads have let go and the next
    #: move may start while they open on to ``width`` (planned: that move is free at
    #: both openings); None: wait until they get to ``width``
    clear_width: float | None = None
    #: for a gripper ``close`` with a ``trajectory``: the opening (m) at which the pads are
    #: planned to meet the object. The 2F-85's pads sweep along the approach as they close
    #: (its linkage's arc); the arm moves back by that sweep while they close, so that they
    #: meet the object at the height they were lowered to instead of dragging it
    #: ("fingertip compensation"). The trajectory is played stretched to last as long as
    #: the pads take to get there (:func:`follow_scale`)
    grip_width: float | None = None


@dataclass(frozen=True)
class Action:
    """A symbolic action with its refined continuous motion."""

    name: str
    args: tuple[str, ...]
    segments: tuple[Segment, ...]
    #: object name -> the pose (4x4) the refinement assumed it has when the action
    #: starts: the object picked, the support placed on. An executor that observes it
    #: elsewhere knows the action's motions no longer fit (see :func:`drift`)
    expects: dict = field(default_factory=dict, compare=False, repr=False)
    #: object name -> the pose (4x4) the action leaves it at (where a place puts it)
    leaves: dict = field(default_factory=dict, compare=False, repr=False)

    def as_dict(self) -> dict:
        return {"name": self.name, "args": list(self.args)}


@dataclass
class Plan:
    """The planner's answer: actions to execute, or a failure with its reason."""

    success: bool
    actions: list[Action] = field(default_factory=list)
    planning_time: float = 0.0  #: s, wall clock
    reason: str = ""
    #: s of CPU the planning thread used: the planning time a quiet machine would show
    planning_cpu_time: float = 0.0

    @property
    def duration(self) -> float:
        """Total planned motion time, s."""
        return float(sum(s.trajectory.duration for a in self.actions for s in a.segments
                         if s.trajectory is not None))

    def final_configuration(self) -> np.ndarray | None:
        for action in reversed(self.actions):
            for seg in reversed(action.segments):
                if seg.trajectory is not None:
                    return seg.trajectory.positions[-1]
        return None


def follow_scale(duration: float, width_now: float, grip_width: float | None,
                 closing_speed: float) -> float:
    """How much slower (>= 1) to play a close's arm trajectory of ``duration`` s (see
    ``Segment.grip_width``) so that it lasts as long as the pads take from ``width_now``
    to ``grip_width`` at ``closing_speed`` (m/s of opening: the gripper's speed setting)."""
    if grip_width is None or closing_speed <= 0 or duration <= 0:
        return 1.0
    return max(1.0, max(0.0, width_now - grip_width) / closing_speed / duration)


def drift(expects: dict, poses: dict, distance: float = DRIFT_DISTANCE) -> str:
    """Why the objects in ``poses`` (name -> observed 4x4 pose) no longer match what an
    action ``expects``: an object more than ``distance`` m from its assumed position,
    or tilted more than ``DRIFT_TILT`` away from its assumed up axis; "" if they match.
    Objects not in ``poses`` (not seen) are not judged."""
    for name, expected in expects.items():
        seen = poses.get(name)
        if seen is None:
            continue
        moved = float(np.linalg.norm(seen[:3, 3] - expected[:3, 3]))
        if moved > distance:
            return f"{name} is {moved * 1000:.0f} mm from where the plan expects it"
        cos = float(np.clip(seen[:3, 2] @ expected[:3, 2], -1.0, 1.0))
        if np.degrees(np.arccos(cos)) > DRIFT_TILT:
            return f"{name} is tilted {np.degrees(np.arccos(cos)):.0f} deg from its planned pose"
    return ""
