"""An RGB-D camera over ROS 1: ``sensor_msgs/Image`` (colour and depth registered to it)
and ``sensor_msgs/CameraInfo`` -> frames as :mod:`tamp.perception` reads them, with the
camera's pose from TF (tf2) or from the workcell file.

Encodings as RealSense and most other drivers publish them: colour ``rgb8``, ``bgr8``,
``rgba8``, ``bgra8``; depth ``16UC1`` (millimetres; 0 = no measurement) or ``32FC1``
(metres; 0 or NaN = no measurement). The depth image must be registered to the colour
image (same size; the RealSense driver's ``aligned_depth_to_color`` topic), and the
intrinsics are the colour camera's. Images are taken as rectified (``plumb_bob`` with
all-zero distortion, or a driver that publishes ``image_rect``): a distortion model with
non-zero coefficients is refused rather than silently mis-projected.

The pure conversions (:func:`image_array`, :func:`depth_metres`, :func:`intrinsics`) take any
object with the message's fields, so they are tested without a ROS master.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from tamp.deadline import Deadline


class CameraError(RuntimeError):
    """The camera's topics cannot give a frame: silent, stale, malformed, or no pose."""


COLOUR_ENCODINGS = {"rgb8": (3, False), "bgr8": (3, True), "rgba8": (4, False),
                    "bgra8": (4, True)}
DEPTH_ENCODINGS = {"16UC1": np.dtype("uint16"), "mono16": np.dtype("uint16"),
                   "32FC1": np.dtype("float32")}


def _rows(msg, dtype: np.dtype, channels: int) -> np.ndarray:
    """The image's data as (height, width, channels), honouring ``step`` (row padding)
    and ``is_bigendian``."""
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    data = msg.data if isinstance(msg.data, (bytes, bytearray)) else bytes(msg.data)
    row = w * channels * dtype.itemsize
    if h <= 0 or w <= 0 or step < row or len(data) < step * h:
        raise CameraError(f"image {w}x{h} ({msg.encoding}): {len(data)} bytes of data, "
                          f"step {step}; expected at least {row} per row")
    dtype = dtype.newbyteorder(">" if msg.is_bigendian else "<")
    buf = np.frombuffer(data, np.uint8, count=step * h).reshape(h, step)[:, :row]
    return np.ascontiguousarray(buf).view(dtype).reshape(h, w, channels)


def image_array(msg) -> np.ndarray:
    """A colour ``sensor_msgs/Image`` as an (H, W, 3) uint8 RGB array."""
    if msg.encoding not in COLOUR_ENCODINGS:
        raise CameraError(f"colour image encoding '{msg.encoding}' is not supported; "
                          f"use one of {', '.join(COLOUR_ENCODINGS)}")
    channels, bgr = COLOUR_ENCODINGS[msg.encoding]
    rgb = _rows(msg, np.dtype("uint8"), channels)[..., :3]
    return np.ascontiguousarray(rgb[..., ::-1] if bgr else rgb)


def depth_metres(msg) -> np.ndarray:
    """A depth ``sensor_msgs/Image`` as (H, W) float32 metres, 0 where there is no
    measurement (16-bit images are millimetres, REP 118)."""
    if msg.encoding not in DEPTH_ENCODINGS:
        raise CameraError(f"depth image encoding '{msg.encoding}' is not supported; "
                          "use 16UC1 (mm) or 32FC1 (m)")
    raw = _rows(msg, DEPTH_ENCODINGS[msg.encoding], 1)[..., 0]
    if raw.dtype.kind == "u":
        return raw.astype(np.float32) * np.float32(0.001)
    depth = raw.astype(np.float32)
    depth[~np.isfinite(depth) | (depth < 0)] = 0.0
    return depth


def intrinsics(info) -> np.ndarray:
    """The 3x3 pinhole matrix K of a ``sensor_msgs/CameraInfo``."""
    k = np.asarray(info.K, np.float64).reshape(3, 3)
    if not (np.all(np.isfinite(k)) and k[0, 0] > 0 and k[1, 1] > 0 and k[2, 2] == 1.0):
        raise CameraError(f"camera_info has no usable intrinsics (K = {list(info.K)})")
    d = np.asarray(info.D, np.float64)
    if d.size and np.any(np.abs(d) > 1e-9):
        raise CameraError(f"camera_info has lens distortion ({info.distortion_model}, "
                          f"D = {[round(float(v), 5) for v in d]}): subscribe to the "
                          "rectified image (image_rect) and its camera_info")
    return k


@dataclass(frozen=True)
class RosFrame:
    """One RGB-D frame in the form :func:`tamp.perception.scene.perceive` reads."""

    rgb: np.ndarray  #: (H, W, 3) uint8
    depth: np.ndarray  #: (H, W) float32 m, 0 = invalid
    intrinsics: np.ndarray  #: 3x3
    extrinsics: np.ndarray  #: 4x4 camera (optical frame) pose in the robot's base frame
    stamp: float  #: s, the depth image's header stamp
    instance: None = None  #: a real camera has no instance masks
    labels: tuple = ()


def frame_from(colour, depth, info, extrinsics: np.ndarray) -> RosFrame:
    """A :class:`RosFrame` from one colour image, its registered depth image and the
    colour camera's info."""
    rgb, z, k = image_array(colour), depth_metres(depth), intrinsics(info)
    if rgb.shape[:2] != z.shape:
        raise CameraError(f"depth image {z.shape[1]}x{z.shape[0]} is not registered to the "
                          f"colour image {rgb.shape[1]}x{rgb.shape[0]}: subscribe to the "
                          "depth aligned to colour (e.g. aligned_depth_to_color/image_raw)")
    if (int(info.width), int(info.height)) not in ((0, 0), (rgb.shape[1], rgb.shape[0])):
        raise CameraError(f"camera_info is for {info.width}x{info.height}, the images are "
                          f"{rgb.shape[1]}x{rgb.shape[0]}")
    return RosFrame(rgb, z, k, np.asarray(extrinsics, np.float64),
                    depth.header.stamp.to_sec())


@dataclass(frozen=True)
class CameraTopics:
    """Where the camera publishes (namespace-relative names as the RealSense driver's)."""

    namespace: str = "/camera"
    colour: str = "color/image_raw"
    depth: str = "aligned_depth_to_color/image_raw"
    info: str = "color/camera_info"
    #: the optical frame the images are in (TF child frame); "" = the images' frame_id
    frame: str = ""
    #: s between a colour and a depth image for them to count as one frame
    pair_tolerance: float = 0.04
    #: s: a frame older than this when asked for counts as stale
    max_age: float = 1.0

    def topic(self, name: str) -> str:
        return name if name.startswith("/") else f"{self.namespace.rstrip('/')}/{name}"


@dataclass
class _Latest:
    colour: list = field(default_factory=list)  #: recent colour messages
    depth: list = field(default_factory=list)
    info: object = None


class RosCamera:
    """A :class:`~tamp.execution.interfaces.FrameSource` on ROS 1 topics (create it in a
    process whose rospy node is up: :meth:`robots.ros.ros1.Ros1Transport.connect`).

    ``noise``: the depth datasheet perception filters with
    (:class:`tamp.perception.depth.DepthNoise`), ``name`` the camera model's name (it picks
    the concept checkpoint). ``pose``: the camera's fixed pose in the robot's base frame
    (4x4, from the workcell file); None: looked up in TF, from ``base_frame`` to the
    images' optical frame, at each frame's time."""

    KEEP = 30  #: recent messages kept per image topic

    def __init__(self, topics: CameraTopics, base_frame: str, noise, name: str = "d435",
                 pose: np.ndarray | None = None, timeout: float = 5.0):
        import rospy
        from sensor_msgs.msg import CameraInfo

        self.topics = topics
        self.base_frame = base_frame
        self.noise = noise
        self.name = name
        self.ideal = bool(getattr(noise, "exact", False))
        self.pose = None if pose is None else np.asarray(pose, np.float64)
        self.timeout = timeout
        self._lock = threading.Condition()
        self._latest = _Latest()
        self._tf = None
        if self.pose is None:
            import tf2_ros

            self._tf = tf2_ros.Buffer(cache_time=rospy.Duration(30.0))
            self._tf_listener = tf2_ros.TransformListener(self._tf)
        self._info_sub = rospy.Subscriber(topics.topic(topics.info), CameraInfo,
                                          self._on_info, queue_size=1)
        self._image_subs: list = []

    def _subscribe(self) -> None:
        """Subscribe to the images for one look. Between looks nothing is subscribed:
        no frames are sent and decoded while the arm moves, and a driver that publishes
        only while subscribed (the twin) does not render for nobody."""
        import rospy
        from sensor_msgs.msg import Image

        if not self._image_subs:
            with self._lock:  # a look sees only what arrives while it looks
                self._latest.colour.clear()
                self._latest.depth.clear()
            t = self.topics
            self._image_subs = [
                rospy.Subscriber(t.topic(t.colour), Image, self._on("colour"),
                                 queue_size=2, buff_size=2 ** 24),
                rospy.Subscriber(t.topic(t.depth), Image, self._on("depth"),
                                 queue_size=2, buff_size=2 ** 24)]

    def _unsubscribe(self) -> None:
        subs, self._image_subs = self._image_subs, []
        for sub in subs:
            sub.unregister()

    def close(self) -> None:
        self._unsubscribe()
        self._info_sub.unregister()

    def depth_noise(self):
        return self.noise

    def _on(self, kind: str):
        def callback(msg) -> None:
            with self._lock:
                recent = getattr(self._latest, kind)
                recent.append(msg)
                del recent[:-self.KEEP]
                self._lock.notify_all()
        return callback

    def _on_info(self, msg) -> None:
        with self._lock:
            self._latest.info = msg
            self._lock.notify_all()

    def _pairs(self, after: float) -> list[tuple]:
        """(colour, depth) pairs whose stamps agree, depth stamped after ``after``."""
        tol = self.topics.pair_tolerance
        pairs = []
        for d in self._latest.depth:
            t = d.header.stamp.to_sec()
            if t <= after:
                continue
            best = min(self._latest.colour, default=None,
                       key=lambda c: abs(c.header.stamp.to_sec() - t))
            if best is not None and abs(best.header.stamp.to_sec() - t) <= tol:
                pairs.append((best, d))
        return pairs

    def frames(self, n: int) -> list[RosFrame]:
        """``n`` frames stamped after this call (the arm is still: the caller waits for
        it to stop first); CameraError when the topics stay silent past ``timeout``."""
        import rospy

        asked = rospy.get_time()
        deadline = Deadline(self.timeout)
        self._subscribe()
        try:
            with self._lock:
                while True:
                    pairs = self._pairs(asked - self.topics.max_age)
                    fresh = [p for p in pairs if p[1].header.stamp.to_sec() >= asked - 1e-3]
                    if len(fresh) >= n and self._latest.info is not None:
                        chosen = fresh[:n]
                        info = self._latest.info
                        break
                    if deadline.expired():
                        raise CameraError(self._silence(asked, len(fresh), n))
                    self._lock.wait(deadline.cap(0.1))
        finally:
            self._unsubscribe()
        return [frame_from(c, d, info, self.extrinsics(d)) for c, d in chosen]

    def _silence(self, asked: float, got: int, n: int) -> str:
        t = self.topics
        last = self._latest
        if not last.depth and not last.colour:
            what = f"no image on {t.topic(t.colour)} or {t.topic(t.depth)}"
        elif not last.depth:
            what = f"no depth image on {t.topic(t.depth)}"
        elif not last.colour:
            what = f"no colour image on {t.topic(t.colour)}"
        elif last.info is None:
            what = f"no camera_info on {t.topic(t.info)}"
        else:
            newest = max(m.header.stamp.to_sec() for m in last.depth)
            what = (f"{got} of {n} fresh frames (the newest depth image is "
                    f"{asked - newest:.1f} s old; colour and depth stamps must agree "
                    f"within {t.pair_tolerance * 1000:.0f} ms)")
        return f"camera: {what} within {self.timeout:g} s"

    def extrinsics(self, image) -> np.ndarray:
        """The camera's pose in the base frame when ``image`` was taken."""
        if self.pose is not None:
            return self.pose
        import rospy
        import tf2_ros

        frame = self.topics.frame or image.header.frame_id
        try:
            tf = self._tf.lookup_transform(self.base_frame, frame, image.header.stamp,
                                           rospy.Duration(min(self.timeout, 1.0)))
        except tf2_ros.ExtrapolationException:
            # a static camera: the latest transform is as good as any
            try:
                tf = self._tf.lookup_transform(self.base_frame, frame, rospy.Time(0),
                                               rospy.Duration(min(self.timeout, 1.0)))
            except tf2_ros.TransformException as err:
                raise CameraError(f"camera pose: no transform {self.base_frame} -> "
                                  f"{frame} in TF ({err})") from None
        except tf2_ros.TransformException as err:
            raise CameraError(f"camera pose: no transform {self.base_frame} -> {frame} in "
                              f"TF ({type(err).__name__}: {err})") from None
        return transform_matrix(tf.transform)


def transform_matrix(t) -> np.ndarray:
    """4x4 matrix of a ``geometry_msgs/Transform`` (or ``Pose``-like translation and
    rotation)."""
    from tamp.geometry.transforms import pose

    tr, r = t.translation, t.rotation
    return pose((tr.x, tr.y, tr.z), (r.x, r.y, r.z, r.w))
