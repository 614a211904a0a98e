"""The twin: a PyBullet task scene served as a robot cell over the interfaces a real one
has, and nothing else, so that ``tamp deploy`` is rehearsed with the same messages.

* ROS 1: ``/joint_states``; a ``control_msgs/FollowJointTrajectory`` action server on the
  controller's namespace (goals checked as ``joint_trajectory_controller`` checks them:
  :mod:`robots.ros.sim_controller`) whose trajectories are *executed under physics*, the
  arm tracking them with its position controllers; the camera's colour (``rgb8``), depth
  (``16UC1``, mm, 0 = invalid) and ``camera_info`` through the named sensor model (the
  realistic ``d435`` by default); a static TF from the robot base to the camera's optical
  frame (the pose the robot *believes*: a miscalibrated camera model publishes its error).
* The Robotiq 2F-85 as the project's register-level simulator on a Modbus-RTU-over-TCP
  port, its fingers driven by physics: position and object detection (gOBJ) are what the
  simulated pads do.
* ``OUT/workcell.yaml``: the workcell file of the scene (table, marked places, camera
  topics, controller, gripper address), and ``OUT/result.json`` (written atomically):
  the task's ground-truth success, judged after every completed motion and at exit.

Time is simulated time, as for any simulator in ROS: the twin publishes ``/clock`` and sets
``/use_sim_time``, so that every node started after it (``tamp deploy``) measures on it;
a twin slower than real time (a busy machine) is then not taken for a late controller.
It runs no faster than the wall clock (``time_scale`` times faster if asked), since a
robot waits in real time while the deploying process looks and plans; the camera
publishes at its rate in wall-clock time.
"""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from robots import DEFAULT_ROBOT
from robots.robotiq.registers import ActivationState, ObjectState
from robots.robotiq.simulator import GripperSim, SimConfig as GripperSimConfig
from robots.ros.sim_controller import (GOAL_TOLERANCE_VIOLATED, PATH_TOLERANCE_VIOLATED,
                                       SUCCESSFUL, SimController, SimControllerConfig,
                                       interpolate)

CAMERA_FRAME = "camera_color_optical_frame"


@dataclass(frozen=True)
class TwinConfig:
    task: str = "place-in-bowl"
    seed: int = 0
    camera: str = "d435"  #: sensor model (tamp/perception/sensors.py)
    robot: str = DEFAULT_ROBOT
    base_frame: str | None = None  #: None: the robot's base link
    controller: str = "/position_joint_trajectory_controller"
    joint_states: str = "/joint_states"
    camera_ns: str = "/camera"
    camera_rate: float = 6.0  #: Hz (wall clock) of the camera topics, while subscribed
    #: simulated seconds per wall-clock second, at most (the physics may not keep up)
    time_scale: float = 1.0
    gripper_host: str = "127.0.0.1"
    gripper_port: int = 0  #: 0 = a free port
    #: s after a trajectory's end for the arm to settle within the goal tolerance
    goal_time: float = 1.0
    path_tolerance: float = 0.2  #: rad, when a goal gives none
    goal_tolerance: float = 0.02  #: rad, when a goal gives none
    #: s of no contact after which a held object counts as gone (gOBJ 3)
    loss_time: float = 0.1


class PhysicsGripper(GripperSim):
    """The 2F-85 register simulator with its fingers in the physics scene: the twin's
    loop commands the pads to the requested opening, then reports (:meth:`sample`) where
    they are and whether they touch something; gPO and gOBJ follow from that."""

    STALL_TIME = 0.2  #: s without finger motion that counts as stopped
    STALL_MOTION = 3e-4  #: m of motion within STALL_TIME that still counts as stopped

    def __init__(self, config: GripperSimConfig, open_width: float, clock):
        super().__init__(config, clock=clock)
        self.measured = open_width
        self.touching = False
        self._history: list[tuple[float, float]] = []

    def command_width(self) -> float:
        """Where the twin drives the pads now, m."""
        with self._lock:
            self._advance()
            cal = self.config.calibration
            if self._sta != ActivationState.ACTIVATED and not self._releasing:
                return cal.count_to_width(cal.open_count) \
                    if self._sta == ActivationState.RESET else \
                    cal.count_to_width(self._position)
            return cal.count_to_width(self._target)

    def sample(self, width: float, touching: bool) -> None:
        with self._lock:
            self.measured, self.touching = width, touching
            now = self._now()
            self._history.append((now, width))
            self._history = [(t, w) for t, w in self._history if now - t <= 1.0]
            self._advance()
            # an object held in the closed fingers and then lost: gOBJ says so
            if not self._moving and self._obj == ObjectState.CONTACT_CLOSING and not touching:
                self._obj = ObjectState.AT_POSITION

    def _start_goto(self) -> None:
        self._history = []
        super()._start_goto()

    def _start_release(self, opening: int) -> None:
        self._history = []
        super()._start_release(opening)

    def _move(self, dt: float) -> None:
        cal = self.config.calibration
        width = self.measured
        self._position = float(min(max(cal.closed_count - width / cal.m_per_count,
                                       cal.open_count), cal.closed_count))
        target = cal.count_to_width(self._target)
        closing = target < width
        if abs(width - target) <= 0.002:
            self._position, self._moving = self._target, False
            self._obj = ObjectState.AT_POSITION
            if self._releasing:
                self._releasing, self._fault = False, 0x0F
            return
        now = self._now()
        recent = [w for t, w in self._history if now - t <= self.STALL_TIME]
        long_enough = self._history and now - self._history[0][0] >= self.STALL_TIME
        if long_enough and recent and max(recent) - min(recent) < self.STALL_MOTION:
            self._moving = False
            if self.touching and not self._releasing:
                self._obj = ObjectState.CONTACT_CLOSING if closing else \
                    ObjectState.CONTACT_OPENING
            else:  # stopped short with nothing between the pads (blocked otherwise)
                self._obj = ObjectState.AT_POSITION


class Twin(SimController):
    """See the module docstring. Construct, then :meth:`serve` (needs rospy)."""

    def __init__(self, config: TwinConfig, out: Path):
        from scenes.env import TabletopEnv

        super().__init__(SimControllerConfig(
            robot=config.robot, controller=config.controller,
            joint_states=config.joint_states, path_tolerance=config.path_tolerance,
            goal_tolerance=config.goal_tolerance))
        self.twin = config
        self.out = Path(out)
        self.env = TabletopEnv(config.task, robot=config.robot, camera=config.camera)
        self.base_frame = config.base_frame or self.env.robot.base_link
        self.env.reset(seed=config.seed)
        self.sim_time = 0.0
        self.q = self.env.sim.arm_positions()
        self.q_cmd = self.q.copy()
        g = self.env.robot.gripper
        from robots.robotiq.registers import Calibration

        calibration = Calibration.from_gripper_spec(g)
        self.gripper = PhysicsGripper(GripperSimConfig(calibration=calibration,
                                                       comm_loss_s=None),
                                      self.env.sim.gripper_width(), clock=lambda: self.sim_time)
        self.motions = 0
        self.frames_published = 0  #: camera frames rendered and sent (only while subscribed)
        #: simulated s when the first goal was accepted and when the last motion ended
        self.first_goal_at: float | None = None
        self.last_done_at: float | None = None
        self.events: list[dict] = []
        self._stop = threading.Event()

    def now(self) -> float:
        return self.sim_time

    # -- the loop ------------------------------------------------------------------------
    def serve(self, ready=None) -> dict:
        """Serve until SIGINT/SIGTERM or ROS shutdown; returns the final result."""
        import rospy
        from sensor_msgs.msg import CameraInfo, Image

        from robots.robotiq.sim_servers import RtuSlave, TcpRtuServer
        from robots.ros import ros1_msgs

        c, t = self.config, self.twin
        self.msgs = ros1_msgs.load()
        # the twin's time is simulated time, as a simulator's is in ROS: /clock, and
        # use_sim_time for every node that starts after it (its own included)
        import rosgraph
        from rosgraph_msgs.msg import Clock

        rosgraph.Master("/tamp_twin").setParam("/use_sim_time", True)
        rospy.init_node("tamp_twin", disable_signals=True)
        self.clock_pub = rospy.Publisher("/clock", Clock, queue_size=10)
        self._publish_clock()
        ns = t.camera_ns.rstrip("/")
        self.colour_pub = rospy.Publisher(f"{ns}/color/image_raw", Image, queue_size=2)
        self.depth_pub = rospy.Publisher(f"{ns}/aligned_depth_to_color/image_raw", Image,
                                         queue_size=2)
        self.info_pub = rospy.Publisher(f"{ns}/color/camera_info", CameraInfo, queue_size=2,
                                        latch=True)
        self._broadcast_camera_pose()
        self.advertise()
        service = TcpRtuServer(RtuSlave(self.gripper), host=t.gripper_host,
                               port=t.gripper_port).start()
        try:
            self.gripper_address = f"tcp:{t.gripper_host}:{service.port}"
            self._write_workcell()
            self._judge("start")
            rospy.set_param(f"{c.controller}/sim/ready", True)
            if ready is not None:
                ready(self)
            self._run()
        finally:
            service.close()
            result = self._judge("exit")
            self.env.close()
            try:  # the master outlives the twin: its later nodes keep the wall clock
                rosgraph.Master("/tamp_twin").deleteParam("/use_sim_time")
            except Exception:  # the master may be gone already
                pass
        return result

    def stop(self, *_):
        self._stop.set()

    def _run(self) -> None:
        import rospy

        dt = self.env.control_dt
        period = 1.0 / self.twin.camera_rate
        start_wall, next_frame = time.monotonic(), 0.0
        while not self._stop.is_set() and not rospy.is_shutdown():
            finished = None
            with self.lock:
                a = self.active
                if a is not None:
                    finished = self._advance(a, self.sim_time)
                    if finished is not None:
                        self.active = None
            width = self.gripper.command_width()
            self.env.step(np.append(self.q_cmd, width))
            self.sim_time += dt
            self._publish_clock()
            sim = self.env.sim
            held = any(sim.touching_robot(n) for n in sim.objects)
            self.gripper.sample(sim.gripper_width(), held)
            self.q = sim.arm_positions()
            self._publish_state()
            if finished is not None:
                self._finish(a, *finished)
                self.motions += 1
                self.last_done_at = self.sim_time
                self._judge(f"motion {self.motions} {finished[0]}")
            if time.monotonic() >= next_frame:
                next_frame = time.monotonic() + period
                self._publish_camera()
            # no faster than time_scale x the wall clock
            ahead = self.sim_time / self.twin.time_scale - (time.monotonic() - start_wall)
            if ahead > 0:
                time.sleep(ahead)

    def _advance(self, a, now: float):
        """Command the arm along ``a`` at simulated time ``now``; (how, code, text) once
        it ends (within the goal tolerance after the trajectory's duration, or not within
        ``goal_time`` after it), else None."""
        traj = a.traj
        t = now - a.start
        desired = interpolate(traj.times, traj.positions, min(t, traj.duration), a.q_start)
        self.q_cmd = desired
        err = np.abs(self.q - desired)
        if t <= traj.duration and np.any(err > a.path_tol):
            j = int(np.argmax(err - a.path_tol))
            return ("aborted", PATH_TOLERANCE_VIOLATED,
                    f"{self.joints[j]} off the path by {err[j]:.4f} rad")
        if t < traj.duration:
            return None
        miss = np.abs(self.q - traj.positions[-1])
        if np.all(miss <= a.goal_tol):
            return ("succeeded", SUCCESSFUL, "")
        if t >= traj.duration + self.twin.goal_time:
            j = int(np.argmax(miss - a.goal_tol))
            return ("aborted", GOAL_TOLERANCE_VIOLATED,
                    f"{self.joints[j]} ended {miss[j]:.4f} rad from the goal")
        return None

    def _start(self, traj, path_tol, goal_tol, handle) -> None:
        with self.lock:
            self.q_cmd = self.q.copy()
            if self.first_goal_at is None:
                self.first_goal_at = self.sim_time
        super()._start(traj, path_tol, goal_tol, handle)

    # -- what the twin publishes ---------------------------------------------------------
    #: s: ROS time of simulated time 0 (ROS time 0 means "unset")
    EPOCH = 1.0

    def stamp(self):
        import rospy

        return rospy.Time.from_sec(self.EPOCH + self.sim_time)

    def _publish_clock(self) -> None:
        from rosgraph_msgs.msg import Clock

        self.clock_pub.publish(Clock(clock=self.stamp()))

    def _publish_state(self) -> None:
        from sensor_msgs.msg import JointState

        msg = JointState(name=list(self.joints), position=[float(x) for x in self.q])
        msg.header.stamp = self.stamp()
        self.state_pub.publish(msg)

    def _publish_camera(self) -> None:
        import rospy
        from sensor_msgs.msg import CameraInfo, Image

        if not (self.colour_pub.get_num_connections() or self.depth_pub.get_num_connections()):
            return
        frame = self.env.capture()
        stamp = self.stamp()
        h, w = frame.depth.shape
        colour = Image(height=h, width=w, encoding="rgb8", is_bigendian=0, step=3 * w,
                       data=np.ascontiguousarray(frame.rgb).tobytes())
        mm = np.clip(np.rint(frame.depth * 1000.0), 0, 65535).astype("<u2")
        depth = Image(height=h, width=w, encoding="16UC1", is_bigendian=0, step=2 * w,
                      data=mm.tobytes())
        k = frame.intrinsics
        info = CameraInfo(height=h, width=w, distortion_model="plumb_bob", D=[0.0] * 5,
                          K=[float(v) for v in k.ravel()],
                          R=[1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0],
                          P=[k[0, 0], 0.0, k[0, 2], 0.0, 0.0, k[1, 1], k[1, 2], 0.0,
                             0.0, 0.0, 1.0, 0.0])
        for msg in (colour, depth, info):
            msg.header.stamp = stamp
            msg.header.frame_id = CAMERA_FRAME
        self.colour_pub.publish(colour)
        self.depth_pub.publish(depth)
        self.info_pub.publish(info)
        self.frames_published += 1
        rospy.set_param(f"{self.twin.camera_ns.rstrip('/')}/sim/frames_published",
                        self.frames_published)

    def _broadcast_camera_pose(self) -> None:
        import rospy
        import tf2_ros
        from geometry_msgs.msg import TransformStamped

        from tamp.geometry.transforms import to_pos_quat

        pos, quat = to_pos_quat(self.env.camera.reported_extrinsics)
        tf = TransformStamped()
        tf.header.stamp = rospy.Time.now()
        tf.header.frame_id = self.base_frame
        tf.child_frame_id = CAMERA_FRAME
        tf.transform.translation.x, tf.transform.translation.y, \
            tf.transform.translation.z = (float(v) for v in pos)
        r = tf.transform.rotation
        r.x, r.y, r.z, r.w = (float(v) for v in quat)
        self._tf = tf2_ros.StaticTransformBroadcaster()
        self._tf.sendTransform(tf)

    # -- files ---------------------------------------------------------------------------
    def workcell(self):
        from robots.workcell import CameraSpec, Place, Workcell
        from scenes.sim import TABLE_EXTENT, TABLE_TOP
        from tamp.geometry.transforms import yaw_of

        t = self.twin
        places = tuple(Place(z.name, (float(z.pose[0, 3]), float(z.pose[1, 3])),
                             tuple(float(v) for v in z.extents), yaw_of(z.pose))
                       for z in self.env.instance.zones)
        return Workcell(robot=t.robot, base_frame=self.base_frame, table_height=TABLE_TOP,
                        table_extent=tuple(float(v) for v in TABLE_EXTENT), places=places,
                        camera=CameraSpec(model=t.camera, namespace=t.camera_ns,
                                          frame=CAMERA_FRAME),
                        controller=t.controller, joint_states=t.joint_states,
                        gripper=self.gripper_address)

    def _write_workcell(self) -> None:
        from robots.workcell import save

        save(self.workcell(), self.out / "workcell.yaml")

    def _judge(self, event: str) -> dict:
        """The task's success in ground truth now, kept in OUT/result.json."""
        from tamp.files import write_json_atomic

        info = self.env.judge()
        t = self.twin
        self.events.append({"event": event, "sim_time_s": round(self.sim_time, 3),
                            "success": bool(info["success"])})
        result = {"task": t.task, "seed": t.seed, "camera": t.camera, "robot": t.robot,
                  "goal": self.env.instance.description,
                  "success": bool(info["success"]),
                  "goal_status": {k: bool(v) for k, v in info["goal"].items()},
                  "sim_time_s": round(self.sim_time, 3), "motions": self.motions,
                  # from the first goal accepted to the end of the last motion
                  "robot_time_s": round(self.last_done_at - self.first_goal_at, 3)
                  if self.last_done_at is not None else 0.0,
                  "goals": {k: v for k, v in self.counts.items()},
                  "camera_frames": self.frames_published,
                  "events": self.events[-50:]}
        write_json_atomic(self.out / "result.json", result)
        return result


def run(config: TwinConfig, out: Path, ready=None) -> dict:
    """Serve the twin (see :class:`Twin`) until SIGINT or SIGTERM; the final result."""
    twin = Twin(config, out)
    previous = {s: signal.signal(s, twin.stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        return twin.serve(ready)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
