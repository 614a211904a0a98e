"""Gripper steps of a deployment through the Robotiq driver (robots.robotiq), against the
driver's own simulator served on loopback."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
import sys

import pytest

from robots.ros.gripper import GripperSettings, gripper_port


@pytest.fixture
def served_gripper():
    robotiq = pytest.importorskip("robots.robotiq.sim_servers",
                                  reason="the Robotiq driver is not in this checkout")
    from robots.robotiq.simulator import GripperSim, SimConfig

    def serve(object_width):
        sim = GripperSim(SimConfig(time_factor=0.02), object_width_m=object_width)
        return robotiq.TcpRtuServer(robotiq.RtuSlave(sim))

    return serve


@pytest.mark.parametrize("object_width, grasped", [(0.045, True), (None, False)])
def test_a_close_must_meet_the_object(served_gripper, object_width, grasped):
    with served_gripper(object_width) as server:
        port = gripper_port(f"tcp:{server.host}:{server.port}",
                            GripperSettings(activate_timeout=2.0))
        assert port is not None
        try:
            port.open()
            assert "reached" in port.set_width(0.07)
            if grasped:
                assert "contact_closing" in port.set_width(0.0)
            else:
                with pytest.raises(RuntimeError, match="without meeting the object"):
                    port.set_width(0.0)
        finally:
            port.close()


@pytest.mark.slow
def test_deploy_drives_the_gripper_between_moves(rosbridge_double, tamp, tmp_path):
    """Arm over the rosbridge TEST DOUBLE, gripper over Modbus RTU/TCP to the simulator
    served by ``tamp gripper serve-sim``."""
    pytest.importorskip("robots.robotiq", reason="the Robotiq driver is not in this checkout")
    server = subprocess.Popen([sys.executable, "-m", "experiments.cli", "gripper", "serve-sim",
                               "--tcp", "127.0.0.1:0", "--time-factor", "0.02",
                               "--object-width", "0.045"], stdout=subprocess.PIPE, text=True,
                              start_new_session=True)
    try:
        line = server.stdout.readline()
        spec = re.search(r"(tcp:\S+)", line).group(1)
        bridge = rosbridge_double()
        # the replay of a simulated plan, sent (tamp deploy --task is a dry run only)
        run = subprocess.run([sys.executable, str(Path(__file__).with_name("replay_probe.py")),
                              "--task", "place-in-bowl", "--ros", bridge.url, "--gripper",
                              spec], capture_output=True, text=True, timeout=300,
                             cwd=Path(__file__).resolve().parents[3])
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
        gripper_lines = [s for s in run.stdout.splitlines()
                         if s.startswith("[run]") and "gripper" in s]
        assert gripper_lines and all("skipped" not in s for s in gripper_lines)
        assert sum("contact_closing" in s for s in gripper_lines) == 2  # two blocks grasped
    finally:
        server.terminate()
        server.wait(10)
