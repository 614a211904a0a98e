"""The 2F-85 driver: activation, motion in SI units, typed results and faults, watchdog.

    from robots.robotiq import RobotiqGripper, parse_spec

    with RobotiqGripper(parse_spec("serial:/dev/ttyUSB0")) as gripper:
        gripper.activate(timeout_s=5.0)
        result = gripper.move(0.04, speed_m_s=0.05, force_n=60.0)
        if result.object_detected: ...

Units: m, m/s, N, s. One thread drives a gripper; the watchdog thread only reads the
status while the link is otherwise idle.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from typing import Callable

from robots.robotiq.errors import (ActivationTimeout, GripperError, GripperFault,
                                   GripperStateError, LinkLostError, MajorFault,
                                   MotionTimeout, NotActivatedError, fault_class)
from robots.robotiq.registers import ActivationState, Calibration, ObjectState, Request, Status
from robots.robotiq.transport import Transport
from tamp.deadline import Deadline

#: rPR for the full-stroke commands, as in the manual's open/close example frames; the
#: fingers stop at the calibrated ends of the stroke
OPEN_COUNT, CLOSED_COUNT = 0, 255


@dataclass(frozen=True)
class GripperConfig:
    """Driver settings (the transport has its own timeouts and retries)."""

    calibration: Calibration = field(default_factory=Calibration)
    speed_m_s: float = 0.15   #: default finger speed, m/s (the manual's "full speed")
    force_n: float = 235.0    #: default grip force, N (the manual's "full force")
    poll_period_s: float = 0.005  #: status polling period while waiting, s
    #: the watchdog reads the status when the link has been idle this long, s (None: off)
    watchdog_period_s: float | None = 0.25
    #: no answer for this long and the link counts as lost, s
    watchdog_silence_s: float = 1.0


class MoveOutcome(str, Enum):
    """How a motion ended (gOBJ once the fingers stopped)."""

    REACHED = "reached"                  #: gOBJ 3: at the requested position, no object
    CONTACT_CLOSING = "contact_closing"  #: gOBJ 2: stopped on an object while closing
    CONTACT_OPENING = "contact_opening"  #: gOBJ 1: stopped on an object while opening


_OUTCOMES = {ObjectState.AT_POSITION: MoveOutcome.REACHED,
             ObjectState.CONTACT_CLOSING: MoveOutcome.CONTACT_CLOSING,
             ObjectState.CONTACT_OPENING: MoveOutcome.CONTACT_OPENING}


@dataclass(frozen=True)
class GripperStatus:
    """The status registers, decoded and in SI units."""

    activation: ActivationState
    go_to: bool                 #: gGTO: a go-to command is active
    object: ObjectState         #: meaningful while ``go_to``
    fault: int                  #: gFLT, 0 = none
    fault_class: str            #: 'none', 'priority', 'minor', 'major' or 'unknown'
    requested_count: int        #: gPR, echo of the last rPR
    position_count: int         #: gPO, 0 open .. 255 closed
    width_m: float              #: pad-to-pad opening, m
    current_a: float | None     #: finger current, A (None: the transport cannot read it)
    raw: Status

    @property
    def activated(self) -> bool:
        return self.activation == ActivationState.ACTIVATED

    @classmethod
    def decode(cls, raw: Status, calibration: Calibration, reads_current: bool = True):
        return cls(activation=ActivationState(raw.sta), go_to=bool(raw.gto),
                   object=ObjectState(raw.obj), fault=raw.fault,
                   fault_class=fault_class(raw.fault), requested_count=raw.position_echo,
                   position_count=raw.position,
                   width_m=calibration.count_to_width(raw.position),
                   current_a=raw.current * 0.01 if reads_current else None, raw=raw)


@dataclass(frozen=True)
class MoveCommand:
    """A go-to command that was sent."""

    position_count: int        #: rPR sent
    requested_width_m: float   #: m
    speed_m_s: float
    force_n: float
    sent_at: float             #: time.monotonic() when sent, s


@dataclass(frozen=True)
class MoveResult:
    """Where and why the fingers stopped."""

    outcome: MoveOutcome
    width_m: float             #: where the fingers stopped, m
    requested_width_m: float   #: m
    elapsed_s: float           #: from sending the command to seeing the stop, s
    status: GripperStatus

    @property
    def object_detected(self) -> bool:
        return self.outcome != MoveOutcome.REACHED


@dataclass(frozen=True)
class LinkHealth:
    """What the watchdog knows about the link."""

    ok: bool
    silent_for_s: float  #: since the last good answer, s
    lost_events: int     #: times the link went silent past the limit


class RobotiqGripper:
    """A 2F-85 behind any :class:`~robots.robotiq.transport.Transport`."""

    def __init__(self, transport: Transport, config: GripperConfig | None = None,
                 on_link_lost: Callable[[LinkHealth], None] | None = None):
        self.transport = transport
        self.config = config or GripperConfig()
        #: called from the watchdog thread once per loss of the link; keep it short
        self.on_link_lost = on_link_lost
        self._lock = threading.RLock()
        self._connected = False
        self._last_command: MoveCommand | None = None
        self._last_ok = time.monotonic()
        self._lost = False
        self._lost_events = 0
        self._stop_watchdog = threading.Event()
        self._watchdog: threading.Thread | None = None

    # --- connection -------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected

    def connect(self) -> RobotiqGripper:
        if self._connected:
            raise GripperStateError(f"already connected to {self.transport}")
        self.transport.open()
        self._connected = True
        self._last_ok = time.monotonic()
        if self.config.watchdog_period_s:
            self._stop_watchdog.clear()
            self._watchdog = threading.Thread(target=self._watch, daemon=True,
                                              name="robotiq-watchdog")
            self._watchdog.start()
        return self

    def disconnect(self) -> None:
        """Stop the watchdog and release the link (safe to call twice)."""
        self._stop_watchdog.set()
        if self._watchdog is not None:
            self._watchdog.join()
            self._watchdog = None
        with self._lock:
            self._connected = False
            self.transport.close()

    def __enter__(self):
        return self.connect()

    def __exit__(self, *exc):
        self.disconnect()

    # --- status and commands ----------------------------------------------------------

    def status(self) -> GripperStatus:
        """Read and decode the status registers (faults are reported, not raised)."""
        return GripperStatus.decode(self._read(), self.config.calibration,
                                    self.transport.reads_current)

    def activate(self, timeout_s: float = 5.0) -> GripperStatus:
        """Reset, then a rising edge of rACT; returns once gSTA = 3.

        Also the way out of a major fault. Raises ActivationTimeout past ``timeout_s``.
        """
        deadline = Deadline(timeout_s)
        self._last_command = None
        with self.within(deadline):
            self._write(Request())  # rACT = 0: reset, clears faults
            self._poll_until(lambda s: s.activation == ActivationState.RESET
                             and not s.raw.act, deadline, "reset", major_ok=True)
            self._write(Request(act=1))
            return self._poll_until(lambda s: s.activated, deadline, "activation")

    def send_move(self, width_m: float, speed_m_s: float | None = None,
                  force_n: float | None = None) -> MoveCommand:
        """Check the limits, then start a motion to ``width_m`` (pad to pad); no wait."""
        speed = self.config.speed_m_s if speed_m_s is None else speed_m_s
        force = self.config.force_n if force_n is None else force_n
        self.config.calibration.check(width_m, speed, force)
        return self._go_to(self.config.calibration.width_to_count(width_m), width_m,
                           speed, force)

    def move(self, width_m: float, speed_m_s: float | None = None, force_n: float | None = None,
             timeout_s: float | None = None) -> MoveResult:
        """Move to ``width_m`` and wait until the fingers stop (see :meth:`wait`)."""
        self.send_move(width_m, speed_m_s, force_n)
        return self.wait(timeout_s)

    def open(self, speed_m_s: float | None = None, force_n: float | None = None,
             timeout_s: float | None = None) -> MoveResult:
        """Open fully (rPR = 0) and wait."""
        return self._full_stroke(OPEN_COUNT, self.config.calibration.stroke_m, speed_m_s,
                                 force_n, timeout_s)

    def close(self, speed_m_s: float | None = None, force_n: float | None = None,
              timeout_s: float | None = None) -> MoveResult:
        """Close fully (rPR = 255) and wait; an object in the way ends it early."""
        return self._full_stroke(CLOSED_COUNT, 0.0, speed_m_s, force_n, timeout_s)

    def wait(self, timeout_s: float | None = None) -> MoveResult:
        """Wait until the last motion ends: reached, or stopped on an object.

        The default deadline allows the full stroke at the commanded speed, 1.5 times
        over, plus 1 s. Raises MotionTimeout past it, or the typed fault if one appears.
        """
        cmd = self._last_command
        if cmd is None:
            raise GripperStateError("no motion to wait for: send one first")
        if timeout_s is None:
            timeout_s = 1.0 + 1.5 * self.config.calibration.stroke_m / cmd.speed_m_s
        # the position echo proves the gripper took this command, so a gOBJ left over
        # from the previous motion is not mistaken for the end of this one
        status = self._poll_until(
            lambda s: s.requested_count == cmd.position_count and s.go_to
            and s.object != ObjectState.MOVING,
            Deadline(timeout_s), "motion", error=MotionTimeout, any_fault=True)
        return MoveResult(_OUTCOMES[status.object], status.width_m, cmd.requested_width_m,
                          time.monotonic() - cmd.sent_at, status)

    def stop(self) -> None:
        """Stop the fingers where they are (rGTO = 0)."""
        cmd = self._last_command
        position = cmd.position_count if cmd else 0
        self._write(Request(act=1, gto=0, position=position))

    def emergency_release(self, opening: bool = True) -> GripperStatus:
        """Start the automatic release (rATR): slow, ignores objects, ends in fault 0x0F;
        the gripper must be re-activated afterwards."""
        self._last_command = None
        self._write(Request(act=1, atr=1, ard=int(opening)))
        return self.status()

    # --- watchdog ---------------------------------------------------------------------

    def link_health(self) -> LinkHealth:
        silent = time.monotonic() - self._last_ok
        return LinkHealth(ok=silent < self.config.watchdog_silence_s, silent_for_s=silent,
                          lost_events=self._lost_events)

    def check_link(self) -> None:
        """Raise LinkLostError if no answer came for longer than the watchdog's limit."""
        health = self.link_health()
        if not health.ok:
            raise LinkLostError(f"no answer from the gripper on {self.transport} for "
                                f"{health.silent_for_s:.2f} s")

    def _watch(self) -> None:
        period = self.config.watchdog_period_s
        while not self._stop_watchdog.wait(period / 2):
            if time.monotonic() - self._last_ok >= period and self._lock.acquire(timeout=period):
                try:
                    if self._connected:
                        self._read()
                except GripperError:
                    pass  # counted by the silence below
                finally:
                    self._lock.release()
            health = self.link_health()
            if not health.ok and not self._lost:
                self._lost = True
                self._lost_events += 1
                if self.on_link_lost is not None:
                    try:
                        self.on_link_lost(self.link_health())
                    except Exception:  # a broken callback must not end the watchdog
                        logging.getLogger(__name__).exception("on_link_lost callback failed")

    # --- internals --------------------------------------------------------------------

    def _require_connected(self) -> None:
        if not self._connected:
            raise GripperStateError("not connected: call connect() or use 'with gripper:'")

    def _read(self) -> Status:
        with self._lock:
            self._require_connected()
            status = self.transport.read()
            self._note_ok()
            return status

    def _write(self, request: Request) -> None:
        with self._lock:
            self._require_connected()
            self.transport.write(request)
            self._note_ok()

    def _note_ok(self) -> None:
        self._last_ok = time.monotonic()
        self._lost = False

    def _go_to(self, count: int, width_m: float, speed: float, force: float) -> MoveCommand:
        status = self.status()
        if status.fault_class == "major":
            raise MajorFault(status.fault)
        if not status.activated:
            raise NotActivatedError(f"the gripper is not activated (gSTA = "
                                    f"{status.activation.name}): activate it first")
        cal = self.config.calibration
        # stamped before sending: the fingers may start as soon as the frame arrives
        command = MoveCommand(count, width_m, speed, force, time.monotonic())
        self._last_command = None
        self._write(Request(act=1, gto=1, position=count, speed=cal.speed_to_byte(speed),
                            force=cal.force_to_byte(force)))
        self._last_command = command
        return command

    def _full_stroke(self, count, width_m, speed_m_s, force_n, timeout_s) -> MoveResult:
        speed = self.config.speed_m_s if speed_m_s is None else speed_m_s
        force = self.config.force_n if force_n is None else force_n
        self.config.calibration.check(width_m, speed, force)
        self._go_to(count, width_m, speed, force)
        return self.wait(timeout_s)

    def _poll_until(self, done, deadline: Deadline, what: str, error=ActivationTimeout,
                    major_ok: bool = False, any_fault: bool = False) -> GripperStatus:
        with self.within(deadline):
            while True:
                status = self.status()
                if status.fault and (any_fault or status.fault_class == "major") \
                        and not major_ok:
                    raise GripperFault.from_code(status.fault)
                if done(status):
                    return status
                if deadline.expired():
                    raise error(f"{what} did not finish in time (gSTA "
                                f"{status.activation.name}, gOBJ {status.object.name}, "
                                f"width {status.width_m:.4f} m)")
                time.sleep(deadline.cap(self.config.poll_period_s))

    @contextmanager
    def within(self, deadline: Deadline | None):
        """No request retried past ``deadline`` inside the block: an operation's deadline
        holds across the link's retries. The earlier of this and an enclosing one
        counts."""
        previous = self.transport.deadline
        self.transport.deadline = previous if deadline is None else deadline.earlier(previous)
        try:
            yield
        finally:
            self.transport.deadline = previous
