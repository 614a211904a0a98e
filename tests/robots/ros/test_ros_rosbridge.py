"""The rosbridge transport (roslibpy) against the rosbridge TEST DOUBLE
(``rosbridge_double.py``: a protocol-level stand-in, not a rosbridge server), for ROS 1 and
ROS 2 robots, with and without rosauth."""

from __future__ import annotations

import time

import numpy as np
import pytest

from robots.ros.messages import trajectory_from_dict
from robots.ros.safety import SafetyConfig, finite_differences

pytestmark = pytest.mark.slow


def _deploy(tamp, url, *extra):
    args = ("--task", "place-in-bowl", "--seed", "0", "--ros", url)
    if "--execute" in extra:
        # the replay of a simulated plan, sent: only the test helper does that (the
        # command line's replay is a dry run)
        import subprocess
        import sys
        from pathlib import Path

        here = Path(__file__).resolve()
        return subprocess.run([sys.executable, str(here.with_name("replay_probe.py")), *args,
                               *(e for e in extra if e != "--execute")], cwd=here.parents[3],
                              capture_output=True, text=True, timeout=300)
    return tamp("deploy", *args, *extra)


def _within_limits(robot, goal: dict) -> bool:
    traj = trajectory_from_dict(goal["trajectory"])
    vel, acc = finite_differences(traj.times, traj.positions)
    s = SafetyConfig().speed_scale * (1 + 1e-9)
    return bool(np.all(np.abs(vel) <= s * robot.max_velocity)
                and np.all(np.abs(acc) <= s * robot.max_acceleration))


def test_ros1_robot_episode_over_rosbridge(robot, rosbridge_double, tamp):
    bridge = rosbridge_double("--ros-version", "1")
    dry = _deploy(tamp, bridge.url)
    assert dry.returncode == 0, dry.stderr[-2000:]
    assert bridge.goals() == []  # dry run: nothing sent
    moves = dry.stdout.count("safety OK")

    run = _deploy(tamp, bridge.url, "--execute")
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    goals = bridge.goals()
    assert len(goals) == moves and bridge.errors() == []
    for op in goals:
        assert op["topic"] == "/position_joint_trajectory_controller/follow_joint_trajectory/goal"
        point = op["msg"]["goal"]["trajectory"]["points"][1]
        assert set(point["time_from_start"]) == {"secs", "nsecs"}
        assert _within_limits(robot, op["msg"]["goal"])
    subscribed = {o["topic"]: o["type"] for o in bridge.ops() if o["op"] == "subscribe"}
    assert subscribed["/joint_states"] == "sensor_msgs/JointState"


def test_ros2_robot_with_rosauth(robot, rosbridge_double, tamp, tmp_path):
    bridge = rosbridge_double("--ros-version", "2", "--secret", "s3cret")
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    run = _deploy(tamp, bridge.url, "--ros-version", "2", "--rosauth-secret-file", str(secret),
                  "--execute")
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    ops = bridge.ops()
    assert ops[0]["op"] == "auth" and ops[0]["level"] == "admin"
    goals = bridge.goals()
    assert goals and bridge.errors() == []
    for op in goals:
        assert op["action_type"] == "control_msgs/action/FollowJointTrajectory"
        traj = op["args"]["trajectory"]
        assert "seq" not in traj["header"]
        assert set(traj["points"][0]["time_from_start"]) == {"sec", "nanosec"}
        assert _within_limits(robot, op["args"])


def test_a_wrong_rosauth_secret_gets_nothing_through(rosbridge_double, tamp, tmp_path):
    bridge = rosbridge_double("--secret", "s3cret")
    wrong = tmp_path / "secret"
    wrong.write_text("guess")
    run = _deploy(tamp, bridge.url, "--rosauth-secret-file", str(wrong), "--execute",
                  "--timeout", "2")
    assert run.returncode == 1
    assert bridge.goals() == []
    assert any("unauthenticated" in e for e in bridge.errors())


def test_wrong_joint_names_are_refused_before_sending(rosbridge_double, tamp):
    names = ",".join([f"panda_joint{i}" for i in range(1, 7)] + ["fr3_joint7"])
    bridge = rosbridge_double("--joints", names)
    run = _deploy(tamp, bridge.url, "--execute")
    assert run.returncode == 1
    assert "[joint_names]" in run.stdout and "nothing was sent" in run.stderr
    assert bridge.goals() == []


@pytest.mark.parametrize("version", ["1", "2"])
def test_a_stalled_controller_is_cancelled_by_the_monitor(rosbridge_double, tamp, version):
    bridge = rosbridge_double("--ros-version", version, "--stall")
    t0 = time.monotonic()
    run = _deploy(tamp, bridge.url, "--ros-version", version, "--execute")
    assert run.returncode == 1
    assert "timed_out" in run.stderr
    assert len(bridge.goals()) == 1
    ops = bridge.ops()
    if version == "1":
        assert any(o["op"] == "publish" and o["topic"].endswith("/cancel") for o in ops)
    else:
        assert any(o["op"] == "cancel_action_goal" for o in ops)
    assert time.monotonic() - t0 < 60


def test_command_topic_and_stop_in_process(robot, kinematics, rosbridge_double):
    """The transport used directly (asyncio backend, in this process): a short move on
    the command topic, then stop() sends the hold command."""
    from robots.ros.deploy import DeployConfig, Deployer
    from robots.ros.rosbridge import RosbridgeConfig, RosbridgeTransport
    from robots.ros.safety import ArmTrajectory, SafetyChecker

    bridge = rosbridge_double()
    t = np.linspace(0, 1.0, 21)
    q = robot.home + np.outer(0.5 - 0.5 * np.cos(np.pi * t), [0.1, 0, 0, 0, 0, 0, 0])
    with RosbridgeTransport(RosbridgeConfig(url=bridge.url)) as transport:
        deployer = Deployer(transport, robot, DeployConfig(execute=True, via="topic"),
                            checker=SafetyChecker(robot, kinematics=kinematics))
        report = deployer.send_trajectory(ArmTrajectory.from_samples(robot.arm_joints, t, q))
        assert report.sent and report.result.success, report
        transport.stop()
        time.sleep(0.3)
    commands = [o for o in bridge.ops() if o.get("op") == "publish"
                and o["topic"] == "/position_joint_trajectory_controller/command"]
    assert len(commands) == 2
    assert commands[0]["msg"]["points"] and commands[1]["msg"]["points"] == []
    assert bridge.errors() == []


def test_non_loopback_needs_allow_remote():
    from robots.ros.rosbridge import RosbridgeConfig, RosbridgeTransport
    from robots.ros.transport import TransportError

    with pytest.raises(TransportError, match="--allow-remote"):
        RosbridgeTransport(RosbridgeConfig(url="ws://192.0.2.1:9090")).connect()


def test_rosauth_mac_is_sha512_of_secret_and_fields():
    import hashlib

    from robots.ros.rosbridge import RosAuth, rosauth_mac

    mac = rosauth_mac("k", "127.0.0.1", "127.0.0.1", "r", 100, "admin", 200)
    assert mac == hashlib.sha512(b"k127.0.0.1127.0.0.1r100admin200").hexdigest()
    auth = RosAuth.from_secret("k", "127.0.0.1", "127.0.0.1", now=100.0, ttl=50)
    assert (auth.t, auth.end) == (100, 150)
    assert auth.mac == rosauth_mac("k", "127.0.0.1", "127.0.0.1", auth.rand, 100, "admin", 150)
