"""The gripper side of a deployment: a :class:`~robots.ros.deploy.GripperPort` backed by
the Robotiq 2F-85 driver in :mod:`robots.robotiq`.

The driver is developed alongside; :func:`gripper_port` returns ``None`` when the
driver's entry points (``parse_spec`` and ``RobotiqGripper``) are not importable, and the
caller says so instead of pretending to grip.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GripperSettings:
    speed: float = 0.05  #: m/s finger speed (the 2F-85 allows 0.02-0.15)
    force: float = 60.0  #: N grip force (the 2F-85 allows 20-235)
    activate_timeout: float = 5.0  #: s
    #: s to wait for the fingers to stop (the driver's default is 1.5 x the full stroke's
    #: time + 1 s, 3.6 s at 0.05 m/s); a wait is not a motion, so a generous one costs
    #: nothing on a real gripper and keeps a twin slowed by a busy machine from timing out
    move_timeout: float = 10.0
    #: a commanded width at or below this counts as "close on the object", m
    grasp_width: float = 1e-4


class RobotiqPort:
    """Opens the driver on first use; a close that meets no object raises, because the
    plan's next move assumes the object is held."""

    def __init__(self, spec: str, settings: GripperSettings | None = None):
        from robots.robotiq import RobotiqGripper, parse_spec

        self.spec = spec
        self.settings = settings or GripperSettings()
        self._make = lambda: RobotiqGripper(parse_spec(spec))
        self._gripper = None

    def open(self) -> None:
        """Connect and activate now (before the arm moves), raising on failure."""
        self._ready()

    def _ready(self):
        if self._gripper is None:
            gripper = self._make()
            gripper.connect()
            gripper.activate(timeout_s=self.settings.activate_timeout)
            self._gripper = gripper
        return self._gripper

    def set_width(self, width: float) -> str:
        s = self.settings
        result = self._ready().move(width, speed_m_s=s.speed, force_n=s.force,
                                    timeout_s=s.move_timeout)
        text = (f"gripper {result.outcome.value} at {result.width_m * 1000:.1f} mm "
                f"(asked {width * 1000:.1f} mm) in {result.elapsed_s:.2f} s")
        if width <= s.grasp_width and not result.object_detected:
            raise RuntimeError(f"closed without meeting the object: {text}")
        return text

    def status(self):
        """The gripper's status registers, decoded (:class:`robots.robotiq.GripperStatus`)."""
        return self._ready().status()

    def holding(self) -> bool:
        """Whether the fingers rest on an object after closing (gOBJ = 2): the 2F-85's
        own object detection, the truth about holding on a real cell."""
        from robots.robotiq.registers import ObjectState

        status = self.status()
        return bool(status.go_to) and status.object == ObjectState.CONTACT_CLOSING

    def stop(self) -> None:
        """Stop the fingers where they are (any thread; never raises)."""
        try:
            if self._gripper is not None:
                self._gripper.stop()
        except Exception:  # stopping is best effort: the link may be what failed
            pass

    def close(self) -> None:
        if self._gripper is not None:
            self._gripper.disconnect()
            self._gripper = None


def gripper_port(spec: str, settings: GripperSettings | None = None) -> RobotiqPort | None:
    """A port for ``spec`` (``serial:DEV``, ``tcp:HOST:PORT``, ``urcap:HOST``), or None when
    the Robotiq driver is not available in this checkout."""
    try:
        return RobotiqPort(spec, settings)
    except (ImportError, AttributeError):
        return None
