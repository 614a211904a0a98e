"""``trajectory_msgs/JointTrajectory`` and ``FollowJointTrajectory`` goals from an
:class:`~robots.ros.safety.ArmTrajectory`: JSON-ready dicts for rosbridge (ROS 1 and ROS 2
spell time fields differently) and real rospy message objects for native ROS 1.

Times go on the wire as whole nanoseconds; the safety layer rounds them before it checks,
so the message carries exactly the checked values.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from robots.ros.safety import ArmTrajectory

#: FollowJointTrajectory result codes (control_msgs), same in ROS 1 and ROS 2
ERROR_CODES = {
    0: "SUCCESSFUL",
    -1: "INVALID_GOAL",
    -2: "INVALID_JOINTS",
    -3: "OLD_HEADER_TIMESTAMP",
    -4: "PATH_TOLERANCE_VIOLATED",
    -5: "GOAL_TOLERANCE_VIOLATED",
}


def error_name(code: int) -> str:
    return ERROR_CODES.get(int(code), f"UNKNOWN_ERROR({code})")


def split_time(t: float) -> tuple[int, int]:
    """Seconds as (whole seconds, nanoseconds), rounded to the nearest nanosecond."""
    total = int(round(float(t) * 1e9))
    return total // 1_000_000_000, total % 1_000_000_000


def time_dict(t: float, ros_version: int) -> dict[str, int]:
    """A time/duration field: ``secs/nsecs`` in ROS 1, ``sec/nanosec`` in ROS 2."""
    s, ns = split_time(t)
    return {"secs": s, "nsecs": ns} if ros_version == 1 else {"sec": s, "nanosec": ns}


def time_from_dict(d: dict[str, Any]) -> float:
    """Seconds from either spelling of a time/duration field."""
    if "secs" in d:
        return d["secs"] + d["nsecs"] * 1e-9
    return d["sec"] + d["nanosec"] * 1e-9


def _check_version(ros_version: int) -> None:
    if ros_version not in (1, 2):
        raise ValueError(f"ros_version must be 1 or 2, got {ros_version}")


def joint_trajectory_dict(traj: ArmTrajectory, ros_version: int = 1) -> dict[str, Any]:
    """``trajectory_msgs/JointTrajectory`` as a dict; a zero stamp means "start now"."""
    _check_version(ros_version)
    header: dict[str, Any] = {"stamp": time_dict(0.0, ros_version), "frame_id": ""}
    if ros_version == 1:
        header["seq"] = 0  # ROS 2 headers have no sequence number
    vel = np.asarray(traj.velocities, float)
    points = []
    for k in range(traj.n_points):
        points.append({
            "positions": [float(x) for x in traj.positions[k]],
            "velocities": [float(x) for x in vel[k]] if vel.size else [],
            "accelerations": [],
            "effort": [],
            "time_from_start": time_dict(traj.times[k], ros_version),
        })
    return {"header": header, "joint_names": list(traj.joint_names), "points": points}


def follow_goal_dict(traj: ArmTrajectory, ros_version: int = 1) -> dict[str, Any]:
    """A ``FollowJointTrajectory`` goal; empty tolerances keep the controller's own."""
    return {
        "trajectory": joint_trajectory_dict(traj, ros_version),
        "path_tolerance": [],
        "goal_tolerance": [],
        "goal_time_tolerance": time_dict(0.0, ros_version),
    }


def trajectory_from_dict(msg: dict[str, Any]) -> ArmTrajectory:
    """The inverse of :func:`joint_trajectory_dict` (used by tests and the test double)."""
    points = msg["points"]
    n = len(msg["joint_names"])
    times = np.array([time_from_dict(p["time_from_start"]) for p in points], float)
    q = np.array([p["positions"] for p in points], float).reshape(len(points), n)
    vel = [p.get("velocities") or [] for p in points]
    v = np.array(vel, float) if points and all(len(x) == n for x in vel) else np.zeros(0)
    return ArmTrajectory(tuple(msg["joint_names"]), times, q, v)


def empty_trajectory_dict(joint_names, ros_version: int = 1) -> dict[str, Any]:
    """A trajectory without points: ros_control controllers stop and hold on receiving it."""
    return joint_trajectory_dict(ArmTrajectory(tuple(joint_names), np.zeros(0),
                                               np.zeros((0, len(joint_names)))), ros_version)


def ros1_joint_trajectory(traj: ArmTrajectory):
    """A rospy ``trajectory_msgs/JointTrajectory`` (needs rospy, see
    :mod:`robots.ros.rospath`)."""
    import genpy
    from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

    msg = JointTrajectory()
    msg.header.stamp = genpy.Time(0, 0)
    msg.joint_names = list(traj.joint_names)
    vel = np.asarray(traj.velocities, float)
    for k in range(traj.n_points):
        s, ns = split_time(traj.times[k])
        msg.points.append(JointTrajectoryPoint(
            positions=[float(x) for x in traj.positions[k]],
            velocities=[float(x) for x in vel[k]] if vel.size else [],
            time_from_start=genpy.Duration(s, ns)))
    return msg


def ros1_follow_goal(traj: ArmTrajectory, control_msgs):
    """A rospy ``FollowJointTrajectoryGoal``; ``control_msgs`` is the module from
    :func:`robots.ros.ros1_msgs.load`."""
    return control_msgs.FollowJointTrajectoryGoal(trajectory=ros1_joint_trajectory(traj))


def trajectory_from_ros1(msg) -> ArmTrajectory:
    """An :class:`ArmTrajectory` from a rospy ``JointTrajectory``; ValueError if a point's
    positions do not match the joint names."""
    n = len(msg.joint_names)
    if any(len(p.positions) != n for p in msg.points):
        raise ValueError(f"every point needs {n} positions")
    times = np.array([p.time_from_start.to_sec() for p in msg.points], float)
    q = np.array([list(p.positions) for p in msg.points], float).reshape(len(msg.points), n)
    vel = [list(p.velocities) for p in msg.points]
    v = np.array(vel, float) if msg.points and all(len(x) == n for x in vel) else np.zeros(0)
    return ArmTrajectory(tuple(msg.joint_names), times, q, v)
