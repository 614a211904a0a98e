"""Fuzz: 10 000 random trajectories, valid and broken, through the safety layer into a
recording transport. Nothing that breaks a limit, the workspace, the joint names or the
start state is ever sent; everything valid is.

Validity is judged by an independent reference written here with plain loops (sharing only
the FK), applied to the input and to what was recorded.
"""

from __future__ import annotations

import math
import time
from collections import Counter

import numpy as np
import pytest

from robots.ros.deploy import DeployConfig, Deployer
from robots.ros.safety import ArmTrajectory, JointStateSample, SafetyChecker, SafetyConfig

N_TRAJECTORIES = 10_000
MUTATIONS = ("none", "position", "workspace", "too_fast", "jerk_step", "rename", "permute",
             "duplicate_name", "drop_joint", "start_offset", "stale_state", "nan",
             "time_repeat", "time_offset", "near_twin", "short")
#: what re-timing repairs: broken only in speed
SPEED_MUTATIONS = ("too_fast", "jerk_step")


class Reference:
    """The rules of docs/HARDWARE.md, written out independently of robots.ros.safety."""

    def __init__(self, robot, kinematics, config: SafetyConfig):
        self.r, self.kin, self.c = robot, kinematics, config

    def structural(self, names, times, q, controller, state, now, allow_twins: bool):
        """Everything except the speed limits (which re-timing repairs). With
        ``allow_twins``, samples closer than ``min_dt`` at the same position (within
        1e-6 rad) are tolerated: the safety layer drops them before sending."""
        c, r = self.c, self.r
        if len(set(names)) != len(names) or set(names) != set(r.arm_joints) \
                or set(names) != set(controller):
            return False
        if q.ndim != 2 or q.shape != (len(times), len(names)) or len(times) < 2:
            return False
        if not (np.all(np.isfinite(q)) and np.all(np.isfinite(times))):
            return False
        if times[0] != 0.0:
            return False
        for k in range(1, len(times)):
            dt = times[k] - times[k - 1]
            if dt <= 0:
                return False
            same = max(abs(q[k][j] - q[k - 1][j]) for j in range(len(names))) <= 1e-6
            if dt < c.min_dt and not (allow_twins and same):
                return False
        col = {n: i for i, n in enumerate(names)}
        for k in range(len(times)):
            for j, n in enumerate(r.arm_joints):
                x = q[k][col[n]]
                if x < r.lower[j] + c.position_margin or x > r.upper[j] - c.position_margin:
                    return False
            qr = np.array([q[k][col[n]] for n in r.arm_joints])
            p = self.kin.tcp_pose(qr)[:3, 3]
            for a in range(3):
                if p[a] < c.workspace.lower[a] or p[a] > c.workspace.upper[a]:
                    return False
        if state is None or now - state.received > c.max_state_age:
            return False
        for n in names:
            if n not in state.names:
                return False
            if abs(q[0][col[n]] - state.positions[state.names.index(n)]) > c.start_tolerance:
                return False
        return True

    def speeds_ok(self, names, times, q, velocities=None):
        c, r = self.c, self.r
        limit_v = {n: c.speed_scale * r.max_velocity[i] for i, n in enumerate(r.arm_joints)}
        limit_a = {n: c.speed_scale * r.max_acceleration[i] for i, n in enumerate(r.arm_joints)}
        limit_j = {n: c.speed_scale * r.max_jerk[i] for i, n in enumerate(r.arm_joints)}
        n = len(times)
        for j, name in enumerate(names):
            v = [(q[k + 1][j] - q[k][j]) / (times[k + 1] - times[k]) for k in range(n - 1)]
            for x in v:
                if abs(x) > limit_v[name] * (1 + 1e-9):
                    return False
            padded = [0.0] + v + [0.0]
            acc, centre = [], []
            for k in range(n):
                left = times[k] - times[k - 1] if k > 0 else times[1] - times[0]
                right = times[k + 1] - times[k] if k < n - 1 else times[-1] - times[-2]
                if k == 0:
                    spacing = right / 2
                elif k == n - 1:
                    spacing = left / 2
                else:
                    spacing = (left + right) / 2
                acc.append((padded[k + 1] - padded[k]) / spacing)
                if abs(acc[-1]) > limit_a[name] * (1 + 1e-9):
                    return False
                # the mean time of the samples that acceleration spans (none past the ends)
                before = times[k - 1] if k > 0 else times[0]
                after = times[k + 1] if k < n - 1 else times[-1]
                centre.append((before + times[k] + after) / 3)
            for k in range(n - 1):
                jerk = (acc[k + 1] - acc[k]) / (centre[k + 1] - centre[k])
                if abs(jerk) > limit_j[name] * (1 + 1e-9):
                    return False
            if velocities is not None and len(velocities):
                for k in range(n):
                    if abs(velocities[k][j]) > limit_v[name] * (1 + 1e-9):
                        return False
                if velocities[0][j] != 0.0 or velocities[-1][j] != 0.0:
                    return False
        return True


def _random_case(rng, robot, kin, config):
    """(names, times, positions, state, mutation) for one random trajectory."""
    names = list(robot.arm_joints)
    lo, hi = robot.lower + 0.1, robot.upper - 0.1
    q0 = np.clip(robot.home + rng.normal(0, 0.2, 7), lo, hi)
    q1 = np.clip(q0 + rng.normal(0, 0.2, 7), lo, hi)
    n = int(rng.integers(2, 25))
    s = 0.5 - 0.5 * np.cos(np.linspace(0, math.pi, n))  # rest to rest
    q = q0 + np.outer(s, q1 - q0)
    # duration so that the peak speed is a random fraction of the scaled limit
    peak = np.max(np.abs(q1 - q0) * math.pi / 2 / (config.speed_scale * robot.max_velocity))
    duration = max(peak / rng.uniform(0.3, 1.0), 0.05 * n)
    times = np.linspace(0, duration, n)
    state_q, received = q0.copy(), time.monotonic()
    # a third unchanged, the rest spread over the kinds of breakage
    m = "none" if rng.random() < 1 / 3 else MUTATIONS[int(rng.integers(1, len(MUTATIONS)))]
    if m == "position":
        j, k = int(rng.integers(7)), int(rng.integers(n))
        edge = robot.upper[j] if rng.random() < 0.5 else robot.lower[j]
        q[k, j] = edge - np.sign(edge - q[k, j]) * rng.uniform(-0.05, 0.05)
    elif m == "workspace":
        q = q0 + np.outer(s, np.clip(rng.uniform(robot.lower, robot.upper), lo, hi) - q0)
    elif m == "too_fast":
        times = times / rng.uniform(1.5, 20.0)
    elif m == "jerk_step":
        # a quarter of the way: the fine sampling makes long moves costly to check
        times, q = _trapezoid_step(rng, robot, config, q0, q0 + 0.25 * (q1 - q0))
    elif m == "rename":
        names[int(rng.integers(7))] = "joint_x"
    elif m == "permute":  # consistent permutation: still valid
        order = rng.permutation(7)
        names, q = [names[i] for i in order], q[:, order]
    elif m == "duplicate_name":
        names[int(rng.integers(1, 7))] = names[0]
    elif m == "drop_joint":
        names, q = names[:6], q[:, :6]
    elif m == "start_offset":
        state_q[int(rng.integers(7))] += rng.choice([-1, 1]) * rng.uniform(0.0, 0.03)
    elif m == "stale_state":
        # clear of the limit: the deployer and the reference read the clock moments apart
        limit = config.max_state_age
        received -= rng.uniform(0.0, limit - 0.1) if rng.random() < 0.5 else \
            rng.uniform(limit + 0.1, 3.0)
    elif m == "nan":
        q[int(rng.integers(n)), int(rng.integers(7))] = np.nan
    elif m == "time_repeat" and n > 2:
        k = int(rng.integers(1, n))
        times[k] = times[k - 1]
    elif m == "time_offset":
        times = times + rng.uniform(0.001, 0.5)
    elif m == "near_twin":  # the planner's sampling artefact: a twin of the last sample
        times = np.append(times, times[-1] + 1e-7)
        q = np.vstack([q, q[-1]])
    elif m == "short":
        times, q = times[:1], q[:1]
    state = JointStateSample(tuple(robot.arm_joints), state_q, received)
    return names, times, q, state, m


def _trapezoid_step(rng, robot, config, q0, q1, dt=5e-4):
    """A straight move from ``q0`` to ``q1`` at a trapezoidal speed profile within the
    scaled velocity and acceleration limits, sampled every ``dt`` s or less: its
    acceleration steps from one sample to the next, beyond the scaled jerk limit (the
    Panda's reaches its acceleration limit in 2 ms)."""
    delta = np.where(np.abs(q1 - q0) > 1e-3, q1 - q0, 1e-3)
    sdot = rng.uniform(0.5, 0.95) * np.min(config.speed_scale * robot.max_velocity
                                           / np.abs(delta))
    sddot = rng.uniform(0.7, 0.95) * np.min(config.speed_scale * robot.max_acceleration
                                            / np.abs(delta))
    t_acc = sdot / sddot
    if sdot * t_acc >= 1.0:  # never reaches the cruise speed
        t_acc = math.sqrt(1.0 / sddot)
        total = 2 * t_acc
    else:
        total = 2 * t_acc + (1.0 - sdot * t_acc) / sdot
    t = np.linspace(0.0, total, int(math.ceil(total / dt)) + 1)
    s = np.where(t < t_acc, 0.5 * sddot * t ** 2,
                 np.where(t <= total - t_acc, sddot * t_acc * (t - t_acc / 2),
                          1.0 - 0.5 * sddot * (total - t) ** 2))
    return t, q0 + np.outer(s, delta)


@pytest.mark.slow
@pytest.mark.parametrize("slow_down", [True, False], ids=["retime", "check_only"])
def test_fuzz_only_valid_trajectories_are_sent(robot, kinematics, recording_transport,
                                               slow_down):
    config = SafetyConfig()
    ref = Reference(robot, kinematics, config)
    rng = np.random.default_rng(20261122 + slow_down)
    transport = recording_transport(robot.arm_joints, None)
    deployer = Deployer(transport, robot, DeployConfig(safety=config, execute=True,
                                                       slow_down=slow_down),
                        checker=SafetyChecker(robot, config, kinematics))
    stats, sent_total = Counter(), 0
    for _ in range(N_TRAJECTORIES // 2):
        names, times, q, state, mutation = _random_case(rng, robot, kinematics, config)
        transport.state = state
        before = len(transport.sent)
        report = deployer.send_trajectory(ArmTrajectory(tuple(names), times, q))
        sent = len(transport.sent) > before
        now = time.monotonic()
        valid = ref.structural(tuple(names), np.round(times * 1e9) / 1e9, q, robot.arm_joints,
                               state, now, True)
        if not slow_down and valid:
            valid = ref.speeds_ok(tuple(names), np.round(times * 1e9) / 1e9, q)
        stats[(mutation, valid, sent)] += 1
        assert sent == report.sent
        assert sent == valid, (mutation, valid, report.prepared.report.summary())
        if sent:
            sent_total += 1
            out = transport.sent[-1]
            assert ref.structural(out.joint_names, out.times, out.positions,
                                  robot.arm_joints, state, now, False)
            assert ref.speeds_ok(out.joint_names, out.times, out.positions, out.velocities)
            assert np.all(out.times == np.round(out.times * 1e9) / 1e9)  # what goes on wire
    by_mutation = Counter()
    for (mutation, valid, _), count in stats.items():
        by_mutation[(mutation, valid)] += count
    # the mix must be meaningful: plenty of valid ones, and each kind of breakage present
    assert sent_total > 0.25 * (N_TRAJECTORIES // 2)
    for mutation in MUTATIONS:
        if mutation in ("none", "permute", "near_twin"):
            assert by_mutation[(mutation, True)] > 100, mutation
        elif mutation not in SPEED_MUTATIONS:
            assert by_mutation[(mutation, False)] > 50, (mutation, by_mutation)
    # re-timing repairs speed (and only speed); checking alone refuses it
    for mutation in SPEED_MUTATIONS:
        assert by_mutation[(mutation, slow_down)] > 100, (mutation, by_mutation)
