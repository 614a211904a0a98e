"""A 2F-85 simulated at the register level, following the instruction manual.

What it reproduces (manual, "Control" and "Fault status"):

* activation: a rising edge of rACT starts it, gSTA goes 0 -> 1 -> 3 after
  ``activation_time_s``; rACT = 0 resets the gripper and clears its faults;
* motion: rGTO = 1 moves the fingers towards rPR (clamped to the calibrated range) at
  the speed rSP maps to; gOBJ = 0 while moving, 3 at the position, 2 when the fingers
  stop on an object while closing, 1 when they stop on one while opening;
* faults: rGTO = 1 with rACT = 0 -> 0x07; a command during activation -> 0x05 (the action
  is delayed and runs once activation completes); rATR = 1 -> 0x0B then 0x0F; injected
  faults of any class; no request for ``comm_loss_s`` -> 0x09. A major fault (0x0A-0x0F)
  ignores commands until a reset and a fresh rising edge of rACT. Priority and minor
  faults clear with the next command (the simulator's reading of the manual).

Time runs ``1 / time_factor`` times faster than the wall clock, so tests can use the
manual's durations and still finish quickly. The state advances lazily on each access,
with no thread of its own. :class:`FaultInjector` damages the answers the servers in
:mod:`robots.robotiq.sim_servers` send.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from enum import Enum

from robots.robotiq.errors import fault_class
from robots.robotiq.registers import ActivationState, Calibration, ObjectState, Request, Status


@dataclass(frozen=True)
class SimConfig:
    """Simulated gripper; durations and speeds in simulated time (s, m/s)."""

    calibration: Calibration = field(default_factory=Calibration)
    #: wall-clock seconds per simulated second (1.0 = real time, 0.02 = 50x faster)
    time_factor: float = 1.0
    #: rising edge of rACT -> gSTA = 3; the manual's activation takes about a second, s
    activation_time_s: float = 1.0
    #: finger speed during an automatic release, m/s
    release_speed_m_s: float = 0.02
    #: silence on the link that raises fault 0x09, wall-clock s (None: never)
    comm_loss_s: float | None = 1.0

    def __post_init__(self):
        if not self.time_factor > 0:
            raise ValueError(f"time_factor must be > 0, got {self.time_factor}")


class GripperSim:
    """The gripper's state machine, thread-safe; ``write``/``read`` are the registers.

    ``object_width_m``: an object between the fingers, closing stops there (gOBJ 2).
    ``outer_object_width_m``: something around the fingers, opening stops there (gOBJ 1).
    """

    def __init__(self, config: SimConfig | None = None, *, object_width_m: float | None = None,
                 outer_object_width_m: float | None = None, clock=time.monotonic):
        self.config = config or SimConfig()
        self.object_width_m = object_width_m
        self.outer_object_width_m = outer_object_width_m
        self._clock = clock
        self._lock = threading.RLock()
        cal = self.config.calibration
        self.request = Request()
        self._sta = ActivationState.RESET
        self._obj = ObjectState.MOVING
        self._fault = 0
        self._position = float(cal.open_count)  #: counts, float while moving
        self._target = self._position
        self._speed = 0.0                       #: counts per simulated second
        self._moving = False
        self._delayed_goto = False
        self._releasing = False
        self._activation_started = 0.0
        self._t = self._now()
        self._last_request: float | None = None

    # --- registers --------------------------------------------------------------------

    def write(self, request: Request) -> None:
        """The master wrote the output registers."""
        with self._lock:
            self._on_request()
            previous, self.request = self.request, request
            if not request.act:
                self._reset()
                if request.gto:
                    self._fault = 0x07
                return
            rising = not previous.act
            if fault_class(self._fault) == "major" and not rising:
                return  # a major fault ignores commands until a fresh activation
            if rising:
                self._start_activation()
            elif fault_class(self._fault) in ("priority", "minor"):
                self._fault = 0
            if request.atr:
                self._start_release(request.ard)
            elif request.gto:
                if self._sta == ActivationState.ACTIVATING:
                    self._fault, self._delayed_goto = 0x05, True
                elif self._sta == ActivationState.ACTIVATED:
                    self._start_goto()
            else:
                self._moving = self._delayed_goto = False  # rGTO = 0 stops the fingers

    def read(self) -> Status:
        """The master read the input registers."""
        with self._lock:
            self._on_request()
            req = self.request
            return Status(act=req.act, gto=req.gto, sta=int(self._sta),
                          obj=int(self._obj) if req.gto else 0, fault=self._fault,
                          position_echo=req.position, position=round(self._position),
                          current=self._current())

    # --- test hooks -------------------------------------------------------------------

    def inject_fault(self, code: int) -> None:
        """Raise fault ``code`` now (a major one stops the fingers)."""
        with self._lock:
            self._advance()
            self._fault = code
            if fault_class(code) == "major":
                self._moving = self._delayed_goto = False

    @property
    def width_m(self) -> float:
        """Current pad-to-pad opening, m."""
        with self._lock:
            self._advance()
            return self.config.calibration.count_to_width(self._position)

    # --- dynamics ---------------------------------------------------------------------

    def _now(self) -> float:
        return self._clock() / self.config.time_factor

    def _on_request(self) -> None:
        self._advance()
        wall = self._clock()
        loss = self.config.comm_loss_s
        if (loss is not None and self._last_request is not None and self._fault == 0
                and self._sta == ActivationState.ACTIVATED and wall - self._last_request >= loss):
            self._fault = 0x09
        self._last_request = wall

    def _reset(self) -> None:
        self._sta, self._fault = ActivationState.RESET, 0
        self._moving = self._delayed_goto = self._releasing = False
        self._obj = ObjectState.MOVING

    def _start_activation(self) -> None:
        self._reset()
        self._sta = ActivationState.ACTIVATING
        self._activation_started = self._t

    def _start_goto(self) -> None:
        cal, req = self.config.calibration, self.request
        self._target = float(min(max(req.position, cal.open_count), cal.closed_count))
        self._speed = cal.byte_to_speed(req.speed) / cal.m_per_count
        self._moving, self._obj = True, ObjectState.MOVING
        self._move(0.0)  # already there, or already touching the object

    def _start_release(self, opening: int) -> None:
        cal = self.config.calibration
        self._fault, self._releasing, self._delayed_goto = 0x0B, True, False
        self._target = float(cal.open_count if opening else cal.closed_count)
        self._speed = self.config.release_speed_m_s / cal.m_per_count
        self._moving, self._obj = True, ObjectState.MOVING

    def _advance(self) -> None:
        now = self._now()
        t = self._t
        if self._sta == ActivationState.ACTIVATING:
            done_at = self._activation_started + self.config.activation_time_s
            if now < done_at:
                self._t = now
                return
            self._sta = ActivationState.ACTIVATED
            # activation calibrates the stroke and leaves the fingers open
            self._position = float(self.config.calibration.open_count)
            t = done_at
            if self._delayed_goto:
                self._delayed_goto = False
                if self._fault == 0x05:
                    self._fault = 0
                self._start_goto()
        if self._moving:
            self._move(now - t)
        self._t = now

    def _move(self, dt: float) -> None:
        """Advance the fingers by ``dt`` simulated seconds, stopping on contact."""
        cal = self.config.calibration
        step = self._speed * dt
        closing = self._target > self._position
        new = min(self._position + step, self._target) if closing else \
            max(self._position - step, self._target)
        obstacle = None
        if not self._releasing:
            width = self.object_width_m if closing else self.outer_object_width_m
            if width is not None:
                count = cal.closed_count - width / cal.m_per_count  # not rounded
                ahead = (self._position <= count < self._target) if closing else \
                    (self._target < count <= self._position)
                if ahead and ((new >= count) if closing else (new <= count)):
                    obstacle = count
        if obstacle is not None:
            self._position, self._moving = obstacle, False
            self._obj = ObjectState.CONTACT_CLOSING if closing else ObjectState.CONTACT_OPENING
        elif new == self._target:
            self._position, self._moving = new, False
            self._obj = ObjectState.AT_POSITION
            if self._releasing:
                self._releasing, self._fault = False, 0x0F
        else:
            self._position = new

    def _current(self) -> int:
        # x 10 mA; a plausible shape (not from the manual): a little while moving, more
        # when squeezing an object, in proportion to the requested force
        if self._moving:
            return 12
        if self._obj in (ObjectState.CONTACT_CLOSING, ObjectState.CONTACT_OPENING) \
                and self.request.gto:
            return 20 + self.request.force // 4
        return 0


# --- damaged answers ------------------------------------------------------------------


class CommFault(str, Enum):
    """What can happen to one answer on the wire."""

    SILENCE = "silence"  #: no answer at all
    DROP = "drop"        #: bytes lost: a short answer
    CORRUPT = "corrupt"  #: one byte changed: a bad CRC (or a garbled ASCII reply)


@dataclass(frozen=True)
class InjectedFault:
    response_index: int  #: which answer (0-based, counted over the injector's life)
    kind: CommFault


class FaultInjector:
    """Decides, answer by answer, whether to damage it: scheduled (``arm``), at random
    (``rate``, seeded), or always (``silent``: a cut cable)."""

    def __init__(self, rate: float = 0.0, kinds: tuple[CommFault, ...] = tuple(CommFault),
                 seed: int = 0):
        self.rate, self.kinds = rate, tuple(kinds)
        self.silent = False
        self.injected: list[InjectedFault] = []
        self._rng = random.Random(seed)
        self._armed: deque[tuple[int, CommFault]] = deque()
        self._count = 0
        self._lock = threading.Lock()

    def arm(self, kind: CommFault, after: int = 0) -> None:
        """Damage the answer ``after`` answers from now (0: the next one)."""
        with self._lock:
            self._armed.append((self._count + after, kind))

    def disarm(self) -> int:
        """Forget scheduled faults that have not fired; returns how many there were."""
        with self._lock:
            n = len(self._armed)
            self._armed.clear()
            return n

    def _choose(self) -> CommFault | None:
        with self._lock:
            index = self._count
            self._count += 1
            kind = None
            if self.silent:
                kind = CommFault.SILENCE
            elif self._armed and self._armed[0][0] == index:
                kind = self._armed.popleft()[1]
            elif self.rate and self._rng.random() < self.rate:
                kind = self._rng.choice(self.kinds)
            if kind is not None and not self.silent:
                self.injected.append(InjectedFault(index, kind))
            return kind

    def damage_rtu(self, frame: bytes) -> bytes:
        """The frame as the master will receive it (b"" for silence)."""
        kind = self._choose()
        if kind is None:
            return frame
        if kind is CommFault.SILENCE:
            return b""
        data = bytearray(frame)
        if kind is CommFault.DROP:
            for _ in range(min(self._rng.randint(1, 3), len(data) - 1)):
                del data[self._rng.randrange(len(data))]
        else:
            data[self._rng.randrange(len(data))] ^= self._rng.randint(1, 255)
        return bytes(data)

    def damage_text(self, reply: bytes) -> bytes:
        """An ASCII reply as the client will receive it: cut short or garbled."""
        kind = self._choose()
        if kind is None:
            return reply
        if kind is CommFault.SILENCE:
            return b""
        if kind is CommFault.DROP:
            return reply[:max(1, len(reply.strip()) // 2)]
        return b"#" + reply[1:]
