"""Small hand-made scenes rendered by the simulator, for perception tests."""

from __future__ import annotations

import numpy as np

import robots
from scenes.camera import Camera
from scenes.sim import Simulation
from tamp.world import WorldObject


def render(objects: list[WorldObject], settle: int = 120):
    """Frame and settled ground truth of a scene made of ``objects``."""
    sim = Simulation(robots.load("panda_2f85"))
    try:
        for o in objects:
            sim.add_object(o)
        sim.step(settle)
        return Camera().capture(sim.client, sim.bodies), sim.world_model()
    finally:
        sim.close()


def at(x: float, y: float, z: float = 0.0, yaw: float = 0.0) -> np.ndarray:
    t = np.eye(4)
    t[:3, :3] = [[np.cos(yaw), -np.sin(yaw), 0], [np.sin(yaw), np.cos(yaw), 0], [0, 0, 1]]
    t[:3, 3] = (x, y, z)
    return t
