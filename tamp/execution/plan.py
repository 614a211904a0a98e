"""What the planner hands to an executor: actions made of timed motion segments."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from tamp.geometry.motion import Trajectory


@dataclass(frozen=True)
class Segment:
    """One thing the robot does: follow a joint trajectory, or drive the gripper."""

    kind: Literal["move", "gripper"]
    label: str  #: e.g. "transit", "approach", "close"
    trajectory: Trajectory | None = None  #: for ``move``
    #: for ``gripper``: target opening, m (0 closes until the pads stall on the object)
    width: float | None = None
    holding: str | None = None  #: the object carried during this segment, if any


@dataclass(frozen=True)
class Action:
    """A symbolic action with its refined continuous motion."""

    name: str
    args: tuple[str, ...]
    segments: tuple[Segment, ...]

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
