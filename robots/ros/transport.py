"""What every way of reaching a robot controller offers, and the typed results it returns.

A :class:`Transport` reads the controller's joint names and the latest joint state, sends
one trajectory (through the ``FollowJointTrajectory`` action, or on the controller's
command topic) and stops the arm. It never decides whether a trajectory is safe: that is
:mod:`robots.ros.safety`'s job, and :class:`robots.ros.deploy.Deployer` calls a transport
only with trajectories that passed it.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import Enum
from urllib.parse import urlparse

import numpy as np

from robots.ros.messages import error_name
from robots.ros.safety import ArmTrajectory, JointStateSample


class TransportError(RuntimeError):
    """The controller could not be reached or did not answer in time."""


class Outcome(str, Enum):
    """How a sent trajectory ended."""

    SUCCEEDED = "succeeded"
    REJECTED = "rejected"  #: the controller refused the goal (error_code says why)
    ABORTED = "aborted"  #: stopped by the controller while moving (error_code says why)
    CANCELLED = "cancelled"  #: stopped on our request (stop(), or the monitor's deadline)
    TIMED_OUT = "timed_out"  #: the monitor's deadline passed and it cancelled the goal
    LOST = "lost"  #: no answer from the controller about this goal


@dataclass(frozen=True)
class ControllerResult:
    outcome: Outcome
    error_code: int = 0  #: FollowJointTrajectory error code; 0 = SUCCESSFUL
    error_string: str = ""
    elapsed: float = 0.0  #: s from sending to the result

    @property
    def success(self) -> bool:
        return self.outcome == Outcome.SUCCEEDED and self.error_code == 0

    def describe(self) -> str:
        text = f"{self.outcome.value}"
        if self.error_code:
            text += f", {error_name(self.error_code)} ({self.error_code})"
        if self.error_string:
            text += f": {self.error_string}"
        return text + f" after {self.elapsed:.2f} s"


class GoalHandle(ABC):
    """One trajectory in flight."""

    @abstractmethod
    def done(self) -> bool:
        """True once the controller has reported a final result."""

    @abstractmethod
    def result(self) -> ControllerResult:
        """The final result; only meaningful once :meth:`done`."""

    @abstractmethod
    def cancel(self) -> None:
        """Ask the controller to stop this trajectory (returns without waiting)."""


class Transport(ABC):
    """A connection to one arm controller. Use as a context manager."""

    #: e.g. "ROS 1 at http://127.0.0.1:11311, /position_joint_trajectory_controller"
    description: str = ""

    def clock(self) -> float:
        """The robot's time, s: how long a trajectory has been running is measured on it.
        The wall clock here; ROS time over ROS 1, which a simulator drives through
        ``/clock`` (``use_sim_time``), so that a simulator slower than real time is not
        taken for a late controller."""
        return time.monotonic()

    def __enter__(self):
        self.connect()
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    @abstractmethod
    def connect(self) -> None:
        """Open the connection; raise :class:`TransportError` within the timeout."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection (idempotent)."""

    @abstractmethod
    def controller_joints(self) -> tuple[str, ...]:
        """The joint names the controller drives; TransportError if unknown."""

    @abstractmethod
    def joint_state(self) -> JointStateSample:
        """The latest joint state; TransportError if none arrived within the timeout."""

    @abstractmethod
    def send_goal(self, traj: ArmTrajectory) -> GoalHandle:
        """Send ``traj`` through the FollowJointTrajectory action."""

    @abstractmethod
    def publish(self, traj: ArmTrajectory) -> None:
        """Publish ``traj`` on the controller's command topic (no result comes back)."""

    @abstractmethod
    def stop(self) -> None:
        """Cancel every goal of ours and command the controller to hold still."""


class CallbackGoalHandle(GoalHandle):
    """A goal whose final result arrives by callback: callers :meth:`_finish` it once."""

    def __init__(self, clock=time.monotonic):
        self._clock, self._started = clock, clock()
        self._done = threading.Event()
        self._result: ControllerResult | None = None

    def _elapsed(self) -> float:
        return self._clock() - self._started

    def _finish(self, result: ControllerResult) -> None:
        self._result = result
        self._done.set()

    def done(self) -> bool:
        return self._done.is_set()

    def result(self) -> ControllerResult:
        if self._result is None:
            return ControllerResult(Outcome.LOST, error_string="no result yet",
                                    elapsed=self._elapsed())
        return self._result


class TopicGoalHandle(GoalHandle):
    """A trajectory published on the command topic, which has no result: it counts as
    done once the planned duration has passed and the measured joints are within
    ``tolerance`` of the final sample."""

    def __init__(self, transport: Transport, traj: ArmTrajectory, tolerance: float = 0.01,
                 clock=time.monotonic):
        self.transport, self.traj, self.tolerance, self.clock = transport, traj, tolerance, clock
        self.started = clock()
        self._result: ControllerResult | None = None

    def done(self) -> bool:
        if self._result is not None:
            return True
        if self.clock() - self.started < self.traj.duration:
            return False
        try:
            q = self.transport.joint_state().positions_for(self.traj.joint_names)
        except (TransportError, KeyError):
            return False
        if np.max(np.abs(q - self.traj.positions[-1])) <= self.tolerance:
            self._result = ControllerResult(Outcome.SUCCEEDED,
                                            elapsed=self.clock() - self.started)
        return self._result is not None

    def result(self) -> ControllerResult:
        if self._result is None:
            return ControllerResult(Outcome.LOST, error_string="no result yet",
                                    elapsed=self.clock() - self.started)
        return self._result

    def cancel(self) -> None:
        self.transport.stop()
        if self._result is None:
            self._result = ControllerResult(Outcome.CANCELLED, elapsed=self.clock() - self.started)


def is_loopback_host(host: str) -> bool:
    """127.0.0.0/8, ::1 or ``localhost``; any other name counts as remote (it could
    resolve anywhere)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def require_host_allowed(url: str, allow_remote: bool, what: str) -> str:
    """The host of ``url``; ValueError if it is not loopback and ``allow_remote`` is off."""
    parsed = urlparse(url)
    host = parsed.hostname or ""
    if not host:
        raise ValueError(f"{what} '{url}' has no host")
    if not is_loopback_host(host) and not allow_remote:
        raise ValueError(f"{what} '{url}' is not a loopback address; pass --allow-remote to "
                         "talk to another machine")
    return host
