"""Transport details that the simulator's servers do not exercise on their own: URCap
replies without newlines or split across packets, late answers on a TCP gateway, and a
peer that hangs up."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from robots.robotiq import (GripperConnectionError, ProtocolError, ResponseTimeout,
                            TransportConfig)
from robots.robotiq.registers import Request
from robots.robotiq.sim_servers import RtuSlave, RtuStream
from robots.robotiq.simulator import GripperSim, SimConfig
from robots.robotiq.transport import TcpRtuTransport, UrcapTransport


class ScriptedPeer:
    """A one-connection TCP peer: ``reply(data, sock)`` answers each chunk it receives."""

    def __init__(self, reply):
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._reply = reply
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        conn, _ = self._listener.accept()
        with conn:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            while data := conn.recv(4096):
                if self._reply(data, conn) == "hang up":
                    return

    def close(self):
        self._listener.close()
        self._thread.join(timeout=2)


def urcap_peer(answers):
    """Answers each line with the next scripted list of packets."""
    script = iter(answers)

    def reply(data, conn):
        for packet in next(script):
            conn.sendall(packet)
            time.sleep(0.002)
    return ScriptedPeer(reply)


def test_urcap_replies_without_newline_or_in_pieces_are_read_whole():
    status = [[b"ACT 1"], [b"GT", b"O 1\n"], [b"STA 3"], [b"OB", b"J ", b"2"], [b"FLT 0\n"],
              [b"PRE 255"], [b"POS 2", b"30"]]
    peer = urcap_peer([[b"ack"]] + status + [[b"a", b"ck\n"]])
    with UrcapTransport("127.0.0.1", peer.port, TransportConfig(timeout_s=0.5)) as link:
        link.write(Request(act=1, gto=1, position=255))
        got = link.read()
        assert (got.act, got.gto, got.sta, got.obj, got.fault, got.position_echo,
                got.position) == (1, 1, 3, 2, 0, 255, 230)
        link.write(Request(act=1))
    peer.close()


@pytest.mark.parametrize("answer, error", [
    ([b"nak\n"], ProtocolError), ([b"STA 3\n"], ProtocolError), ([b"ac"], ResponseTimeout),
    ([], ResponseTimeout),
])
def test_urcap_bad_acks(answer, error):
    peer = urcap_peer([answer])
    with UrcapTransport("127.0.0.1", peer.port,
                        TransportConfig(timeout_s=0.05, retries=0)) as link:
        with pytest.raises(error):
            link.write(Request(act=1))
    peer.close()


def test_urcap_peer_hanging_up_is_a_connection_error():
    peer = ScriptedPeer(lambda data, conn: "hang up")
    with UrcapTransport("127.0.0.1", peer.port, TransportConfig(timeout_s=0.5)) as link:
        with pytest.raises(GripperConnectionError, match="closed"):
            link.read()
        assert not link.is_open
    peer.close()


def test_a_late_answer_on_a_gateway_is_not_taken_for_the_next_one():
    sim = GripperSim(SimConfig(time_factor=0.01))
    stream = RtuStream(RtuSlave(sim))
    first = [True]

    def reply(data, conn):
        answer = stream.feed(data, time.monotonic())
        if first[0]:  # the first answer arrives after the client gave up on it
            first[0] = False
            time.sleep(0.1)
        conn.sendall(answer)

    peer = ScriptedPeer(reply)
    with TcpRtuTransport("127.0.0.1", peer.port,
                         TransportConfig(timeout_s=0.05, retries=0)) as link:
        with pytest.raises(ResponseTimeout):
            link.read()
        time.sleep(0.15)  # the stale status answer is now waiting in the socket
        link.write(Request(act=1))  # must get its own acknowledgement, not the stale read
        assert link.stats.protocol_errors == 0
        assert sim.request == Request(act=1)
    peer.close()


def test_a_gateway_hanging_up_is_a_connection_error():
    peer = ScriptedPeer(lambda data, conn: "hang up")
    link = TcpRtuTransport("127.0.0.1", peer.port, TransportConfig(timeout_s=0.5))
    link.open()
    with pytest.raises(GripperConnectionError):
        link.read()
    link.close()
    peer.close()
