"""Test helper run as a subprocess: sends raw FollowJointTrajectory goals, bypassing the
safety layer on purpose, to see how the simulated controller answers them.

    python tests/robots/ros/ros1_probe.py CONTROLLER CASE [CASE ...]

Prints one JSON object per case: {"case", "status", "error_code", "error_string"}.
(One process per run because rospy allows one node per process.)
"""

from __future__ import annotations

import json
import sys

import numpy as np


def main() -> int:
    import actionlib
    import genpy
    import rospy
    from sensor_msgs.msg import JointState

    import robots
    from robots.ros import ros1_msgs
    from robots.ros.messages import ros1_follow_goal
    from robots.ros.safety import ArmTrajectory

    controller, cases = sys.argv[1], sys.argv[2:]
    robot = robots.load()
    cm = ros1_msgs.load()
    rospy.init_node("probe", anonymous=True, disable_signals=True)
    client = actionlib.SimpleActionClient(f"{controller}/follow_joint_trajectory",
                                          cm.FollowJointTrajectoryAction)
    if not client.wait_for_server(rospy.Duration(10)):
        print(json.dumps({"error": "no action server"}))
        return 1
    state = rospy.wait_for_message(f"{controller}/joint_states", JointState, timeout=10)
    q0 = np.array(state.position)
    names = robot.arm_joints
    t = np.linspace(0.0, 1.0, 11)
    ok = q0 + np.outer(t, [0.05, 0, 0, 0, 0, 0, 0])
    for case in cases:
        times, q, joint_names, stamp = t, ok, names, genpy.Time(0)
        if case == "wrong_joints":
            joint_names = names[:6] + ("fr3_joint7",)
        elif case == "beyond_limit":
            q = ok.copy()
            q[-1, 3] = robot.upper[3] + 0.2
        elif case == "too_fast":  # 0.05 rad in 1 ms: far beyond the velocity limit
            times = t / 1000.0
        elif case == "time_backwards":
            times = t.copy()
            times[5] = times[4]
        elif case == "old_stamp":
            stamp = rospy.Time.now() - rospy.Duration(30)
        elif case == "start_jump":
            q = ok + 0.5
        goal = ros1_follow_goal(ArmTrajectory(tuple(joint_names), times, q), cm)
        goal.trajectory.header.stamp = stamp
        client.send_goal(goal)
        client.wait_for_result(rospy.Duration(30))
        result = client.get_result()
        print(json.dumps({"case": case, "status": client.get_state(),
                          "error_code": getattr(result, "error_code", None),
                          "error_string": getattr(result, "error_string", "")}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
