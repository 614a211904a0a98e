"""Robotiq 2F-85: register codec, transports, driver and a simulator faithful to the
instruction manual. SI units throughout (m, m/s, N, s).

``parse_spec("serial:/dev/ttyUSB0" | "tcp:HOST:PORT" | "urcap:HOST[:PORT]")`` gives a
transport; :class:`RobotiqGripper` drives it. The simulator lives in
:mod:`robots.robotiq.simulator` (state machine) and :mod:`robots.robotiq.sim_servers`
(pseudo-terminal, TCP and URCap servers). Nothing here imports pymodbus or pyserial until
a transport opens.
"""

from robots.robotiq.driver import (GripperConfig, GripperStatus, LinkHealth, MoveCommand,
                                   MoveOutcome, MoveResult, RobotiqGripper)
from robots.robotiq.errors import (ActivationTimeout, CommunicationError, CrcError,
                                   GripperConnectionError, GripperError, GripperFault,
                                   GripperStateError, LinkLostError, MajorFault, MinorFault,
                                   MotionTimeout, NotActivatedError, PriorityFault,
                                   ProtocolError, ResponseTimeout)
from robots.robotiq.registers import ActivationState, Calibration, ObjectState
from robots.robotiq.transport import TransportConfig, parse_spec

__all__ = [
    "RobotiqGripper", "GripperConfig", "GripperStatus", "MoveCommand", "MoveOutcome",
    "MoveResult", "LinkHealth", "Calibration", "ActivationState", "ObjectState",
    "TransportConfig", "parse_spec",
    "GripperError", "GripperStateError", "GripperConnectionError", "CommunicationError",
    "ResponseTimeout", "CrcError", "ProtocolError", "LinkLostError", "ActivationTimeout",
    "MotionTimeout", "NotActivatedError", "GripperFault", "PriorityFault", "MinorFault",
    "MajorFault",
]
