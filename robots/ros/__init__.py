"""Sending planned trajectories to a real arm through ROS, safely.

- :mod:`robots.ros.safety` re-times and checks every trajectory (limits, workspace, joint
  names, start state) before anything is sent;
- :mod:`robots.ros.deploy` runs a plan step by step: dry run by default, ``execute=True``
  to move, with the execution monitor of :mod:`robots.ros.monitor`;
- transports: :mod:`robots.ros.ros1` (rospy, native ROS 1) and :mod:`robots.ros.rosbridge`
  (roslibpy, ROS 1 or ROS 2 behind a rosbridge server);
- :mod:`robots.ros.sim_controller`: a simulated ROS 1 arm controller for try-outs and tests.

ROS client libraries are imported only inside the modules that need them, so importing
this package stays light. See ``docs/HARDWARE.md``.
"""
