"""Native ROS 1 transport (rospy + actionlib) to a ``joint_trajectory_controller``-style
controller: ``FollowJointTrajectory`` on ``CONTROLLER/follow_joint_trajectory``, the command
topic ``CONTROLLER/command``, joint names from the parameter ``CONTROLLER/joints`` (the
ros_control convention) and ``sensor_msgs/JointState`` on ``/joint_states``.

rospy allows one node per process and reads the master's address and its own from the
environment, so :meth:`Ros1Transport.connect` sets ``ROS_MASTER_URI`` (and ``ROS_IP`` for a
loopback master) for this process and may be called once per process.
"""

from __future__ import annotations

import os
import threading
import time
import xmlrpc.client
from dataclasses import dataclass

import numpy as np

from robots.ros.messages import ros1_follow_goal, ros1_joint_trajectory
from robots.ros.safety import ArmTrajectory, JointStateSample
from robots.ros.transport import (CallbackGoalHandle, ControllerResult, GoalHandle, Outcome,
                                  Transport, TransportError, is_loopback_host, require_host_allowed)

# actionlib_msgs/GoalStatus values
_PENDING, _ACTIVE, _PREEMPTED, _SUCCEEDED, _ABORTED, _REJECTED = 0, 1, 2, 3, 4, 5
_RECALLED, _LOST = 8, 9
_OUTCOMES = {_SUCCEEDED: Outcome.SUCCEEDED, _ABORTED: Outcome.ABORTED,
             _REJECTED: Outcome.REJECTED, _PREEMPTED: Outcome.CANCELLED,
             _RECALLED: Outcome.CANCELLED, _LOST: Outcome.LOST}


@dataclass(frozen=True)
class Ros1Config:
    master_uri: str = "http://127.0.0.1:11311"
    #: namespace of the trajectory controller (franka_ros's default for the Panda)
    controller: str = "/position_joint_trajectory_controller"
    joint_states: str = "/joint_states"
    node_name: str = "tamp_deploy"
    allow_remote: bool = False  #: a master that is not on loopback must be allowed explicitly
    connect_timeout: float = 5.0  #: s for the master, the action server and subscribers
    state_timeout: float = 2.0  #: s to wait for the first joint state


class _TimeoutTransport(xmlrpc.client.Transport):
    """XML-RPC with a socket timeout, so an absent master fails fast instead of hanging."""

    def __init__(self, timeout: float):
        super().__init__()
        self.timeout = timeout

    def make_connection(self, host):
        conn = super().make_connection(host)
        conn.timeout = self.timeout
        return conn


class _Ros1Goal(CallbackGoalHandle):
    def __init__(self, client, goal, clock=time.monotonic):
        super().__init__(clock)
        self._client = client
        self._handle = client.send_goal(goal, transition_cb=self._on_transition)

    def _on_transition(self, handle) -> None:
        import actionlib

        if handle.get_comm_state() != actionlib.CommState.DONE:
            return
        status = handle.get_goal_status()
        res = handle.get_result()
        code = int(getattr(res, "error_code", 0)) if res is not None else 0
        text = str(getattr(res, "error_string", "")) if res is not None else ""
        text = text or handle.get_goal_status_text()
        self._finish(ControllerResult(_OUTCOMES.get(status, Outcome.LOST), code, text,
                                      self._elapsed()))

    def cancel(self) -> None:
        self._handle.cancel()


class Ros1Transport(Transport):
    def __init__(self, config: Ros1Config | None = None):
        self.config = config or Ros1Config()
        c = self.config
        self.description = f"ROS 1 master {c.master_uri}, controller {c.controller}"
        self._lock = threading.Lock()
        self._state: JointStateSample | None = None
        self._state_event = threading.Event()
        self._client = self._sub = self._pub = self._msgs = None
        self._joints: tuple[str, ...] = ()

    # -- connection ---------------------------------------------------------------------
    def connect(self) -> None:
        c = self.config
        try:
            host = require_host_allowed(c.master_uri, c.allow_remote, "ROS master")
        except ValueError as err:
            raise TransportError(str(err)) from err
        os.environ["ROS_MASTER_URI"] = c.master_uri
        if is_loopback_host(host):
            # a loopback master can only call back a node that listens on loopback too
            os.environ["ROS_IP"] = "127.0.0.1"
            os.environ.pop("ROS_HOSTNAME", None)
        self._ping_master()
        try:
            import actionlib
            import rospy
            from sensor_msgs.msg import JointState
            from trajectory_msgs.msg import JointTrajectory
        except ImportError as err:
            from robots.ros.rospath import INSTALL_HINT

            raise TransportError(f"rospy is not importable ({err}); {INSTALL_HINT}") from err
        from robots.ros import ros1_msgs

        self._msgs = ros1_msgs.load()
        rospy.init_node(c.node_name, anonymous=True, disable_signals=True)
        self._wait_for_clock()
        self._sub = rospy.Subscriber(c.joint_states, JointState, self._on_state, queue_size=1)
        self._pub = rospy.Publisher(f"{c.controller}/command", JointTrajectory, queue_size=1)
        self._client = actionlib.ActionClient(f"{c.controller}/follow_joint_trajectory",
                                              self._msgs.FollowJointTrajectoryAction)
        if not self._client.wait_for_server(rospy.Duration(c.connect_timeout)):
            raise TransportError(f"no FollowJointTrajectory action server at "
                                 f"{c.controller}/follow_joint_trajectory within "
                                 f"{c.connect_timeout} s")

    def _wait_for_clock(self) -> None:
        """With ``use_sim_time`` (a simulator drives ``/clock``), ROS time is 0 until the
        first clock message: wait for it, so that no timeout is computed from time 0."""
        import rospy

        if not rospy.get_param("/use_sim_time", False):
            return
        until = time.monotonic() + self.config.connect_timeout
        while rospy.get_time() == 0.0:
            if time.monotonic() > until:
                raise TransportError(f"use_sim_time is set but nothing publishes /clock "
                                     f"(waited {self.config.connect_timeout} s)")
            time.sleep(0.01)

    def _ping_master(self) -> None:
        c = self.config
        proxy = xmlrpc.client.ServerProxy(c.master_uri,
                                          transport=_TimeoutTransport(c.connect_timeout))
        try:
            code, msg, _ = proxy.getUri(f"/{c.node_name}")
        except (OSError, xmlrpc.client.Error) as err:
            raise TransportError(f"ROS master {c.master_uri} unreachable: {err}") from err
        if code != 1:
            raise TransportError(f"ROS master {c.master_uri} answered: {msg}")

    def close(self) -> None:
        if self._client is None:
            return
        import rospy

        for item in (self._sub, self._pub):
            item.unregister()
        self._client = None
        # rospy cannot re-initialise a node in this process; shutting down ends its threads
        rospy.signal_shutdown("tamp deploy finished")

    def _on_state(self, msg) -> None:
        sample = JointStateSample(tuple(msg.name), np.array(msg.position, float),
                                  time.monotonic())
        with self._lock:
            self._state = sample
        self._state_event.set()

    # -- Transport ----------------------------------------------------------------------
    def controller_joints(self) -> tuple[str, ...]:
        import rospy

        name = f"{self.config.controller}/joints"
        try:
            joints = rospy.get_param(name)
        except KeyError as err:
            raise TransportError(f"parameter {name} not found: cannot verify the "
                                 "controller's joint names") from err
        if not isinstance(joints, list) or not all(isinstance(j, str) for j in joints):
            raise TransportError(f"parameter {name} is not a list of joint names: {joints!r}")
        self._joints = tuple(joints)
        return self._joints

    def joint_state(self) -> JointStateSample:
        if not self._state_event.wait(self.config.state_timeout):
            raise TransportError(f"no joint state on {self.config.joint_states} within "
                                 f"{self.config.state_timeout} s")
        with self._lock:
            return self._state

    def clock(self) -> float:
        if self._client is None:
            return time.monotonic()
        import rospy

        return rospy.get_time()  # /clock when the master says use_sim_time

    def send_goal(self, traj: ArmTrajectory) -> GoalHandle:
        self._require_connected()
        return _Ros1Goal(self._client, ros1_follow_goal(traj, self._msgs), clock=self.clock)

    def publish(self, traj: ArmTrajectory) -> None:
        self._require_connected()
        self._wait_for_subscriber()
        self._pub.publish(ros1_joint_trajectory(traj))

    def stop(self) -> None:
        if self._client is None:
            return
        self._client.cancel_all_goals()
        if self._joints and self._pub.get_num_connections() > 0:
            # an empty trajectory makes a ros_control trajectory controller hold position
            self._pub.publish(ros1_joint_trajectory(ArmTrajectory(
                self._joints, np.zeros(0), np.zeros((0, len(self._joints))))))

    def _require_connected(self) -> None:
        if self._client is None:
            raise TransportError("not connected")

    def _wait_for_subscriber(self) -> None:
        until = time.monotonic() + self.config.connect_timeout
        while self._pub.get_num_connections() == 0:
            if time.monotonic() > until:
                raise TransportError(f"nobody subscribes to {self.config.controller}/command")
            time.sleep(0.01)
