"""A simulated ROS 1 arm controller: a ``FollowJointTrajectory`` action server and a
``/joint_states`` publisher that behave like ros_control's ``joint_trajectory_controller``
at its interface.

    python -m robots.ros.sim_controller [--time-scale 10] [--fault path|goal] ...

(with ROS_MASTER_URI / ROS_IP set, and rospy importable: see :mod:`robots.ros.rospath`).

A goal is *rejected* when its joint names differ from the controller's (INVALID_JOINTS),
when it is malformed or breaks the URDF position or velocity limits (INVALID_GOAL), or when
its header stamp says it should already have finished (OLD_HEADER_TIMESTAMP). An accepted
goal is played back in real time divided by ``--time-scale``; the first sample must be
within the path tolerance of the current position, and ``--fault`` injects a tracking error
mid-way (PATH_TOLERANCE_VIOLATED) or at the end (GOAL_TOLERANCE_VIOLATED). A new goal
replaces the running one, a cancel stops the arm where it is, and an empty trajectory on
``CONTROLLER/command`` makes it hold. The counts of goals received and their outcomes are
kept in parameters under ``CONTROLLER/sim/`` so that a test can see what arrived.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from robots import DEFAULT_ROBOT
from robots.ros.safety import ArmTrajectory, finite_differences

SUCCESSFUL, INVALID_GOAL, INVALID_JOINTS, OLD_HEADER_TIMESTAMP = 0, -1, -2, -3
PATH_TOLERANCE_VIOLATED, GOAL_TOLERANCE_VIOLATED = -4, -5


@dataclass(frozen=True)
class SimControllerConfig:
    robot: str = DEFAULT_ROBOT
    controller: str = "/position_joint_trajectory_controller"
    #: joints this controller drives; empty = the robot's arm joints
    joint_names: tuple[str, ...] = ()
    joint_states: str = "/joint_states"
    rate: float = 100.0  #: Hz of the control loop and of /joint_states
    time_scale: float = 1.0  #: trajectories play this many times faster than planned
    path_tolerance: float = 0.1  #: rad, default when a goal gives none
    goal_tolerance: float = 0.01  #: rad, default when a goal gives none
    fault: str = "none"  #: "none", "path" or "goal": inject a tracking error
    start: tuple[float, ...] = ()  #: initial positions, rad; empty = the robot's home


@dataclass(frozen=True)
class GoalCheck:
    """The controller's verdict on a goal before it moves: code 0 = accepted."""

    error_code: int
    message: str = ""

    @property
    def accepted(self) -> bool:
        return self.error_code == SUCCESSFUL


def validate(traj: ArmTrajectory, controller_joints: tuple[str, ...], lower: np.ndarray,
             upper: np.ndarray, max_velocity: np.ndarray, stamp: float, now: float) -> GoalCheck:
    """Check a trajectory as the controller would; limits are in controller joint order.
    ``stamp`` is the header stamp (0 = start now) and ``now`` the current time, both s."""
    names = traj.joint_names
    if len(set(names)) != len(names) or set(names) != set(controller_joints):
        return GoalCheck(INVALID_JOINTS, f"joints {list(names)} do not match the "
                                         f"controller's {list(controller_joints)}")
    if traj.n_points == 0:
        return GoalCheck(INVALID_GOAL, "trajectory has no points")
    order = [names.index(n) for n in controller_joints]
    q, t = traj.positions[:, order], traj.times
    if not (np.all(np.isfinite(q)) and np.all(np.isfinite(t))):
        return GoalCheck(INVALID_GOAL, "non-finite positions or times")
    if np.any(np.diff(t) <= 0) or t[0] < 0:
        return GoalCheck(INVALID_GOAL, "time_from_start must increase strictly from >= 0")
    bad = np.flatnonzero(np.any((q < lower - 1e-9) | (q > upper + 1e-9), axis=0))
    if bad.size:
        return GoalCheck(INVALID_GOAL, f"positions outside the limits of "
                                       f"{[controller_joints[j] for j in bad]}")
    if traj.n_points > 1:
        vel, _ = finite_differences(t, q)
        over = np.flatnonzero(np.any(np.abs(vel) > max_velocity * (1 + 1e-9), axis=0))
        if over.size:
            return GoalCheck(INVALID_GOAL, f"velocity limits exceeded by "
                                           f"{[controller_joints[j] for j in over]}")
    if stamp > 0 and stamp + t[-1] < now:
        return GoalCheck(OLD_HEADER_TIMESTAMP, f"trajectory ended {now - stamp - t[-1]:.3f} s "
                                               "ago (header stamp too old)")
    return GoalCheck(SUCCESSFUL)


def interpolate(times: np.ndarray, q: np.ndarray, t: float, q_start: np.ndarray) -> np.ndarray:
    """Position at time ``t`` of a piecewise linear trajectory that starts from
    ``q_start`` at time 0 when the first sample lies later."""
    if times[0] > 0:
        times, q = np.concatenate([[0.0], times]), np.vstack([q_start, q])
    if t >= times[-1]:
        return q[-1].copy()
    k = int(np.searchsorted(times, t, side="right")) - 1
    k = max(k, 0)
    w = (t - times[k]) / (times[k + 1] - times[k])
    return q[k] + w * (q[k + 1] - q[k])


@dataclass
class _Active:
    traj: ArmTrajectory  #: in controller joint order
    start: float  #: wall time when accepted, s
    q_start: np.ndarray
    path_tol: np.ndarray
    goal_tol: np.ndarray
    handle: object = None  #: actionlib ServerGoalHandle, None for the command topic
    counters: dict = field(default_factory=dict)


class SimController:
    """The node. Construct, then :meth:`spin` (needs rospy)."""

    def __init__(self, config: SimControllerConfig):
        import robots

        self.config = config
        robot = robots.load(config.robot)
        self.joints = tuple(config.joint_names) or robot.arm_joints
        # limits of joints the model knows; an unknown name (a simulated other arm) gets
        # the first joint's limits so the node still runs
        idx = [robot.arm_joints.index(n) if n in robot.arm_joints else 0 for n in self.joints]
        self.lower, self.upper = robot.lower[idx], robot.upper[idx]
        self.max_velocity = robot.max_velocity[idx]
        start = np.array(config.start, float) if config.start else robot.home[idx]
        if start.shape != (len(self.joints),):
            raise ValueError(f"--start needs {len(self.joints)} values")
        self.q = start
        self.lock = threading.Lock()
        self.active: _Active | None = None
        self.counts = {"goals_received": 0, "goals_succeeded": 0, "goals_rejected": 0,
                       "goals_aborted": 0, "goals_canceled": 0, "commands_received": 0,
                       "last_error_code": 0}

    def now(self) -> float:
        """The controller's clock, s (a physics twin runs on simulated time)."""
        return time.time()

    # -- ROS plumbing -------------------------------------------------------------------
    def spin(self) -> None:
        import rospy

        from robots.ros import ros1_msgs

        self.msgs = ros1_msgs.load()
        rospy.init_node("sim_arm_controller", anonymous=True)  # several may run
        c = self.config
        self.advertise()
        rospy.set_param(f"{c.controller}/sim/ready", True)
        rospy.loginfo("sim controller ready: joints %s, time scale %.2f, fault %s",
                      self.joints, c.time_scale, c.fault)
        period = 1.0 / c.rate
        while not rospy.is_shutdown():
            self._tick(time.time())
            time.sleep(period)

    def advertise(self) -> None:
        """The controller's ROS interface, as ros_control's: its joint names (parameter
        ``CONTROLLER/joints``), ``/joint_states``, the command topic and the
        ``FollowJointTrajectory`` action server (needs ``self.msgs`` and a node)."""
        import actionlib
        import rospy
        from sensor_msgs.msg import JointState
        from trajectory_msgs.msg import JointTrajectory

        c = self.config
        rospy.set_param(f"{c.controller}/joints", list(self.joints))
        self._publish_counts()
        self.state_pub = rospy.Publisher(c.joint_states, JointState, queue_size=10)
        rospy.Subscriber(f"{c.controller}/command", JointTrajectory, self._on_command,
                         queue_size=10)
        self.server = actionlib.ActionServer(f"{c.controller}/follow_joint_trajectory",
                                             self.msgs.FollowJointTrajectoryAction,
                                             self._on_goal, self._on_cancel, auto_start=False)
        self.server.start()

    def _publish_counts(self) -> None:
        import rospy

        for key, value in self.counts.items():
            rospy.set_param(f"{self.config.controller}/sim/{key}", value)

    def _result(self, code: int, text: str):
        return self.msgs.FollowJointTrajectoryResult(error_code=code, error_string=text)

    def _on_goal(self, handle) -> None:
        import rospy

        from robots.ros.messages import trajectory_from_ros1

        goal = handle.get_goal()
        with self.lock:
            self.counts["goals_received"] += 1
        self._publish_counts()  # seen on arrival, not only once the goal ends
        try:
            traj = trajectory_from_ros1(goal.trajectory)
        except ValueError as err:
            return self._reject(handle, GoalCheck(INVALID_GOAL, str(err)))
        stamp = goal.trajectory.header.stamp.to_sec()
        check = validate(traj, self.joints, self.lower, self.upper, self.max_velocity, stamp,
                         rospy.get_time())
        if not check.accepted:
            return self._reject(handle, check)
        path_tol = self._tolerances(goal.path_tolerance, self.config.path_tolerance)
        goal_tol = self._tolerances(goal.goal_tolerance, self.config.goal_tolerance)
        handle.set_accepted()
        self._start(self._reorder(traj), path_tol, goal_tol, handle)

    def _reject(self, handle, check: GoalCheck) -> None:
        import rospy

        rospy.logwarn("goal rejected (%d): %s", check.error_code, check.message)
        with self.lock:
            self.counts["goals_rejected"] += 1
            self.counts["last_error_code"] = check.error_code
        handle.set_rejected(self._result(check.error_code, check.message), check.message)
        self._publish_counts()

    def _tolerances(self, entries, default: float) -> np.ndarray:
        tol = np.full(len(self.joints), default)
        for e in entries:  # 0 keeps the default, negative removes the limit
            if e.name in self.joints and e.position != 0:
                tol[self.joints.index(e.name)] = np.inf if e.position < 0 else e.position
        return tol

    def _reorder(self, traj: ArmTrajectory) -> ArmTrajectory:
        order = [traj.joint_names.index(n) for n in self.joints]
        return ArmTrajectory(self.joints, traj.times, traj.positions[:, order])

    def _start(self, traj, path_tol, goal_tol, handle) -> None:
        with self.lock:
            q_now = self.q.copy()
        if traj.times[0] == 0:
            # a first point at t = 0 away from the arm would be a jump: refuse to move
            jump = np.abs(traj.positions[0] - q_now)
            if np.any(jump > path_tol):
                j = int(np.argmax(jump - path_tol))
                text = f"{self.joints[j]} would jump {jump[j]:.4f} rad to the first point"
                if handle is not None:
                    self._finish(_Active(traj, self.now(), q_now, path_tol, goal_tol, handle),
                                 "aborted", PATH_TOLERANCE_VIOLATED, text)
                return
        with self.lock:
            previous = self.active
            self.active = _Active(traj, self.now(), self.q.copy(), path_tol, goal_tol, handle)
        if previous is not None and previous.handle is not None:
            self._finish(previous, "canceled", SUCCESSFUL, "replaced by a new goal")

    def _on_cancel(self, handle) -> None:
        with self.lock:
            active = self.active
            if active is None or active.handle is None or \
                    active.handle.get_goal_id().id != handle.get_goal_id().id:
                return
            self.active = None
        self._finish(active, "canceled", SUCCESSFUL, "canceled by the client")

    def _on_command(self, msg) -> None:
        import rospy

        from robots.ros.messages import trajectory_from_ros1

        with self.lock:
            self.counts["commands_received"] += 1
        if not msg.points:
            with self.lock:  # an empty trajectory: hold where we are
                active, self.active = self.active, None
            if active is not None and active.handle is not None:
                self._finish(active, "canceled", SUCCESSFUL, "stopped by an empty command")
            return
        try:
            traj = trajectory_from_ros1(msg)
        except ValueError as err:
            rospy.logwarn("command ignored: %s", err)
            return
        check = validate(traj, self.joints, self.lower, self.upper, self.max_velocity,
                         msg.header.stamp.to_sec(), rospy.get_time())
        if not check.accepted:
            rospy.logwarn("command ignored (%d): %s", check.error_code, check.message)
            return
        n = len(self.joints)
        self._start(self._reorder(traj), np.full(n, self.config.path_tolerance),
                    np.full(n, self.config.goal_tolerance), None)

    def _finish(self, active: _Active, how: str, code: int, text: str) -> None:
        with self.lock:
            self.counts[f"goals_{how}"] = self.counts.get(f"goals_{how}", 0) + 1
            self.counts["last_error_code"] = code
        if active.handle is not None:
            result = self._result(code, text)
            {"succeeded": active.handle.set_succeeded, "aborted": active.handle.set_aborted,
             "canceled": active.handle.set_canceled}[how](result, text)
        self._publish_counts()

    # -- control loop -------------------------------------------------------------------
    def _tick(self, now: float) -> None:
        import rospy
        from sensor_msgs.msg import JointState

        finished = None
        with self.lock:
            a = self.active
            if a is not None:
                finished = self._advance(a, now)
                if finished is not None:
                    self.active = None
            q = self.q.copy()
        msg = JointState(name=list(self.joints), position=[float(x) for x in q])
        msg.header.stamp = rospy.Time.now()
        self.state_pub.publish(msg)
        if finished is not None:  # after publishing, as a real controller's state leads
            self._finish(a, *finished)

    def _advance(self, a: _Active, now: float):
        """Move along ``a``; return (how, code, text) once it ends, else None."""
        c = self.config
        t = (now - a.start) * c.time_scale
        traj = a.traj
        desired = interpolate(traj.times, traj.positions, t, a.q_start)
        actual = desired.copy()
        if c.fault == "path" and t >= 0.5 * traj.duration:
            actual[0] += 2.0 * a.path_tol[0]
        self.q = actual
        err = np.abs(actual - desired)
        if np.any(err > a.path_tol):
            j = int(np.argmax(err - a.path_tol))
            return ("aborted", PATH_TOLERANCE_VIOLATED,
                    f"{self.joints[j]} off the path by {err[j]:.4f} rad")
        if t < traj.duration:
            return None
        final = traj.positions[-1].copy()
        if c.fault == "goal":
            final[0] += 2.0 * a.goal_tol[0]
        self.q = final
        miss = np.abs(final - traj.positions[-1])
        if np.any(miss > a.goal_tol):
            j = int(np.argmax(miss - a.goal_tol))
            return ("aborted", GOAL_TOLERANCE_VIOLATED,
                    f"{self.joints[j]} ended {miss[j]:.4f} rad from the goal")
        return ("succeeded", SUCCESSFUL, "")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m robots.ros.sim_controller",
                                description=__doc__.split("\n\n")[0])
    d = SimControllerConfig()
    p.add_argument("--robot", default=d.robot)
    p.add_argument("--controller", default=d.controller, help="controller namespace")
    p.add_argument("--joint-states", default=d.joint_states, help="joint state topic")
    p.add_argument("--joint-names", default="",
                   help="comma-separated joints of the controller (default: the robot's arm)")
    p.add_argument("--time-scale", type=float, default=d.time_scale,
                   help="play trajectories this many times faster than planned")
    p.add_argument("--rate", type=float, default=d.rate, help="control loop rate, Hz")
    p.add_argument("--fault", choices=("none", "path", "goal"), default=d.fault)
    p.add_argument("--start", default="", help="comma-separated initial positions, rad")
    # rospy adds remapping arguments (name:=value) that argparse must not see
    args = p.parse_args([a for a in (sys.argv[1:] if argv is None else argv) if ":=" not in a])
    if args.time_scale <= 0 or args.rate <= 0:
        p.error("--time-scale and --rate must be > 0")
    config = SimControllerConfig(
        robot=args.robot, controller=args.controller, joint_states=args.joint_states,
        joint_names=tuple(n for n in args.joint_names.split(",") if n),
        rate=args.rate, time_scale=args.time_scale, fault=args.fault,
        start=tuple(float(x) for x in args.start.split(",") if x))
    SimController(config).spin()
    return 0


if __name__ == "__main__":
    sys.exit(main())
