"""Collision-free arm motion: OMPL planning, shortcutting and time parameterisation."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from tamp.geometry.collision import CollisionChecker


@dataclass(frozen=True)
class MotionConfig:
    planner: str = "RRTConnect"  #: any geometric planner of OMPL by class name
    time_limit: float = 5.0  #: s per planning query
    shortcut_attempts: int = 60
    seed: int = 0  #: OMPL's random generator is reseeded from this per query


@dataclass(frozen=True)
class MotionPlan:
    """A joint-space path (waypoints joined by straight segments)."""

    success: bool
    path: np.ndarray  #: shape (n_waypoints, n_arm), rad
    planning_time: float  #: s
    reason: str = ""


@dataclass(frozen=True)
class Trajectory:
    times: np.ndarray  #: shape (n,), s, starting at 0
    positions: np.ndarray  #: shape (n, n_arm), rad

    @property
    def duration(self) -> float:
        return float(self.times[-1]) if len(self.times) else 0.0


def plan_motion(checker: CollisionChecker, q_start: np.ndarray, q_goal: np.ndarray,
                query_seed: int, config: MotionConfig = MotionConfig()) -> MotionPlan:
    """Plan from ``q_start`` to ``q_goal`` avoiding everything ``checker`` knows about.

    Deterministic for a given ``query_seed``: OMPL's generator is reseeded for each query
    and the shortcutting uses a numpy generator with the same seed.
    """
    from ompl import base as ob, geometric as og, util as ou

    t0 = time.perf_counter()
    q_start, q_goal = np.asarray(q_start, float), np.asarray(q_goal, float)
    for name, q in (("start", q_start), ("goal", q_goal)):
        if not checker.is_free(q):
            return MotionPlan(False, np.empty((0, len(q))), time.perf_counter() - t0,
                              f"{name} configuration is in collision")
    if checker.edge_free(q_start, q_goal):
        return MotionPlan(True, np.stack([q_start, q_goal]), time.perf_counter() - t0)

    ou.setLogLevel(ou.LOG_NONE)
    ou.RNG.setSeed(int(query_seed) % (2**31 - 1) + 1)
    robot = checker.kin.robot
    n = robot.dof
    space = ob.RealVectorStateSpace(n)
    bounds = ob.RealVectorBounds(n)
    for i in range(n):
        bounds.setLow(i, float(robot.lower[i]))
        bounds.setHigh(i, float(robot.upper[i]))
    space.setBounds(bounds)
    si = ob.SpaceInformation(space)

    def as_array(state) -> np.ndarray:
        return np.array([state[i] for i in range(n)])

    si.setStateValidityChecker(lambda s: checker.is_free(as_array(s)))

    class EdgeValidator(ob.MotionValidator):
        """Checks a whole edge in one call, at the checker's joint resolution."""

        def checkMotion(self, s1, s2):  # noqa: N802 (OMPL's name)
            return checker.edge_free(as_array(s1), as_array(s2))

    validator = EdgeValidator(si)  # keep a reference: OMPL holds only a raw pointer
    si.setMotionValidator(validator)
    si.setup()
    start, goal = space.allocState(), space.allocState()
    for i in range(n):
        start[i], goal[i] = float(q_start[i]), float(q_goal[i])
    pdef = ob.ProblemDefinition(si)
    pdef.setStartAndGoalStates(start, goal)
    planner_cls = getattr(og, config.planner, None)
    if planner_cls is None:
        raise ValueError(f"unknown OMPL planner '{config.planner}'")
    planner = planner_cls(si)
    planner.setProblemDefinition(pdef)
    planner.setup()
    planner.solve(config.time_limit)
    if not pdef.hasExactSolution():
        return MotionPlan(False, np.empty((0, n)), time.perf_counter() - t0,
                          f"{config.planner} found no path within {config.time_limit:.1f} s")
    sol = pdef.getSolutionPath()
    path = np.array([as_array(sol.getState(i)) for i in range(sol.getStateCount())])
    del validator
    path = shortcut(checker, path, np.random.default_rng(query_seed), config.shortcut_attempts)
    return MotionPlan(True, path, time.perf_counter() - t0)


def shortcut(checker: CollisionChecker, path: np.ndarray, rng: np.random.Generator,
             attempts: int) -> np.ndarray:
    """Random shortcutting: join two points of the path straight when that edge is free."""
    path = [p for p in path]
    for _ in range(attempts):
        if len(path) < 3:
            break
        i, j = sorted(rng.choice(len(path), 2, replace=False))
        if j - i < 2:
            continue
        if checker.edge_free(path[i], path[j]):
            path = path[:i + 1] + path[j:]
    return np.array(path)


def time_parameterize(path: np.ndarray, max_velocity: np.ndarray,
                      max_acceleration: np.ndarray, dt: float,
                      speed_scale: float = 1.0) -> Trajectory:
    """Sample a path at ``dt`` with a trapezoidal speed profile on each segment.

    The arm stops at every waypoint, so every joint stays within ``speed_scale`` times its
    velocity and acceleration limits along the whole trajectory.
    """
    vmax = np.asarray(max_velocity) * speed_scale
    amax = np.asarray(max_acceleration) * speed_scale
    times, points, t_end = [0.0], [np.asarray(path[0], float)], 0.0
    for a, b in zip(path[:-1], path[1:]):
        delta = np.asarray(b, float) - np.asarray(a, float)
        moving = np.abs(delta) > 1e-12
        if not moving.any():
            continue
        # the path parameter s in [0, 1] moves at most this fast without any joint exceeding
        sdot = float(np.min(vmax[moving] / np.abs(delta[moving])))
        sddot = float(np.min(amax[moving] / np.abs(delta[moving])))
        t_acc = sdot / sddot
        if sdot * t_acc >= 1.0:  # triangular profile: never reaches full speed
            t_acc = float(np.sqrt(1.0 / sddot))
            sdot = sddot * t_acc
            total = 2 * t_acc
        else:
            total = 2 * t_acc + (1.0 - sdot * t_acc) / sdot
        steps = max(1, int(np.ceil(total / dt)))
        for k in range(1, steps + 1):
            t = min(k * dt, total)
            if t < t_acc:
                s = 0.5 * sddot * t * t
            elif t > total - t_acc:
                s = 1.0 - 0.5 * sddot * (total - t) ** 2
            else:
                s = 0.5 * sddot * t_acc * t_acc + sdot * (t - t_acc)
            times.append(t_end + t)
            points.append(a + min(max(s, 0.0), 1.0) * delta)
        t_end += total
    return Trajectory(np.array(times), np.array(points))
