"""The cluttered table of the geometry benchmarks (``tamp bench geometry`` and
``experiments/gpu_collision.py``): seeded random boxes in front of the robot.

Imports neither pinocchio nor PyBullet, so that the GPU benchmark runs without them.
"""

from __future__ import annotations

import math

import numpy as np

from tamp.geometry.transforms import translation
from tamp.world import Shape, WorldModel, WorldObject


def cluttered_world(rng: np.random.Generator, n_boxes: int = 10) -> WorldModel:
    """Boxes 4-15 cm wide and 4-35 cm tall scattered in front of the robot."""
    objects = {}
    for k in range(n_boxes):
        size = (rng.uniform(0.04, 0.15), rng.uniform(0.04, 0.15), rng.uniform(0.04, 0.35))
        yaw = rng.uniform(-math.pi, math.pi)
        pose = translation((rng.uniform(0.3, 0.8), rng.uniform(-0.45, 0.45), 0.0))
        pose[:2, :2] = [[math.cos(yaw), -math.sin(yaw)], [math.sin(yaw), math.cos(yaw)]]
        objects[f"box_{k}"] = WorldObject(f"box_{k}", "block", "grey", Shape("box", size),
                                          pose, movable=False)
    return WorldModel(objects)
