"""Gymnasium environment for every registered tabletop task.

Action: the arm's joint position targets (rad, one per joint of the robot's arm) and the
gripper opening (m), held for one control period (1/40 s, 6 physics steps). Observation: the robot's joint positions and
gripper opening, and per object its pose, size and colour (zero-padded to
``MAX_OBJECTS``). Reward 1 and ``terminated`` when the task's goal holds in ground truth. ``camera`` names
the scene camera's sensor model (``ideal``, ``d435``, ``d435-miscalibrated``; see
:mod:`tamp.perception.sensors`): what :meth:`TabletopEnv.capture` returns.

``gymnasium.make("tamp/PlaceInBowl-v0")`` works once ``scenes`` is imported (or use the id
``"scenes:tamp/PlaceInBowl-v0"``).
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

import robots
from scenes.camera import Camera, CameraConfig, CameraFrame
from tamp.perception.sensors import SensorModel, sensor_model
from scenes.sim import COLORS, Simulation, SimConfig
from scenes.tasks.base import ObjectTruth
from scenes.tasks.registry import make_task
from tamp.geometry.transforms import to_pos_quat
from tamp.world import WorldModel

MAX_OBJECTS = 16
OBJECT_FEATURES = 13  # position (3), quaternion xyzw (4), size (3), rgb (3)
RESTING_SPEED = 0.05  #: m/s below which an object counts as at rest


class TabletopEnv(gymnasium.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, task: str = "place-in-bowl", render_mode: str | None = None,
                 gui: bool = False, robot: str = robots.DEFAULT_ROBOT,
                 camera: "str | SensorModel" = "ideal",
                 camera_config: CameraConfig = CameraConfig(), sim: SimConfig = SimConfig(),
                 substeps: int = 6):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}")
        self.task = make_task(task)
        self.render_mode = render_mode
        self.robot = robots.load(robot)
        self.sim = Simulation(self.robot, gui=gui, config=sim)
        self.camera = Camera(camera_config,
                             sensor_model(camera) if isinstance(camera, str) else camera)
        self.substeps = substeps
        self.control_dt = substeps * sim.timestep
        r = self.robot
        self.action_space = spaces.Box(
            low=np.append(r.lower, 0.0).astype(np.float32),
            high=np.append(r.upper, r.gripper.stroke).astype(np.float32), dtype=np.float32)
        self.observation_space = spaces.Dict({
            "robot": spaces.Box(np.append(r.lower, 0.0).astype(np.float32),
                                np.append(r.upper, r.gripper.stroke).astype(np.float32),
                                dtype=np.float32),
            "objects": spaces.Box(-10.0, 10.0, (MAX_OBJECTS, OBJECT_FEATURES), np.float32),
            "object_mask": spaces.MultiBinary(MAX_OBJECTS),
        })
        self.instance = None

    # -- gymnasium API ------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.sim.reset()
        self.camera.reseed(seed)
        self.instance = self.task.sample(self.np_random)
        if len(self.instance.objects) > MAX_OBJECTS:
            raise ValueError(f"task made {len(self.instance.objects)} objects; "
                             f"at most {MAX_OBJECTS} fit the observation")
        for zone in self.instance.zones:
            self.sim.add_zone(zone)
        for obj in self.instance.objects:
            self.sim.add_object(obj)
        self.sim.step(60)  # let everything settle on the table
        return self._observation(), self._info()

    def step(self, action):
        action = np.asarray(action, np.float64)
        if action.shape != self.action_space.shape:
            raise ValueError(f"action must have shape {self.action_space.shape} "
                             f"({self.robot.dof} joint targets, rad, and the gripper "
                             f"opening, m); got {action.shape}")
        if not np.all(np.isfinite(action)):
            # a NaN target would stay in the simulator's state for the rest of the episode
            raise ValueError(f"action must be finite; got {action.tolist()}")
        n = self.robot.dof
        q = np.clip(action[:n], self.robot.lower, self.robot.upper)
        width = float(np.clip(action[n], 0.0, self.robot.gripper.stroke))
        self.sim.command(q, width)
        self.sim.step(self.substeps)
        info = self._info()
        success = info["success"]
        return self._observation(), float(success), success, False, info

    def render(self):
        if self.render_mode == "rgb_array":
            return self.capture().rgb
        return None

    def close(self):
        self.sim.close()

    def __del__(self):
        # an environment dropped without close() must not keep its PyBullet client
        # (about 29 MB each)
        sim = getattr(self, "sim", None)
        if sim is not None:
            try:
                sim.close()
            except Exception:  # interpreter shutdown: pybullet may already be gone
                pass

    # -- beyond the gymnasium API -------------------------------------------------------
    def capture(self) -> CameraFrame:
        """RGB, depth and instance masks from the scene camera, through its sensor model."""
        return self.camera.capture(self.sim.client, self.sim.bodies)

    def capture_burst(self, n: int) -> list[CameraFrame]:
        """``n`` frames of the still scene (new sensor noise in each), for fusion."""
        return self.camera.burst(self.sim.client, self.sim.bodies, n)

    def oracle_world(self) -> WorldModel:
        """The simulator's ground truth as a planner world model (``oracle`` mode)."""
        return self.sim.world_model()

    def object_truth(self) -> ObjectTruth:
        sim = self.sim
        robot = {n: sim.touching_robot(n) for n in sim.bodies}
        return ObjectTruth(
            resting={n: sim.object_speed(n) < RESTING_SPEED and not robot[n]
                     for n in sim.bodies},
            touching_robot=robot,
            touching_table={n: sim.touching_table(n) for n in sim.bodies})

    def judge(self) -> dict[str, Any]:
        """The task's verdict on the scene now, from ground truth: ``success`` and the
        status of each goal fact (``goal``)."""
        return self._info()

    def _info(self) -> dict[str, Any]:
        report = self.task.success(self.instance, self.oracle_world(), self.object_truth())
        return {"success": report.success, "goal": report.details,
                "description": self.instance.description}

    def _observation(self) -> dict[str, np.ndarray]:
        lo, hi = self.observation_space["robot"].low, self.observation_space["robot"].high
        robot = np.clip(np.append(self.sim.arm_positions(), self.sim.gripper_width()), lo, hi)
        objects = np.zeros((MAX_OBJECTS, OBJECT_FEATURES), np.float32)
        mask = np.zeros(MAX_OBJECTS, np.int8)
        for k, (name, obj) in enumerate(self.sim.objects.items()):
            pos, quat = to_pos_quat(self.sim.object_pose(name))
            objects[k] = np.concatenate([pos, quat, obj.shape.size,
                                         COLORS.get(obj.color, (0.5, 0.5, 0.5))])
            mask[k] = 1
        return {"robot": robot.astype(np.float32), "objects": np.clip(objects, -10, 10),
                "object_mask": mask}
