"""Transport over a rosbridge websocket (roslibpy), for ROS 1 or ROS 2 robots.

ROS 1: ``FollowJointTrajectory`` through actionlib's topics
(``roslibpy.ros1.actionlib.ActionClient``), joint names from the parameter
``CONTROLLER/joints`` via rosapi, commands on ``CONTROLLER/command``.
ROS 2: the action through rosbridge's action operations (``roslibpy.ActionClient``), joint
names from ``CONTROLLER/controller_state`` (``control_msgs/msg/JointTrajectoryControllerState``),
commands on ``CONTROLLER/joint_trajectory``. Both read ``sensor_msgs/JointState``.

rosauth: with :class:`RosAuth`, the ``auth`` operation is sent first on every (re)connection,
as rosbridge servers started with ``authenticate:=true`` require.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlparse

import numpy as np

from robots.ros.messages import empty_trajectory_dict, follow_goal_dict, joint_trajectory_dict
from robots.ros.safety import ArmTrajectory, JointStateSample
from robots.ros.transport import (CallbackGoalHandle, ControllerResult, GoalHandle, Outcome,
                                  Transport, TransportError, require_host_allowed)

# actionlib_msgs/GoalStatus (ROS 1) and action_msgs/GoalStatus (ROS 2) terminal values
_ROS1_OUTCOMES = {2: Outcome.CANCELLED, 3: Outcome.SUCCEEDED, 4: Outcome.ABORTED,
                  5: Outcome.REJECTED, 8: Outcome.CANCELLED, 9: Outcome.LOST}
_ROS2_OUTCOMES = {4: Outcome.SUCCEEDED, 5: Outcome.CANCELLED, 6: Outcome.ABORTED}


def rosauth_mac(secret: str, client: str, dest: str, rand: str, t: int, level: str,
                end: int) -> str:
    """rosauth's MAC: SHA-512 (hex) of the secret followed by the request fields, the two
    times as whole seconds."""
    text = f"{secret}{client}{dest}{rand}{int(t)}{level}{int(end)}"
    return hashlib.sha512(text.encode()).hexdigest()


@dataclass(frozen=True)
class RosAuth:
    """The fields of a rosbridge ``auth`` request."""

    mac: str
    client: str  #: our address as the server sees it
    dest: str  #: the server's address
    rand: str
    t: int  #: s since the epoch when issued
    level: str
    end: int  #: s since the epoch when the session expires

    @classmethod
    def from_secret(cls, secret: str, client: str, dest: str, level: str = "admin",
                    ttl: float = 3600.0, now: float | None = None) -> "RosAuth":
        t = int(time.time() if now is None else now)
        end = int(t + ttl)
        rand = secrets.token_hex(16)
        return cls(rosauth_mac(secret, client, dest, rand, t, level, end), client, dest, rand,
                   t, level, end)


@dataclass(frozen=True)
class RosbridgeConfig:
    url: str = "ws://127.0.0.1:9090"
    ros_version: int = 1  #: of the robot behind the bridge
    controller: str = "/position_joint_trajectory_controller"
    joint_states: str = "/joint_states"
    allow_remote: bool = False  #: a server that is not on loopback must be allowed explicitly
    auth: RosAuth | None = None
    connect_timeout: float = 5.0  #: s for the websocket, the action server and parameters
    state_timeout: float = 2.0  #: s to wait for the first joint state
    #: roslibpy backend; asyncio shuts down cleanly (twisted's reactor cannot restart)
    backend: str = "asyncio"


class _Ros1Goal(GoalHandle):
    def __init__(self, client, message, clock=time.monotonic):
        import roslibpy.ros1.actionlib as al

        self._clock, self._started = clock, clock()
        self._goal = al.Goal(client, message)
        self._goal.send()

    def done(self) -> bool:
        return self._goal.is_finished

    def result(self) -> ControllerResult:
        elapsed = self._clock() - self._started
        if not self.done():
            return ControllerResult(Outcome.LOST, error_string="no result yet", elapsed=elapsed)
        result = dict(self._goal.result or {})
        status = int(self._goal.status.get("status", 9))
        text = str(result.get("error_string") or self._goal.status.get("text", ""))
        return ControllerResult(_ROS1_OUTCOMES.get(status, Outcome.LOST),
                                int(result.get("error_code", 0)), text, elapsed)

    def cancel(self) -> None:
        self._goal.cancel()


class _Ros2Goal(CallbackGoalHandle):
    def __init__(self, client, args: dict, clock=time.monotonic):
        import roslibpy

        super().__init__(clock)
        self._client = client
        self._id = client.send_goal(roslibpy.Goal(args), self._on_result, lambda fb: None,
                                    self._on_error)

    def _on_result(self, result) -> None:
        values = dict(result.get("values") or {})
        status = result.get("status")
        status = int(getattr(status, "value", status))
        code = int(values.get("error_code", 0))
        outcome = _ROS2_OUTCOMES.get(status, Outcome.LOST)
        if outcome == Outcome.SUCCEEDED and code != 0:
            outcome = Outcome.ABORTED
        self._finish(ControllerResult(outcome, code, str(values.get("error_string", "")),
                                      self._clock() - self._started))

    def _on_error(self, error) -> None:
        """rosbridge answers ``result: false`` with an error text or the result values."""
        values = error.get("values", error) if isinstance(error, dict) else error
        if isinstance(values, dict):
            code, text = int(values.get("error_code", 0)), str(values.get("error_string", ""))
        else:
            code, text = 0, str(values)
        self._finish(ControllerResult(Outcome.REJECTED, code, text,
                                      self._clock() - self._started))

    def cancel(self) -> None:
        self._client.cancel_goal(self._id)


class RosbridgeTransport(Transport):
    def __init__(self, config: RosbridgeConfig | None = None):
        self.config = config or RosbridgeConfig()
        c = self.config
        if c.ros_version not in (1, 2):
            raise ValueError(f"ros_version must be 1 or 2, got {c.ros_version}")
        self.description = f"rosbridge {c.url} (ROS {c.ros_version}), controller {c.controller}"
        self._lock = threading.Lock()
        self._state: JointStateSample | None = None
        self._state_event = threading.Event()
        self._joints: tuple[str, ...] = ()
        self._joints_event = threading.Event()
        self.ros = self._action = self._command = None
        self._topics: list = []
        self._goals: list[GoalHandle] = []

    def _type(self, ros1: str) -> str:
        """ROS 2 message types carry a ``msg`` part: sensor_msgs/msg/JointState."""
        if self.config.ros_version == 1:
            return ros1
        package, name = ros1.split("/")
        return f"{package}/msg/{name}"

    # -- connection ---------------------------------------------------------------------
    def connect(self) -> None:
        import roslibpy

        c = self.config
        try:
            host = require_host_allowed(c.url, c.allow_remote, "rosbridge server")
        except ValueError as err:
            raise TransportError(str(err)) from err
        parsed = urlparse(c.url)
        if parsed.scheme not in ("ws", "wss"):
            raise TransportError(f"rosbridge URL must start with ws:// or wss://, got {c.url}")
        port = parsed.port or (443 if parsed.scheme == "wss" else 9090)
        self.ros = roslibpy.Ros(host, port, is_secure=parsed.scheme == "wss",
                                transport=c.backend)
        if c.auth is not None:  # must be registered before run(): it is sent on "ready"
            a = c.auth
            self.ros.authenticate(a.mac, a.client, a.dest, a.rand, a.t, a.level, a.end)
        try:
            self.ros.run(timeout=c.connect_timeout)
        except Exception as err:  # roslibpy raises RosTimeoutError or socket errors
            raise TransportError(f"cannot connect to {c.url}: {err}") from err
        states = roslibpy.Topic(self.ros, c.joint_states, self._type("sensor_msgs/JointState"))
        states.subscribe(self._on_state)
        self._topics.append(states)
        action = f"{c.controller}/follow_joint_trajectory"
        if c.ros_version == 1:
            import roslibpy.ros1.actionlib as al

            try:  # waits for the server's first status message
                self._action = al.ActionClient(self.ros, action,
                                               "control_msgs/FollowJointTrajectoryAction")
            except Exception as err:
                raise TransportError(f"no FollowJointTrajectory action server at {action} "
                                     f"behind {c.url}: {err}") from err
            self._command = roslibpy.Topic(self.ros, f"{c.controller}/command",
                                           "trajectory_msgs/JointTrajectory")
        else:
            self._action = roslibpy.ActionClient(self.ros, action,
                                                 "control_msgs/action/FollowJointTrajectory")
            self._command = roslibpy.Topic(self.ros, f"{c.controller}/joint_trajectory",
                                           "trajectory_msgs/msg/JointTrajectory")
            state = roslibpy.Topic(self.ros, f"{c.controller}/controller_state",
                                   "control_msgs/msg/JointTrajectoryControllerState")
            state.subscribe(self._on_controller_state)
            self._topics.append(state)

    def close(self) -> None:
        if self.ros is None:
            return
        try:
            if self.config.ros_version == 1 and self._action is not None:
                self._action.dispose()
            for topic in self._topics:
                topic.unsubscribe()
            self.ros.close(timeout=self.config.connect_timeout)
        except Exception:  # closing a dead connection must not hide the real error
            pass
        self.ros = None

    def _on_state(self, msg: dict) -> None:
        sample = JointStateSample(tuple(msg.get("name", ())),
                                  np.array(msg.get("position", ()), float), time.monotonic())
        with self._lock:
            self._state = sample
        self._state_event.set()

    def _on_controller_state(self, msg: dict) -> None:
        self._joints = tuple(msg.get("joint_names", ()))
        self._joints_event.set()

    # -- Transport ----------------------------------------------------------------------
    def controller_joints(self) -> tuple[str, ...]:
        self._require_connected()
        c = self.config
        if c.ros_version == 2:
            if not self._joints_event.wait(c.connect_timeout):
                raise TransportError(f"no message on {c.controller}/controller_state within "
                                     f"{c.connect_timeout} s: cannot verify the joint names"
                                     + self._auth_hint())
            return self._joints
        import roslibpy

        name = f"{c.controller}/joints"
        try:
            joints = roslibpy.Param(self.ros, name).get(timeout=c.connect_timeout)
        except Exception as err:  # timeout, or rosapi's empty answer for a missing param
            raise TransportError(f"cannot read parameter {name} through rosapi: {err}") from err
        if not isinstance(joints, list) or not all(isinstance(j, str) for j in joints):
            raise TransportError(f"parameter {name} is not a list of joint names: {joints!r}")
        self._joints = tuple(joints)
        return self._joints

    def joint_state(self) -> JointStateSample:
        self._require_connected()
        if not self._state_event.wait(self.config.state_timeout):
            raise TransportError(f"no joint state on {self.config.joint_states} within "
                                 f"{self.config.state_timeout} s" + self._auth_hint())
        with self._lock:
            return self._state

    def send_goal(self, traj: ArmTrajectory) -> GoalHandle:
        import roslibpy

        self._require_connected()
        goal = follow_goal_dict(traj, self.config.ros_version)
        handle = (_Ros1Goal(self._action, roslibpy.Message(goal))
                  if self.config.ros_version == 1 else _Ros2Goal(self._action, goal))
        self._goals.append(handle)
        return handle

    def publish(self, traj: ArmTrajectory) -> None:
        import roslibpy

        self._require_connected()
        self._command.publish(roslibpy.Message(
            joint_trajectory_dict(traj, self.config.ros_version)))

    def stop(self) -> None:
        if self.ros is None:
            return
        import roslibpy

        for handle in self._goals:
            if not handle.done():
                handle.cancel()
        if self.config.ros_version == 1:
            self._action.cancel()  # an empty GoalID cancels every goal on the server
        if self._joints:
            # an empty trajectory makes a ros_control trajectory controller hold position
            self._command.publish(roslibpy.Message(
                empty_trajectory_dict(self._joints, self.config.ros_version)))

    def _auth_hint(self) -> str:
        # a rosbridge server that rejects rosauth says nothing and ignores every request
        return (" (with rosauth: a wrong secret or clock makes the server ignore us)"
                if self.config.auth is not None else "")

    def _require_connected(self) -> None:
        if self.ros is None:
            raise TransportError("not connected")
