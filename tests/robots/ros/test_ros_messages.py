"""Message conversion: rosbridge dicts for ROS 1 and ROS 2, and real rospy classes."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from robots.ros.messages import (error_name, follow_goal_dict, joint_trajectory_dict,
                                 split_time, time_dict, trajectory_from_dict)
from robots.ros.safety import ArmTrajectory, sample_velocities

NAMES = tuple(f"panda_joint{i}" for i in range(1, 8))


def _traj():
    t = np.array([0.0, 0.5, 1.25, 2.000000001])
    q = np.linspace(0, 1, 28).reshape(4, 7)
    return ArmTrajectory(NAMES, t, q, sample_velocities(t, q))


def test_time_fields_per_ros_version():
    assert split_time(2.000000001) == (2, 1)
    assert split_time(0.9999999996) == (1, 0)  # rounds to the nearest nanosecond
    assert time_dict(1.5, 1) == {"secs": 1, "nsecs": 500_000_000}
    assert time_dict(1.5, 2) == {"sec": 1, "nanosec": 500_000_000}


@pytest.mark.parametrize("version", [1, 2])
def test_joint_trajectory_round_trip(version):
    traj = _traj()
    msg = joint_trajectory_dict(traj, version)
    assert msg["joint_names"] == list(NAMES)
    assert ("seq" in msg["header"]) == (version == 1)
    back = trajectory_from_dict(msg)
    np.testing.assert_array_equal(back.positions, traj.positions)
    np.testing.assert_allclose(back.times, traj.times, atol=1e-9)
    np.testing.assert_array_equal(back.velocities, traj.velocities)


def test_follow_goal_keeps_controller_tolerances():
    goal = follow_goal_dict(_traj(), 2)
    assert goal["path_tolerance"] == [] and goal["goal_tolerance"] == []
    assert goal["goal_time_tolerance"] == {"sec": 0, "nanosec": 0}
    assert goal["trajectory"]["header"]["stamp"] == {"sec": 0, "nanosec": 0}  # start now


def test_error_names():
    assert error_name(-2) == "INVALID_JOINTS"
    assert error_name(-5) == "GOAL_TOLERANCE_VIOLATED"
    assert error_name(7) == "UNKNOWN_ERROR(7)"


_ROS1_SCRIPT = r"""
import io, json, sys
import numpy as np
from robots.ros import ros1_msgs
from robots.ros.messages import ros1_follow_goal, trajectory_from_ros1
from robots.ros.safety import ArmTrajectory
cm = ros1_msgs.load()
t = np.array([0.0, 0.5, 1.25]); q = np.arange(21.0).reshape(3, 7) / 10
goal = ros1_follow_goal(ArmTrajectory(tuple('j%d' % i for i in range(7)), t, q), cm)
buf = io.BytesIO(); goal.serialize(buf)
back = cm.FollowJointTrajectoryGoal().deserialize(buf.getvalue())
tr = trajectory_from_ros1(back.trajectory)
print(json.dumps({
    "md5": {n: getattr(cm, n)._md5sum for n in ros1_msgs.KNOWN_MD5},
    "known": ros1_msgs.KNOWN_MD5,
    "types": [cm.FollowJointTrajectoryActionGoal._type, cm.JointTolerance._type],
    "codes": [cm.FollowJointTrajectoryResult.INVALID_JOINTS,
              cm.FollowJointTrajectoryResult.OLD_HEADER_TIMESTAMP],
    "same": bool(np.array_equal(tr.positions, q) and np.allclose(tr.times, t)),
    "module": cm.__file__,
}))
"""


@pytest.mark.ros
def test_generated_control_msgs_match_the_real_package(tmp_path):
    """The classes generated from our written-out definitions have the MD5 sums of the
    real control_msgs (so real controllers accept them) and serialise round trip."""
    import json

    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", _ROS1_SCRIPT], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["md5"] == info["known"]
    assert info["types"] == ["control_msgs/FollowJointTrajectoryActionGoal",
                             "control_msgs/JointTolerance"]
    assert info["codes"] == [-2, -3]
    assert info["same"]
    assert info["module"].startswith(str(tmp_path))  # generated into the cache
