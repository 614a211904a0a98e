"""Typed errors of the Robotiq driver: every failure is one of these, never ``None``.

Fault codes (gFLT) and their classes are from the 2F-85 instruction manual, "Gripper
status" / "Fault status": the class tells the caller what it takes to recover.
"""

from __future__ import annotations

#: gFLT code -> (class, meaning)
FAULTS: dict[int, tuple[str, str]] = {
    0x05: ("priority", "action delayed: the activation must be completed first"),
    0x07: ("priority", "the activation bit must be set before an action"),
    0x08: ("minor", "maximum operating temperature exceeded, let the gripper cool down"),
    0x09: ("minor", "no communication for at least 1 s"),
    0x0A: ("major", "under minimum operating voltage"),
    0x0B: ("major", "automatic release in progress"),
    0x0C: ("major", "internal processor fault"),
    0x0D: ("major", "activation fault: check for interference"),
    0x0E: ("major", "overcurrent triggered"),
    0x0F: ("major", "automatic release completed"),
}


def fault_class(code: int) -> str:
    """'none', 'priority', 'minor', 'major' or 'unknown' for a gFLT value."""
    if code == 0:
        return "none"
    return FAULTS.get(code, ("unknown", ""))[0]


def describe_fault(code: int) -> str:
    return FAULTS.get(code, ("unknown", f"undocumented fault code 0x{code:02X}"))[1]


class GripperError(Exception):
    """Base of every error this package raises."""


class GripperStateError(GripperError):
    """The driver was used out of order (not connected, connected twice, ...)."""


class NotActivatedError(GripperError):
    """A motion was asked of a gripper that is not activated (gSTA != 3)."""


class GripperConnectionError(GripperError):
    """The port or socket could not be opened, or it closed under us."""


class CommunicationError(GripperError):
    """A request got no usable answer (after the configured retries)."""


class ResponseTimeout(CommunicationError, TimeoutError):
    """No complete answer before the deadline: the normal symptom of a wrong slave id,
    a bad CRC on the request, a broken cable or a device that is off."""


class CrcError(CommunicationError):
    """An answer arrived whose CRC does not match: noise on the line."""


class ProtocolError(CommunicationError):
    """An answer arrived that is well formed but not the one asked for."""


class LinkLostError(CommunicationError):
    """The watchdog saw no answer from the gripper for longer than its limit."""


class ActivationTimeout(GripperError, TimeoutError):
    """gSTA did not reach 3 (activated) before the deadline."""


class MotionTimeout(GripperError, TimeoutError):
    """The fingers did not stop (gOBJ != 0) before the deadline."""


class GripperFault(GripperError):
    """The gripper reports a fault (gFLT != 0); subclasses give its class."""

    #: what recovery needs, shown in the message
    remedy = ""

    def __init__(self, code: int):
        self.code = code
        self.description = describe_fault(code)
        super().__init__(f"gripper fault 0x{code:02X} ({fault_class(code)}): "
                         f"{self.description}{self.remedy}")

    @staticmethod
    def from_code(code: int) -> GripperFault:
        """The typed exception for a non-zero gFLT value."""
        cls = {"priority": PriorityFault, "minor": MinorFault,
               "major": MajorFault}.get(fault_class(code), MajorFault)
        return cls(code)


class PriorityFault(GripperFault):
    """0x05, 0x07: a command came at the wrong time; it clears with a valid command."""

    remedy = "; activate the gripper"


class MinorFault(GripperFault):
    """0x08, 0x09: the gripper keeps working once the cause is gone."""


class MajorFault(GripperFault):
    """0x0A-0x0F (and undocumented codes): needs a reset and a fresh activation."""

    remedy = "; reset and re-activate the gripper"
