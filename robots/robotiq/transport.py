"""Ways to reach a 2F-85, behind one interface: write a :class:`Request`, read a
:class:`Status`.

* :class:`SerialRtuTransport`: Modbus RTU on a serial port (115200 8N1), via pymodbus.
* :class:`TcpRtuTransport`: the same RTU frames through a TCP serial gateway, via pymodbus.
* :class:`UrcapTransport`: the ASCII socket of Robotiq's URCap on a UR controller.

Every call has a deadline and a bounded number of retries, and ends in a value or a
typed :mod:`~robots.robotiq.errors` exception, never ``None``. pymodbus and pyserial
are imported when a transport opens, so importing this module stays cheap. pymodbus
logs each unanswered request at ERROR level on the ``pymodbus`` logger; applications
that report errors themselves (the CLI) silence that logger.
"""

from __future__ import annotations

import os
import re
import socket
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass

from robots.robotiq.errors import (CommunicationError, CrcError, GripperConnectionError,
                                   GripperStateError, ProtocolError, ResponseTimeout)
from robots.robotiq.registers import (BAUDRATE, BYTESIZE, DEFAULT_DEVICE_ID,
                                      FC_READ_HOLDING, FC_WRITE_MULTIPLE, INPUT_ADDRESS,
                                      N_REGISTERS, OUTPUT_ADDRESS, PARITY, STOPBITS,
                                      URCAP_PORT, Request, Status, crc_ok,
                                      response_length)


@dataclass(frozen=True)
class TransportConfig:
    """Deadlines and retries shared by every transport."""

    #: how long one attempt waits for a complete answer, s
    timeout_s: float = 0.2
    #: extra attempts after the first one fails (bounded: total = retries + 1)
    retries: int = 2
    #: Modbus slave id (ignored by the URCap socket)
    device_id: int = DEFAULT_DEVICE_ID

    def __post_init__(self):
        if not self.timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {self.timeout_s}")
        if not (isinstance(self.retries, int) and 0 <= self.retries <= 10):
            raise ValueError(f"retries must be an integer in 0..10, got {self.retries}")
        if not 1 <= self.device_id <= 247:
            raise ValueError(f"device_id must be in 1..247, got {self.device_id}")


@dataclass
class TransportStats:
    """Counters since the transport was created (for logs and tests)."""

    requests: int = 0
    attempts: int = 0
    timeouts: int = 0
    crc_errors: int = 0
    protocol_errors: int = 0


class Transport(ABC):
    """One link to one gripper."""

    #: False where the link cannot read the finger current (URCap)
    reads_current = True

    def __init__(self, config: TransportConfig | None = None):
        self.config = config or TransportConfig()
        self.stats = TransportStats()
        #: no retry is started past it (the operation's deadline, set by the driver
        #: while it waits; :class:`tamp.deadline.Deadline`); None: by count only
        self.deadline = None

    @property
    @abstractmethod
    def is_open(self) -> bool: ...

    @abstractmethod
    def open(self) -> None:
        """Open the port or socket; raises GripperConnectionError."""

    @abstractmethod
    def close(self) -> None:
        """Release the port or socket (safe to call twice)."""

    @abstractmethod
    def _write_once(self, request: Request) -> None: ...

    @abstractmethod
    def _read_once(self) -> Status: ...

    def write(self, request: Request) -> None:
        """Send one complete command (all output registers)."""
        self._retrying(lambda: self._write_once(request))

    def read(self) -> Status:
        """Read the status registers."""
        return self._retrying(self._read_once)

    def _retrying(self, attempt):
        if not self.is_open:
            raise GripperStateError(f"{self} is not open")
        self.stats.requests += 1
        for n in range(self.config.retries + 1):
            self.stats.attempts += 1
            try:
                return attempt()
            except CommunicationError as err:
                counter = {ResponseTimeout: "timeouts", CrcError: "crc_errors"}.get(
                    type(err), "protocol_errors")
                setattr(self.stats, counter, getattr(self.stats, counter) + 1)
                if n == self.config.retries or (self.deadline is not None
                                                and self.deadline.expired()):
                    raise

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc):
        self.close()


class _PymodbusRtu(Transport):
    """Modbus RTU through a pymodbus synchronous client (serial or TCP)."""

    def __init__(self, config: TransportConfig | None = None):
        super().__init__(config)
        self._client = None
        self._expected_len = 0
        self._saw_bad_crc = False

    @abstractmethod
    def _make_client(self): ...

    @abstractmethod
    def _drain(self) -> None:
        """Drop stale bytes (a late answer) so they are not taken for the next one."""

    @property
    def is_open(self) -> bool:
        return self._client is not None

    def open(self) -> None:
        if self._client is not None:
            return
        client = self._make_client()
        # our own loop does the retries, so each attempt is classified; and pymodbus
        # must never decide on its own to drop the link after a run of timeouts
        client.set_max_no_responses(1 << 30)
        if not client.connect():
            raise GripperConnectionError(f"cannot open {self}{self._why_not()}")
        self._client = client

    def _why_not(self) -> str:
        """The reason the last open failed (pymodbus only logs it), as ': reason'."""
        return ""

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def _trace(self, sending: bool, data: bytes) -> bytes:
        # pymodbus drops a frame with a bad CRC silently and then times out; watching
        # the raw bytes lets us report the real cause (noise) instead of a timeout
        if sending:
            self._saw_bad_crc = False
        elif len(data) >= self._expected_len and not crc_ok(data[:self._expected_len]):
            self._saw_bad_crc = True
        return data

    def _call(self, function: int, n_registers: int, method: str, *args, **kwargs):
        from pymodbus.exceptions import ConnectionException, ModbusException

        self._expected_len = response_length(function, n_registers)
        self._drain()
        try:
            response = getattr(self._client, method)(
                *args, device_id=self.config.device_id, **kwargs)
        except ConnectionException as err:
            self.close()
            raise GripperConnectionError(f"{self}: link closed ({err})") from None
        except OSError as err:  # the socket or port itself: reset, broken pipe, unplugged
            self.close()
            raise GripperConnectionError(f"{self}: link lost "
                                         f"({err.strerror or type(err).__name__})") from None
        except ModbusException:
            if self._saw_bad_crc:
                raise CrcError(f"{self}: answer with a bad CRC") from None
            raise ResponseTimeout(f"{self}: no answer from slave {self.config.device_id} "
                                  f"within {self.config.timeout_s:g} s") from None
        if response.isError() or response.function_code != function:
            raise ProtocolError(f"{self}: unexpected answer {response}")
        return response

    def _write_once(self, request: Request) -> None:
        response = self._call(FC_WRITE_MULTIPLE, N_REGISTERS, "write_registers",
                              OUTPUT_ADDRESS, list(request.to_registers()))
        if (response.address, response.count) != (OUTPUT_ADDRESS, N_REGISTERS):
            raise ProtocolError(f"{self}: write acknowledged for the wrong registers")

    def _read_once(self) -> Status:
        response = self._call(FC_READ_HOLDING, N_REGISTERS, "read_holding_registers",
                              INPUT_ADDRESS, count=N_REGISTERS)
        if len(response.registers) != N_REGISTERS:
            raise ProtocolError(f"{self}: asked for {N_REGISTERS} registers, "
                                f"got {len(response.registers)}")
        return Status.from_registers(response.registers)


class SerialRtuTransport(_PymodbusRtu):
    """Modbus RTU on a serial port (RS-485 adapter, or a pseudo-terminal)."""

    def __init__(self, port: str, config: TransportConfig | None = None):
        super().__init__(config)
        self.port = port

    def __str__(self):
        return f"serial:{self.port}"

    def open(self) -> None:
        # pymodbus only logs why a port failed to open; say it here, with the usual fix
        if not os.path.exists(self.port):
            raise GripperConnectionError(f"serial port {self.port} does not exist")
        if not os.access(self.port, os.R_OK | os.W_OK):
            raise GripperConnectionError(
                f"no permission to open {self.port} (add the user to the 'dialout' group)")
        super().open()

    def _why_not(self) -> str:
        import serial

        try:
            serial.Serial(self.port, exclusive=True).close()
        except (serial.SerialException, OSError) as err:
            return f": {err}"
        return ""

    def _make_client(self):
        from pymodbus.client import ModbusSerialClient
        from pymodbus.framer import FramerType

        return ModbusSerialClient(self.port, framer=FramerType.RTU, baudrate=BAUDRATE,
                                  bytesize=BYTESIZE, parity=PARITY, stopbits=STOPBITS,
                                  timeout=self.config.timeout_s, retries=0,
                                  trace_packet=self._trace)

    def _drain(self) -> None:
        port = self._client.socket
        if port is not None and port.in_waiting:
            port.reset_input_buffer()


class TcpRtuTransport(_PymodbusRtu):
    """RTU frames (with CRC, no MBAP header) through a TCP serial gateway."""

    def __init__(self, host: str, port: int, config: TransportConfig | None = None):
        super().__init__(config)
        self.host, self.port = host, port

    def __str__(self):
        return f"tcp:{self.host}:{self.port}"

    def _why_not(self) -> str:
        try:
            socket.create_connection((self.host, self.port), timeout=self.config.timeout_s).close()
        except OSError as err:
            return f": {err}"
        return ""

    def _make_client(self):
        from pymodbus.client import ModbusTcpClient
        from pymodbus.framer import FramerType

        return ModbusTcpClient(self.host, port=self.port, framer=FramerType.RTU,
                               timeout=self.config.timeout_s, retries=0,
                               trace_packet=self._trace)

    def _drain(self) -> None:
        sock = self._client.socket
        if sock is None:
            return
        sock.setblocking(False)
        try:
            while sock.recv(4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            pass  # a dead socket shows itself on the next send


class UrcapTransport(Transport):
    """The URCap's ASCII socket: ``SET VAR value ...`` -> ``ack``, ``GET VAR`` -> ``VAR n``.

    The URCap offers no finger current, so :attr:`Status.current` reads 0 here and
    ``reads_current`` is False.
    """

    reads_current = False
    #: how long a reply without a newline must stay quiet before it counts as complete, s
    QUIET_S = 0.01

    def __init__(self, host: str, port: int = URCAP_PORT, config: TransportConfig | None = None):
        super().__init__(config)
        self.host, self.port = host, port
        self._sock: socket.socket | None = None

    def __str__(self):
        return f"urcap:{self.host}:{self.port}"

    @property
    def is_open(self) -> bool:
        return self._sock is not None

    def open(self) -> None:
        if self._sock is not None:
            return
        try:
            self._sock = socket.create_connection((self.host, self.port),
                                                  timeout=max(self.config.timeout_s, 1.0))
        except OSError as err:
            raise GripperConnectionError(f"cannot connect to {self}: {err}") from None
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    def _exchange(self, line: str, complete) -> bytes:
        """Send ``line``; collect the reply until ``complete(buf)`` says it is whole.

        ``complete`` returns None (wait for more), "done", or "maybe" (whole unless more
        bytes follow at once: a number without its newline), or raises ProtocolError.
        """
        sock = self._sock
        sock.setblocking(False)
        try:
            while sock.recv(4096):  # a late reply to an earlier, timed-out request
                pass
        except (BlockingIOError, InterruptedError):
            pass
        except OSError as err:
            self.close()
            raise GripperConnectionError(f"{self}: {err}") from None
        deadline = time.monotonic() + self.config.timeout_s
        buf = b""
        try:
            sock.settimeout(self.config.timeout_s)
            sock.sendall(line.encode("ascii") + b"\n")
        except OSError as err:
            self.close()
            raise GripperConnectionError(f"{self}: cannot send ({err})") from None
        while True:
            state = complete(buf)
            if state == "done":
                return buf
            left = deadline - time.monotonic()
            if state is None and left <= 0:
                raise ResponseTimeout(f"{self}: no complete answer to '{line}' within "
                                      f"{self.config.timeout_s:g} s (got {buf!r})")
            sock.settimeout(max(min(left, self.QUIET_S) if state else left, 1e-4))
            try:
                chunk = sock.recv(256)
            except TimeoutError:
                if state == "maybe":
                    return buf
                continue
            except OSError as err:
                self.close()
                raise GripperConnectionError(f"{self}: {err}") from None
            if not chunk:
                self.close()
                raise GripperConnectionError(f"{self}: connection closed by the peer")
            buf += chunk

    def _write_once(self, request: Request) -> None:
        # GTO last: the URCap applies variables in order, so the motion starts with the
        # new position, speed and force already set
        fields = [("ACT", request.act), ("ATR", request.atr), ("ADR", request.ard),
                  ("POS", request.position), ("SPE", request.speed), ("FOR", request.force),
                  ("GTO", request.gto)]

        def complete(buf: bytes) -> str | None:
            text = buf.strip()
            if text == b"ack":
                return "done"  # a newline after it, if any, is drained before the next line
            if not b"ack".startswith(text) or (text and buf.endswith(b"\n")):
                raise ProtocolError(f"{self}: expected 'ack', got {buf!r}")
            return None

        self._exchange("SET " + " ".join(f"{k} {v}" for k, v in fields), complete)

    def _get(self, var: str) -> int:
        pattern = re.compile(rb"\s*" + var.encode() + rb" (\d{1,3})\s*")

        def complete(buf: bytes) -> str | None:
            if pattern.fullmatch(buf):
                return "done" if buf.endswith(b"\n") else "maybe"
            stripped = buf.lstrip()
            if buf.endswith(b"\n") or not (var.encode() + b" ").startswith(stripped[:4]):
                raise ProtocolError(f"{self}: expected '{var} <value>', got {buf!r}")
            return None

        return int(pattern.fullmatch(self._exchange(f"GET {var}", complete)).group(1))

    def _read_once(self) -> Status:
        values = {var: self._get(var) for var in ("ACT", "GTO", "STA", "OBJ", "FLT", "PRE",
                                                  "POS")}
        try:
            return Status(act=values["ACT"], gto=values["GTO"], sta=values["STA"],
                          obj=values["OBJ"], fault=values["FLT"],
                          position_echo=values["PRE"], position=values["POS"])
        except ValueError as err:
            raise ProtocolError(f"{self}: value out of range: {err}") from None


# --- "--gripper" specs ----------------------------------------------------------------


def parse_spec(spec: str, config: TransportConfig | None = None) -> Transport:
    """A transport (not yet open) from ``serial:/dev/ttyUSB0``, ``tcp:HOST:PORT`` or
    ``urcap:HOST[:PORT]``; raises ValueError with a one-line reason."""
    kind, sep, rest = spec.partition(":")
    if not sep or kind not in ("serial", "tcp", "urcap"):
        raise ValueError(f"bad gripper spec '{spec}': expected serial:DEVICE, "
                         "tcp:HOST:PORT or urcap:HOST[:PORT]")
    if kind == "serial":
        if not rest:
            raise ValueError(f"bad gripper spec '{spec}': no serial device after 'serial:'")
        return SerialRtuTransport(rest, config)
    host, port = split_host_port(rest, URCAP_PORT if kind == "urcap" else None)
    cls = TcpRtuTransport if kind == "tcp" else UrcapTransport
    return cls(host, port, config)


def split_host_port(text: str, default_port: int | None) -> tuple[str, int]:
    """``HOST:PORT`` (or ``[V6]:PORT``, or ``HOST`` when a default port exists)."""
    if text.startswith("["):
        host, _, tail = text[1:].partition("]")
        port_text = tail[1:] if tail.startswith(":") else None
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host, port_text = text, None
    if not host:
        raise ValueError(f"bad address '{text}': no host")
    if port_text is None:
        if default_port is None:
            raise ValueError(f"bad address '{text}': expected HOST:PORT")
        return host, default_port
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"bad address '{text}': port must be an integer in 0..65535")
    return host, int(port_text)
