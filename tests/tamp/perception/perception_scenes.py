"""Small hand-made scenes rendered by the simulator, for perception tests, and the
tolerances that fits must meet."""

from __future__ import annotations

import math

import numpy as np

import robots
from scenes.camera import Camera
from scenes.sim import Simulation
from tamp.world import Shape, WorldObject

#: m: bottom-centre position (xy), height, box sides, cylinder radius, bowl radii
POSITION_TOL, HEIGHT_TOL, SIDE_TOL, RADIUS_TOL, BOWL_TOL = 0.005, 0.003, 0.005, 0.003, 0.006
YAW_TOL = math.radians(6)


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


def _corners(xy: np.ndarray, yaw: float, shape: Shape) -> np.ndarray:
    """The footprint of a box (4, 2), m."""
    r = np.array([[np.cos(yaw), -np.sin(yaw)], [np.sin(yaw), np.cos(yaw)]])
    half = np.array(shape.size[:2]) / 2
    return (np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]]) * half) @ r.T + xy


def _distance(p: np.ndarray, q: np.ndarray) -> float:
    """Distance between two convex polygons (0 when they overlap), m."""
    def overlap(a, b):
        for poly in (a, b):
            for i in range(len(poly)):
                e = poly[(i + 1) % len(poly)] - poly[i]
                n = np.array([-e[1], e[0]])
                if (a @ n).max() < (b @ n).min() or (b @ n).max() < (a @ n).min():
                    return False
        return True

    def to_segment(x, a, b):
        ab = b - a
        t = np.clip((x - a) @ ab / (ab @ ab), 0.0, 1.0)
        return np.linalg.norm(x - a - t * ab)

    if overlap(p, q):
        return 0.0
    return min(to_segment(x, b[i], b[(i + 1) % len(b)])
               for a, b in ((p, q), (q, p)) for x in a for i in range(len(b)))


def touching_pair(name: str, color: str, xy: tuple[float, float], first: tuple[Shape, float],
                  second: tuple[Shape, float], direction: float, gap: float
                  ) -> list[WorldObject]:
    """Two blocks, ``first`` = (shape, yaw) at ``xy`` and ``second`` beside it towards
    ``direction`` (rad), their footprints ``gap`` (m) apart."""
    (a, yaw_a), (b, yaw_b) = first, second
    c0, u = np.array(xy), np.array([np.cos(direction), np.sin(direction)])
    foot = _corners(c0, yaw_a, a)
    lo, hi = 0.0, 0.3
    for _ in range(40):  # bisection on the distance between the footprints
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _distance(foot, _corners(c0 + mid * u, yaw_b, b)) < gap else \
            (lo, mid)
    c1 = c0 + hi * u
    return [WorldObject(f"{name}_a", "block", color, a, at(*c0, 0.0, yaw_a)),
            WorldObject(f"{name}_b", "block", color, b, at(*c1, 0.0, yaw_b))]


def _yaw_error(fit_pose: np.ndarray, true_pose: np.ndarray) -> float:
    """Difference of yaw modulo a quarter turn (a box's sides are interchangeable)."""
    d = math.atan2(fit_pose[1, 0], fit_pose[0, 0]) - math.atan2(true_pose[1, 0], true_pose[0, 0])
    return abs((d + math.pi / 4) % (math.pi / 2) - math.pi / 4)


def check_fit(fit, gt: WorldObject) -> None:
    """The fit matches the true object within the tolerances above."""
    assert fit.kind == gt.shape.kind, gt.name
    assert np.linalg.norm(fit.pose[:2, 3] - gt.position[:2]) < POSITION_TOL, gt.name
    assert abs(fit.shape.height - gt.shape.height) < HEIGHT_TOL, gt.name
    f, t = np.array(fit.shape.size), np.array(gt.shape.size)
    if gt.shape.kind in ("box", "tray"):
        assert _yaw_error(fit.pose, gt.pose) < YAW_TOL, gt.name
        # the true box's extents along the fitted box's axes
        rel = np.abs(fit.pose[:2, :2].T @ gt.pose[:2, :2])
        assert np.abs(f[:2] - rel @ t[:2]).max() < SIDE_TOL, gt.name
    elif gt.shape.kind == "cylinder":
        assert abs(f[0] - t[0]) < RADIUS_TOL, gt.name
    else:  # the rendered bowl is a 16-sided ring: its flats lie inside the circle
        assert np.abs(f[:2] - t[:2]).max() < BOWL_TOL, gt.name
