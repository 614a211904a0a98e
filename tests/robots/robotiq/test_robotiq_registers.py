"""The register codec against the instruction manual's example frames, byte for byte.

Frames: Robotiq, "2F-85 & 2F-140 Instruction Manual", Modbus RTU example (activation,
status read, close and open at full speed and force, and the gripper's answers). Each
CRC was also recomputed with pymodbus's CRC-16/MODBUS: all agree with the manual.
"""

from __future__ import annotations

import random

import pytest

from robots.robotiq.registers import (FC_READ_INPUT, Calibration, Request, Status, crc16_modbus,
                                      crc_ok, decode_rtu_request, read_response_frame,
                                      read_status_frame, rtu_request_length,
                                      write_request_frame, write_response_frame)


def frame(text: str) -> bytes:
    return bytes.fromhex(text)


RESET = frame("09 10 03 E8 00 03 06 00 00 00 00 00 00 73 30")
ACTIVATE = frame("09 10 03 E8 00 03 06 01 00 00 00 00 00 72 E1")
READ_STATUS_1 = frame("09 03 07 D0 00 01 85 CF")
CLOSE_FULL = frame("09 10 03 E8 00 03 06 09 00 00 FF FF FF 42 29")
OPEN_FULL = frame("09 10 03 E8 00 03 06 09 00 00 00 FF FF 72 19")
READ_STATUS_3 = frame("09 03 07 D0 00 03 04 0E")
WRITE_ACK = frame("09 10 03 E8 00 03 01 30")

MANUAL_FRAMES = [RESET, ACTIVATE, READ_STATUS_1, CLOSE_FULL, OPEN_FULL, READ_STATUS_3,
                 WRITE_ACK, frame("09 04 07 D0 00 01 30 0F"),
                 frame("09 03 02 11 00 55 D5"), frame("09 03 02 31 00 4C 15"),
                 frame("09 03 06 39 00 00 FF 0E 0A F7 8B"),
                 frame("09 03 06 B9 00 00 FF BD 00 1D 7C"),
                 frame("09 04 06 B9 00 00 FF BD 00 5C 9A"),
                 frame("09 04 06 F9 00 00 00 0D 00 17 AA")]


def test_crc_is_crc16_modbus():
    assert crc16_modbus(b"123456789") == 0x4B37  # the catalogue check value
    assert crc16_modbus(b"") == 0xFFFF


@pytest.mark.parametrize("ref", MANUAL_FRAMES, ids=lambda f: f.hex(" ").upper())
def test_manual_frame_crcs_agree_with_ours_and_pymodbus(ref):
    from pymodbus.framer.rtu import FramerRTU

    assert crc_ok(ref)
    assert FramerRTU.compute_CRC(ref[:-2]).to_bytes(2, "big") == ref[-2:]


def test_crc_rejects_any_single_changed_byte():
    for i in range(len(CLOSE_FULL)):
        for delta in (0x01, 0x80, 0xFF):
            bad = bytearray(CLOSE_FULL)
            bad[i] ^= delta
            assert not crc_ok(bytes(bad)), (i, delta)


@pytest.mark.parametrize("request_, expected", [
    (Request(), RESET),
    (Request(act=1), ACTIVATE),
    (Request(act=1, gto=1, position=255, speed=255, force=255), CLOSE_FULL),
    (Request(act=1, gto=1, position=0, speed=255, force=255), OPEN_FULL),
], ids=["reset", "activate", "close", "open"])
def test_write_frames_are_the_manuals(request_, expected):
    assert write_request_frame(request_) == expected
    decoded = decode_rtu_request(expected)
    assert Request.from_registers(decoded.values) == request_


def test_read_frames_are_the_manuals():
    assert read_status_frame(count=1) == READ_STATUS_1
    assert read_status_frame(count=3) == READ_STATUS_3
    assert read_status_frame(count=1, function=FC_READ_INPUT) == frame("09 04 07 D0 00 01 30 0F")
    assert write_response_frame(9, 0x03E8, 3) == WRITE_ACK


@pytest.mark.parametrize("status, function, expected", [
    (Status(act=1, sta=1), 3, "09 03 02 11 00 55 D5"),  # activation in progress
    (Status(act=1, sta=3), 3, "09 03 02 31 00 4C 15"),  # activation completed
    (Status(act=1, gto=1, sta=3, obj=0, position_echo=255, position=0x0E, current=0x0A), 3,
     "09 03 06 39 00 00 FF 0E 0A F7 8B"),  # closing, still moving
    (Status(act=1, gto=1, sta=3, obj=2, position_echo=255, position=0xBD), 3,
     "09 03 06 B9 00 00 FF BD 00 1D 7C"),  # stopped on an object while closing
    (Status(act=1, gto=1, sta=3, obj=2, position_echo=255, position=0xBD), 4,
     "09 04 06 B9 00 00 FF BD 00 5C 9A"),
    (Status(act=1, gto=1, sta=3, obj=3, position_echo=0, position=0x0D), 4,
     "09 04 06 F9 00 00 00 0D 00 17 AA"),  # opened, at the requested position
])
def test_status_answers_are_the_manuals(status, function, expected):
    ref = frame(expected)
    n = ref[2] // 2
    assert read_response_frame(9, function, status.to_registers()[:n]) == ref
    regs = [int.from_bytes(ref[3 + 2 * i:5 + 2 * i], "big") for i in range(n)]
    assert Status.from_registers(regs) == status


def test_request_and_status_round_trip_every_field():
    rng = random.Random(0)
    for _ in range(2000):
        req = Request(*(rng.randint(0, 1) for _ in range(4)),
                      *(rng.randint(0, 255) for _ in range(3)))
        assert Request.from_registers(req.to_registers()) == req
        assert Request.from_registers(decode_rtu_request(write_request_frame(req)).values) == req
        st = Status(act=rng.randint(0, 1), gto=rng.randint(0, 1), sta=rng.randint(0, 3),
                    obj=rng.randint(0, 3), fault=rng.randint(0, 15),
                    controller_fault=rng.randint(0, 15), position_echo=rng.randint(0, 255),
                    position=rng.randint(0, 255), current=rng.randint(0, 255))
        assert Status.from_registers(st.to_registers()) == st


def test_bit_positions_match_the_manual():
    assert Request(act=1).action_byte == 0x01
    assert Request(gto=1).action_byte == 0x08
    assert Request(atr=1).action_byte == 0x10
    assert Request(ard=1).action_byte == 0x20
    assert Status(act=1, gto=1, sta=3, obj=3).status_byte == 0xF9
    assert Status.from_registers([0, 0x0F00, 0]).fault == 0x0F
    assert Status.from_registers([0, 0xA500, 0]).controller_fault == 0x0A


@pytest.mark.parametrize("kwargs", [{"position": 256}, {"speed": -1}, {"act": 2},
                                    {"force": 1.5}])
def test_request_refuses_out_of_range_fields(kwargs):
    with pytest.raises(ValueError):
        Request(**kwargs)


def test_request_length_from_a_partial_stream():
    assert rtu_request_length(b"\x09") == 0
    assert rtu_request_length(READ_STATUS_1[:2]) == 8
    assert rtu_request_length(CLOSE_FULL[:6]) == 0
    assert rtu_request_length(CLOSE_FULL[:7]) == len(CLOSE_FULL)
    assert rtu_request_length(b"\x09\x2B") is None


def test_calibration_maps_the_stroke_onto_the_encoder_range():
    cal = Calibration()
    assert cal.width_to_count(0.085) == 3 and cal.width_to_count(0.0) == 230
    assert cal.count_to_width(3) == pytest.approx(0.085)
    assert cal.count_to_width(255) == 0.0 and cal.count_to_width(0) == pytest.approx(0.085)
    for count in range(3, 231):
        assert cal.width_to_count(cal.count_to_width(count)) == count
    assert cal.speed_to_byte(0.15) == 255 and cal.speed_to_byte(0.02) == 0
    assert cal.force_to_byte(235.0) == 255 and cal.force_to_byte(20.0) == 0
    assert cal.byte_to_speed(cal.speed_to_byte(0.08)) == pytest.approx(0.08, abs=3e-4)
    assert cal.byte_to_force(cal.force_to_byte(100.0)) == pytest.approx(100.0, abs=0.5)


@pytest.mark.parametrize("width, speed, force, word", [
    (0.0851, 0.1, 100, "width"), (-0.001, 0.1, 100, "width"), (0.04, 0.019, 100, "speed"),
    (0.04, 0.2, 100, "speed"), (0.04, 0.1, 19.9, "force"), (0.04, 0.1, 300, "force"),
    (float("nan"), 0.1, 100, "width"),
])
def test_calibration_check_names_the_bad_value(width, speed, force, word):
    with pytest.raises(ValueError, match=word):
        Calibration().check(width, speed, force)


def test_calibration_from_the_robot_description(robot):
    cal = Calibration.from_gripper_spec(robot.gripper)
    assert cal.stroke_m == pytest.approx(0.085)
    assert cal.force_range_n == (20.0, 235.0) and cal.speed_range_m_s == (0.02, 0.15)
