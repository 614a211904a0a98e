"""Collision-free arm motion: OMPL planning, shortcutting and time parameterisation."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import numpy as np

from tamp.geometry.collision import CollisionChecker


@dataclass(frozen=True)
class MotionConfig:
    planner: str = "RRTConnect"  #: any geometric planner of OMPL by class name
    time_limit: float = 5.0  #: s per planning query
    shortcut_attempts: int = 60  #: (OMPL's generator is reseeded per query: query_seed)


@dataclass(frozen=True)
class MotionPlan:
    """A joint-space path (waypoints joined by straight segments)."""

    success: bool
    path: np.ndarray  #: shape (n_waypoints, n_arm), rad
    planning_time: float  #: s
    reason: str = ""


TIMING_METHODS = ("toppra", "trapezoid")


@dataclass(frozen=True)
class Trajectory:
    times: np.ndarray  #: shape (n,), s, starting at 0
    positions: np.ndarray  #: shape (n, n_arm), rad
    #: how it was timed: ``"toppra"`` (time-optimal along a spline through the waypoints)
    #: or ``"trapezoid"`` (straight segments, stopping at every waypoint)
    method: str = "trapezoid"
    #: why toppra was asked for but the trapezoid was used ("" when it was not)
    fallback_reason: str = ""

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


#: rad; a path turning more than this at a waypoint is timed with the trapezoid (the
#: planned transit paths: TOPP-RA won there in 2 of 24 cases, at about 0.1 s each)
SHARP_TURN = math.radians(30.0)


def time_parameterize(path: np.ndarray, max_velocity: np.ndarray,
                      max_acceleration: np.ndarray, dt: float,
                      speed_scale: float = 1.0, method: str = "toppra",
                      max_deviation: float = 0.005) -> Trajectory:
    """Time a joint-space path within ``speed_scale`` times the joint velocity and
    acceleration limits, sampled every ``dt`` (and at the end).

    ``"toppra"``: a cubic spline through the waypoints, kept within ``max_deviation`` rad
    (every joint) of the straight segments the planner checked (segments are split where
    it strays further), timed time-optimally by TOPP-RA; the arm does not stop at the
    waypoints. The trapezoid is used instead, with ``fallback_reason`` saying why, when
    TOPP-RA fails or when stopping at every waypoint is quicker (around sharp corners,
    where the spline must bend tightly).
    ``"trapezoid"``: straight segments with a trapezoidal speed profile each, stopping
    at every waypoint.
    """
    if method not in TIMING_METHODS:
        raise ValueError(f"unknown timing method '{method}'; known: {', '.join(TIMING_METHODS)}")
    trapezoid = trapezoid_parameterize(path, max_velocity, max_acceleration, dt, speed_scale)
    if method == "trapezoid" or len(_distinct(path)) < 2:
        return trapezoid
    if len(_distinct(path)) == 2:  # one straight segment: the trapezoid is time-optimal
        return replace(trapezoid, fallback_reason="one straight segment, on which the "
                                                  "trapezoid is time-optimal")
    turn = max_turn(path)
    if turn > SHARP_TURN:  # the spline must all but stop there: not worth TOPP-RA's time
        return replace(trapezoid, fallback_reason=(
            f"a corner of {math.degrees(turn):.0f} degrees, where the spline would all but "
            "stop: stopping at every waypoint costs about as much"))
    timed = toppra_parameterize(path, max_velocity, max_acceleration, dt, speed_scale,
                                max_deviation)
    if isinstance(timed, str):
        return replace(trapezoid, fallback_reason=timed)
    if timed.duration > trapezoid.duration:
        return replace(trapezoid, fallback_reason=(
            f"stopping at every waypoint is quicker ({trapezoid.duration:.2f} s against "
            f"{timed.duration:.2f} s along the spline)"))
    return timed


def max_turn(path: np.ndarray) -> float:
    """The largest angle (rad) between consecutive segments of a joint-space path."""
    seg = np.diff(_distinct(path), axis=0)
    if len(seg) < 2:
        return 0.0
    seg = seg / np.linalg.norm(seg, axis=1, keepdims=True)
    cos = np.clip(np.einsum("ij,ij->i", seg[:-1], seg[1:]), -1.0, 1.0)
    return float(np.arccos(cos).max())


def _distinct(path: np.ndarray) -> np.ndarray:
    """The waypoints without consecutive repeats."""
    path = np.asarray(path, float)
    keep = np.ones(len(path), bool)
    keep[1:] = np.abs(np.diff(path, axis=0)).max(axis=1) > 1e-9
    return path[keep]


def spline_through(path: np.ndarray, max_deviation: float, max_rounds: int = 16):
    """Knots (chord length), waypoints and a C2 cubic spline through them that stays
    within ``max_deviation`` (every joint) of the straight segments between the original
    waypoints: segments where it strays further are split at their midpoint, which pulls
    the spline onto them. Returns None if ``max_rounds`` splits do not get there."""
    from scipy.interpolate import CubicSpline

    pts = _distinct(path)
    u = np.linspace(0.0, 1.0, 17)[1:-1]
    for _ in range(max_rounds):
        knots = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(pts, axis=0),
                                                                axis=1))])
        spline = CubicSpline(knots, pts)
        s = knots[:-1, None] + u[None] * np.diff(knots)[:, None]  # (segments, samples)
        straight = pts[:-1, None] + u[None, :, None] * (pts[1:] - pts[:-1])[:, None]
        deviation = np.abs(spline(s) - straight).max(axis=(1, 2))
        bad = deviation > max_deviation
        if not bad.any():
            return knots, pts, spline
        mids = (pts[:-1] + pts[1:]) / 2
        out = [pts[0]]
        for i in range(len(pts) - 1):
            if bad[i]:
                out.append(mids[i])
            out.append(pts[i + 1])
        pts = np.array(out)
    return None


def toppra_parameterize(path: np.ndarray, max_velocity: np.ndarray,
                        max_acceleration: np.ndarray, dt: float, speed_scale: float = 1.0,
                        max_deviation: float = 0.005, grid_step: float = 0.01,
                        tolerance: float = 0.02, attempts: int = 3) -> Trajectory | str:
    """TOPP-RA along :func:`spline_through` the waypoints within the scaled limits.

    TOPP-RA enforces the limits at its grid points (every knot, and every ``grid_step``
    rad of path length between them); the samples are then checked by finite
    differences, and where they exceed a limit by more than ``tolerance`` (relative) the
    limits given to TOPP-RA are lowered by that ratio and it runs again, ``attempts``
    times at most. Returns why not, if it fails."""
    import toppra
    import toppra.algorithm
    import toppra.constraint

    pts = _distinct(path)
    if len(pts) < 2:
        return Trajectory(np.zeros(1), pts[:1].copy(), "toppra")
    vmax = np.asarray(max_velocity, float) * speed_scale
    amax = np.asarray(max_acceleration, float) * speed_scale
    fit = spline_through(pts, max_deviation)
    if fit is None:
        return f"no spline within {max_deviation} rad of the path"
    knots, waypoints, _ = fit
    extra = np.linspace(0.0, knots[-1], int(math.ceil(knots[-1] / grid_step)) + 1)
    grid = np.unique(np.concatenate([knots, extra]))
    grid = grid[np.concatenate([[True], np.diff(grid) > 1e-9])]
    geometric = toppra.SplineInterpolator(knots, waypoints)
    v_scale = a_scale = 1.0
    why = ""
    for _ in range(attempts):
        try:
            constraints = [
                toppra.constraint.JointVelocityConstraint(
                    np.column_stack([-vmax, vmax]) * v_scale),
                toppra.constraint.JointAccelerationConstraint(
                    np.column_stack([-amax, amax]) * a_scale)]
            timed = toppra.algorithm.TOPPRA(constraints, geometric, gridpoints=grid,
                                            parametrizer="ParametrizeConstAccel"
                                            ).compute_trajectory(0.0, 0.0)
        except Exception as err:  # noqa: BLE001 (toppra raises plain errors of many kinds)
            return f"toppra failed: {type(err).__name__}: {err}"
        if timed is None:
            return "toppra found no feasible parameterisation"
        duration = float(timed.duration)
        steps = max(1, int(math.ceil(duration / dt - 1e-9)))
        times = np.minimum(np.arange(steps + 1) * dt, duration)
        positions = np.asarray(timed(times), float)
        positions[0], positions[-1] = pts[0], pts[-1]
        v_ratio, a_ratio = limit_ratios(times, positions, vmax, amax)
        if v_ratio <= 1 + tolerance and a_ratio <= 1 + tolerance:
            return Trajectory(times, positions, "toppra")
        why = f"velocity at {v_ratio:.2f} and acceleration at {a_ratio:.2f} of their limits"
        v_scale *= min(1.0, 0.99 / v_ratio)
        a_scale *= min(1.0, 0.99 / a_ratio)
    return f"toppra's samples exceed the limits after {attempts} attempts: {why}"


def limit_ratios(times: np.ndarray, positions: np.ndarray, max_velocity: np.ndarray,
                 max_acceleration: np.ndarray) -> tuple[float, float]:
    """The largest joint velocity and acceleration of sampled positions as fractions of
    their limits, by finite differences, at rest before the first sample and after the
    last."""
    if len(times) < 2:
        return 0.0, 0.0
    dt = np.diff(times)
    q = np.vstack([positions[:1], positions, positions[-1:]])
    h = np.concatenate([dt[:1], dt, dt[-1:]])
    h = np.where(h > 1e-12, h, 1e-12)
    v = np.diff(q, axis=0) / h[:, None]
    a = np.diff(v, axis=0) / ((h[:-1] + h[1:]) / 2)[:, None]
    return (float(np.max(np.abs(v) / np.asarray(max_velocity))),
            float(np.max(np.abs(a) / np.asarray(max_acceleration))))


def trapezoid_parameterize(path: np.ndarray, max_velocity: np.ndarray,
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
    return Trajectory(np.array(times), np.array(points), "trapezoid")
