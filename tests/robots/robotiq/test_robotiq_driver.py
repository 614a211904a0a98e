"""The driver against the simulator over each link: pty (serial RTU), TCP (RTU gateway)
and the URCap socket."""

from __future__ import annotations

import threading
import time

import pytest
from robotiq_sim_links import TIME_FACTOR, served

from robots.robotiq import (ActivationTimeout, Calibration, CrcError, GripperStateError,
                            LinkLostError, MajorFault, MotionTimeout, MoveOutcome,
                            NotActivatedError, PriorityFault, ProtocolError, ResponseTimeout)
from robots.robotiq.registers import ActivationState, Request
from robots.robotiq.simulator import CommFault, SimConfig
from robots.robotiq.transport import parse_spec

CAL = Calibration()
ONE_COUNT = CAL.m_per_count


def test_activate_open_close_and_grip(link):
    link.sim.object_width_m = 0.04
    with link.gripper() as gripper:
        status = gripper.activate(timeout_s=2.0)
        assert status.activated and status.width_m == pytest.approx(CAL.stroke_m)
        closed = gripper.close()
        assert closed.outcome is MoveOutcome.CONTACT_CLOSING and closed.object_detected
        assert closed.width_m == pytest.approx(0.04, abs=ONE_COUNT)
        assert closed.width_m == pytest.approx(link.sim.width_m, abs=ONE_COUNT / 2 + 1e-9)
        opened = gripper.open()
        assert opened.outcome is MoveOutcome.REACHED and not opened.object_detected
        assert opened.width_m == pytest.approx(CAL.stroke_m)
        link.sim.object_width_m = None
        assert gripper.close().width_m == pytest.approx(0.0)


def test_move_reaches_the_width_at_the_commanded_speed(link):
    with link.gripper() as gripper:
        gripper.activate()
        result = gripper.move(0.03, speed_m_s=0.05, force_n=50.0)
        assert result.outcome is MoveOutcome.REACHED
        assert result.width_m == pytest.approx(0.03, abs=ONE_COUNT)
        assert result.requested_width_m == 0.03
        # the simulated fingers cannot beat physics: 55 mm at 50 mm/s, time-scaled
        assert result.elapsed_s >= 0.9 * (0.085 - 0.03) / 0.05 * TIME_FACTOR
        status = gripper.status()
        assert status.requested_count == CAL.width_to_count(0.03)
        assert (status.current_a is None) == (link.kind == "urcap")


def test_an_outer_object_is_reported_while_opening(link):
    with link.gripper() as gripper:
        gripper.activate()
        gripper.close()
        link.sim.outer_object_width_m = 0.06
        result = gripper.open()
        assert result.outcome is MoveOutcome.CONTACT_OPENING
        assert result.width_m == pytest.approx(0.06, abs=ONE_COUNT)


@pytest.mark.parametrize("kwargs, word", [
    ({"width_m": 0.09}, "width"), ({"width_m": -0.01}, "width"),
    ({"width_m": 0.04, "speed_m_s": 0.5}, "speed"), ({"width_m": 0.04, "force_n": 500}, "force"),
    ({"width_m": 0.04, "force_n": 5}, "force"),
])
def test_limits_are_checked_before_anything_is_sent(link, kwargs, word):
    with link.gripper() as gripper:
        gripper.activate()
        sent = gripper.transport.stats.requests
        with pytest.raises(ValueError, match=word):
            gripper.move(**kwargs)
        assert gripper.transport.stats.requests == sent


def test_motion_before_activation_is_refused(link):
    with link.gripper() as gripper:
        with pytest.raises(NotActivatedError, match="activate"):
            gripper.close()
        assert link.sim.request == Request()  # no motion command reached the gripper


def test_a_major_fault_needs_reactivation(link):
    with link.gripper() as gripper:
        gripper.activate()
        link.sim.inject_fault(0x0E)
        with pytest.raises(MajorFault, match="0x0E"):
            gripper.move(0.05)
        assert gripper.status().fault_class == "major"
        gripper.activate()
        assert gripper.move(0.05).outcome is MoveOutcome.REACHED


def test_a_fault_during_motion_ends_the_wait(link):
    with link.gripper() as gripper:
        gripper.activate()
        gripper.send_move(0.0, speed_m_s=0.02)
        link.sim.inject_fault(0x0A)
        with pytest.raises(MajorFault) as err:
            gripper.wait()
        assert err.value.code == 0x0A


def test_a_command_without_the_activation_bit_is_a_priority_fault(link):
    with link.gripper() as gripper:
        gripper.transport.write(Request(gto=1, position=200))
        status = gripper.status()
        assert status.fault == 0x07 and status.fault_class == "priority"
        gripper._last_command = None
        gripper.activate()
        gripper.send_move(0.05)
        link.sim.inject_fault(0x07)
        with pytest.raises(PriorityFault):
            gripper.wait()


def test_activation_and_motion_deadlines(link):
    link.sim.config = SimConfig(time_factor=TIME_FACTOR, activation_time_s=50.0)
    with link.gripper() as gripper:
        t0 = time.monotonic()
        with pytest.raises(ActivationTimeout):
            gripper.activate(timeout_s=0.1)
        assert time.monotonic() - t0 < 0.1 + 2 * 0.1 + 0.1
        link.sim.config = SimConfig(time_factor=TIME_FACTOR)
        gripper.activate()
        gripper.send_move(0.0, speed_m_s=0.02)  # 85 mm at 20 mm/s: 85 ms here
        with pytest.raises(MotionTimeout):
            gripper.wait(timeout_s=0.01)
        assert gripper.wait().outcome is MoveOutcome.REACHED


@pytest.mark.parametrize("kind", list(CommFault))
def test_damaged_answers_raise_typed_errors_in_bounded_time(link, kind):
    expected = {CommFault.SILENCE: ResponseTimeout, CommFault.DROP: ResponseTimeout,
                CommFault.CORRUPT: ProtocolError if link.kind == "urcap" else CrcError}[kind]
    with link.gripper(timeout_s=0.1) as gripper:
        gripper.activate()
        link.injector.arm(kind)
        t0 = time.monotonic()
        with pytest.raises(expected):
            gripper.status()
        assert time.monotonic() - t0 < 0.1 + 0.15
        assert gripper.status().activated  # the link is usable again


def test_retries_absorb_a_damaged_answer(link):
    with link.gripper(retries=2) as gripper:
        gripper.activate()
        before = gripper.transport.stats.attempts
        link.injector.arm(CommFault.CORRUPT)
        assert gripper.status().activated
        stats = gripper.transport.stats
        assert stats.attempts == before + 2
        assert stats.crc_errors + stats.protocol_errors == 1


def test_a_wrong_slave_id_gets_silence(rtu_link):
    with rtu_link.gripper(device_id=10, timeout_s=0.05, retries=1) as gripper:
        with pytest.raises(ResponseTimeout, match="slave 10"):
            gripper.activate()
        assert gripper.transport.stats.timeouts == 2
    assert rtu_link.sim.request == Request()  # nothing was executed either


def test_the_manuals_frames_go_on_the_wire():
    with served("pty") as link, link.gripper() as gripper:
        gripper.activate()
        gripper.close(speed_m_s=0.15, force_n=235.0)
        gripper.open(speed_m_s=0.15, force_n=235.0)
        writes = [f.hex(" ").upper() for f in link.slave.frames if f[1] == 0x10]
        reads = {f.hex(" ").upper() for f in link.slave.frames if f[1] == 0x03}
    assert writes == ["09 10 03 E8 00 03 06 00 00 00 00 00 00 73 30",
                      "09 10 03 E8 00 03 06 01 00 00 00 00 00 72 E1",
                      "09 10 03 E8 00 03 06 09 00 00 FF FF FF 42 29",
                      "09 10 03 E8 00 03 06 09 00 00 00 FF FF 72 19"]
    assert reads == {"09 03 07 D0 00 03 04 0E"}


def test_connection_guards(link):
    gripper = link.gripper()
    with pytest.raises(GripperStateError, match="not connected"):
        gripper.status()
    with gripper:
        with pytest.raises(GripperStateError, match="already connected"):
            gripper.connect()
        with pytest.raises(GripperStateError, match="no motion"):
            gripper.wait()
        assert gripper.transport.is_open
    assert not gripper.connected and not gripper.transport.is_open
    gripper.disconnect()  # twice is harmless
    with pytest.raises(GripperStateError):
        gripper.status()


def test_emergency_release_then_reactivation(link):
    link.sim.config = SimConfig(time_factor=TIME_FACTOR, release_speed_m_s=1.0)
    with link.gripper() as gripper:
        gripper.activate()
        gripper.close()
        assert gripper.emergency_release(opening=True).fault in (0x0B, 0x0F)
        deadline = time.monotonic() + 2
        while gripper.status().fault != 0x0F and time.monotonic() < deadline:
            time.sleep(0.005)
        assert gripper.status().fault == 0x0F
        with pytest.raises(MajorFault):
            gripper.close()
        gripper.activate()
        assert gripper.close().outcome is MoveOutcome.REACHED


def test_watchdog_reports_a_silent_link_and_its_return(link):
    lost = threading.Event()
    gripper = link.gripper(timeout_s=0.05, watchdog_period_s=0.05, watchdog_silence_s=0.3)
    gripper.on_link_lost = lambda health: lost.set()
    with gripper:
        gripper.activate()
        time.sleep(0.2)
        assert gripper.link_health().ok and link.injector.injected == []
        polls = gripper.transport.stats.requests
        assert polls > 1  # the watchdog kept the idle link busy
        link.injector.silent = True
        assert lost.wait(2.0)
        health = gripper.link_health()
        assert not health.ok and health.silent_for_s >= 0.3 and health.lost_events == 1
        with pytest.raises(LinkLostError):
            gripper.check_link()
        link.injector.silent = False
        deadline = time.monotonic() + 2
        while not gripper.link_health().ok and time.monotonic() < deadline:
            time.sleep(0.02)
        assert gripper.link_health().ok
        gripper.check_link()
        assert gripper.status().activation is ActivationState.ACTIVATED


@pytest.mark.parametrize("spec, kind, target", [
    ("serial:/dev/ttyUSB0", "SerialRtuTransport", "serial:/dev/ttyUSB0"),
    ("tcp:10.0.0.2:502", "TcpRtuTransport", "tcp:10.0.0.2:502"),
    ("urcap:10.0.0.3", "UrcapTransport", "urcap:10.0.0.3:63352"),
    ("urcap:10.0.0.3:7000", "UrcapTransport", "urcap:10.0.0.3:7000"),
    ("tcp:[::1]:502", "TcpRtuTransport", "tcp:::1:502"),
])
def test_specs(spec, kind, target):
    transport = parse_spec(spec)
    assert type(transport).__name__ == kind and str(transport) == target
    assert not transport.is_open


@pytest.mark.parametrize("spec, word", [
    ("ttyUSB0", "expected serial:DEVICE"), ("serial:", "no serial device"),
    ("tcp:host", "HOST:PORT"), ("tcp:host:99999", "port"), ("tcp::502", "no host"),
    ("modbus:host:502", "expected serial"), ("urcap:h:x", "port"),
])
def test_bad_specs(spec, word):
    with pytest.raises(ValueError, match=word):
        parse_spec(spec)


def test_unreachable_gripper_is_a_connection_error():
    from robots.robotiq import GripperConnectionError

    for spec in ("serial:/dev/does-not-exist", "tcp:127.0.0.1:1", "urcap:127.0.0.1:1"):
        with pytest.raises(GripperConnectionError):
            parse_spec(spec).open()
