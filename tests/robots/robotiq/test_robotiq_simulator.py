"""The simulated gripper: the manual's behaviour on a fake clock, and its RTU slave."""

from __future__ import annotations

import os
import time

import pytest

from robots.robotiq.registers import (Calibration, Request, Status, read_status_frame,
                                      with_crc, write_request_frame)
from robots.robotiq.sim_servers import PtyServer, RtuSlave, RtuStream, require_loopback
from robots.robotiq.simulator import CommFault, FaultInjector, GripperSim, SimConfig

CAL = Calibration()
ACT = Request(act=1)


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def make(**kwargs):
    clock = Clock()
    config = SimConfig(**{"comm_loss_s": None, **kwargs})
    return GripperSim(config, clock=clock), clock


def activated(**kwargs):
    sim, clock = make(**kwargs)
    sim.write(ACT)
    clock.t += sim.config.activation_time_s * sim.config.time_factor * (1 + 1e-9)
    assert sim.read().sta == 3
    return sim, clock


def goto(position, speed=255, force=255):
    return Request(act=1, gto=1, position=position, speed=speed, force=force)


def test_activation_takes_its_time_and_ends_open():
    sim, clock = make(activation_time_s=1.0, time_factor=0.5)
    assert sim.read().sta == 0
    sim.write(ACT)
    assert sim.read().sta == 1 and sim.read().act == 1
    clock.t += 0.49  # 0.98 simulated s
    assert sim.read().sta == 1
    clock.t += 0.02
    status = sim.read()
    assert status.sta == 3 and status.position == CAL.open_count


def test_activation_needs_a_rising_edge():
    sim, clock = activated()
    sim.inject_fault(0x0E)
    sim.write(ACT)  # rACT stays 1: no edge, the major fault stays
    clock.t += 5
    assert sim.read().fault == 0x0E
    sim.write(Request())
    assert sim.read() == Status(position=CAL.open_count)  # reset clears fault and gSTA
    sim.write(ACT)
    clock.t += 1
    assert sim.read().sta == 3 and sim.read().fault == 0


def test_motion_runs_at_the_commanded_speed():
    sim, clock = activated(time_factor=1.0)
    speed = CAL.byte_to_speed(128)
    sim.write(goto(230, speed=128))
    assert sim.read().obj == 0
    clock.t += 0.5
    moved = sim.read().position - CAL.open_count
    assert moved * CAL.m_per_count == pytest.approx(speed * 0.5, abs=CAL.m_per_count)
    assert sim.read().obj == 0 and sim.read().current > 0
    clock.t += 1.0
    status = sim.read()
    assert status.position == 230 and status.obj == 3 and status.position_echo == 230


def test_time_factor_speeds_everything_up():
    slow, slow_clock = activated(time_factor=1.0)
    fast, fast_clock = activated(time_factor=0.1)
    for sim, clock, dt in ((slow, slow_clock, 0.3), (fast, fast_clock, 0.03)):
        sim.write(goto(255, speed=0))
        clock.t += dt
    assert slow.read().position == fast.read().position > CAL.open_count


def test_rpr_is_clamped_to_the_calibrated_range():
    sim, clock = activated()
    sim.write(goto(255))
    clock.t += 10
    assert sim.read().position == CAL.closed_count and sim.read().obj == 3
    sim.write(goto(0))
    clock.t += 10
    assert sim.read().position == CAL.open_count and sim.read().obj == 3


def test_an_object_stops_the_fingers_while_closing():
    sim, clock = activated(time_factor=1.0)
    sim.object_width_m = 0.04
    sim.write(goto(255, force=100))
    clock.t += 10
    status = sim.read()
    assert status.obj == 2
    assert CAL.count_to_width(status.position) == pytest.approx(0.04, abs=CAL.m_per_count)
    assert status.current > 0
    sim.write(goto(255))  # closing again on the held object: contact at once
    assert sim.read().obj == 2
    sim.write(goto(100))  # a target short of the object is simply reached
    clock.t += 10
    assert sim.read().obj == 3 and sim.read().position == 100


def test_an_object_stops_the_fingers_while_opening():
    sim, clock = activated()
    sim.write(goto(230))
    clock.t += 10
    sim.outer_object_width_m = 0.06
    sim.write(goto(0))
    clock.t += 10
    status = sim.read()
    assert status.obj == 1
    assert CAL.count_to_width(status.position) == pytest.approx(0.06, abs=CAL.m_per_count)


def test_rgto_zero_stops_the_fingers():
    sim, clock = activated(time_factor=1.0)
    sim.write(goto(230, speed=0))
    clock.t += 0.5
    sim.write(Request(act=1, gto=0, position=230))
    stopped = sim.read().position
    clock.t += 1
    assert sim.read().position == stopped < 230 and sim.read().gto == 0


def test_command_without_activation_bit_is_fault_0x07():
    sim, _ = make()
    sim.write(Request(gto=1, position=200))
    assert sim.read().fault == 0x07 and sim.read().sta == 0


def test_command_during_activation_is_delayed_with_fault_0x05():
    sim, clock = make(time_factor=1.0)
    sim.write(goto(230))  # rising edge of rACT together with rGTO
    assert sim.read().fault == 0x05 and sim.read().sta == 1
    clock.t += 1.0
    status = sim.read()
    assert status.sta == 3 and status.fault == 0  # the delayed action now runs
    clock.t += 2.0
    assert sim.read().position == 230 and sim.read().obj == 3


def test_a_major_fault_stops_motion_and_ignores_commands():
    sim, clock = activated(time_factor=1.0)
    sim.write(goto(230, speed=0))
    clock.t += 0.2
    sim.inject_fault(0x0C)
    where = sim.read().position
    sim.write(goto(100))
    clock.t += 5
    assert sim.read().position == where and sim.read().fault == 0x0C


def test_priority_and_minor_faults_clear_with_the_next_command():
    sim, clock = activated()
    sim.inject_fault(0x08)
    assert sim.read().fault == 0x08
    sim.write(goto(100))
    assert sim.read().fault == 0


def test_automatic_release_reports_0x0b_then_0x0f():
    sim, clock = activated(time_factor=1.0)
    sim.write(goto(230))
    clock.t += 5
    sim.write(Request(act=1, atr=1, ard=1))
    assert sim.read().fault == 0x0B
    clock.t += 0.085 / sim.config.release_speed_m_s + 0.1
    status = sim.read()
    assert status.fault == 0x0F and status.position == CAL.open_count


def test_silence_on_the_link_raises_0x09():
    sim, clock = activated(comm_loss_s=1.0, activation_time_s=0.5)
    clock.t += 0.9
    assert sim.read().fault == 0
    clock.t += 1.1
    assert sim.read().fault == 0x09
    sim.write(goto(100))
    assert sim.read().fault == 0


# --- RTU slave ------------------------------------------------------------------------


def test_slave_answers_the_manuals_frames_exactly():
    sim, clock = make(time_factor=1.0)
    slave = RtuSlave(sim)
    ack = bytes.fromhex("09 10 03 E8 00 03 01 30")
    assert slave.answer(bytes.fromhex("09 10 03 E8 00 03 06 00 00 00 00 00 00 73 30")) == ack
    assert slave.answer(bytes.fromhex("09 10 03 E8 00 03 06 01 00 00 00 00 00 72 E1")) == ack
    read_1 = bytes.fromhex("09 03 07 D0 00 01 85 CF")
    assert slave.answer(read_1) == bytes.fromhex("09 03 02 11 00 55 D5")  # activating
    clock.t += 1.0
    assert slave.answer(read_1) == bytes.fromhex("09 03 02 31 00 4C 15")  # activated
    assert slave.answer(bytes.fromhex("09 04 07 D0 00 01 30 0F")) == \
        bytes.fromhex("09 04 02 31 00 4D 61")


@pytest.mark.parametrize("frame", [
    read_status_frame(device_id=10),                        # another slave's id
    with_crc(bytes.fromhex("09 03 03 E8 00 03")),            # a register it does not have
    with_crc(bytes.fromhex("09 03 07 D0 00 04")),            # past the last input register
    with_crc(bytes.fromhex("09 10 07 D0 00 01 02 00 00")),   # writing the status
    with_crc(bytes.fromhex("09 06 03 E8 01 00")),            # a function it does not know
], ids=["wrong-id", "bad-address", "too-many", "write-status", "fc06"])
def test_slave_stays_silent_instead_of_exception_frames(frame):
    sim, _ = make()
    assert RtuSlave(sim).answer(frame) == b""
    assert sim.request == Request()


def test_stream_ignores_bad_crc_and_resyncs_after_a_gap():
    sim, _ = make()
    stream = RtuStream(RtuSlave(sim))
    bad = bytearray(write_request_frame(ACT))
    bad[8] ^= 0x40
    assert stream.feed(bytes(bad), now=1.0) == b""
    assert sim.request == Request()  # a corrupted command is not executed
    assert stream.feed(b"\x09\x10\x03", now=2.0) == b""  # a torn frame...
    assert stream.feed(read_status_frame(), now=3.0) != b""  # ...dropped after the gap


def test_stream_reassembles_frames_split_anywhere():
    sim, _ = make()
    stream = RtuStream(RtuSlave(sim))
    data = write_request_frame(ACT) + read_status_frame()
    out = b"".join(stream.feed(data[i:i + 1], now=1.0 + i * 1e-4) for i in range(len(data)))
    assert out.startswith(bytes.fromhex("09 10 03 E8 00 03 01 30"))
    assert len(out) == 8 + 11 and sim.request == ACT


@pytest.mark.parametrize("kind", list(CommFault))
def test_injector_damages_the_scheduled_answer_only(kind):
    injector = FaultInjector(seed=1)
    frame = bytes.fromhex("09 03 06 B9 00 00 FF BD 00 1D 7C")
    injector.arm(kind, after=1)
    assert injector.damage_rtu(frame) == frame
    damaged = injector.damage_rtu(frame)
    assert damaged != frame and injector.damage_rtu(frame) == frame
    if kind is CommFault.SILENCE:
        assert damaged == b""
    elif kind is CommFault.DROP:
        assert 0 < len(damaged) < len(frame)
    else:
        assert len(damaged) == len(frame) and sum(a != b for a, b in zip(damaged, frame)) == 1
    assert [f.kind for f in injector.injected] == [kind]


def test_pty_server_speaks_rtu_on_a_real_terminal():
    import serial

    sim, _ = make()
    with PtyServer(RtuSlave(sim)) as server:
        assert os.path.exists(server.path)
        with serial.Serial(server.path, 115200, timeout=0.5) as port:
            port.write(bytes.fromhex("09 10 03 E8 00 03 06 01 00 00 00 00 00 72 E1"))
            assert port.read(8) == bytes.fromhex("09 10 03 E8 00 03 01 30")
            port.timeout = 0.1
            port.write(read_status_frame(device_id=3))
            assert port.read(11) == b""  # wrong id: silence, as on the real device


def test_pty_server_closes_promptly():
    sim, _ = make()
    server = PtyServer(RtuSlave(sim)).start()
    t0 = time.monotonic()
    server.close()
    assert time.monotonic() - t0 < 1.0
    assert not server._thread.is_alive()


@pytest.mark.parametrize("host, ok", [("127.0.0.1", True), ("::1", True), ("localhost", True),
                                      ("0.0.0.0", False), ("192.168.1.5", False),
                                      ("example.com", False)])
def test_servers_bind_loopback_only(host, ok):
    if ok:
        require_loopback(host)
    else:
        with pytest.raises(ValueError, match="non-loopback"):
            require_loopback(host)
