"""The safety layer: every trajectory is re-timed and checked here before any transport
may send it.

Units: s, rad, rad/s, rad/s^2, rad/s^3, m. Positions, velocities, accelerations and jerks
are checked at the trajectory's samples. Velocities are finite differences between
consecutive samples; accelerations are differences of those velocities over the mid-point
spacing, with the arm at rest before the first and after the last sample (a trajectory must
start and end still); jerks, one between each pair of samples, are differences of those
accelerations over the spacing of what they average (see :func:`finite_jerks`; for evenly
spaced samples, the sample spacing). For a motion whose true acceleration (jerk) stays
within a bound, these estimates stay within it too, so the checks do not reject
well-formed trajectories. A trajectory that sets off from rest with a non-zero
acceleration (or stops with one) steps its acceleration at the very first (last) sample:
that step is bounded by the acceleration check only, no jerk is estimated before the first
sample or after the last.

Velocity, acceleration and jerk are all checked against ``speed_scale`` times the robot's
limits (``RobotSpec.max_velocity``, ``max_acceleration``, ``max_jerk``), the same fraction
for all three; re-timing by a factor k divides them by k, k^2 and k^3.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from tamp.robot import RobotSpec


@dataclass(frozen=True)
class ArmTrajectory:
    """A joint trajectory as it will be sent to a controller."""

    joint_names: tuple[str, ...]
    times: np.ndarray  #: time from start of each sample, shape (n,), s; times[0] == 0
    positions: np.ndarray  #: shape (n, n_joints), rad
    #: shape (n, n_joints), rad/s, or shape (0,) when only positions are sent
    velocities: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def duration(self) -> float:
        return float(self.times[-1]) if len(self.times) else 0.0

    @property
    def n_points(self) -> int:
        return int(len(self.times))

    @classmethod
    def from_samples(cls, joint_names: Sequence[str], times, positions) -> "ArmTrajectory":
        return cls(tuple(joint_names), np.asarray(times, float), np.asarray(positions, float))


@dataclass(frozen=True)
class JointStateSample:
    """The latest joint state heard from the robot."""

    names: tuple[str, ...]
    positions: np.ndarray  #: shape (len(names),), rad
    received: float  #: ``time.monotonic()`` when it arrived, s

    def positions_for(self, names: Sequence[str]) -> np.ndarray:
        """Positions of ``names`` in that order; KeyError names a joint that is absent."""
        index = {n: i for i, n in enumerate(self.names)}
        return np.array([self.positions[index[n]] for n in names], float)


@dataclass(frozen=True)
class WorkspaceBox:
    """Axis-aligned box, in the robot base frame, that the tool centre point must stay in.

    The default suits the tabletop cell of ``scenes/``: the table top is z = 0, and the lower
    bound keeps the fingertips (2 cm below the TCP) at least 5 mm above it.
    """

    lower: tuple[float, float, float] = (0.15, -0.55, 0.025)  #: m
    upper: tuple[float, float, float] = (0.85, 0.55, 0.85)  #: m

    def __post_init__(self):
        if len(self.lower) != 3 or len(self.upper) != 3:
            raise ValueError(f"workspace box needs 3 lower and 3 upper bounds; got "
                             f"{self.lower}, {self.upper}")
        # NaN compares false with everything, so ``lo >= hi`` alone would accept a NaN
        # bound and the box would then pass every point: check finiteness first, and
        # state the order as what must hold (``lo < hi``), which NaN fails
        if not all(math.isfinite(float(v)) for v in (*self.lower, *self.upper)):
            raise ValueError(f"workspace box bounds must be finite numbers; got "
                             f"{self.lower}, {self.upper}")
        if not all(lo < hi for lo, hi in zip(self.lower, self.upper)):
            raise ValueError(f"workspace box needs lower < upper in x, y, z; got "
                             f"{self.lower}, {self.upper}")


@dataclass(frozen=True)
class SafetyConfig:
    #: the trajectory is timed to, and checked against, this fraction of the robot's
    #: velocity, acceleration and jerk limits
    speed_scale: float = 0.25
    #: no configuration may time a trajectory faster than this fraction of the limits
    max_speed_scale: float = 0.9
    position_margin: float = 0.02  #: rad kept clear of every URDF position limit
    start_tolerance: float = 0.01  #: rad between the first sample and the measured state
    max_state_age: float = 1.0  #: s; an older joint state does not count as the latest
    min_dt: float = 1e-4  #: s; samples closer in time make finite differences meaningless
    workspace: WorkspaceBox = field(default_factory=WorkspaceBox)

    def __post_init__(self):
        if not 0.0 < self.max_speed_scale <= 1.0:
            raise ValueError(f"max_speed_scale must be in (0, 1], got {self.max_speed_scale}")
        if not 0.0 < self.speed_scale <= self.max_speed_scale:
            raise ValueError(f"speed scale must be in (0, {self.max_speed_scale}], "
                             f"got {self.speed_scale}")
        for name in ("position_margin", "start_tolerance", "max_state_age", "min_dt"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0")


class Check(str, Enum):
    """What a violation is about."""

    JOINT_NAMES = "joint_names"
    SHAPE = "shape"
    FINITE = "finite"
    TIMING = "timing"
    POSITION = "position_limit"
    VELOCITY = "velocity_limit"
    ACCELERATION = "acceleration_limit"
    JERK = "jerk_limit"
    WORKSPACE = "workspace"
    START_STATE = "start_state"


@dataclass(frozen=True)
class Violation:
    """One violated constraint, e.g. joint 4's velocity limit, with its worst sample."""

    check: Check
    message: str
    joint: str = ""  #: the joint concerned; "" for whole-trajectory checks
    first_index: int = -1  #: first offending sample; -1 when not about samples
    count: int = 0  #: number of offending samples
    worst: float = math.nan  #: worst value found (units of the check)
    limit: float = math.nan  #: the bound it broke

    def __str__(self) -> str:
        return f"[{self.check.value}] {self.message}"


@dataclass(frozen=True)
class SafetyReport:
    """Every violated constraint of one trajectory (one entry per check and joint)."""

    violations: tuple[Violation, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.violations

    def of(self, check: Check) -> tuple[Violation, ...]:
        return tuple(v for v in self.violations if v.check == check)

    def summary(self) -> str:
        if self.ok:
            return "OK"
        return f"REFUSED ({len(self.violations)} violations): " + "; ".join(
            str(v) for v in self.violations)


@dataclass(frozen=True)
class Retimed:
    trajectory: ArmTrajectory
    factor: float  #: the times were multiplied by this (>= 1)


@dataclass(frozen=True)
class PreparedTrajectory:
    """A re-timed trajectory and the verdict on exactly what would be sent."""

    trajectory: ArmTrajectory
    report: SafetyReport
    retime_factor: float  #: planned durations were multiplied by this (>= 1)
    planned_duration: float  #: s, before re-timing


def finite_differences(times: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Velocities between samples, shape (n-1, j), and accelerations at the samples,
    shape (n, j), with rest before the first and after the last sample."""
    dt = np.diff(times)[:, None]
    vel = np.diff(positions, axis=0) / dt
    padded = np.vstack([np.zeros((1, vel.shape[1])), vel, np.zeros((1, vel.shape[1]))])
    spacing = np.vstack([dt[:1], (dt[:-1] + dt[1:]), dt[-1:]]) / 2.0
    return vel, np.diff(padded, axis=0) / spacing


def finite_jerks(times: np.ndarray, accelerations: np.ndarray) -> np.ndarray:
    """Jerks between samples, shape (n-1, j): differences of consecutive accelerations at
    the samples (from :func:`finite_differences`) over the distance between the centres
    of the intervals those accelerations average over.

    Acceleration k averages the true acceleration over samples k-1..k+1, centred on
    their mean time (rest before the first and after the last sample: no time beyond the
    ends), so the distance is a third of the span from sample k-1 to k+2. For evenly
    spaced inner samples that is the sample spacing; where one interval is much shorter
    than its neighbours (a planner's last sample) dividing by it alone would overstate
    the jerk of a smooth motion many times over."""
    t = np.concatenate([times[:1], times, times[-1:]])
    centres = (t[:-2] + t[1:-1] + t[2:]) / 3.0
    return np.diff(accelerations, axis=0) / np.diff(centres)[:, None]


def sample_velocities(times: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Velocity to send with each sample: the mean of the two neighbouring finite
    differences (zero at both ends), so it never exceeds what the check bounds."""
    vel, _ = finite_differences(times, positions)
    out = np.zeros_like(positions)
    out[1:-1] = 0.5 * (vel[:-1] + vel[1:])
    return out


class SafetyChecker:
    """Re-times and checks trajectories for one robot."""

    #: re-timing aims this much below the bound, so rounding the times to whole
    #: nanoseconds for the wire seldom tips a sample over it
    RETIME_SLACK = 1e-4
    #: times re-timing slows down further where the rounding did tip one over (jerk
    #: estimates of samples under a millisecond apart move by parts in a thousand), each
    #: time with twice the slack
    RETIME_ROUNDS = 8
    #: samples this close in position and closer than ``min_dt`` in time are duplicates
    DUPLICATE_TOLERANCE = 1e-6  #: rad

    def __init__(self, robot: RobotSpec, config: SafetyConfig | None = None, kinematics=None):
        from tamp.geometry.kinematics import Kinematics

        self.robot = robot
        self.config = config or SafetyConfig()
        self.kin = kinematics or Kinematics(robot)
        self._index = {n: i for i, n in enumerate(robot.arm_joints)}

    # -- re-timing ----------------------------------------------------------------------
    def retime(self, traj: ArmTrajectory, slow_down: bool = True) -> Retimed:
        """Slow ``traj`` down uniformly (never speed it up) until its finite-difference
        velocities, accelerations and jerks are within ``speed_scale`` of the limits, as
        measured on the times rounded to nanoseconds that are sent; add the per-sample
        velocities to send. The path is unchanged except that duplicate samples are
        dropped. With ``slow_down=False`` only the rounding and the velocities are done.
        Returns the trajectory and the factor its times were multiplied by; a malformed
        input comes back untouched (factor 1) for :meth:`check` to report."""
        times, q = np.asarray(traj.times, float), np.asarray(traj.positions, float)
        idx = [self._index.get(n) for n in traj.joint_names]
        if (q.ndim != 2 or times.ndim != 1 or len(times) != len(q) or len(times) < 2
                or q.shape[1] != len(traj.joint_names) or None in idx
                or not np.all(np.isfinite(times)) or not np.all(np.isfinite(q))
                or np.any(np.diff(times) <= 0)):
            return Retimed(traj, 1.0)
        times, q = self._drop_duplicates(times, q)
        if len(times) < 2 or np.any(np.diff(times) < self.config.min_dt):
            return Retimed(traj, 1.0)
        factor = 1.0
        if slow_down:
            factor = max(1.0, self._needed_factor(times, q, idx))
            factor *= 1.0 + self.RETIME_SLACK
        new_times = np.round(times * factor * 1e9) / 1e9
        for round_ in range(self.RETIME_ROUNDS if slow_down else 0):
            excess = self._needed_factor(new_times, q, idx)
            if excess <= 1.0:
                break
            factor *= excess * (1.0 + self.RETIME_SLACK * 2 ** (round_ + 1))
            new_times = np.round(times * factor * 1e9) / 1e9
        return Retimed(ArmTrajectory(traj.joint_names, new_times, q,
                                     sample_velocities(new_times, q)), factor)

    def _needed_factor(self, times: np.ndarray, q: np.ndarray, idx) -> float:
        """The factor by which the times must at least be multiplied for every velocity,
        acceleration and jerk estimate to be within ``speed_scale`` of its limit (< 1
        where they all are already)."""
        s, r = self.config.speed_scale, self.robot
        vel, acc = finite_differences(times, q)
        jerk = finite_jerks(times, acc)
        # times x k divide velocities by k, accelerations by k^2, jerks by k^3
        return max(float(np.max(np.abs(vel) / (s * r.max_velocity[idx]))),
                   math.sqrt(float(np.max(np.abs(acc) / (s * r.max_acceleration[idx])))),
                   float(np.cbrt(np.max(np.abs(jerk) / (s * r.max_jerk[idx])))))

    def _drop_duplicates(self, times: np.ndarray, q: np.ndarray):
        keep = [0]
        for k in range(1, len(times)):
            j = keep[-1]
            close = (times[k] - times[j] < self.config.min_dt
                     and np.max(np.abs(q[k] - q[j])) <= self.DUPLICATE_TOLERANCE)
            if not close:
                keep.append(k)
            elif k == len(times) - 1 and j != 0:
                keep[-1] = k  # keep the exact final sample, drop its near-twin
        return times[keep], q[keep]

    def prepare(self, traj: ArmTrajectory, controller_joints: Sequence[str],
                state: JointStateSample | None, now: float,
                slow_down: bool = True) -> PreparedTrajectory:
        """Re-time ``traj`` (see :meth:`retime`) and check the result: what comes back is
        exactly what may be sent."""
        r = self.retime(traj, slow_down)
        return PreparedTrajectory(r.trajectory,
                                  self.check(r.trajectory, controller_joints, state, now),
                                  r.factor, traj.duration)

    # -- checking -----------------------------------------------------------------------
    def check(self, traj: ArmTrajectory, controller_joints: Sequence[str],
              state: JointStateSample | None, now: float) -> SafetyReport:
        """Every violation of ``traj`` against the robot's limits, the workspace box, the
        controller's joints and the latest joint state (``now`` on the ``time.monotonic``
        clock; ``state=None`` means none has been received)."""
        out: list[Violation] = []
        names = tuple(traj.joint_names)
        idx = self._check_names(names, tuple(controller_joints), out)
        times, q = np.asarray(traj.times, float), np.asarray(traj.positions, float)
        if q.ndim != 2 or times.ndim != 1 or len(times) != len(q) or q.shape[1] != len(names):
            out.append(Violation(Check.SHAPE, f"times {times.shape} and positions {q.shape} "
                                 f"do not match {len(names)} joints"))
            return SafetyReport(tuple(out))
        vel_sent = np.asarray(traj.velocities, float)
        if vel_sent.size and vel_sent.shape != q.shape:
            out.append(Violation(Check.SHAPE, f"velocities {vel_sent.shape} do not match "
                                 f"positions {q.shape}"))
            vel_sent = np.zeros(0)
        if len(times) < 2:
            out.append(Violation(Check.TIMING, f"needs at least 2 samples, got {len(times)}"))
            return SafetyReport(tuple(out))
        finite = [np.all(np.isfinite(a)) for a in (times, q, vel_sent)]
        if not all(finite):
            what = [w for w, f in zip(("times", "positions", "velocities"), finite) if not f]
            out.append(Violation(Check.FINITE, f"non-finite values in {', '.join(what)}"))
            return SafetyReport(tuple(out))
        timing_ok = self._check_timing(times, out)
        if idx is not None:
            self._check_positions(names, idx, q, out)
            if timing_ok:
                self._check_dynamics(names, idx, times, q, vel_sent, out)
            self._check_workspace(idx, q, out)
        self._check_start(names, q[0], state, now, out)
        return SafetyReport(tuple(out))

    def _check_names(self, names, controller, out) -> np.ndarray | None:
        """Indices of ``names`` in the robot model, or None if they cannot be mapped."""
        ok = True
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            out.append(Violation(Check.JOINT_NAMES, f"duplicate joint names {dup}"))
            ok = False
        unknown = [n for n in names if n not in self._index]
        if unknown:
            out.append(Violation(Check.JOINT_NAMES, f"joints {unknown} are not in the robot "
                                 f"model {self.robot.name}"))
            ok = False
        elif set(names) != set(self.robot.arm_joints):
            missing = [n for n in self.robot.arm_joints if n not in names]
            out.append(Violation(Check.JOINT_NAMES, f"arm joints {missing} are missing"))
            ok = False
        if set(names) != set(controller):
            extra = [n for n in names if n not in controller]
            lacking = [n for n in controller if n not in names]
            out.append(Violation(Check.JOINT_NAMES, "joint names do not match the "
                                 f"controller's {list(controller)}: not in the controller "
                                 f"{extra}, not in the trajectory {lacking}"))
        return np.array([self._index[n] for n in names]) if ok else None

    def _check_timing(self, times, out) -> bool:
        ok = True
        if abs(times[0]) > 1e-9:
            out.append(Violation(Check.TIMING, f"the first sample must be at t = 0, got "
                                 f"{times[0]:.6f} s", first_index=0, count=1, worst=times[0],
                                 limit=0.0))
            ok = False
        dt = np.diff(times)
        bad = np.flatnonzero(dt < self.config.min_dt)
        if bad.size:
            out.append(Violation(Check.TIMING, f"{bad.size} sample intervals shorter than "
                                 f"{self.config.min_dt} s (or not increasing); shortest "
                                 f"{dt.min():.3g} s", first_index=int(bad[0]) + 1,
                                 count=int(bad.size), worst=float(dt.min()),
                                 limit=self.config.min_dt))
            ok = False
        return ok

    @staticmethod
    def _per_joint(check, names, excess, values, limits, unit, what, out) -> None:
        """One violation per joint with any ``excess > 0``; ``excess``, ``values`` and
        ``limits`` broadcast to shape (rows, joints), a row being a sample (or, for
        velocities and jerks, the interval after it)."""
        limits = np.broadcast_to(limits, values.shape)
        for j in np.flatnonzero(np.any(excess > 0, axis=0)):
            rows = np.flatnonzero(excess[:, j] > 0)
            k = int(rows[np.argmax(excess[rows, j])])
            out.append(Violation(
                check, f"{names[j]} {what} {values[k, j]:+.4f} {unit} at sample {k} beyond "
                f"{limits[k, j]:+.4f} {unit} ({rows.size} samples)", names[j], int(rows[0]),
                int(rows.size), float(values[k, j]), float(limits[k, j])))

    def _check_positions(self, names, idx, q, out) -> None:
        m = self.config.position_margin
        lo, hi = self.robot.lower[idx] + m, self.robot.upper[idx] - m
        below, above = lo - q, q - hi
        excess = np.maximum(below, above)
        limits = np.where(below > above, lo[None, :], hi[None, :])
        self._per_joint(Check.POSITION, names, excess, q, limits, "rad",
                        f"position (limit with {m} rad margin)", out)

    def _check_dynamics(self, names, idx, times, q, vel_sent, out) -> None:
        s = self.config.speed_scale
        # tiny relative slack: the bound is a physical limit, not an exact float
        vmax = s * self.robot.max_velocity[idx] * (1 + 1e-9)
        amax = s * self.robot.max_acceleration[idx] * (1 + 1e-9)
        jmax = s * self.robot.max_jerk[idx] * (1 + 1e-9)
        vel, acc = finite_differences(times, q)
        jerk = finite_jerks(times, acc)
        self._per_joint(Check.VELOCITY, names, np.abs(vel) - vmax, vel, vmax, "rad/s",
                        f"velocity (x{s} of the limit)", out)
        self._per_joint(Check.ACCELERATION, names, np.abs(acc) - amax, acc, amax, "rad/s^2",
                        f"acceleration (x{s} of the limit)", out)
        self._per_joint(Check.JERK, names, np.abs(jerk) - jmax, jerk, jmax, "rad/s^3",
                        f"jerk (x{s} of the limit)", out)
        if vel_sent.size:
            self._per_joint(Check.VELOCITY, names, np.abs(vel_sent) - vmax, vel_sent, vmax,
                            "rad/s", "commanded velocity", out)
            ends = np.abs(vel_sent[[0, -1]]).max()
            if ends > 1e-9:
                out.append(Violation(Check.VELOCITY, "the trajectory must start and end at "
                                     f"rest; end-point velocity {ends:.4f} rad/s",
                                     count=1, worst=float(ends), limit=0.0))

    def _check_workspace(self, idx, q, out) -> None:
        box = self.config.workspace
        lo, hi = np.array(box.lower), np.array(box.upper)
        # idx is a permutation of the arm joints here: put columns in the model's order
        q_robot = np.empty_like(q)
        q_robot[:, idx] = q
        tcp = np.array([self.kin.tcp_pose(row)[:3, 3] for row in q_robot])
        excess = np.maximum(lo - tcp, tcp - hi)
        # a sample is inside only when every comparison says so: NaN (in the box or the
        # kinematics) counts as outside, never as inside
        inside = np.all(excess <= 0, axis=1)
        excess = np.where(np.isfinite(excess), excess, np.inf)
        bad = np.flatnonzero(~inside)
        if bad.size:
            k = int(bad[np.argmax(excess[bad].max(axis=1))])
            out.append(Violation(
                Check.WORKSPACE, f"tool centre point leaves the workspace box {box.lower}.."
                f"{box.upper} m at {bad.size} samples; worst at sample {k}: "
                f"{np.round(tcp[k], 4).tolist()} m", first_index=int(bad[0]),
                count=int(bad.size), worst=float(excess[k].max()), limit=0.0))

    def _check_start(self, names, q0, state, now, out) -> None:
        cfg = self.config
        if state is None:
            out.append(Violation(Check.START_STATE, "no joint state received from the robot"))
            return
        age = now - state.received
        if age > cfg.max_state_age:
            out.append(Violation(Check.START_STATE, f"latest joint state is {age:.2f} s old "
                                 f"(limit {cfg.max_state_age} s)", worst=age,
                                 limit=cfg.max_state_age))
        absent = [n for n in names if n not in state.names]
        if absent:
            out.append(Violation(Check.START_STATE, f"joint state lacks {absent}"))
            return
        err = q0 - state.positions_for(names)
        for j in np.flatnonzero(np.abs(err) > cfg.start_tolerance):
            out.append(Violation(Check.START_STATE, f"{names[j]} starts {err[j]:+.4f} rad from "
                                 f"its measured position (tolerance {cfg.start_tolerance} rad)",
                                 names[j], 0, 1, float(err[j]), cfg.start_tolerance))
