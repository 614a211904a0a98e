"""Timing joint paths: TOPP-RA along a spline through the waypoints, the trapezoid per
straight segment (stopping at every waypoint), the moving average that keeps a motion
within the jerk limits, and chains of paths timed as one motion."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np


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
    #: s, when the motion passes each distinct waypoint of the path it was timed along
    #: (the centre of the jerk filter's window); None where not known
    knot_times: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def duration(self) -> float:
        return float(self.times[-1]) if len(self.times) else 0.0


#: rad; a path turning more than this at a waypoint is timed with the trapezoid (the
#: planned transit paths: TOPP-RA won there in 2 of 24 cases, at about 0.1 s each)
SHARP_TURN = math.radians(30.0)


def time_parameterize(path: np.ndarray, max_velocity: np.ndarray,
                      max_acceleration: np.ndarray, dt: float,
                      speed_scale: float = 1.0, method: str = "toppra",
                      max_deviation: float = 0.005,
                      max_jerk: np.ndarray | None = None) -> Trajectory:
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

    With ``max_jerk`` (rad/s^3, scaled by ``speed_scale`` like the other limits) the
    timed motion is passed through :func:`jerk_window` (a moving average of the
    positions), which keeps it within the jerk limits as well; it then lasts one window
    longer. Without it, the accelerations may step (the trapezoid's do).
    """
    if method not in TIMING_METHODS:
        raise ValueError(f"unknown timing method '{method}'; known: {', '.join(TIMING_METHODS)}")
    window = 0.0 if max_jerk is None else jerk_window(max_acceleration, max_jerk)
    trapezoid = trapezoid_parameterize(path, max_velocity, max_acceleration, dt, speed_scale,
                                       window)
    if method == "trapezoid" or len(distinct_waypoints(path)) < 2:
        return trapezoid
    if len(distinct_waypoints(path)) == 2:  # one straight segment: the trapezoid is time-optimal
        return replace(trapezoid, fallback_reason="one straight segment, on which the "
                                                  "trapezoid is time-optimal")
    turn = max_turn(path)
    if turn > SHARP_TURN:  # the spline must all but stop there: not worth TOPP-RA's time
        return replace(trapezoid, fallback_reason=(
            f"a corner of {math.degrees(turn):.0f} degrees, where the spline would all but "
            "stop: stopping at every waypoint costs about as much"))
    timed = toppra_parameterize(path, max_velocity, max_acceleration, dt, speed_scale,
                                max_deviation, window=window)
    if isinstance(timed, str):
        return replace(trapezoid, fallback_reason=timed)
    if timed.duration > trapezoid.duration:
        return replace(trapezoid, fallback_reason=(
            f"stopping at every waypoint is quicker ({trapezoid.duration:.2f} s against "
            f"{timed.duration:.2f} s along the spline)"))
    return timed


def turns(path: np.ndarray) -> np.ndarray:
    """The angle (rad) between consecutive segments at each inner waypoint of a
    joint-space path (repeated waypoints dropped first)."""
    seg = np.diff(distinct_waypoints(path), axis=0)
    if len(seg) < 2:
        return np.zeros(0)
    seg = seg / np.linalg.norm(seg, axis=1, keepdims=True)
    return np.arccos(np.clip(np.einsum("ij,ij->i", seg[:-1], seg[1:]), -1.0, 1.0))


def max_turn(path: np.ndarray) -> float:
    """The largest angle (rad) between consecutive segments of a joint-space path."""
    t = turns(path)
    return float(t.max()) if len(t) else 0.0


def distinct_waypoints(path: np.ndarray) -> np.ndarray:
    """The waypoints without consecutive repeats."""
    path = np.asarray(path, float)
    keep = np.ones(len(path), bool)
    keep[1:] = np.abs(np.diff(path, axis=0)).max(axis=1) > 1e-9
    return path[keep]


def spline_through(path: np.ndarray, max_deviation: float, max_rounds: int = 16):
    """Knots (chord length), waypoints and a C2 cubic spline through them that stays
    within ``max_deviation`` (every joint) of the straight segments between the original
    waypoints, and the indices of the original (distinct) waypoints among its waypoints:
    segments where it strays further are split at their midpoint, which pulls the spline
    onto them. Returns None if ``max_rounds`` splits do not get there."""
    from scipy.interpolate import CubicSpline

    pts = distinct_waypoints(path)
    original = np.ones(len(pts), bool)
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
            return knots, pts, spline, np.flatnonzero(original)
        mids = (pts[:-1] + pts[1:]) / 2
        out, kept = [pts[0]], [original[0]]
        for i in range(len(pts) - 1):
            if bad[i]:
                out.append(mids[i])
                kept.append(False)
            out.append(pts[i + 1])
            kept.append(original[i + 1])
        pts, original = np.array(out), np.array(kept)
    return None


def toppra_parameterize(path: np.ndarray, max_velocity: np.ndarray,
                        max_acceleration: np.ndarray, dt: float, speed_scale: float = 1.0,
                        max_deviation: float = 0.005, grid_step: float = 0.01,
                        tolerance: float = 0.02, attempts: int = 3,
                        window: float = 0.0) -> Trajectory | str:
    """TOPP-RA along :func:`spline_through` the waypoints within the scaled limits,
    through a moving average of ``window`` s (see :func:`jerk_window`; 0: none).

    TOPP-RA enforces the limits at its grid points (every knot, and every ``grid_step``
    rad of path length between them); the samples are then checked by finite
    differences, and where they exceed a limit by more than ``tolerance`` (relative) the
    limits given to TOPP-RA are lowered by that ratio and it runs again, ``attempts``
    times at most. Returns why not, if it fails."""
    import toppra
    import toppra.algorithm
    import toppra.constraint

    pts = distinct_waypoints(path)
    if len(pts) < 2:
        return Trajectory(np.zeros(1), pts[:1].copy(), "toppra", knot_times=np.zeros(1))
    vmax = np.asarray(max_velocity, float) * speed_scale
    amax = np.asarray(max_acceleration, float) * speed_scale
    fit = spline_through(pts, max_deviation)
    if fit is None:
        return f"no spline within {max_deviation} rad of the path"
    knots, waypoints, _, originals = fit
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
        times, positions = _sample(lambda t: np.asarray(timed(t), float), duration, dt,
                                   window, pts[0], pts[-1])
        v_ratio, a_ratio = limit_ratios(times, positions, vmax, amax)
        if v_ratio <= 1 + tolerance and a_ratio <= 1 + tolerance:
            # when each original waypoint is passed (the centre of the averaging window):
            # the parametrisation's own times at its grid points (the knots are on it)
            at = np.interp(knots[originals], timed._ss, timed._ts) + window / 2
            return Trajectory(times, positions, "toppra", knot_times=at)
        why = f"velocity at {v_ratio:.2f} and acceleration at {a_ratio:.2f} of their limits"
        v_scale *= min(1.0, 0.99 / v_ratio)
        a_scale *= min(1.0, 0.99 / a_ratio)
    return f"toppra's samples exceed the limits after {attempts} attempts: {why}"


def jerk_window(max_acceleration: np.ndarray, max_jerk: np.ndarray) -> float:
    """The length (s) of the moving average that keeps a motion within ``max_jerk``.

    Averaging positions over a window of T s leaves velocities and accelerations within
    the bounds they had (an average of values within a bound is within it), and makes
    the jerk the difference of two accelerations T s apart over T: at most
    2 * max_acceleration / T. So T = 2 * max_acceleration / max_jerk, the largest over the
    joints, bounds the jerk by ``max_jerk`` (both scaled alike by a speed scale, so T does
    not depend on it). Two such averages in series are how industrial drives turn
    trapezoids into S-curves; one suffices for a jerk bound. The averaged motion lags by
    T/2 and lasts T longer, and strays from the path by at most
    max_acceleration * T^2 / 8 rad where it turns (nothing on straight segments).
    """
    a = np.asarray(max_acceleration, float)
    j = np.asarray(max_jerk, float)
    return float(np.max(2.0 * a / j))


def _sample(position, duration: float, dt: float, window: float, first: np.ndarray,
            last: np.ndarray, points: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Times every ``dt`` and the positions of the motion ``position(t)`` (vectorised,
    defined on [0, duration]) averaged over the ``window`` s before each time (midpoint
    rule, ``points`` points; at rest before 0 and after the end). Without a window the
    last sample is at the end; with one, at the first whole period after it. Starts
    exactly at ``first`` and ends exactly at ``last``."""
    total = duration + window
    steps = max(1, int(math.ceil(total / dt - 1e-9)))
    if window <= 0.0:
        times = np.minimum(np.arange(steps + 1) * dt, total)
        positions = position(np.clip(times, 0.0, duration))
    else:
        # whole sample periods to the end (at rest there): a short last period would make
        # the finite-difference jerk of the samples overstate the motion's
        times = np.arange(steps + 1) * dt
        # the quadrature's error, differenced three times at dt, must stay well below
        # the jerk bound: points no further apart than dt / 8
        points = max(points, int(math.ceil(8 * window / dt)))
        back = (np.arange(points) + 0.5) / points * window
        at = np.clip(times[:, None] - back[None, :], 0.0, duration)
        positions = position(at.ravel()).reshape(len(times), points, -1).mean(axis=1)
    positions = np.array(positions, float)
    positions[0], positions[-1] = first, last
    return times, positions


def _differences(times: np.ndarray, positions: np.ndarray):
    """Sample spacings (with one more at each end), velocities between samples and
    accelerations at the samples, by finite differences, at rest before the first sample
    and after the last."""
    dt = np.diff(times)
    q = np.vstack([positions[:1], positions, positions[-1:]])
    h = np.concatenate([dt[:1], dt, dt[-1:]])
    h = np.where(h > 1e-12, h, 1e-12)
    v = np.diff(q, axis=0) / h[:, None]
    a = np.diff(v, axis=0) / ((h[:-1] + h[1:]) / 2)[:, None]
    return h, v, a


def limit_ratios(times: np.ndarray, positions: np.ndarray, max_velocity: np.ndarray,
                 max_acceleration: np.ndarray) -> tuple[float, float]:
    """The largest joint velocity and acceleration of sampled positions as fractions of
    their limits, by finite differences, at rest before the first sample and after the
    last."""
    if len(times) < 2:
        return 0.0, 0.0
    _, v, a = _differences(times, positions)
    return (float(np.max(np.abs(v) / np.asarray(max_velocity))),
            float(np.max(np.abs(a) / np.asarray(max_acceleration))))


def jerk_ratio(times: np.ndarray, positions: np.ndarray, max_jerk: np.ndarray) -> float:
    """The largest joint jerk of sampled positions as a fraction of ``max_jerk``, by
    finite differences as in :func:`limit_ratios` (velocities between samples,
    accelerations at the samples, at rest before the first and after the last sample;
    jerks between samples)."""
    if len(times) < 2:
        return 0.0
    h, _, a = _differences(times, positions)
    a = np.vstack([np.zeros((1, a.shape[1])), a, np.zeros((1, a.shape[1]))])
    j = np.diff(a, axis=0) / h[:, None]
    return float(np.max(np.abs(j) / np.asarray(max_jerk)))


def trapezoid_parameterize(path: np.ndarray, max_velocity: np.ndarray,
                           max_acceleration: np.ndarray, dt: float,
                           speed_scale: float = 1.0, window: float = 0.0) -> Trajectory:
    """Sample a path at ``dt`` with a trapezoidal speed profile on each segment, through
    a moving average of ``window`` s (see :func:`jerk_window`; 0: none).

    The arm stops at every waypoint, so every joint stays within ``speed_scale`` times its
    velocity and acceleration limits along the whole trajectory.
    """
    vmax = np.asarray(max_velocity) * speed_scale
    amax = np.asarray(max_acceleration) * speed_scale
    path = np.asarray(path, float)
    starts, deltas, profiles, ends = [], [], [], [0.0]
    knot_times = [0.0]
    for a, b in zip(path[:-1], path[1:]):
        delta = b - a
        moving = np.abs(delta) > 1e-12
        if not moving.any():
            knot_times.append(ends[-1])
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
        starts.append(a)
        deltas.append(delta)
        profiles.append((sdot, sddot, t_acc, total))
        ends.append(ends[-1] + total)
        knot_times.append(ends[-1])
    if not profiles:
        return Trajectory(np.zeros(1), path[:1].copy(), "trapezoid", knot_times=np.zeros(len(path)))
    ends_arr = np.array(ends)

    def position(t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, float)
        k = np.clip(np.searchsorted(ends_arr, t, side="right") - 1, 0, len(profiles) - 1)
        sdot, sddot, t_acc, total = (np.array([p[i] for p in profiles])[k] for i in range(4))
        u = np.clip(t - ends_arr[k], 0.0, total)
        s = np.where(u < t_acc, 0.5 * sddot * u * u,
                     np.where(u > total - t_acc, 1.0 - 0.5 * sddot * (total - u) ** 2,
                              0.5 * sddot * t_acc * t_acc + sdot * (u - t_acc)))
        s = np.clip(s, 0.0, 1.0)
        return np.array(starts)[k] + s[:, None] * np.array(deltas)[k]

    if window <= 0.0:
        # the samples of each segment on its own clock (every dt from its start), as the
        # arm stops at each waypoint anyway
        times, points = [0.0], [path[0]]
        for k, (sdot, sddot, t_acc, total) in enumerate(profiles):
            a, delta, t_end = starts[k], deltas[k], ends[k]
            steps = max(1, int(np.ceil(total / dt)))
            for i in range(1, steps + 1):
                t = min(i * dt, total)
                if t < t_acc:
                    s = 0.5 * sddot * t * t
                elif t > total - t_acc:
                    s = 1.0 - 0.5 * sddot * (total - t) ** 2
                else:
                    s = 0.5 * sddot * t_acc * t_acc + sdot * (t - t_acc)
                times.append(t_end + t)
                points.append(a + min(max(s, 0.0), 1.0) * delta)
        return Trajectory(np.array(times), np.array(points), "trapezoid",
                          knot_times=np.array(knot_times))
    times, positions = _sample(position, float(ends_arr[-1]), dt, window, path[0], path[-1])
    return Trajectory(times, positions, "trapezoid",
                      knot_times=np.array(knot_times) + window / 2)


def time_chain(paths: list[np.ndarray], max_velocity: np.ndarray,
               max_acceleration: np.ndarray, dt: float, speed_scale: float = 1.0,
               max_jerk: np.ndarray | None = None,
               max_deviation: float = 0.005) -> list[Trajectory]:
    """Paths that follow one another (each starts where the one before ends), timed as
    one motion that stops only at corners sharper than ``SHARP_TURN`` (each stretch
    between them timed by :func:`time_parameterize`, jerk-limited with ``max_jerk``),
    and cut back into one trajectory per path where it passes each join. Each part
    starts at the sample where the one before it ends; the last ends at rest."""
    paths = [np.asarray(p, float) for p in paths]
    joined, joins = [paths[0]], []
    for p in paths[1:]:
        joins.append(sum(len(q) for q in joined) - 1)
        joined.append(p[1:] if np.abs(p[0] - joined[-1][-1]).max() < 1e-9 else p)
    joined = np.vstack(joined)
    keep = np.ones(len(joined), bool)
    keep[1:] = np.abs(np.diff(joined, axis=0)).max(axis=1) > 1e-9
    at = np.cumsum(keep) - 1  # index among the distinct waypoints
    pts = joined[keep]
    # stretches between the corners the arm must stop at
    stops = [0] + [int(i) + 1 for i in np.flatnonzero(turns(pts) > SHARP_TURN)] \
        + [len(pts) - 1]
    times, positions, knots, methods, reasons = [np.zeros(1)], [pts[:1]], [0.0], set(), []
    t0 = 0.0
    for a, b in zip(stops[:-1], stops[1:]):
        if b == a:
            continue
        piece = time_parameterize(pts[a:b + 1], max_velocity, max_acceleration, dt,
                                  speed_scale, max_deviation=max_deviation, max_jerk=max_jerk)
        times.append(t0 + piece.times[1:])
        positions.append(piece.positions[1:])
        k = piece.knot_times if piece.knot_times is not None and \
            len(piece.knot_times) == b - a + 1 else np.linspace(0.0, piece.duration, b - a + 1)
        knots.extend(t0 + k[1:])
        methods.add(piece.method)
        if piece.fallback_reason:
            reasons.append(piece.fallback_reason)
        t0 += piece.duration
    times, positions = np.concatenate(times), np.vstack(positions)
    method = "toppra" if methods == {"toppra"} else "trapezoid"
    reason = "; ".join(dict.fromkeys(reasons))
    if len(stops) > 2:
        reason = (f"stops at {len(stops) - 2} corner(s) sharper than "
                  f"{math.degrees(SHARP_TURN):.0f} degrees" + (f"; {reason}" if reason else ""))
    whole = Trajectory(times, positions, method, reason)
    if not joins:
        return [whole]
    n = len(times)
    cuts = [int(np.argmin(np.abs(times - knots[at[j]]))) for j in joins]
    bounds = list(np.maximum.accumulate([0] + [min(max(c, 1), n - 2) for c in cuts] + [n - 1]))
    return [replace(whole, times=times[a:b + 1] - times[a], positions=positions[a:b + 1].copy())
            for a, b in zip(bounds[:-1], bounds[1:])]


def rest_to_rest_time(q0: np.ndarray, q1: np.ndarray, max_velocity: np.ndarray,
                      max_acceleration: np.ndarray) -> float:
    """The least time (s) to move from ``q0`` to ``q1`` from rest to rest within the
    velocity and acceleration limits, any path: the slowest joint's, each joint alone on
    a trapezoid (or triangle) profile. No motion takes less."""
    d = np.abs(np.asarray(q1, float) - np.asarray(q0, float))
    v, a = np.asarray(max_velocity, float), np.asarray(max_acceleration, float)
    full = d >= v * v / a  # reaches full speed
    t = np.where(full, d / v + v / a, 2.0 * np.sqrt(d / a))
    return float(t.max()) if len(t) else 0.0
