"""The simulated gripper served as a device others can talk to.

* :class:`PtyServer`: a Modbus RTU slave on a pseudo-terminal (real serial framing, CRC);
  open :attr:`PtyServer.path` as you would /dev/ttyUSB0.
* :class:`TcpRtuServer`: RTU frames over TCP, as a serial-to-Ethernet gateway carries them.
* :class:`UrcapServer`: the URCap's ASCII socket.

The RTU slave is written here on top of the codec rather than taken from pymodbus,
because pymodbus's simulated device answers a wrong slave id with an exception frame
while the real gripper stays silent (as it does for a bad CRC). Servers bind to loopback
unless told otherwise, and every answer goes through the :class:`FaultInjector`.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import select
import socket
import socketserver
import threading
import time
import tty
from collections import deque

from robots.robotiq.registers import (DEFAULT_DEVICE_ID, FC_READ_HOLDING, FC_READ_INPUT,
                                      FC_WRITE_MULTIPLE, INPUT_ADDRESS, N_REGISTERS,
                                      OUTPUT_ADDRESS, Request, crc_ok, decode_rtu_request,
                                      read_response_frame, rtu_request_length,
                                      write_response_frame)
from robots.robotiq.simulator import FaultInjector, GripperSim

#: a partial frame left this long is noise; a real slave waits 3.5 characters (0.3 ms at
#: 115200 baud), but a pty or a TCP hop can stall a frame for a few ms, s
FRAME_GAP_S = 0.05


def require_loopback(host: str) -> None:
    """Raise ValueError unless ``host`` is a loopback address (or 'localhost')."""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"refusing to serve the simulator on non-loopback address '{host}'")


class RtuSlave:
    """The device side of Modbus RTU: complete request frames in, answer frames out."""

    def __init__(self, sim: GripperSim, device_id: int = DEFAULT_DEVICE_ID,
                 injector: FaultInjector | None = None):
        self.sim, self.device_id = sim, device_id
        self.injector = injector or FaultInjector()
        #: every well-formed frame received, for tests that compare bytes on the wire
        self.frames: deque[bytes] = deque(maxlen=10_000)

    def answer(self, frame: bytes) -> bytes:
        """The bytes to send back for one CRC-checked frame (b"": stay silent)."""
        self.frames.append(frame)
        if frame[0] != self.device_id:
            return b""  # another slave's request, or a wrong id: silence
        try:
            req = decode_rtu_request(frame)
        except ValueError:
            return b""
        end = req.address + req.count
        if req.function == FC_WRITE_MULTIPLE and OUTPUT_ADDRESS <= req.address \
                and req.count >= 1 and end <= OUTPUT_ADDRESS + N_REGISTERS:
            regs = list(self.sim.request.to_registers())
            offset = req.address - OUTPUT_ADDRESS
            regs[offset:offset + req.count] = req.values
            self.sim.write(Request.from_registers(regs))
            reply = write_response_frame(self.device_id, req.address, req.count)
        elif req.function in (FC_READ_HOLDING, FC_READ_INPUT) and INPUT_ADDRESS <= req.address \
                and req.count >= 1 and end <= INPUT_ADDRESS + N_REGISTERS:
            regs = self.sim.read().to_registers()
            offset = req.address - INPUT_ADDRESS
            reply = read_response_frame(self.device_id, req.function,
                                        regs[offset:offset + req.count])
        else:
            return b""  # the real gripper sends no exception frames
        return self.injector.damage_rtu(reply)


class RtuStream:
    """Cuts a byte stream into request frames for a :class:`RtuSlave`."""

    def __init__(self, slave: RtuSlave):
        self.slave = slave
        self._buf = b""
        self._last = 0.0

    def feed(self, data: bytes, now: float) -> bytes:
        """Bytes received at ``now``; returns the bytes to send back."""
        if self._buf and now - self._last > FRAME_GAP_S:
            self._buf = b""
        self._last = now
        self._buf += data
        out = b""
        while self._buf:
            n = rtu_request_length(self._buf)
            if n is None:  # not a request this device knows: wait for the line to clear
                self._buf = b""
            elif n == 0 or len(self._buf) < n:
                break
            else:
                frame, self._buf = self._buf[:n], self._buf[n:]
                if crc_ok(frame):
                    out += self.slave.answer(frame)
                else:
                    self._buf = b""  # noise: everything up to the next gap is suspect
        return out


class PtyServer:
    """The RTU slave on a pseudo-terminal; clients open :attr:`path`."""

    def __init__(self, slave: RtuSlave):
        self.slave = slave
        self._master, self._slave_fd = os.openpty()
        # raw mode before any client: no echo, no line editing of binary frames. Holding
        # the slave side open also keeps the master readable when a client disconnects.
        tty.setraw(self._slave_fd)
        self.path = os.ttyname(self._slave_fd)
        self._wake_r, self._wake_w = os.pipe()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="robotiq-pty-sim", daemon=True)

    def start(self) -> PtyServer:
        self._thread.start()
        return self

    def _run(self) -> None:
        stream = RtuStream(self.slave)
        while not self._stop:
            ready, _, _ = select.select([self._master, self._wake_r], [], [], 0.5)
            if self._master not in ready:
                continue
            try:
                data = os.read(self._master, 4096)
            except OSError:
                time.sleep(0.01)
                continue
            reply = stream.feed(data, time.monotonic())
            if reply:
                os.write(self._master, reply)

    def close(self) -> None:
        if self._stop:
            return
        self._stop = True
        os.write(self._wake_w, b"x")
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        for fd in (self._master, self._slave_fd, self._wake_r, self._wake_w):
            os.close(fd)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, address, handler, owner):
        self.owner = owner
        self.stopping = threading.Event()
        super().__init__(address, handler)


class _Handler(socketserver.BaseRequestHandler):
    """Reads chunks until the client leaves or the server stops."""

    def handle(self) -> None:
        self.request.settimeout(0.1)
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        state = self.server.owner.new_connection()
        while not self.server.stopping.is_set():
            try:
                data = self.request.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            reply = self.server.owner.on_data(state, data)
            if reply:
                try:
                    self.request.sendall(reply)
                except OSError:
                    return


class _TcpService:
    """A threaded TCP server on loopback (unless ``allow_remote``), as a context manager."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, allow_remote: bool = False):
        if not allow_remote:
            require_loopback(host)
        self._server = _Server((host, port), _Handler, self)
        self.host, self.port = self._server.server_address[:2]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={
            "poll_interval": 0.05}, name=type(self).__name__, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.stopping.set()
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()


class TcpRtuServer(_TcpService):
    """RTU frames over TCP, one stream parser per client."""

    def __init__(self, slave: RtuSlave, host: str = "127.0.0.1", port: int = 0,
                 allow_remote: bool = False):
        self.slave = slave
        super().__init__(host, port, allow_remote)

    def new_connection(self):
        return RtuStream(self.slave)

    def on_data(self, stream: RtuStream, data: bytes) -> bytes:
        return stream.feed(data, time.monotonic())


#: URCap variable -> Request field, for SET (GET also reads these back)
URCAP_WRITABLE = {"ACT": "act", "GTO": "gto", "ATR": "atr", "ADR": "ard", "POS": "position",
                  "SPE": "speed", "FOR": "force"}
_SET_PAIR = re.compile(r"([A-Z]{3}) (\d{1,3})")


class UrcapServer(_TcpService):
    """``SET VAR value [VAR value ...]`` -> ``ack``; ``GET VAR`` -> ``VAR value``.

    Malformed lines and unknown variables get no reply (the client times out), which is
    how this simulator treats what it cannot parse.
    """

    def __init__(self, sim: GripperSim, injector: FaultInjector | None = None,
                 host: str = "127.0.0.1", port: int = 0, allow_remote: bool = False):
        self.sim = sim
        self.injector = injector or FaultInjector()
        self.lines: deque[str] = deque(maxlen=10_000)
        super().__init__(host, port, allow_remote)

    def new_connection(self):
        return {"buf": b""}

    def on_data(self, state: dict, data: bytes) -> bytes:
        state["buf"] += data
        out = b""
        while b"\n" in state["buf"]:
            raw, state["buf"] = state["buf"].split(b"\n", 1)
            line = raw.decode("ascii", "replace").strip()
            self.lines.append(line)
            reply = self._reply(line)
            if reply:
                out += self.injector.damage_text(reply)
        return out

    def _reply(self, line: str) -> bytes:
        verb, _, rest = line.partition(" ")
        if verb == "SET":
            pairs = _SET_PAIR.findall(rest)
            if not pairs or " ".join(f"{k} {v}" for k, v in pairs) != rest:
                return b""
            fields = {}
            for var, value in pairs:
                if var not in URCAP_WRITABLE or int(value) > 255:
                    return b""
                fields[URCAP_WRITABLE[var]] = int(value)
            try:
                request = dataclasses.replace(self.sim.request, **fields)
            except ValueError:
                return b""
            self.sim.write(request)
            return b"ack"
        if verb == "GET":
            status = self.sim.read()
            values = {"STA": status.sta, "OBJ": status.obj, "FLT": status.fault,
                      "PRE": status.position_echo, "POS": status.position,
                      "ACT": status.act, "GTO": status.gto,
                      "SPE": self.sim.request.speed, "FOR": self.sim.request.force}
            if rest in values:
                return f"{rest} {values[rest]}\n".encode()
        return b""
