"""The sphere model's collision test in torch, on any device: the one computation behind
:class:`tamp.geometry.batch.BatchCollisionChecker` (big batches, tensors in and out) and
the planner's :class:`tamp.geometry.collision.CollisionChecker` with
``CollisionConfig.backend == "torch"``.

It computes what the compiled CPU kernel (:mod:`tamp.geometry._kernels`) computes, with
the same culling where culling changes a value (the point-cloud grid is read per link
bounding sphere first), so that both give the same clearances: robot spheres against the
boxes and cylinders of the world (an obstacle mask), against the point-cloud distance
grid and against each other, and a carried load's spheres (in the TCP frame) against the
world (its own mask), the grid and the arm. Exact below the distance cap, the cap above
it; -1 outside the joint limits. Obstacles and masks are given as arrays (duck-typed
:class:`tamp.geometry.collision.ObstacleArrays`), so that this module imports neither
checker.
"""

from __future__ import annotations

import numpy as np
import torch

from tamp.geometry.sdf import DistanceGrid
from tamp.geometry.sphere_model import SphereModel


class TorchKinematics:
    """Forward kinematics of the robot's joint tree, batched in torch."""

    def __init__(self, model: SphereModel, device: str | torch.device = "cpu",
                 dtype: torch.dtype = torch.float64):
        self.model = model
        self.device = torch.device(device)
        self.dtype = dtype
        t = dict(dtype=dtype, device=self.device)
        self.placements = torch.tensor(model.placements, **t)
        self.axes = torch.tensor(model.axes, **t)
        self.arm_index = torch.tensor(model.arm_q_index, device=self.device)
        self.gripper_index = torch.tensor(model.gripper_q_index, device=self.device)

    def full_q(self, q_arm: torch.Tensor, gripper: torch.Tensor | float = 0.0) -> torch.Tensor:
        """(B, nq) configurations from (B, n_arm) arm positions and gripper value(s)."""
        b = q_arm.shape[0]
        q = torch.zeros(b, self.model.nq, dtype=self.dtype, device=self.device)
        q[:, self.arm_index] = q_arm.to(self.dtype)
        g = torch.as_tensor(gripper, dtype=self.dtype, device=self.device)
        q[:, self.gripper_index] = g.reshape(-1, 1) if g.ndim else g
        return q

    def joint_frames(self, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Rotations (B, J, 3, 3) and translations (B, J, 3) of every joint frame in the
        base frame; index 0 is the base itself, j is pinocchio's joint j."""
        b = q.shape[0]
        m = self.model
        rots = [torch.eye(3, dtype=self.dtype, device=self.device).expand(b, 3, 3)]
        trans = [torch.zeros(b, 3, dtype=self.dtype, device=self.device)]
        for j in range(1, len(m.parents)):
            value = q[:, int(m.q_index[j])]
            p_rot, p_trans = self.placements[j, :3, :3], self.placements[j, :3, 3]
            if m.prismatic[j]:
                local_rot = p_rot.expand(b, 3, 3)
                local_t = p_trans + value[:, None] * (p_rot @ self.axes[j])
            else:
                local_rot = p_rot @ self._axis_rotation(j, value)
                local_t = p_trans.expand(b, 3)
            parent = int(m.parents[j])
            rots.append(rots[parent] @ local_rot)
            trans.append(trans[parent] + (rots[parent] @ local_t[:, :, None])[..., 0])
        return torch.stack(rots, dim=1), torch.stack(trans, dim=1)

    def _axis_rotation(self, j: int, angle: torch.Tensor) -> torch.Tensor:
        """Rotation by ``angle`` (B,) about joint j's unit axis (Rodrigues), (B, 3, 3)."""
        x, y, z = self.axes[j]
        s, c = torch.sin(angle), torch.cos(angle)
        v = 1 - c
        return torch.stack([
            torch.stack([c + x * x * v, x * y * v - z * s, x * z * v + y * s], -1),
            torch.stack([y * x * v + z * s, c + y * y * v, y * z * v - x * s], -1),
            torch.stack([z * x * v - y * s, z * y * v + x * s, c + z * z * v], -1)], -2)

    def tcp_pose(self, q_arm: torch.Tensor, gripper: torch.Tensor | float = 0.0
                 ) -> torch.Tensor:
        """World pose of the tool centre point, shape (B, 4, 4)."""
        rot, trans = self.joint_frames(self.full_q(q_arm, gripper))
        j = self.model.tcp_joint
        local = torch.as_tensor(self.model.tcp_local, dtype=self.dtype, device=self.device)
        out = torch.zeros(q_arm.shape[0], 4, 4, dtype=self.dtype, device=self.device)
        out[:, :3, :3] = rot[:, j] @ local[:3, :3]
        out[:, :3, 3] = (rot[:, j] @ local[:3, 3]) + trans[:, j]
        out[:, 3, 3] = 1.0
        return out


class _Obstacles:
    """:class:`ObstacleArrays` as tensors on the checker's device."""

    def __init__(self, arrays: ObstacleArrays, device, dtype):
        t = dict(dtype=dtype, device=device)
        self.arrays = arrays
        self.rot = torch.tensor(arrays.rot, **t)
        self.trans = torch.tensor(arrays.trans, **t)
        self.half = torch.tensor(arrays.half, **t)
        self.kind_is_box = torch.tensor(arrays.is_box, device=device)
        self.centre = torch.tensor(arrays.centre, **t)
        self.radius = torch.tensor(arrays.radius, **t)

    def __len__(self) -> int:
        return len(self.arrays.owner)


def _primitive_distance(points: torch.Tensor, rot: torch.Tensor, trans: torch.Tensor,
                        half: torch.Tensor, is_box: torch.Tensor) -> torch.Tensor:
    """Signed distance from points (..., 3) to primitives given per point (..., ...)."""
    local = torch.einsum("...ij,...j->...i", rot, points) + trans
    # box
    q = local.abs() - half
    box = q.clamp(min=0).norm(dim=-1) + q.max(dim=-1).values.clamp(max=0)
    # cylinder about local z: half = (radius, radius, half height)
    d = torch.stack([local[..., :2].norm(dim=-1) - half[..., 0],
                     local[..., 2].abs() - half[..., 2]], dim=-1)
    cyl = d.clamp(min=0).norm(dim=-1) + d.max(dim=-1).values.clamp(max=0)
    return torch.where(is_box, box, cyl)




class _Grid:
    """A :class:`DistanceGrid` as tensors; ``None`` values when it holds no cloud."""

    def __init__(self, grid: DistanceGrid, device, dtype):
        self.grid = grid
        self.active = bool(np.isfinite(grid.outside))
        self.values = torch.as_tensor(grid.values, dtype=dtype, device=device)
        self.origin = torch.as_tensor(grid.origin, dtype=dtype, device=device)
        self.dims = torch.tensor(grid.values.shape, device=device)

    def clearance(self, points: torch.Tensor) -> torch.Tensor:
        """Lower bound of each point's clearance (m) to the clouds, shape (...,): the
        kernel's rounding (floor of x + 1/2) so that both read the same node."""
        g = self.grid
        idx = torch.floor((points - self.origin) / g.spacing + 0.5).long()
        inside = ((idx >= 0) & (idx < self.dims)).all(dim=-1)
        idx = torch.minimum(idx.clamp(min=0), self.dims - 1)
        value = self.values[idx[..., 0], idx[..., 1], idx[..., 2]] - g.slack
        return torch.where(inside, value, torch.full_like(value, g.outside))


class TorchSpheres:
    """Clearances of full configurations (B, nq) of the sphere model ``model``, in torch
    on ``device``; ``lower``/``upper`` are the arm's joint limits (n_arm,), rad or m."""

    def __init__(self, model: SphereModel, lower: np.ndarray, upper: np.ndarray,
                 device: str | torch.device = "cpu", dtype: torch.dtype = torch.float64):
        m = self.model = model
        self.device, self.dtype = torch.device(device), dtype
        self.fk = TorchKinematics(m, self.device, dtype)
        t = dict(dtype=dtype, device=self.device)
        i = dict(device=self.device)
        self.lower = torch.as_tensor(lower, **t)
        self.upper = torch.as_tensor(upper, **t)
        self.radii = torch.tensor(m.radii, **t)
        self.link_radius = torch.tensor(m.link_radius, **t)
        self.cluster_radius = torch.tensor(m.cluster_radius, **t)
        self.world_link = torch.tensor(m.world_link, **i)
        self.link_count = torch.tensor(m.link_count, **i)
        self.link_first = torch.tensor(m.link_first, **i)
        self.self_a = torch.tensor(m.pair_a, **i)
        self.self_b = torch.tensor(m.pair_b, **i)
        self.pair_count = torch.tensor(m.pair_count, **i)
        self.pair_first = torch.tensor(m.pair_first, **i)
        self.pair_sphere_a = torch.tensor(m.pair_sa, **i)
        self.pair_sphere_b = torch.tensor(m.pair_sb, **i)
        self.arm_spheres = torch.tensor(np.nonzero(m.sphere_joint < m.arm_joint_limit)[0], **i)
        self.tcp_local = torch.as_tensor(m.tcp_local, **t)
        self.n_links = len(m.link_radius)
        #: the world links' sphere ranges, for the grid read link by link as the kernel does
        self._grid_links = [(l, slice(int(m.link_first[l]),
                                      int(m.link_first[l] + m.link_count[l])))
                            for l in range(self.n_links) if m.world_link[l]]
        # all points carried by one joint (spheres, link centres, cluster centres) are
        # moved in one matmul; _unpermute restores their order afterwards
        local = np.concatenate([m.sphere_local, m.link_local, m.cluster_local])
        joint = np.concatenate([m.sphere_joint, m.link_joint, m.cluster_joint])
        self._groups, order = [], []
        for j in np.unique(joint):
            idx = np.nonzero(joint == j)[0]
            order.append(idx)
            self._groups.append((int(j), torch.tensor(local[idx].T.copy(), **t)))
        self._unpermute = torch.tensor(np.argsort(np.concatenate(order)), **i)
        self.obstacles: _Obstacles | None = None

    # -- set-up -------------------------------------------------------------------------
    def set_obstacles(self, arrays) -> None:
        """The world's boxes and cylinders (an :class:`ObstacleArrays`)."""
        self.obstacles = _Obstacles(arrays, self.device, self.dtype)

    def grid(self, grid: DistanceGrid) -> _Grid:
        """``grid`` on this device, for :meth:`clearances`."""
        return _Grid(grid, self.device, self.dtype)

    def mask(self, mask: np.ndarray) -> torch.Tensor:
        """An obstacle mask (O,) bool on this device."""
        return torch.as_tensor(np.asarray(mask, bool), device=self.device)

    def load(self, centres: np.ndarray, radii: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """A carried load's spheres (k, 3) and radii (k,) in the TCP frame, m, as tensors."""
        t = dict(dtype=self.dtype, device=self.device)
        return torch.as_tensor(centres, **t).reshape(-1, 3), torch.as_tensor(radii, **t)

    # -- the test -----------------------------------------------------------------------
    def positions(self, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor,
                                                  torch.Tensor, torch.Tensor]:
        """Sphere centres (B, S, 3), link and cluster bounding-sphere centres (B, L + C, 3)
        and the joint frames (rotations (B, J, 3, 3), translations (B, J, 3)) of full
        configurations ``q`` (B, nq)."""
        rot, trans = self.fk.joint_frames(q)
        # all points carried by one joint in one (B, 3, 3) @ (3, n) matmul
        parts = [torch.matmul(rot[:, j], local).transpose(1, 2) + trans[:, j, None]
                 for j, local in self._groups]
        points = torch.cat(parts, dim=1)[:, self._unpermute]
        n = len(self.radii)
        return points[:, :n], points[:, n:], rot, trans

    def clearances(self, q: torch.Tensor, cap: float, mask: torch.Tensor, grid: _Grid,
                   load: tuple[torch.Tensor, torch.Tensor] | None = None,
                   load_mask: torch.Tensor | None = None,
                   self_collision: bool = True) -> torch.Tensor:
        """Clearance (m) of each full configuration ``q`` (B, nq), shape (B,): the smallest
        of the robot's to the unmasked obstacles, to the grid, to itself (unless not
        ``self_collision``) and of ``load`` to the obstacles of ``load_mask``, the grid and
        the arm; exact below ``cap`` (m), ``cap`` above; -1 outside the joint limits."""
        pts, centres, rot, trans = self.positions(q)
        dist = self._world_distance(pts, centres, cap, mask)
        if grid.active:
            dist = self._grid_distance(pts, centres, dist, grid)
        if self_collision:
            dist = torch.minimum(dist, self._self_distance(pts, centres, cap))
        if load is not None and len(load[1]):
            dist = torch.minimum(dist, self._load_distance(pts, rot, trans, load, load_mask,
                                                           grid))
        arm = q[:, self.fk.arm_index]
        within = ((arm >= self.lower - 1e-9) & (arm <= self.upper + 1e-9)).all(dim=1)
        return torch.where(within, dist, torch.full_like(dist, -1.0))

    def _world_distance(self, pts, centres, cap, mask) -> torch.Tensor:
        b = pts.shape[0]
        obs = self.obstacles
        out = torch.full((b,), float(cap), dtype=self.dtype, device=self.device)
        if obs is None or len(obs) == 0:
            return out
        # level 0: link bounding spheres against obstacle bounding spheres, shape (B, L, O)
        centres = centres[:, :self.n_links]
        gap = (centres[:, :, None] - obs.centre).norm(dim=-1) - obs.radius - \
            self.link_radius[:, None]
        candidate = (gap < cap) & self.world_link[None, :, None] & mask[None, None, :]
        if not candidate.any():
            return out
        # level 1: link bounding spheres against the exact primitives that survived
        bi, li, oi = candidate.nonzero(as_tuple=True)
        d_link = _primitive_distance(centres[bi, li], obs.rot[oi], obs.trans[oi], obs.half[oi],
                                     obs.kind_is_box[oi]) - self.link_radius[li]
        keep = d_link < cap
        if not keep.any():
            return out
        bi, li, oi = bi[keep], li[keep], oi[keep]
        # level 2: the spheres of the surviving (config, link, obstacle) triples, expanded
        # without padding (links carry 4 to 25 spheres)
        counts = self.link_count[li]
        rows = torch.repeat_interleave(torch.arange(len(li), device=self.device), counts)
        first = torch.cumsum(counts, 0) - counts
        sphere = self.link_first[li][rows] + (torch.arange(len(rows), device=self.device)
                                              - first[rows])
        o = oi[rows]
        d = _primitive_distance(pts[bi[rows], sphere], obs.rot[o], obs.trans[o], obs.half[o],
                                obs.kind_is_box[o]) - self.radii[sphere]
        return out.scatter_reduce(0, bi[rows], d, reduce="amin")

    def _grid_distance(self, pts, centres, best, grid: _Grid) -> torch.Tensor:
        """``best`` (B,) lowered by the spheres' grid clearances, read as the kernel reads
        them: a link's spheres only where its bounding sphere's reading is below the best
        so far (the grid's readings are bounds, so this culling can change a value)."""
        for l, spheres in self._grid_links:
            near = grid.clearance(centres[:, l]) - self.link_radius[l] < best
            d = (grid.clearance(pts[:, spheres]) - self.radii[spheres]).amin(dim=1)
            best = torch.where(near, torch.minimum(best, d), best)
        return best

    def _self_distance(self, pts, centres, cap) -> torch.Tensor:
        b = pts.shape[0]
        out = torch.full((b,), float(cap), dtype=self.dtype, device=self.device)
        if len(self.self_a) == 0:
            return out
        la, lb = self.self_a, self.self_b
        centres = centres[:, self.n_links:]  # cluster centres follow the link centres
        gap = (centres[:, la] - centres[:, lb]).norm(dim=-1) - \
            self.cluster_radius[la] - self.cluster_radius[lb]  # (B, P)
        near = gap < cap
        if not near.any():
            return out
        bi, pi = near.nonzero(as_tuple=True)
        counts = self.pair_count[pi]
        rows = torch.repeat_interleave(torch.arange(len(pi), device=self.device), counts)
        first = torch.cumsum(counts, 0) - counts
        flat = self.pair_first[pi][rows] + (torch.arange(len(rows), device=self.device)
                                            - first[rows])
        ia, ib = self.pair_sphere_a[flat], self.pair_sphere_b[flat]
        b = bi[rows]
        d = (pts[b, ia] - pts[b, ib]).norm(dim=-1) - self.radii[ia] - self.radii[ib]
        return out.scatter_reduce(0, b, d, reduce="amin")

    def _load_distance(self, pts, rot, trans, load, load_mask, grid: _Grid) -> torch.Tensor:
        """Smallest clearance (B,) of the load's spheres to the obstacles of ``load_mask``,
        to the grid and to the arm's spheres (not the gripper's, which hold it)."""
        centres, radii = load
        j = self.model.tcp_joint
        tcp_rot = rot[:, j] @ self.tcp_local[:3, :3]  # (B, 3, 3)
        tcp_trans = rot[:, j] @ self.tcp_local[:3, 3] + trans[:, j]  # (B, 3)
        p = torch.einsum("bij,kj->bki", tcp_rot, centres) + tcp_trans[:, None]  # (B, k, 3)
        out = torch.full(p.shape[:1], float("inf"), dtype=self.dtype, device=self.device)
        obs = self.obstacles
        if obs is not None and len(obs) and load_mask is not None and bool(load_mask.any()):
            o = load_mask.nonzero()[:, 0]
            d = _primitive_distance(p[:, :, None], obs.rot[o], obs.trans[o], obs.half[o],
                                    obs.kind_is_box[o]) - radii[:, None]  # (B, k, O')
            out = torch.minimum(out, d.amin(dim=(1, 2)))
        if grid.active:
            out = torch.minimum(out, (grid.clearance(p) - radii).amin(dim=1))
        arm = pts[:, self.arm_spheres]  # (B, A, 3)
        if arm.shape[1]:
            d = (p[:, :, None] - arm[:, None]).norm(dim=-1) - radii[:, None] \
                - self.radii[self.arm_spheres]
            out = torch.minimum(out, d.amin(dim=(1, 2)))
        return out
