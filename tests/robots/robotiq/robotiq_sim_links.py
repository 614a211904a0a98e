"""Simulated 2F-85s served over each link, shared by the Robotiq tests.

(A module of its own rather than conftest.py, so that test files can import it by a
name no other test directory uses.)
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from robots.robotiq import GripperConfig, RobotiqGripper, TransportConfig
from robots.robotiq.sim_servers import PtyServer, RtuSlave, TcpRtuServer, UrcapServer
from robots.robotiq.simulator import FaultInjector, GripperSim, SimConfig
from robots.robotiq.transport import SerialRtuTransport, TcpRtuTransport, UrcapTransport

#: 50x faster than the device: activation 20 ms, full stroke at full speed about 11 ms
TIME_FACTOR = 0.02
#: per-request deadline in the tests: generous for a loaded machine, short enough to
#: keep the timeout tests quick
IO_TIMEOUT_S = 0.1


@dataclass
class Link:
    """A simulated gripper behind one server, and how to reach it."""

    kind: str  #: 'pty', 'tcp' or 'urcap'
    sim: GripperSim
    injector: FaultInjector
    slave: RtuSlave | None  #: None for URCap
    server: object

    def transport(self, timeout_s: float = IO_TIMEOUT_S, retries: int = 0, device_id: int = 9):
        config = TransportConfig(timeout_s=timeout_s, retries=retries, device_id=device_id)
        if self.kind == "pty":
            return SerialRtuTransport(self.server.path, config)
        cls = TcpRtuTransport if self.kind == "tcp" else UrcapTransport
        return cls(self.server.host, self.server.port, config)

    def gripper(self, timeout_s: float = IO_TIMEOUT_S, retries: int = 0, device_id: int = 9,
                **config) -> RobotiqGripper:
        config.setdefault("watchdog_period_s", None)
        config.setdefault("poll_period_s", 0.002)
        return RobotiqGripper(self.transport(timeout_s, retries, device_id),
                              GripperConfig(**config))


@contextlib.contextmanager
def served(kind: str, sim_config: SimConfig | None = None, **sim_kwargs):
    sim = GripperSim(sim_config or SimConfig(time_factor=TIME_FACTOR), **sim_kwargs)
    injector = FaultInjector(seed=3)
    slave = None
    if kind == "urcap":
        server = UrcapServer(sim, injector)
    else:
        slave = RtuSlave(sim, injector=injector)
        server = PtyServer(slave) if kind == "pty" else TcpRtuServer(slave)
    with server:
        yield Link(kind, sim, injector, slave, server)
