"""Codec for the Robotiq 2F-85 register map and its Modbus RTU frames.

Source of the register map, bit layout and example frames: Robotiq, "2F-85 & 2F-140
Instruction Manual", section "Control" (robot output / input registers, Modbus RTU
example). Everything here is pure Python with no I/O, shared by the driver, the
simulator and the tests.

Robot output (what we write, FC16 at 0x03E8, 3 registers, high byte first)::

    0x03E8  ACTION REQUEST (rACT bit0, rGTO bit3, rATR bit4, rARD bit5) | reserved
    0x03E9  reserved                                                    | rPR position
    0x03EA  rSP speed                                                   | rFR force

Robot input (what we read, FC03 or FC04 at 0x07D0, up to 3 registers)::

    0x07D0  GRIPPER STATUS (gACT bit0, gGTO bit3, gSTA bits4-5, gOBJ bits6-7) | reserved
    0x07D1  FAULT STATUS (gFLT low nibble, kFLT high nibble) | gPR position echo
    0x07D2  gPO position                                     | gCU current (x 10 mA)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

#: serial line settings from the manual: 115200 baud, 8 data bits, no parity, 1 stop bit
BAUDRATE, BYTESIZE, PARITY, STOPBITS = 115200, 8, "N", 1
DEFAULT_DEVICE_ID = 9
OUTPUT_ADDRESS = 0x03E8  #: first robot-output register (action request)
INPUT_ADDRESS = 0x07D0   #: first robot-input register (gripper status)
N_REGISTERS = 3
FC_READ_HOLDING, FC_READ_INPUT, FC_WRITE_MULTIPLE = 0x03, 0x04, 0x10
URCAP_PORT = 63352


class ActivationState(IntEnum):
    """gSTA."""

    RESET = 0
    ACTIVATING = 1
    UNUSED = 2  # the manual marks 2 as not used
    ACTIVATED = 3


class ObjectState(IntEnum):
    """gOBJ: only meaningful while gGTO = 1."""

    MOVING = 0
    CONTACT_OPENING = 1  # fingers stopped on something while opening (outer grip)
    CONTACT_CLOSING = 2  # fingers stopped on something while closing (object held)
    AT_POSITION = 3      # requested position reached, nothing detected


def crc16_modbus(data: bytes) -> int:
    """CRC-16/MODBUS (reflected poly 0xA001, init 0xFFFF); sent low byte first."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def with_crc(body: bytes) -> bytes:
    """``body`` followed by its CRC in wire order (low byte first)."""
    return body + crc16_modbus(body).to_bytes(2, "little")


def crc_ok(frame: bytes) -> bool:
    """True when the last two bytes of ``frame`` are the CRC of the rest."""
    return len(frame) >= 4 and crc16_modbus(frame[:-2]).to_bytes(2, "little") == frame[-2:]


def _byte(name: str, value: int) -> int:
    if not isinstance(value, int) or not 0 <= value <= 255:
        raise ValueError(f"{name} must be an integer in 0..255, got {value!r}")
    return value


def _bit(name: str, value: int) -> int:
    if value not in (0, 1):
        raise ValueError(f"{name} must be 0 or 1, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class Request:
    """Robot output registers: one complete command (raw register units)."""

    act: int = 0       #: rACT: 1 activate; a rising edge starts activation, 0 resets
    gto: int = 0       #: rGTO: 1 go to the requested position
    atr: int = 0       #: rATR: 1 automatic (emergency) release
    ard: int = 0       #: rARD: release direction, 0 closing, 1 opening
    position: int = 0  #: rPR: 0 open .. 255 closed (counts)
    speed: int = 0     #: rSP: 0 slowest .. 255 fastest
    force: int = 0     #: rFR: 0 .. 255 grip force

    def __post_init__(self):
        for name in ("act", "gto", "atr", "ard"):
            _bit(name, getattr(self, name))
        for name in ("position", "speed", "force"):
            _byte(name, getattr(self, name))

    @property
    def action_byte(self) -> int:
        return self.act | self.gto << 3 | self.atr << 4 | self.ard << 5

    def to_registers(self) -> tuple[int, int, int]:
        return (self.action_byte << 8, self.position, self.speed << 8 | self.force)

    @classmethod
    def from_registers(cls, regs) -> Request:
        r0, r1, r2 = (list(regs) + [0, 0, 0])[:3]
        action = r0 >> 8
        return cls(act=action & 1, gto=action >> 3 & 1, atr=action >> 4 & 1,
                   ard=action >> 5 & 1, position=r1 & 0xFF, speed=r2 >> 8, force=r2 & 0xFF)


@dataclass(frozen=True)
class Status:
    """Robot input registers (raw register units)."""

    act: int = 0            #: gACT: echo of rACT
    gto: int = 0            #: gGTO: echo of rGTO
    sta: int = 0            #: gSTA: see :class:`ActivationState`
    obj: int = 0            #: gOBJ: see :class:`ObjectState`
    fault: int = 0          #: gFLT: see ``robots.robotiq.errors.FAULTS``
    controller_fault: int = 0  #: kFLT: high nibble of the fault byte
    position_echo: int = 0  #: gPR: echo of rPR, confirms the command was received
    position: int = 0       #: gPO: 0 open .. 255 closed (counts)
    current: int = 0        #: gCU: finger current, x 10 mA

    def __post_init__(self):
        _bit("act", self.act)
        _bit("gto", self.gto)
        for name, top in (("sta", 3), ("obj", 3), ("fault", 15), ("controller_fault", 15)):
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value <= top:
                raise ValueError(f"{name} must be an integer in 0..{top}, got {value!r}")
        for name in ("position_echo", "position", "current"):
            _byte(name, getattr(self, name))

    @property
    def status_byte(self) -> int:
        return self.act | self.gto << 3 | self.sta << 4 | self.obj << 6

    def to_registers(self) -> tuple[int, int, int]:
        return (self.status_byte << 8,
                (self.controller_fault << 4 | self.fault) << 8 | self.position_echo,
                self.position << 8 | self.current)

    @classmethod
    def from_registers(cls, regs) -> Status:
        """Decode 1 to 3 registers read from 0x07D0 (missing ones read as zero)."""
        r0, r1, r2 = (list(regs) + [0, 0, 0])[:3]
        status, fault = r0 >> 8, r1 >> 8
        return cls(act=status & 1, gto=status >> 3 & 1, sta=status >> 4 & 3,
                   obj=status >> 6 & 3, fault=fault & 0x0F, controller_fault=fault >> 4,
                   position_echo=r1 & 0xFF, position=r2 >> 8, current=r2 & 0xFF)


# --- Modbus RTU frames -------------------------------------------------------------


def _registers_bytes(regs) -> bytes:
    return b"".join(int(r).to_bytes(2, "big") for r in regs)


def write_request_frame(request: Request, device_id: int = DEFAULT_DEVICE_ID) -> bytes:
    """FC16 frame writing ``request`` into the 3 output registers."""
    body = bytes([device_id, FC_WRITE_MULTIPLE]) + OUTPUT_ADDRESS.to_bytes(2, "big")
    body += N_REGISTERS.to_bytes(2, "big") + bytes([2 * N_REGISTERS])
    return with_crc(body + _registers_bytes(request.to_registers()))


def read_status_frame(device_id: int = DEFAULT_DEVICE_ID, count: int = N_REGISTERS,
                      function: int = FC_READ_HOLDING) -> bytes:
    """FC03 (or FC04) frame reading ``count`` input registers from 0x07D0."""
    body = bytes([device_id, function]) + INPUT_ADDRESS.to_bytes(2, "big")
    return with_crc(body + count.to_bytes(2, "big"))


def write_response_frame(device_id: int, address: int, count: int) -> bytes:
    """The slave's acknowledgement of an FC16 write."""
    return with_crc(bytes([device_id, FC_WRITE_MULTIPLE]) + address.to_bytes(2, "big")
                    + count.to_bytes(2, "big"))


def read_response_frame(device_id: int, function: int, regs) -> bytes:
    """The slave's answer to an FC03/FC04 read."""
    data = _registers_bytes(regs)
    return with_crc(bytes([device_id, function, len(data)]) + data)


@dataclass(frozen=True)
class RtuRequest:
    """A decoded master-to-slave frame (FC03, FC04 or FC16)."""

    device_id: int
    function: int
    address: int
    count: int
    values: tuple[int, ...] = ()  #: register values of an FC16 write


def rtu_request_length(buf: bytes) -> int | None:
    """Length of the request frame at the start of ``buf``.

    0 when more bytes are needed to tell, None when the function code is not one this
    device understands (the caller then discards the buffer, as a real slave ignores
    what it cannot parse).
    """
    if len(buf) < 2:
        return 0
    if buf[1] in (FC_READ_HOLDING, FC_READ_INPUT):
        return 8
    if buf[1] == FC_WRITE_MULTIPLE:
        return 0 if len(buf) < 7 else 9 + buf[6]
    return None


def decode_rtu_request(frame: bytes) -> RtuRequest:
    """Decode one complete request frame whose CRC is already checked."""
    device_id, function = frame[0], frame[1]
    address = int.from_bytes(frame[2:4], "big")
    count = int.from_bytes(frame[4:6], "big")
    if function == FC_WRITE_MULTIPLE:
        data = frame[7:-2]
        if len(data) != 2 * count or frame[6] != len(data):
            raise ValueError("FC16 byte count disagrees with the register count")
        values = tuple(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
        return RtuRequest(device_id, function, address, count, values)
    if function in (FC_READ_HOLDING, FC_READ_INPUT):
        return RtuRequest(device_id, function, address, count)
    raise ValueError(f"unsupported function code 0x{function:02X}")


def response_length(function: int, count: int) -> int:
    """Length of the slave's answer to a request with this function and count."""
    return 8 if function == FC_WRITE_MULTIPLE else 5 + 2 * count


# --- SI units <-> register units ------------------------------------------------------


@dataclass(frozen=True)
class Calibration:
    """How SI values map to register units for one gripper (defaults: a 2F-85).

    After activation the encoder spans about ``open_count`` .. ``closed_count``, not
    0..255; widths are pad-to-pad openings. Speed and force spans come from the
    product specification and map linearly onto 0..255.
    """

    stroke_m: float = 0.085       #: pad-to-pad opening when fully open, m
    open_count: int = 3           #: encoder position when fully open
    closed_count: int = 230       #: encoder position when fully closed
    speed_range_m_s: tuple[float, float] = (0.020, 0.150)  #: m/s
    force_range_n: tuple[float, float] = (20.0, 235.0)     #: N

    @classmethod
    def from_gripper_spec(cls, spec, **overrides) -> Calibration:
        """From ``robots.load(...).gripper`` (stroke, speed and force ranges)."""
        return cls(stroke_m=spec.stroke, speed_range_m_s=tuple(spec.speed_range),
                   force_range_n=tuple(spec.force_range), **overrides)

    @property
    def m_per_count(self) -> float:
        return self.stroke_m / (self.closed_count - self.open_count)

    def check(self, width_m: float, speed_m_s: float, force_n: float) -> None:
        """Raise ValueError naming the first value outside the gripper's limits."""
        for name, value, (lo, hi), unit in (
                ("width", width_m, (0.0, self.stroke_m), "m"),
                ("speed", speed_m_s, self.speed_range_m_s, "m/s"),
                ("force", force_n, self.force_range_n, "N")):
            if not isinstance(value, (int, float)) or not lo <= value <= hi:
                raise ValueError(f"{name} {value!r} {unit} is outside [{lo:g}, {hi:g}] {unit}")

    def width_to_count(self, width_m: float) -> int:
        span = self.closed_count - self.open_count
        return round(self.closed_count - width_m / self.stroke_m * span)

    def count_to_width(self, count: int | float) -> float:
        count = min(max(count, self.open_count), self.closed_count)
        return (self.closed_count - count) * self.m_per_count

    @staticmethod
    def _to_byte(value: float, lo: float, hi: float) -> int:
        return round((min(max(value, lo), hi) - lo) / (hi - lo) * 255)

    def speed_to_byte(self, speed_m_s: float) -> int:
        return self._to_byte(speed_m_s, *self.speed_range_m_s)

    def byte_to_speed(self, value: int) -> float:
        lo, hi = self.speed_range_m_s
        return lo + value / 255 * (hi - lo)

    def force_to_byte(self, force_n: float) -> int:
        return self._to_byte(force_n, *self.force_range_n)

    def byte_to_force(self, value: int) -> float:
        lo, hi = self.force_range_n
        return lo + value / 255 * (hi - lo)
