"""Batched forward kinematics and collision checking in torch, on any device.

B configurations in, one boolean and one signed clearance per configuration out. The robot
is the sphere model of :mod:`tamp.geometry.spheres` (spheres *cover* the URDF's collision
geometry, plus a padding), the world is boxes and cylinders (and point clouds through
:mod:`tamp.geometry.sdf`). Two-level test: one bounding sphere per link culls whole
(link, obstacle) pairs, and only the pairs that survive are tested sphere by sphere.

``distance`` is the exact smallest clearance of the sphere model when it is below
``CollisionConfig.distance_cap``; above it, a lower bound (at least the cap).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from tamp.geometry.collision import CollisionConfig, ObstacleArrays, robot_spheres
from tamp.geometry.kinematics import Kinematics
from tamp.geometry.sdf import DistanceGrid
from tamp.geometry.sphere_model import SphereModel
from tamp.geometry.spheres import LinkSpheres
from tamp.world import WorldModel


@dataclass(frozen=True)
class CollisionResult:
    free: torch.Tensor  #: shape (B,), bool
    distance: torch.Tensor  #: shape (B,), m; negative = penetration


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


class BatchCollisionChecker:
    """Checks many configurations at once against the world and against the robot itself.

    ``backend``: "torch" runs the tensor code below on ``device``; "kernel" runs the compiled
    CPU kernel of :class:`tamp.geometry.collision.CollisionChecker` (same sphere model,
    padding and pairs, so both agree); "auto" (default) picks the kernel on a CPU, where it
    is the faster at every batch size, and torch on any other device. ``self.backend`` says
    which one runs; nothing changes behind the caller's back.
    """

    def __init__(self, kin: Kinematics, world: WorldModel,
                 config: CollisionConfig = CollisionConfig(),
                 device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32,
                 spheres: dict[str, LinkSpheres] | None = None, backend: str = "auto"):
        self.device, self.dtype, self.config = torch.device(device), dtype, config
        if backend not in ("auto", "torch", "kernel"):
            raise ValueError(f"backend must be 'auto', 'torch' or 'kernel', not '{backend}'")
        if backend == "kernel" and self.device.type != "cpu":
            raise ValueError("the compiled kernel runs on the CPU only; use backend='torch' "
                             f"on {self.device}")
        self.backend = backend if backend != "auto" else \
            ("kernel" if self.device.type == "cpu" else "torch")
        self._kernel = None
        if self.backend == "kernel":
            from tamp.geometry.collision import CollisionChecker

            self._kernel = CollisionChecker(kin, world, config, spheres)
        self.robot = kin.robot
        m = SphereModel.build(kin, spheres or robot_spheres(kin), config.padding)
        self.model = m
        self.fk = TorchKinematics(m, device, dtype)
        t = dict(dtype=dtype, device=self.device)
        i = dict(device=self.device)
        self.radii = torch.tensor(m.radii, **t)
        self.link_radius = torch.tensor(m.link_radius, **t)
        self.cluster_radius = torch.tensor(m.cluster_radius, **t)
        self.world_link = torch.tensor(m.world_link, **i)
        self.link_count = torch.tensor(m.link_count, **i)
        self.sphere_link_index = torch.tensor(
            np.repeat(np.arange(len(m.link_count)), m.link_count), **i)
        self.link_first = torch.tensor(m.link_first, **i)
        self.self_a = torch.tensor(m.pair_a, **i)
        self.self_b = torch.tensor(m.pair_b, **i)
        self.pair_count = torch.tensor(m.pair_count, **i)
        self.pair_first = torch.tensor(m.pair_first, **i)
        self.pair_sphere_a = torch.tensor(m.pair_sa, **i)
        self.pair_sphere_b = torch.tensor(m.pair_sb, **i)
        self.n_links = len(m.link_radius)
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
        self.set_world(world)

    def set_world(self, world: WorldModel, ignore: tuple[str, ...] = ()) -> None:
        if self._kernel is not None:
            self._kernel.set_world(world)
            self._kernel.ignore(robot=ignore)
        grid = DistanceGrid.from_clouds([c for n, c in world.clouds.items() if n not in ignore])
        self.grid = grid
        self._grid_values = torch.as_tensor(grid.values, dtype=self.dtype, device=self.device)
        self._grid_origin = torch.as_tensor(grid.origin, dtype=self.dtype, device=self.device)
        arrays = ObstacleArrays.from_world(world)
        self.obstacles = _Obstacles(arrays, self.device, self.dtype)
        self._mask = torch.tensor(arrays.mask(frozenset(ignore)), device=self.device)

    # -- queries ------------------------------------------------------------------------
    def _as_tensor(self, q) -> torch.Tensor:
        q = torch.as_tensor(q, dtype=self.dtype, device=self.device)
        if q.device != self.device:
            raise ValueError(f"configurations on {q.device}, checker on {self.device}")
        return q.reshape(-1, self.robot.dof)

    def sphere_positions(self, q, gripper: float | torch.Tensor = 0.0) -> torch.Tensor:
        """World centres of the robot's spheres, shape (B, n_spheres, 3)."""
        return self._positions(self._as_tensor(q), gripper)[0]

    def _positions(self, q: torch.Tensor, gripper) -> tuple[torch.Tensor, torch.Tensor]:
        """Sphere centres (B, S, 3) and link bounding-sphere centres (B, L, 3)."""
        rot, trans = self.fk.joint_frames(self.fk.full_q(q, gripper))
        # all points carried by one joint in one (B, 3, 3) @ (3, n) matmul
        parts = [torch.matmul(rot[:, j], local).transpose(1, 2) + trans[:, j, None]
                 for j, local in self._groups]
        points = torch.cat(parts, dim=1)[:, self._unpermute]
        n = len(self.radii)
        return points[:, :n], points[:, n:]

    def check(self, q, gripper: float = 0.0) -> CollisionResult:
        """Free (and clearance) of each configuration in ``q``, shape (B, n_arm)."""
        q = self._as_tensor(q)
        if self._kernel is not None:
            self._kernel.gripper = float(gripper)
            d = torch.from_numpy(self._kernel.clearances(q.detach().numpy())).to(self.dtype)
            return CollisionResult(d > 0, d)
        robot = self.robot
        lower = torch.as_tensor(robot.lower, dtype=self.dtype, device=self.device)
        upper = torch.as_tensor(robot.upper, dtype=self.dtype, device=self.device)
        pts, centres = self._positions(q, gripper)
        cap = self.config.distance_cap
        dist = torch.minimum(self._world_distance(pts, centres, cap),
                             self._self_distance(pts, centres, cap))
        if np.isfinite(self.grid.outside):
            dist = torch.minimum(dist, self._grid_distance(pts))
        within = ((q >= lower - 1e-9) & (q <= upper + 1e-9)).all(dim=1)
        dist = torch.where(within, dist, torch.full_like(dist, -1.0))
        return CollisionResult(dist > 0, dist)

    def _world_distance(self, pts, centres, cap) -> torch.Tensor:
        b = pts.shape[0]
        obs = self.obstacles
        out = torch.full((b,), float(cap), dtype=self.dtype, device=self.device)
        if len(obs) == 0:
            return out
        # level 0: link bounding spheres against obstacle bounding spheres, shape (B, L, O)
        centres = centres[:, :self.n_links]
        gap = (centres[:, :, None] - obs.centre).norm(dim=-1) - obs.radius - \
            self.link_radius[:, None]
        candidate = (gap < cap) & self.world_link[None, :, None] & self._mask[None, None, :]
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

    def _grid_distance(self, pts: torch.Tensor) -> torch.Tensor:
        """Lower bound of the spheres' clearance to the point clouds, (B,)."""
        world = self.world_link[self.sphere_link_index]  # spheres of links checked vs world
        g = self.grid
        idx = torch.round((pts[:, world] - self._grid_origin) / g.spacing).long()
        dims = torch.tensor(g.values.shape, device=self.device)
        inside = ((idx >= 0) & (idx < dims)).all(dim=-1)
        idx = torch.minimum(idx.clamp(min=0), dims - 1)
        value = self._grid_values[idx[..., 0], idx[..., 1], idx[..., 2]] - g.slack
        value = torch.where(inside, value, torch.full_like(value, g.outside))
        return (value - self.radii[world]).amin(dim=1)

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
