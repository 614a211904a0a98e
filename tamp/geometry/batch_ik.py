"""Batched inverse kinematics in torch: many targets and many seeds per target at once.

Damped least squares on the geometric Jacobian, all (target, seed) pairs in one batch,
joint limits enforced by clamping, optional collision filtering with the batched checker,
and the best solution per target returned with its errors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from tamp.geometry.batch import TorchKinematics
from tamp.geometry.kinematics import IKConfig, Kinematics
from tamp.geometry.sphere_model import SphereModel


@dataclass(frozen=True)
class BatchIKConfig:
    n_seeds: int = 16  #: random seeds per target (after the given ones)
    iterations: int = 80
    damping: float = 1e-3
    position_tolerance: float = 1e-4  #: m
    orientation_tolerance: float = 1e-3  #: rad


@dataclass(frozen=True)
class BatchIKResult:
    q: torch.Tensor  #: (T, n_arm) best configuration per target, rad
    success: torch.Tensor  #: (T,) bool: within tolerance (and collision-free if filtered)
    position_error: torch.Tensor  #: (T,) m
    orientation_error: torch.Tensor  #: (T,) rad
    collision_free: torch.Tensor  #: (T,) bool (all True when no checker was given)


def _rotation_log(r: torch.Tensor) -> torch.Tensor:
    """Axis-angle vectors (..., 3) of rotation matrices (..., 3, 3)."""
    cos = ((r.diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2).clamp(-1.0, 1.0)
    angle = torch.acos(cos)
    vee = torch.stack([r[..., 2, 1] - r[..., 1, 2], r[..., 0, 2] - r[..., 2, 0],
                       r[..., 1, 0] - r[..., 0, 1]], dim=-1) / 2
    sin = torch.sin(angle)
    scale = torch.where(sin > 1e-6, angle / sin.clamp(min=1e-12), torch.ones_like(angle))
    return vee * scale[..., None]


class BatchIK:
    """Solve ``tcp(q) = target`` for many targets at once on ``device``."""

    def __init__(self, model: SphereModel, lower: np.ndarray, upper: np.ndarray,
                 device: str | torch.device = "cpu", dtype: torch.dtype = torch.float64):
        self.fk = TorchKinematics(model, device, dtype)
        self.model = model
        self.device, self.dtype = torch.device(device), dtype
        self.lower = torch.as_tensor(lower, dtype=dtype, device=self.device)
        self.upper = torch.as_tensor(upper, dtype=dtype, device=self.device)
        # the pinocchio joint ids that move the arm, in arm order
        q_to_joint = {int(qi): j for j, qi in enumerate(model.q_index) if j > 0}
        self.arm_joints = [q_to_joint[int(qi)] for qi in model.arm_q_index]

    def _tcp_and_jacobian(self, q: torch.Tensor):
        rot, trans = self.fk.joint_frames(self.fk.full_q(q))
        m = self.model
        local = torch.as_tensor(m.tcp_local, dtype=self.dtype, device=self.device)
        tcp_rot = rot[:, m.tcp_joint] @ local[:3, :3]
        tcp_pos = rot[:, m.tcp_joint] @ local[:3, 3] + trans[:, m.tcp_joint]
        cols = []
        for j in self.arm_joints:
            axis = rot[:, j] @ self.fk.axes[j]  # world axis of revolute joint j
            cols.append(torch.cat([torch.cross(axis, tcp_pos - trans[:, j], dim=-1), axis], -1))
        return tcp_pos, tcp_rot, torch.stack(cols, dim=-1)  # jacobian (B, 6, n_arm)

    def local_solve(self, target: np.ndarray, starts: np.ndarray, config: IKConfig):
        """:meth:`Kinematics.ik`'s local solver from every start (K, n_arm) at once, for
        one ``target`` (4x4): each start clamped into the limits (less
        ``config.limit_margin``), then stepped until its tool pose is within tolerance
        (where it stops) or ``config.max_iterations`` steps have been taken. Returns
        numpy arrays: the configurations (K, n_arm), whether each converged, and the
        position (m) and orientation (rad) errors where each was last evaluated."""
        t = dict(dtype=self.dtype, device=self.device)
        lower = self.lower + config.limit_margin
        upper = self.upper - config.limit_margin
        q = torch.minimum(torch.maximum(torch.as_tensor(starts, **t), lower), upper)
        goal = torch.as_tensor(target, **t)
        k = q.shape[0]
        done = torch.zeros(k, dtype=torch.bool, device=self.device)
        pos_err = torch.zeros(k, **t)
        rot_err = torch.zeros(k, **t)
        eye = torch.eye(6, **t) * config.damping
        for _ in range(config.max_iterations):
            pos, rot, jac = self._tcp_and_jacobian(q)
            # the goal in the tool frame, its log as the error (pinocchio's log6)
            rt = rot.transpose(1, 2)
            err = _log6(rt @ goal[:3, :3], (rt @ (goal[:3, 3] - pos)[..., None])[..., 0])
            p_e = (pos - goal[:3, 3]).norm(dim=-1)
            r_e = err[:, 3:].norm(dim=-1)
            active = ~done
            pos_err = torch.where(active, p_e, pos_err)
            rot_err = torch.where(active, r_e, rot_err)
            done = done | (active & (p_e < config.position_tolerance)
                           & (r_e < config.orientation_tolerance))
            moving = ~done
            if not bool(moving.any()):
                break
            # the Jacobian in the tool frame (pinocchio's LOCAL): both halves rotated
            local = torch.cat([rt @ jac[:, :3], rt @ jac[:, 3:]], dim=1)
            jjt = local @ local.transpose(1, 2) + eye
            dq = (local.transpose(1, 2) @ torch.linalg.solve(jjt, err[..., None]))[..., 0]
            stepped = torch.minimum(torch.maximum(q + config.step * dq, lower), upper)
            q = torch.where(moving[:, None], stepped, q)
        return (q.cpu().numpy(), done.cpu().numpy(), pos_err.cpu().numpy(),
                rot_err.cpu().numpy())

    def solve(self, targets, seeds=None, rng: np.random.Generator | None = None,
              config: BatchIKConfig = BatchIKConfig(), checker=None) -> BatchIKResult:
        """``targets``: (T, 4, 4) TCP poses; ``seeds``: (T, k, n_arm) or (k, n_arm) starts
        tried before ``config.n_seeds`` random ones; ``checker``: a
        :class:`tamp.geometry.batch.BatchCollisionChecker` to reject colliding solutions."""
        t = dict(dtype=self.dtype, device=self.device)
        targets = torch.as_tensor(targets, **t)
        n_t, n = targets.shape[0], len(self.arm_joints)
        rng = rng or np.random.default_rng(0)
        starts = [torch.as_tensor(rng.uniform(self.lower.cpu().numpy(),
                                              self.upper.cpu().numpy(),
                                              (n_t, config.n_seeds, n)), **t)]
        if seeds is not None:
            s = torch.as_tensor(seeds, **t)
            s = s.expand(n_t, *s.shape) if s.ndim == 2 else s
            starts.insert(0, s)
        q = torch.cat(starts, dim=1)  # (T, K, n)
        k = q.shape[1]
        q = q.reshape(-1, n)
        goal = targets.repeat_interleave(k, dim=0)
        eye = torch.eye(6, **t)
        for it in range(config.iterations):
            pos, rot, jac = self._tcp_and_jacobian(q)
            err = torch.cat([goal[:, :3, 3] - pos,
                             _rotation_log(goal[:, :3, :3] @ rot.transpose(1, 2))], dim=-1)
            if it % 10 == 9:  # stop once every target has a converged seed
                done = (err[:, :3].norm(dim=-1) < config.position_tolerance) & \
                    (err[:, 3:].norm(dim=-1) < config.orientation_tolerance)
                if checker is None and bool(done.reshape(n_t, k).any(dim=1).all()):
                    break
            jjt = jac @ jac.transpose(1, 2) + config.damping * eye
            dq = (jac.transpose(1, 2) @ torch.linalg.solve(jjt, err[..., None]))[..., 0]
            q = torch.minimum(torch.maximum(q + dq, self.lower), self.upper)
        pos, rot, _ = self._tcp_and_jacobian(q)
        p_err = (goal[:, :3, 3] - pos).norm(dim=-1)
        r_err = _rotation_log(goal[:, :3, :3] @ rot.transpose(1, 2)).norm(dim=-1)
        ok = (p_err < config.position_tolerance) & (r_err < config.orientation_tolerance)
        free = torch.ones_like(ok)
        if checker is not None:
            free = checker.check(q.to(checker.dtype)).free.to(self.device)
        # best per target: a valid solution first, then the smallest error
        score = p_err + 0.1 * r_err + 10.0 * (~ok).to(self.dtype) + 10.0 * (~free).to(self.dtype)
        best = score.reshape(n_t, k).argmin(dim=1) + torch.arange(n_t, device=self.device) * k
        return BatchIKResult(q[best], ok[best] & free[best], p_err[best], r_err[best], free[best])


def _log6(rot: torch.Tensor, trans: torch.Tensor) -> torch.Tensor:
    """The twist (B, 6: linear, angular) whose exponential is the rigid motion (rotation
    (B, 3, 3), translation (B, 3)): pinocchio's ``log6``."""
    w = _rotation_log(rot)
    theta = w.norm(dim=-1)
    small = theta < 1e-4
    safe = torch.where(small, torch.ones_like(theta), theta)
    # V^-1 = I - W/2 + c W^2, c = (1 - theta sin / (2 (1 - cos))) / theta^2 (1/12 at 0)
    c = torch.where(small, 1.0 / 12.0 + theta ** 2 / 720.0,
                    (1.0 - safe * torch.sin(safe) / (2.0 * (1.0 - torch.cos(safe)))) / safe ** 2)
    wxp = torch.cross(w, trans, dim=-1)
    v = trans - 0.5 * wxp + c[:, None] * torch.cross(w, wxp, dim=-1)
    return torch.cat([v, w], dim=-1)


class BatchedKinematics(Kinematics):
    """:class:`Kinematics` whose :meth:`ik` solves all starts of a query at once in torch
    on ``device`` (when there are at least two), giving the answers the one-at-a-time
    solver gives: the same starts in the same order (the random restarts drawn from the
    same generator), the same damped least squares step in the tool frame (pinocchio's
    ``log6`` error and LOCAL Jacobian) and clamping, each start stopped where it first
    comes within tolerance; then the starts are read in order, the first within
    tolerance that ``accept`` takes winning, as if they had been solved one by one.
    Only the floating point differs (float64 either way)."""

    def __init__(self, robot, device: str | torch.device = "cpu"):
        from tamp.geometry.collision import CollisionConfig, robot_spheres

        super().__init__(robot)
        model = SphereModel.build(self, robot_spheres(self), CollisionConfig().padding)
        self.batch = BatchIK(model, robot.lower, robot.upper, device, torch.float64)

    def solve_starts(self, target: np.ndarray, starts: list[np.ndarray], config: IKConfig):
        """:meth:`Kinematics.solve_starts`, every start at once (one start: the
        one-at-a-time solver itself)."""
        if len(starts) < 2:
            return super().solve_starts(target, starts, config)
        return zip(*self.batch.local_solve(target, np.array(starts), config))
