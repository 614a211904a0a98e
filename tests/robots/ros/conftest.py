"""Fixtures for the ROS bridge tests: a real ROS 1 master and simulated controller as
subprocesses on loopback, the rosbridge TEST DOUBLE as a subprocess, and a recording
transport.

Tests marked ``ros`` need Debian's ROS 1 packages. Without them they FAIL with the install
command (CI installs the packages; a skipped hardware test would hide a broken setup).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import xmlrpc.client
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from robots.ros.safety import ArmTrajectory, JointStateSample
from robots.ros.transport import ControllerResult, GoalHandle, Outcome, Transport

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
DOUBLE = HERE / "rosbridge_double.py"


@pytest.fixture(autouse=True)
def _require_ros(request):
    if request.node.get_closest_marker("ros") is None:
        return
    from robots.ros.rospath import check

    result = check()
    if not result.ok:
        pytest.fail(result.message, pytrace=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_group(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGINT to the process group we started (roscore passes it on to its children),
    SIGKILL if it has not ended in ``timeout`` s."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
    except ProcessLookupError:
        pass


def wait_until(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None):
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what}: process exited with {proc.returncode}")
        try:
            value = predicate()
            if value:
                return value
        except (OSError, KeyError, xmlrpc.client.Error):
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{what}: not ready within {timeout} s")


# -- ROS 1 ---------------------------------------------------------------------------------
@dataclass
class Ros1Master:
    uri: str
    env: dict[str, str]  #: environment for ROS subprocesses on this master
    log_dir: Path
    procs: list = field(default_factory=list)

    def param(self, name: str):
        code, msg, value = xmlrpc.client.ServerProxy(self.uri).getParam("/pytest", name)
        if code != 1:
            raise KeyError(f"{name}: {msg}")
        return value

    def forget(self, name: str) -> None:
        """Delete parameter ``name`` (if set): a module's master keeps what an earlier test's
        process published, and a wait must not be met by a stale value."""
        xmlrpc.client.ServerProxy(self.uri).deleteParam("/pytest", name)

    def start_controller(self, *args: str, controller: str) -> subprocess.Popen:
        """``robots.ros.sim_controller`` with ``args``; returns once its action server is up."""
        log = open(self.log_dir / f"sim{len(self.procs)}.log", "w")
        proc = subprocess.Popen([sys.executable, "-m", "robots.ros.sim_controller",
                                 "--controller", controller, *args], cwd=REPO, env=self.env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        wait_until(lambda: self.param(f"{controller}/sim/ready"), 30, "sim controller", proc)
        return proc

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """A Python command (module or script and arguments) on this master."""
        return subprocess.run([sys.executable, *args], cwd=REPO, env=self.env,
                              capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def ros1_master(tmp_path_factory):
    """A ROS 1 master from Debian's ros-core on a free loopback port."""
    from robots.ros.rospath import check, ros_subprocess_env

    result = check()
    if not result.ok:
        pytest.fail(result.message, pytrace=False)
    log_dir = tmp_path_factory.mktemp("ros1")
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    env = ros_subprocess_env(os.environ, uri, log_dir=log_dir)
    # generated control_msgs classes go to a fresh cache, so generation itself is tested
    env["XDG_CACHE_HOME"] = str(log_dir / "cache")
    core = subprocess.Popen(["roscore", "-p", str(port)], env=env, cwd=log_dir,
                            stdout=open(log_dir / "roscore.log", "w"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    master = Ros1Master(uri, env, log_dir)
    try:
        wait_until(lambda: xmlrpc.client.ServerProxy(uri).getUri("/pytest")[0] == 1, 30,
                   "roscore", core)
        yield master
    finally:
        for proc in master.procs:
            stop_group(proc)
        stop_group(core)


@pytest.fixture
def sim_controller(ros1_master):
    """Factory: start the simulated controller (see :meth:`Ros1Master.start_controller`);
    the ones a test started are stopped after it."""
    started: list[subprocess.Popen] = []

    def start(*args: str, controller: str) -> subprocess.Popen:
        proc = ros1_master.start_controller(*args, controller=controller)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        stop_group(proc)


# -- rosbridge test double ------------------------------------------------------------------
@dataclass
class Bridge:
    url: str
    record: Path
    proc: subprocess.Popen

    def ops(self) -> list[dict]:
        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text().splitlines()]

    def goals(self) -> list[dict]:
        """Trajectory goals that reached the server (ROS 1 goal topic or ROS 2 op)."""
        return [o for o in self.ops() if (o.get("op") == "publish" and
                                          o["topic"].endswith("/goal")) or
                o.get("op") == "send_action_goal"]

    def errors(self) -> list[str]:
        return [o["text"] for o in self.ops() if o.get("op") == "_double_error"]


@pytest.fixture
def rosbridge_double(tmp_path):
    """Factory: start the rosbridge TEST DOUBLE with extra arguments; stopped afterwards."""
    started: list[subprocess.Popen] = []

    def start(*args: str) -> Bridge:
        record = tmp_path / f"ops{len(started)}.jsonl"
        proc = subprocess.Popen([sys.executable, str(DOUBLE), "--port", "0", "--record",
                                 str(record), *args], cwd=REPO, stdout=subprocess.PIPE,
                                stderr=open(tmp_path / f"double{len(started)}.log", "w"),
                                text=True, start_new_session=True)
        started.append(proc)
        line = proc.stdout.readline()
        if not line.startswith("READY "):
            raise RuntimeError(f"test double did not start: {line!r}")
        return Bridge(f"ws://127.0.0.1:{int(line.split()[1])}", record, proc)

    yield start
    for proc in started:
        stop_group(proc)


def tamp_cli(*args: str, env: dict | None = None, timeout: float = 300):
    """``tamp ARGS`` in a subprocess (each gets its own rospy/roslibpy state)."""
    return subprocess.run([sys.executable, "-m", "experiments.cli", *args], cwd=REPO,
                          env=env or dict(os.environ), capture_output=True, text=True,
                          timeout=timeout)


# -- recording transport --------------------------------------------------------------------
class _Done(GoalHandle):
    def done(self) -> bool:
        return True

    def result(self) -> ControllerResult:
        return ControllerResult(Outcome.SUCCEEDED)

    def cancel(self) -> None:
        pass


class RecordingTransport(Transport):
    """Records what would go on the wire. The controller's joints and the joint state are
    set by the test; with ``moves=True`` the state jumps to the end of each trajectory sent
    and every read is fresh, like a live arm that follows perfectly."""

    description = "recording transport (test)"

    def __init__(self, controller_joints, state: JointStateSample | None, moves: bool = False):
        self.joints = tuple(controller_joints)
        self.state = state
        self.moves = moves
        self.sent: list[ArmTrajectory] = []
        self.stops = 0

    def connect(self) -> None:
        pass

    def close(self) -> None:
        pass

    def controller_joints(self):
        return self.joints

    def joint_state(self) -> JointStateSample:
        if self.moves:
            return JointStateSample(self.state.names, self.state.positions, time.monotonic())
        return self.state

    def _record(self, traj: ArmTrajectory) -> None:
        self.sent.append(traj)
        if self.moves:
            self.state = JointStateSample(traj.joint_names, traj.positions[-1].copy(),
                                          time.monotonic())

    def send_goal(self, traj: ArmTrajectory) -> GoalHandle:
        self._record(traj)
        return _Done()

    def publish(self, traj: ArmTrajectory) -> None:
        self._record(traj)

    def stop(self) -> None:
        self.stops += 1


@pytest.fixture
def recording_transport():
    """The :class:`RecordingTransport` class (fixtures are how tests here share helpers)."""
    return RecordingTransport


def fresh_state(names, positions) -> JointStateSample:
    return JointStateSample(tuple(names), np.asarray(positions, float), time.monotonic())


@pytest.fixture
def tamp():
    """Run ``tamp ARGS`` in a subprocess: ``tamp("deploy", ...)``."""
    return tamp_cli
