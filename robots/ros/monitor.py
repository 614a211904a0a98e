"""Watch a trajectory in flight and cancel it when it overruns.

The deadline follows MoveIt's trajectory execution manager: a goal still running after
``1.1 x planned duration + 0.5 s`` is cancelled, because a controller that is that late is
not doing what was planned (blocked, slipping, or not listening).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from robots.ros.transport import ControllerResult, GoalHandle, Outcome, Transport


@dataclass(frozen=True)
class MonitorConfig:
    duration_factor: float = 1.1  #: deadline = factor x planned duration + slack
    slack: float = 0.5  #: s
    poll_period: float = 0.01  #: s between looks at the goal
    cancel_wait: float = 2.0  #: s to wait for the controller to confirm a cancel
    #: s of wall clock without the robot's clock moving after which a goal is cancelled:
    #: a clock that stops (a simulator that died or hangs) must not hang the monitor. A
    #: clock that runs slowly (a simulator on a busy machine) is not a late controller,
    #: and is followed for as long as it takes. On a robot without simulated time the
    #: robot's clock is the wall clock and never stalls.
    stall_time: float = 5.0

    def deadline(self, planned_duration: float) -> float:
        """Seconds after sending at which a goal is cancelled."""
        return self.duration_factor * planned_duration + self.slack


class ExecutionMonitor:
    """Follows one goal at a time; :meth:`stop` may be called from any thread."""

    def __init__(self, transport: Transport, config: MonitorConfig | None = None,
                 clock=None):
        self.transport = transport
        self.config = config or MonitorConfig()
        #: the robot's clock (the transport's: ROS time, driven by a simulator's /clock)
        self.clock = clock or transport.clock
        self._stop = threading.Event()
        self._handle: GoalHandle | None = None

    def follow(self, handle: GoalHandle, planned_duration: float) -> ControllerResult:
        """Wait for ``handle``'s result; cancel it past the deadline or on :meth:`stop`."""
        self._handle = handle
        start = self.clock()
        deadline = start + self.config.deadline(planned_duration)
        last_tick, moved_at = start, time.monotonic()
        try:
            while not handle.done():
                if self._stop.is_set():
                    return self._cancel(handle, Outcome.CANCELLED, start,
                                        "stopped on request")
                now, wall = self.clock(), time.monotonic()
                if now != last_tick:
                    last_tick, moved_at = now, wall
                if now > deadline:
                    return self._cancel(
                        handle, Outcome.TIMED_OUT, start,
                        f"still running {self.config.deadline(planned_duration):.2f} s after "
                        f"sending (planned {planned_duration:.2f} s); cancelled")
                if wall - moved_at > self.config.stall_time:
                    return self._cancel(
                        handle, Outcome.TIMED_OUT, start,
                        f"the robot's clock stood still for {self.config.stall_time:g} s "
                        f"of wall clock ({now - start:.2f} s of {planned_duration:.2f} s "
                        "planned had passed); cancelled")
                time.sleep(self.config.poll_period)
            return handle.result()
        finally:
            self._handle = None

    def _cancel(self, handle: GoalHandle, outcome: Outcome, start: float,
                why: str) -> ControllerResult:
        handle.cancel()
        self.transport.stop()
        until = time.monotonic() + self.config.cancel_wait
        while not handle.done() and time.monotonic() < until:
            time.sleep(self.config.poll_period)
        confirmed = handle.result().describe() if handle.done() else "no confirmation"
        return ControllerResult(outcome, error_string=f"{why} (controller: {confirmed})",
                                elapsed=self.clock() - start)

    def stop(self) -> None:
        """Stop the arm now: cancel the goal being followed and command a hold."""
        self._stop.set()
        handle = self._handle
        if handle is not None:
            handle.cancel()
        self.transport.stop()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()
