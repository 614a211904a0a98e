"""The workcell file: what a user measures once about a real (or twin) robot cell, so that
``tamp deploy --goal TEXT --workcell FILE`` needs nothing else. YAML; every length in
metres and in the robot's base frame. An annotated example: ``robots/workcells/example.yaml``.

    robot: panda_2f85              # a robot folder under robots/
    base_frame: panda_link0        # TF frame of the robot's base (default: its base link)
    table:
      height: 0.0                  # z of the table top
      extent: [-0.3, 0.9, -0.6, 0.6]   # x_min, x_max, y_min, y_max of the table top
    places:                        # marked areas on the table (optional)
      place_1: {centre: [0.5, -0.2], size: [0.1, 0.1], yaw: 0.0}
    camera:
      model: d435                  # sensor model: its depth datasheet (tamp/perception/sensors.py)
      namespace: /camera
      colour: color/image_raw
      depth: aligned_depth_to_color/image_raw
      info: color/camera_info
      frame: camera_color_optical_frame   # "" = the images' frame_id
      pose:                        # optional: the camera's fixed pose; without it, TF
        position: [1.15, 0.0, 0.75]
        quaternion_xyzw: [0.0, 0.0, 0.0, 1.0]
    controller:                    # default: the robot's (robots/NAME/NAME.yaml, ros:)
      namespace: /position_joint_trajectory_controller
      joint_states: /joint_states
    gripper: tcp:127.0.0.1:5020    # Robotiq 2F-85 SPEC (see tamp gripper --help)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import robots


class WorkcellError(ValueError):
    """The workcell file is missing, unreadable or says something impossible."""


@dataclass(frozen=True)
class Place:
    name: str
    centre: tuple[float, float]  #: m
    size: tuple[float, float] = (0.1, 0.1)  #: m along the place's x and y
    yaw: float = 0.0  #: rad


@dataclass(frozen=True)
class CameraSpec:
    model: str = "d435"
    namespace: str = "/camera"
    colour: str = "color/image_raw"
    depth: str = "aligned_depth_to_color/image_raw"
    info: str = "color/camera_info"
    frame: str = ""
    pose: np.ndarray | None = field(default=None, compare=False)  #: 4x4 or None (TF)


@dataclass(frozen=True)
class Workcell:
    robot: str = robots.DEFAULT_ROBOT
    base_frame: str = "panda_link0"
    table_height: float = 0.0
    table_extent: tuple[float, float, float, float] = (-0.3, 0.9, -0.6, 0.6)
    places: tuple[Place, ...] = ()
    camera: CameraSpec = field(default_factory=CameraSpec)
    controller: str = "/position_joint_trajectory_controller"
    joint_states: str = "/joint_states"
    gripper: str | None = None
    source: str = ""  #: the file it was read from

    def zones(self) -> dict:
        """The places as the planner's :class:`tamp.world.Zone` objects."""
        from tamp.geometry.transforms import rpy_pose
        from tamp.world import Zone

        return {p.name: Zone(p.name, rpy_pose((*p.centre, self.table_height), (0, 0, p.yaw)),
                             tuple(p.size)) for p in self.places}

    def as_dict(self) -> dict:
        cam = self.camera
        camera = {k: getattr(cam, k) for k in ("model", "namespace", "colour", "depth",
                                               "info", "frame")}
        if cam.pose is not None:
            from tamp.geometry.transforms import to_pos_quat

            pos, quat = to_pos_quat(cam.pose)
            camera["pose"] = {"position": [float(v) for v in pos],
                              "quaternion_xyzw": [float(v) for v in quat]}
        out = {"robot": self.robot, "base_frame": self.base_frame,
               "table": {"height": self.table_height, "extent": list(self.table_extent)},
               "places": {p.name: {"centre": list(p.centre), "size": list(p.size),
                                   "yaw": p.yaw} for p in self.places},
               "camera": camera,
               "controller": {"namespace": self.controller, "joint_states": self.joint_states}}
        if self.gripper:
            out["gripper"] = self.gripper
        return out


def _numbers(value, n: int, what: str) -> tuple[float, ...]:
    if not isinstance(value, (list, tuple)) or len(value) != n or \
            not all(isinstance(v, (int, float)) and not isinstance(v, bool) and
                    math.isfinite(v) for v in value):
        raise WorkcellError(f"{what} must be a list of {n} finite numbers, got {value!r}")
    return tuple(float(v) for v in value)


def _number(value, what: str) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or \
            not math.isfinite(value):
        raise WorkcellError(f"{what} must be a finite number, got {value!r}")
    return float(value)


def _mapping(value, what: str, known: set[str]) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise WorkcellError(f"{what} must be a mapping, got {type(value).__name__}")
    unknown = set(value) - known
    if unknown:
        raise WorkcellError(f"{what}: unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
                            f"known: {', '.join(sorted(known))}")
    return value


def _text(value, what: str) -> str:
    if not isinstance(value, str):
        raise WorkcellError(f"{what} must be text, got {value!r}")
    return value


def parse(data, source: str = "") -> Workcell:
    """A :class:`Workcell` from the YAML document's data; WorkcellError says what is
    wrong, naming the key."""
    from tamp.geometry.transforms import pose

    top = _mapping(data, "the workcell", {"robot", "base_frame", "table", "places", "camera",
                                          "controller", "gripper"})
    d = Workcell()
    table = _mapping(top.get("table"), "table", {"height", "extent"})
    height = _number(table.get("height", d.table_height), "table.height")
    extent = _numbers(table.get("extent", list(d.table_extent)), 4, "table.extent")
    if not (extent[0] < extent[1] and extent[2] < extent[3]):
        raise WorkcellError(f"table.extent must be [x_min, x_max, y_min, y_max] with "
                            f"min < max, got {list(extent)}")
    places = []
    for name, spec in _mapping(top.get("places"), "places",
                               set(map(str, (top.get("places") or {})))).items():
        spec = _mapping(spec, f"places.{name}", {"centre", "size", "yaw"})
        if "centre" not in spec:
            raise WorkcellError(f"places.{name}.centre is missing")
        size = _numbers(spec.get("size", [0.1, 0.1]), 2, f"places.{name}.size")
        if min(size) <= 0:
            raise WorkcellError(f"places.{name}.size must be positive, got {list(size)}")
        places.append(Place(str(name), _numbers(spec["centre"], 2, f"places.{name}.centre"),
                            size, _number(spec.get("yaw", 0.0), f"places.{name}.yaw")))
    cam = _mapping(top.get("camera"), "camera", {"model", "namespace", "colour", "depth",
                                                 "info", "frame", "pose"})
    cam_pose = None
    if cam.get("pose") is not None:
        p = _mapping(cam["pose"], "camera.pose", {"position", "quaternion_xyzw"})
        if "position" not in p or "quaternion_xyzw" not in p:
            raise WorkcellError("camera.pose needs position and quaternion_xyzw")
        q = _numbers(p["quaternion_xyzw"], 4, "camera.pose.quaternion_xyzw")
        if abs(np.linalg.norm(q) - 1.0) > 1e-3:
            raise WorkcellError(f"camera.pose.quaternion_xyzw must be a unit quaternion, "
                                f"got {list(q)} (norm {np.linalg.norm(q):.4f})")
        cam_pose = pose(_numbers(p["position"], 3, "camera.pose.position"), q)
    cd = CameraSpec()
    camera = CameraSpec(**{k: _text(cam.get(k, getattr(cd, k)), f"camera.{k}")
                           for k in ("model", "namespace", "colour", "depth", "info",
                                     "frame")}, pose=cam_pose)
    ctl = _mapping(top.get("controller"), "controller", {"namespace", "joint_states"})
    gripper = top.get("gripper")
    robot = _text(top.get("robot", d.robot), "robot")
    base, controller = top.get("base_frame"), ctl.get("namespace")
    if robot in robots.available():  # unset: the robot's own base link and controller
        spec = robots.load(robot)
        base = spec.base_link if base is None else base
        controller = spec.ros_controller if controller is None else controller
    return Workcell(
        robot=robot,
        base_frame=_text(base if base is not None else d.base_frame, "base_frame"),
        table_height=height, table_extent=extent, places=tuple(places), camera=camera,
        controller=_text(controller if controller is not None else d.controller,
                         "controller.namespace"),
        joint_states=_text(ctl.get("joint_states", d.joint_states), "controller.joint_states"),
        gripper=None if gripper is None else _text(gripper, "gripper"), source=source)


def load(path: str | Path) -> Workcell:
    """Read and check a workcell file; WorkcellError (one line) if it cannot be used."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise WorkcellError(f"workcell file {path}: {err.strerror or err}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise WorkcellError(f"workcell file {path} is not valid YAML{where}") from None
    try:
        return parse(data, str(path))
    except WorkcellError as err:
        raise WorkcellError(f"workcell file {path}: {err}") from None


def save(workcell: Workcell, path: str | Path) -> None:
    """Write ``workcell`` as YAML, atomically."""
    import yaml

    from tamp.files import write_text_atomic

    write_text_atomic(path, "# tamp workcell file (see robots/workcell.py)\n"
                      + yaml.safe_dump(workcell.as_dict(), sort_keys=False))
