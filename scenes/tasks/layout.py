"""Laying out a task's scene: non-overlapping random poses on the reachable table."""

from __future__ import annotations

import math

import numpy as np

from tamp.geometry.shapes import footprint_radius
from tamp.world import Shape

#: where object centres may be sampled by default (x range, y range), m, robot base frame
WORKSPACE = ((0.35, 0.70), (-0.35, 0.35))


def yaw_pose(x: float, y: float, yaw: float, z: float = 0.0) -> np.ndarray:
    t = np.eye(4)
    t[:3, :3] = [[math.cos(yaw), -math.sin(yaw), 0], [math.sin(yaw), math.cos(yaw), 0],
                 [0, 0, 1]]
    t[:3, 3] = (x, y, z)
    return t


def scatter(shapes: list[Shape], rng: np.random.Generator, gap: float = 0.03,
            attempts: int = 2000, workspace=WORKSPACE,
            reach: tuple[float, float] | None = None) -> list[np.ndarray]:
    """Non-overlapping poses on the table for ``shapes`` (largest placed first); with
    ``reach`` (m), every footprint lies between those distances from the robot's base."""
    placed: list[tuple[np.ndarray, float]] = []
    poses: list[np.ndarray | None] = [None] * len(shapes)
    order = sorted(range(len(shapes)), key=lambda i: -footprint_radius(shapes[i]))
    (x0, x1), (y0, y1) = workspace
    for i in order:
        r = footprint_radius(shapes[i])
        for _ in range(attempts):
            xy = np.array([rng.uniform(x0, x1), rng.uniform(y0, y1)])
            if reach is not None and not (reach[0] <= np.linalg.norm(xy) - r
                                          and np.linalg.norm(xy) + r <= reach[1]):
                continue
            if all(np.linalg.norm(xy - c) > r + rc + gap for c, rc in placed):
                break
        else:
            raise RuntimeError("could not scatter the objects without overlap")
        placed.append((xy, r))
        poses[i] = yaw_pose(xy[0], xy[1], rng.uniform(-math.pi, math.pi))
    return poses  # type: ignore[return-value]


def block_shape(rng: np.random.Generator, low: float = 0.04, high: float = 0.05) -> Shape:
    return Shape("box", tuple(float(v) for v in rng.uniform(low, high, 3)))
