"""1000 gripper commands over the pseudo-terminal with injected faults.

Every command must end (in a value or a typed error) within a bound; every damaged
answer must surface as the error its damage implies (silence and dropped bytes: a
timeout; a changed byte: a CRC error); device faults as their class; and the driver
must work again after re-activation. Retries are off so that each injected fault is
visible: retries absorbing faults are tested in test_robotiq_driver.py.
"""

from __future__ import annotations

import random
import time
from collections import Counter

import pytest
from robotiq_sim_links import served

from robots.robotiq import (Calibration, CrcError, GripperError, MajorFault, MoveOutcome,
                            NotActivatedError, ResponseTimeout)
from robots.robotiq.registers import Request
from robots.robotiq.simulator import CommFault, SimConfig

N_COMMANDS = 1000
#: generous enough that a loaded CI machine (other work on both cores) still answers in
#: time; every injected silence or drop costs one of these
IO_TIMEOUT_S = 0.4
#: no single command may take longer than this (a move is a few requests plus a motion
#: of at most ~60 ms at this time factor; a damaged answer costs one IO timeout), s
COMMAND_BOUND_S = 2.0
EXPECTED_ERROR = {CommFault.SILENCE: ResponseTimeout, CommFault.DROP: ResponseTimeout,
                  CommFault.CORRUPT: CrcError}
CAL = Calibration()


def activate(gripper) -> None:
    gripper.activate(timeout_s=2.0)
    assert gripper.status().activated


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_1000_commands_with_injected_faults_never_hang():
    rng = random.Random(2024)
    # comm_loss_s=None: the test pauses between commands are not a device fault here
    with served("pty", SimConfig(time_factor=0.01, comm_loss_s=None)) as link, \
            link.gripper(timeout_s=IO_TIMEOUT_S, retries=0) as gripper:
        activate(gripper)
        tally: Counter = Counter()
        durations = []
        for i in range(N_COMMANDS):
            action = rng.choice(["status", "move", "open", "close"])
            link.sim.object_width_m = rng.choice([None, None, 0.02, 0.05])
            event = rng.random()
            comm_fault = device_fault = None
            if event < 0.08:
                comm_fault = rng.choice(list(CommFault))
                link.injector.arm(comm_fault, after=0 if action == "status" else rng.randrange(3))
            elif event < 0.11 and action != "status":
                device_fault = rng.choice([0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F])
                link.sim.inject_fault(device_fault)
            elif event < 0.13 and action != "status":
                device_fault = "reset"  # someone cut rACT (an e-stop, another program)
                link.sim.write(Request())
            n_injected = len(link.injector.injected)

            t0 = time.monotonic()
            error = result = None
            try:
                if action == "status":
                    result = gripper.status()
                elif action == "move":
                    result = gripper.move(rng.uniform(0.0, CAL.stroke_m),
                                          rng.uniform(0.02, 0.15), rng.uniform(20, 235))
                else:
                    result = getattr(gripper, action)()
            except GripperError as err:
                error = err
            durations.append(time.monotonic() - t0)
            fired = len(link.injector.injected) > n_injected
            link.injector.disarm()  # an armed fault the command did not reach expires

            if fired:
                assert isinstance(error, EXPECTED_ERROR[comm_fault]), (i, comm_fault, error)
                tally[comm_fault.value] += 1
            elif device_fault == "reset":
                assert isinstance(error, NotActivatedError), (i, error)
                tally["reset"] += 1
                activate(gripper)
            elif device_fault is not None:
                assert isinstance(error, MajorFault) and error.code == device_fault, (i, error)
                tally["major"] += 1
                activate(gripper)  # the only way out of a major fault
            else:
                assert error is None, (i, action, error)
                tally["ok"] += 1
                if action != "status" and result.outcome is MoveOutcome.CONTACT_CLOSING:
                    assert result.width_m == pytest.approx(link.sim.object_width_m,
                                                           abs=CAL.m_per_count)
                elif action != "status" and result.outcome is MoveOutcome.REACHED:
                    assert abs(result.width_m - result.requested_width_m) <= CAL.m_per_count
        # and the driver is in working order at the end
        activate(gripper)
        assert gripper.close().outcome in (MoveOutcome.REACHED, MoveOutcome.CONTACT_CLOSING)

    print(dict(tally), f"max {max(durations):.3f} s")
    assert max(durations) < COMMAND_BOUND_S, max(durations)
    # the test only means something if every kind of trouble actually happened
    assert all(tally[k.value] >= 10 for k in CommFault), tally
    assert tally["major"] >= 15 and tally["reset"] >= 10, tally
    assert tally["ok"] >= 700, tally
    stats = gripper.transport.stats
    assert stats.crc_errors == tally["corrupt"]
    assert stats.timeouts == tally["silence"] + tally["drop"]
    assert stats.protocol_errors == 0
