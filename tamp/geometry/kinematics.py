"""Forward and inverse kinematics with pinocchio."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import pinocchio as pin

from tamp.robot import RobotSpec


@dataclass(frozen=True)
class IKConfig:
    max_iterations: int = 100
    damping: float = 1e-3  #: damped least squares regulariser
    step: float = 1.0  #: fraction of the Gauss-Newton step taken per iteration
    position_tolerance: float = 1e-4  #: m
    orientation_tolerance: float = 1e-3  #: rad
    n_random_seeds: int = 20  #: random restarts after the given seeds
    #: rad kept inside every joint limit, so that solutions survive a hardware safety
    #: check with a margin (see robots/ros/safety.py)
    limit_margin: float = 0.02
    #: how the starts (the given seeds and the random restarts) of one query are solved:
    #: "never": one after another with pinocchio (cheapest on a CPU: most queries stop at
    #: the first start), "always": all at once in torch on the planner's device
    #: (:class:`tamp.geometry.batch_ik.BatchedKinematics`, the same answers up to
    #: rounding), "auto": always when that device is a GPU, else never
    batch: str = "auto"

    def __post_init__(self):
        if self.batch not in IK_BATCH:
            raise ValueError(f"unknown ik batch '{self.batch}'; known: {', '.join(IK_BATCH)}")


IK_BATCH = ("auto", "always", "never")  #: the values of ``IKConfig.batch``


@dataclass(frozen=True)
class IKResult:
    """Outcome of an IK solve; ``q`` is the best configuration found even on failure."""

    q: np.ndarray  #: arm joint positions, shape (n_arm,), rad
    success: bool
    position_error: float  #: m
    orientation_error: float  #: rad
    reason: str = ""


class Kinematics:
    """Pinocchio model of the robot; arm configurations are ``(n_arm,)`` arrays in rad."""

    def __init__(self, robot: RobotSpec):
        self.robot = robot
        self.model = pin.buildModelFromUrdf(str(robot.urdf))
        self.data = self.model.createData()
        self.arm_q_index = np.array(
            [self.model.joints[self.model.getJointId(n)].idx_q for n in robot.arm_joints])
        self.gripper_q_index = np.array(
            [self.model.joints[self.model.getJointId(n)].idx_q
             for n in (robot.gripper.joint, *robot.gripper.mimic_joints)])
        #: the pads' drop joints, set to the linkage's drop at the gripper value
        self.drop_q_index = np.array(
            [self.model.joints[self.model.getJointId(n)].idx_q
             for n in robot.gripper.drop_joints], int)
        self.tcp_id = self.model.getFrameId(robot.tcp_frame)
        self._q = pin.neutral(self.model)

    def full_q(self, q_arm: np.ndarray, gripper: float = 0.0) -> np.ndarray:
        """The model's configuration vector with the gripper joints at ``gripper`` (m)."""
        q = self._q.copy()
        q[self.arm_q_index] = q_arm
        q[self.gripper_q_index] = gripper
        q[self.drop_q_index] = self.robot.gripper.pad_drop(gripper)
        return q

    def tcp_pose(self, q_arm: np.ndarray) -> np.ndarray:
        """World pose (4x4) of the tool centre point."""
        pin.forwardKinematics(self.model, self.data, self.full_q(q_arm))
        return pin.updateFramePlacement(self.model, self.data, self.tcp_id).homogeneous

    def frame_pose(self, q_arm: np.ndarray, frame: str, gripper: float = 0.0) -> np.ndarray:
        pin.forwardKinematics(self.model, self.data, self.full_q(q_arm, gripper))
        fid = self.model.getFrameId(frame)
        return pin.updateFramePlacement(self.model, self.data, fid).homogeneous

    def ik(self, target: np.ndarray, seeds: list[np.ndarray] | np.ndarray,
           rng: np.random.Generator, config: IKConfig = IKConfig(),
           accept: Callable[[np.ndarray], bool] | None = None) -> IKResult:
        """Joint positions that put the TCP at ``target`` (4x4), within the joint limits.

        Tries each seed, then ``config.n_random_seeds`` random ones; returns the first
        solution within tolerance that ``accept`` (e.g. a collision check) takes, else
        the best attempt with ``success=False`` and the reason. Joints that turn more
        than a full turn (a UR arm's: ±2π) come back the whole turns nearest the first
        seed, and the random starts' solutions are offered nearest it first: of the arm
        postures that reach ``target``, the one the arm is in (or nearest it) is taken
        where ``accept`` allows, not a wrist spun round or flipped over.
        """
        robot = self.robot
        given = [np.asarray(s, float) for s in seeds]
        randoms = [rng.uniform(robot.lower, robot.upper) for _ in range(config.n_random_seeds)]
        if not given:
            return first_accepted(self.solve_starts(target, randoms, config), accept)
        near = given[0]
        lower, upper = robot.lower + config.limit_margin, robot.upper - config.limit_margin

        def turned(solved):
            for q, *rest in solved:
                yield (nearest_turns(q, near, lower, upper), *rest)

        def nearest_first(solved):
            yield from sorted(turned(solved), key=lambda s: (
                not s[1], float(np.abs(s[0] - near).max())))

        return first_accepted(itertools.chain(
            turned(self.solve_starts(target, given, config)),
            nearest_first(self.solve_starts(target, randoms, config)) if randoms else ()),
            accept)

    def solve_starts(self, target: np.ndarray, starts: list[np.ndarray], config: IKConfig):
        """The local solver from each start in turn (lazily): ``(q, converged, position
        error, orientation error)``, the errors where ``q`` was last evaluated. Damped
        least squares on the LOCAL Jacobian with pinocchio's ``log6`` error, clamped
        ``config.limit_margin`` inside the limits, stopped where it first comes within
        tolerance."""
        robot = self.robot
        oMdes = pin.SE3(target[:3, :3], target[:3, 3])
        idx = self.arm_q_index
        lower = robot.lower + config.limit_margin
        upper = robot.upper - config.limit_margin
        for start in starts:
            q = np.clip(start, lower, upper)
            converged = False
            for _ in range(config.max_iterations):
                pin.forwardKinematics(self.model, self.data, self.full_q(q))
                oMf = pin.updateFramePlacement(self.model, self.data, self.tcp_id)
                err = pin.log6(oMf.actInv(oMdes)).vector  # in the TCP frame
                pos_err = float(np.linalg.norm(oMf.translation - oMdes.translation))
                rot_err = float(np.linalg.norm(err[3:]))
                if pos_err < config.position_tolerance and rot_err < config.orientation_tolerance:
                    converged = True
                    break
                jac = pin.computeFrameJacobian(self.model, self.data, self.full_q(q),
                                               self.tcp_id, pin.LOCAL)[:, idx]
                jjt = jac @ jac.T + config.damping * np.eye(6)
                dq = jac.T @ np.linalg.solve(jjt, err)
                q = np.clip(q + config.step * dq, lower, upper)
            yield q, converged, pos_err, rot_err


def nearest_turns(q: np.ndarray, near: np.ndarray, lower: np.ndarray,
                  upper: np.ndarray) -> np.ndarray:
    """``q`` with each joint turned by the whole turns (2π) that bring it nearest
    ``near`` within ``lower``..``upper`` (the same pose: only joints whose range spans
    more than a turn can change)."""
    turns = np.round((near - q) / (2.0 * np.pi))
    moved = q + 2.0 * np.pi * turns
    return np.where((turns != 0) & (moved >= lower) & (moved <= upper), moved, q)


def turn_variants(q: np.ndarray, near: np.ndarray, lower: np.ndarray,
                  upper: np.ndarray) -> list[np.ndarray]:
    """The same pose as ``q`` with its joints turned by whole turns (2π) every way that
    stays within ``lower``..``upper``, nearest ``near`` (largest joint difference) first
    (only joints whose range spans more than a turn have more than one)."""
    per_joint = [[v + 2.0 * np.pi * k for k in (-2, -1, 0, 1, 2)
                  if lo <= v + 2.0 * np.pi * k <= hi] or [v]
                 for v, lo, hi in zip(q, lower, upper)]
    variants = [np.array(c) for c in itertools.product(*per_joint)]
    return sorted(variants, key=lambda v: float(np.abs(v - near).max()))


def first_accepted(solved, accept: Callable[[np.ndarray], bool] | None) -> IKResult | None:
    """Of ``(q, converged, position error, orientation error)`` per start, in order: the
    first converged one that ``accept`` takes (None: any), else the best attempt (least
    position error + 0.1 x orientation error) with ``success=False`` and the reason."""
    rejected, best = 0, None
    for q, converged, pos_err, rot_err in solved:
        if converged:
            if accept is None or accept(q):
                return IKResult(q, True, float(pos_err), float(rot_err))
            rejected += 1
        if best is None or pos_err + 0.1 * rot_err < \
                best.position_error + 0.1 * best.orientation_error:
            best = IKResult(q, False, float(pos_err), float(rot_err),
                            "did not converge within tolerance")
    if rejected and best is not None:
        best = replace(best, reason=f"{rejected} solutions within tolerance, none accepted "
                                    "(e.g. all in collision)")
    return best
