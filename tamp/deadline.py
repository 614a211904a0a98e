"""One way to keep a time budget: a :class:`Deadline` is the moment an operation must end,
on the monotonic clock, handed down to whatever waits or loops inside it.

A budget is a promise: every wait inside is cut to what is left (:meth:`Deadline.cap`),
every loop and retry looks at :meth:`Deadline.expired` before it goes on, and a nested
operation with its own limit takes the earlier of the two (:meth:`Deadline.within`). So an
operation ends by its deadline, overrunning it by at most one step that was already under
way. Used by PDDL grounding, the VLM client's requests and retries, the gripper driver's
retries and the camera's wait for frames.
"""

from __future__ import annotations

import math
import time


class Deadline:
    """The moment ``seconds`` from now (None: never), on ``time.monotonic``."""

    __slots__ = ("at",)

    def __init__(self, seconds: float | None = None):
        if seconds is not None and math.isnan(seconds):
            raise ValueError("a deadline of NaN seconds is no deadline")
        self.at = None if seconds is None or math.isinf(seconds) else \
            time.monotonic() + seconds

    @classmethod
    def at_time(cls, at: float | None) -> "Deadline":
        """The deadline at ``at`` (a ``time.monotonic()`` value; None: never)."""
        d = cls()
        d.at = at
        return d

    @property
    def never(self) -> bool:
        return self.at is None

    def left(self) -> float:
        """Seconds left (0 once passed; infinity if never)."""
        return math.inf if self.at is None else max(0.0, self.at - time.monotonic())

    def expired(self) -> bool:
        return self.at is not None and time.monotonic() >= self.at

    def cap(self, timeout: float) -> float:
        """``timeout`` cut to what is left: a wait that ends by the deadline."""
        return min(timeout, self.left())

    def earlier(self, other: "Deadline | None") -> "Deadline":
        """The earlier of this deadline and ``other`` (None: no other)."""
        if other is None or other.at is None:
            return self
        if self.at is None:
            return other
        return self if self.at <= other.at else other

    def within(self, seconds: float | None) -> "Deadline":
        """The earlier of this deadline and ``seconds`` from now."""
        return self.earlier(Deadline(seconds))

    def __repr__(self) -> str:
        return "Deadline(never)" if self.at is None else f"Deadline({self.left():.3f} s left)"
