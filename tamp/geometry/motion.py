"""Collision-free arm motion: OMPL planning, shortcutting, and corners cut by
collision-checked curves. Timing the paths: :mod:`tamp.geometry.timing`."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from tamp.geometry.collision import CollisionChecker
from tamp.geometry.timing import distinct_waypoints

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


def round_corner(path: np.ndarray, i: int, before: float, after: float, edge_free,
                 points: int = 7, tries: int = 3) -> tuple[np.ndarray, int] | None:
    """``path`` with its corner at waypoint ``i`` cut by a curve: a quadratic Bezier from
    the point ``before`` rad of path length ahead of the corner to the point ``after``
    rad past it (waypoints in between are dropped), the corner its control point, as
    ``points`` waypoints. The curve's edges must pass ``edge_free(q0, q1)`` (the collision
    check the path was planned with); if they do not, both lengths are halved, ``tries``
    times in all. Returns the new path and the index of the curve's middle waypoint
    (where a path joined at the corner now passes), or None."""
    pts = np.asarray(path, float)
    cum = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))])
    u = np.linspace(0.0, 1.0, points)[:, None]
    for _ in range(tries):
        s1, s2 = cum[i] - before, cum[i] + after
        p1 = np.array([np.interp(s1, cum, pts[:, j]) for j in range(pts.shape[1])])
        p2 = np.array([np.interp(s2, cum, pts[:, j]) for j in range(pts.shape[1])])
        curve = (1 - u) ** 2 * p1 + 2 * u * (1 - u) * pts[i] + u ** 2 * p2
        if all(edge_free(a, b) for a, b in zip(curve[:-1], curve[1:])):
            head = pts[cum < s1 - 1e-9]
            tail = pts[cum > s2 + 1e-9]
            return np.vstack([head, curve, tail]), len(head) + points // 2
        before, after = before / 2, after / 2
    return None


def round_corners(path: np.ndarray, edge_free, radius: float = 0.2,
                  share: float = 0.45) -> np.ndarray:
    """Every corner of a planned path cut by :func:`round_corner`, at most ``radius`` rad
    of path length on either side and ``share`` of each segment beside it, so that
    TOPP-RA can time the path without all but stopping at each corner. Corners whose
    curve is not collision-free stay as they were."""
    pts = distinct_waypoints(path)
    if len(pts) < 3:
        return pts
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    for i in range(len(pts) - 2, 0, -1):  # from the end: earlier indices stay valid
        d_in, d_out = min(radius, share * seg[i - 1]), min(radius, share * seg[i])
        cut = round_corner(pts, i, d_in, d_out, edge_free)
        if cut is not None:
            pts = cut[0]
    return pts


def join_paths(first: np.ndarray, second: np.ndarray, edge_free, radius: float,
               first_share: float = 0.45, second_share: float = 0.45
               ) -> tuple[np.ndarray, np.ndarray]:
    """The corner where path ``second`` starts from the end of ``first`` cut by a curve
    whose edges pass ``edge_free``, at most ``radius`` (rad of path length) and
    ``first_share`` / ``second_share`` of the paths' lengths on either side (a straight
    approach keeps most of its straight line): the two paths, now meeting in the
    curve's middle. Unchanged if no curve is free."""
    if len(first) < 2 or len(second) < 2:
        return first, second
    joined = np.vstack([first, second[1:]])

    def length(p):
        return float(np.linalg.norm(np.diff(p, axis=0), axis=1).sum())

    cut = round_corner(joined, len(first) - 1, min(radius, first_share * length(first)),
                       min(radius, second_share * length(second)), edge_free)
    if cut is None:
        return first, second
    path, mid = cut
    return path[:mid + 1], path[mid:]
