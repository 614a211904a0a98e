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

Its speed comes from the shape of the work, not from more arithmetic: every level of
culling (links, then clusters of at most six spheres, then spheres) works on padded blocks
gathered with one ``index_select`` from point-major rows, coordinates are kept apart so
that the distance to a box or cylinder is element-wise, sphere pairs are one ``cdist``
per block pair, and self-collision pairs are culled by the configuration's clearance to
the world so far (a pair no nearer than that cannot change the smallest). On one CPU
core, at batch 1024 near obstacles, this went from 0.74 to 3.1-3.3 times the PyBullet
loop, and with ``compile=True`` to 4.7 (`tamp bench geometry`, docs/BENCHMARKS.md).
"""

from __future__ import annotations

import numpy as np
import torch

from tamp.geometry.linkage import pad_drop

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
        self.drop_index = torch.tensor(model.drop_q_index, dtype=torch.long, device=self.device)
        # a revolute joint's placement rotation times its rotation by angle a about its
        # axis u (Rodrigues) is cos(a) P (I - u u^T) + sin(a) P [u]x + P u u^T: three
        # matrices per joint, so that each joint costs two scalings and a sum
        rodrigues = []
        for j in range(len(model.parents)):
            u = np.asarray(model.axes[j], float)
            p_rot = np.asarray(model.placements[j])[:3, :3]
            cross = np.array([[0, -u[2], u[1]], [u[2], 0, -u[0]], [-u[1], u[0], 0]])
            outer = np.outer(u, u)
            rodrigues.append(np.stack([p_rot @ (np.eye(3) - outer), p_rot @ cross,
                                       p_rot @ outer]))
        self.rodrigues = torch.tensor(np.array(rodrigues), **t)  # (J, 3, 3, 3)

    def full_q(self, q_arm: torch.Tensor, gripper: torch.Tensor | float = 0.0) -> torch.Tensor:
        """(B, nq) configurations from (B, n_arm) arm positions and gripper value(s)."""
        b = q_arm.shape[0]
        q = torch.zeros(b, self.model.nq, dtype=self.dtype, device=self.device)
        q[:, self.arm_index] = q_arm.to(self.dtype)
        g = torch.as_tensor(gripper, dtype=self.dtype, device=self.device)
        q[:, self.gripper_index] = g.reshape(-1, 1) if g.ndim else g
        if len(self.drop_index):
            drop = pad_drop(g, *(float(v) for v in self.model.linkage))
            q[:, self.drop_index] = drop.reshape(-1, 1) if drop.ndim else drop
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
            parent = int(m.parents[j])
            if m.prismatic[j]:
                local_t = p_trans + value[:, None] * (p_rot @ self.axes[j])
                rots.append(rots[parent] @ p_rot)
                trans.append(trans[parent] + (rots[parent] @ local_t[:, :, None])[..., 0])
            else:
                cos_part, sin_part, fixed = self.rodrigues[j]
                local_rot = torch.cos(value)[:, None, None] * cos_part + \
                    torch.sin(value)[:, None, None] * sin_part + fixed
                rots.append(rots[parent] @ local_rot)
                trans.append(trans[parent] + rots[parent] @ p_trans)
        return torch.stack(rots, dim=1), torch.stack(trans, dim=1)

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


#: m: the radius given to padding in a block of spheres, so that it is never the nearest
_FAR = 1e6


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
        #: per obstacle: rotation (row by row), translation, half sizes, for :func:`_distance`
        self.params = torch.cat([self.rot.reshape(-1, 9), self.trans, self.half], dim=1)
        #: whether any obstacle is a box, and whether any is a cylinder
        self.kinds = (bool(np.any(arrays.is_box)), bool(not np.all(arrays.is_box)))

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




def _norm(x: torch.Tensor, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    return torch.sqrt(x * x + y * y + z * z)


def _distance(x: torch.Tensor, y: torch.Tensor, z: torch.Tensor, params: torch.Tensor,
              is_box: torch.Tensor, kinds: tuple[bool, bool] = (True, True)) -> torch.Tensor:
    """:func:`_primitive_distance` on coordinates apart: points ``x``, ``y``, ``z`` (same
    shape) to primitives of ``params`` (..., 15: rotation row by row, translation, half
    sizes) and ``is_box`` (...), which broadcast against the points; element-wise only.
    ``kinds``: whether any primitive is a box, and whether any is a cylinder (the other
    formula is skipped)."""
    r = params.unbind(-1)
    lx = r[0] * x + r[1] * y + r[2] * z + r[9]
    ly = r[3] * x + r[4] * y + r[5] * z + r[10]
    lz = r[6] * x + r[7] * y + r[8] * z + r[11]
    qz = lz.abs() - r[14]
    box = cylinder = None
    if kinds[0]:
        qx, qy = lx.abs() - r[12], ly.abs() - r[13]
        box = _norm(qx.clamp(min=0), qy.clamp(min=0), qz.clamp(min=0)) + \
            torch.maximum(torch.maximum(qx, qy), qz).clamp(max=0)
    if kinds[1]:
        radial = torch.sqrt(lx * lx + ly * ly) - r[12]  # a cylinder about local z
        cylinder = torch.sqrt(radial.clamp(min=0) ** 2 + qz.clamp(min=0) ** 2) + \
            torch.maximum(radial, qz).clamp(max=0)
    if box is None or cylinder is None:
        return cylinder if box is None else box
    return torch.where(is_box, box, cylinder)


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
                 device: str | torch.device = "cpu", dtype: torch.dtype = torch.float64,
                 compile: bool = False):
        m = self.model = model
        self.device, self.dtype = torch.device(device), dtype
        #: the three stages (forward kinematics, world, self) fused by ``torch.compile``
        #: between their data-dependent steps (``nonzero``), shapes dynamic: about a
        #: minute of compiling on the first call here, none after; worth it for large
        #: batches, not for a planner's few configurations at a time
        self.compiled = compile
        if compile:
            self._grouped = torch.compile(self._grouped, dynamic=True)
            self._world_distance = torch.compile(self._world_distance, dynamic=True)
            self._self_distance = torch.compile(self._self_distance, dynamic=True)
        self.fk = TorchKinematics(m, self.device, dtype)
        t = dict(dtype=dtype, device=self.device)
        i = dict(device=self.device)
        self.lower = torch.as_tensor(lower, **t)
        self.upper = torch.as_tensor(upper, **t)
        self.radii = torch.tensor(m.radii, **t)
        self.link_radius = torch.tensor(m.link_radius, **t)
        self.world_link = torch.tensor(m.world_link, **i)
        self.link_count = torch.tensor(m.link_count, **i)
        self.link_first = torch.tensor(m.link_first, **i)
        self.arm_spheres = torch.tensor(np.nonzero(m.sphere_joint < m.arm_joint_limit)[0], **i)
        self.tcp_local = torch.as_tensor(m.tcp_local, **t)
        self.n_links = len(m.link_radius)
        #: the world links' sphere ranges, for the grid read link by link as the kernel does
        self._grid_links = [(l, slice(int(m.link_first[l]),
                                      int(m.link_first[l] + m.link_count[l])))
                            for l in range(self.n_links) if m.world_link[l]]
        # all points carried by one joint (spheres, link centres, cluster centres) are
        # moved in one matmul, which leaves them grouped by joint: the tests below index
        # them where they are (``_at``: a point's column among the grouped ones), and
        # :meth:`positions` puts them back in order (``_unpermute``)
        local = np.concatenate([m.sphere_local, m.link_local, m.cluster_local])
        joint = np.concatenate([m.sphere_joint, m.link_joint, m.cluster_joint])
        self._groups, order = [], []
        for j in np.unique(joint):
            idx = np.nonzero(joint == j)[0]
            order.append(idx)
            self._groups.append((int(j), torch.tensor(local[idx].T.copy(), **t)))
        at = np.argsort(np.concatenate(order))
        self._unpermute = torch.tensor(at, **i)
        n, links = len(m.radii), self.n_links
        link_at, cluster_at = at[n:n + links], at[n + links:]
        self._link_at = torch.tensor(link_at, **i)
        # the exact tests run on fixed-size blocks: a cluster's spheres (padded to
        # CLUSTER_SIZE) and a link's clusters (padded to the most a link has); padding
        # repeats a member with a radius so negative that it is never the nearest
        pad, members = m.cluster_members < 0, np.maximum(m.cluster_members, 0)
        self._cluster_spheres_at = torch.tensor(at[members], **i)  # (C, CLUSTER_SIZE)
        radii = np.where(pad, -_FAR, m.radii[members])
        self._cluster_spheres_radii = torch.tensor(radii, **t)
        sphere_link = np.repeat(np.arange(links), m.link_count)
        cluster_link = sphere_link[members[:, 0]]
        most = int(np.bincount(cluster_link, minlength=links).max())
        link_clusters = np.zeros((links, most), int)
        link_pad = np.ones((links, most), bool)
        for l in range(links):
            mine = np.flatnonzero(cluster_link == l)
            link_clusters[l, :len(mine)], link_pad[l, :len(mine)] = mine, False
            link_clusters[l, len(mine):] = mine[0]
        self._link_clusters = torch.tensor(link_clusters, **i)  # (L, most)
        self._link_clusters_at = torch.tensor(cluster_at[link_clusters], **i)
        self._link_clusters_radii = torch.tensor(
            np.where(link_pad, -_FAR, m.cluster_radius[link_clusters]), **t)
        # self-collision: each allowed cluster pair's two centres and its sphere pairs
        self._cluster_at = torch.tensor(cluster_at, **i)
        # the pairs' centre differences as one product: +1 at the first cluster, -1 at
        # the second (P, C)
        difference = np.zeros((len(m.pair_a), len(cluster_at)))
        difference[np.arange(len(m.pair_a)), m.pair_a] += 1.0
        difference[np.arange(len(m.pair_a)), m.pair_b] -= 1.0
        self._pair_difference = torch.tensor(difference, **t)
        self._pair_spheres_at = (self._cluster_spheres_at[m.pair_a],
                                 self._cluster_spheres_at[m.pair_b])  # (P, CLUSTER_SIZE)
        self._pair_radii = torch.tensor(radii[m.pair_a][:, :, None] +
                                        radii[m.pair_b][:, None, :], **t)  # (P, CS, CS)
        self._pair_cluster_radii = torch.tensor(
            m.cluster_radius[m.pair_a] + m.cluster_radius[m.pair_b], **t)

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
        grouped, rot, trans = self._grouped(q)
        points = grouped.index_select(2, self._unpermute).transpose(1, 2)
        n = len(self.radii)
        return points[:, :n], points[:, n:], rot, trans

    def _grouped(self, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Every sphere, link and cluster centre as coordinates (B, 3, S + L + C), grouped
        by joint (see ``_at``), and the joint frames."""
        rot, trans = self.fk.joint_frames(q)
        # all points carried by one joint in one (B * 3, 3) @ (3, n) product
        b = q.shape[0]
        parts = [(rot[:, j].reshape(-1, 3) @ local).view(b, 3, -1) + trans[:, j, :, None]
                 for j, local in self._groups]
        return torch.cat(parts, dim=2), rot, trans

    def clearances(self, q: torch.Tensor, cap: float, mask: torch.Tensor, grid: _Grid,
                   load: tuple[torch.Tensor, torch.Tensor] | None = None,
                   load_mask: torch.Tensor | None = None,
                   self_collision: bool = True) -> torch.Tensor:
        """Clearance (m) of each full configuration ``q`` (B, nq), shape (B,): the smallest
        of the robot's to the unmasked obstacles, to the grid, to itself (unless not
        ``self_collision``) and of ``load`` to the obstacles of ``load_mask``, the grid and
        the arm; exact below ``cap`` (m), ``cap`` above; -1 outside the joint limits."""
        grouped, rot, trans = self._grouped(q)
        # every point of every configuration two ways: coordinates (3, S + L + C, B), and
        # rows (x, y, z) in point-major order (row = point * B + configuration)
        columns = grouped.permute(1, 2, 0).contiguous()
        rows = grouped.permute(2, 0, 1).reshape(-1, 3)
        dist = self._world_distance(columns, rows, cap, mask)
        if grid.active or (load is not None and len(load[1])):  # these read them in order
            n = len(self.radii)
            points = grouped.index_select(2, self._unpermute).transpose(1, 2)
            pts, centres = points[:, :n], points[:, n:]
        if grid.active:  # before the self test, as the kernel (its culling reads ``dist``)
            dist = self._grid_distance(pts, centres, dist, grid)
        if self_collision:  # only pairs that could come nearer than the rest does
            dist = torch.minimum(dist, self._self_distance(columns, rows, dist))
        if load is not None and len(load[1]):
            dist = torch.minimum(dist, self._load_distance(pts, rot, trans, load, load_mask,
                                                           grid))
        arm = q[:, self.fk.arm_index]
        within = ((arm >= self.lower - 1e-9) & (arm <= self.upper + 1e-9)).all(dim=1)
        return torch.where(within, dist, torch.full_like(dist, -1.0))

    def _world_distance(self, columns, rows, cap, mask) -> torch.Tensor:
        """Smallest clearance (B,) of the robot's spheres to the unmasked obstacles, in
        four levels: link bounding spheres against obstacle bounding spheres, then against
        the exact primitives, then the link's cluster bounding spheres, then the spheres of
        the clusters that survive; each level on the (link or cluster, obstacle,
        configuration) triples that the one before kept."""
        b = columns.shape[2]
        obs = self.obstacles
        out = torch.full((b,), float(cap), dtype=self.dtype, device=self.device)
        if obs is None or len(obs) == 0:
            return out
        # level 0: (L, O, B)
        c = columns.index_select(1, self._link_at)[:, :, None]  # (3, L, 1, B)
        gap = _norm(c[0] - obs.centre[:, 0, None], c[1] - obs.centre[:, 1, None],
                    c[2] - obs.centre[:, 2, None]) - obs.radius[:, None] - \
            self.link_radius[:, None, None]
        candidate = (gap < cap) & (self.world_link[:, None] & mask[None, :])[..., None]
        li, oi, bi = candidate.nonzero(as_tuple=True)
        # level 1: link bounding spheres against the exact primitives
        x, y, z = rows.index_select(0, self._link_at.index_select(0, li) * b + bi).unbind(-1)
        d = _distance(x, y, z, obs.params.index_select(0, oi),
                      obs.kind_is_box.index_select(0, oi), obs.kinds) - \
            self.link_radius.index_select(0, li)
        keep = (d < cap).nonzero()[:, 0]
        li, oi, bi = li.index_select(0, keep), oi.index_select(0, keep), bi.index_select(0, keep)
        # level 2: the link's clusters (a block per triple, padded)
        at = self._link_clusters_at.index_select(0, li) * b + bi[:, None]  # (K, most)
        x, y, z = rows.index_select(0, at.reshape(-1)).reshape(*at.shape, 3).unbind(-1)
        d = _distance(x, y, z, obs.params.index_select(0, oi)[:, None],
                      obs.kind_is_box.index_select(0, oi)[:, None], obs.kinds) - \
            self._link_clusters_radii.index_select(0, li)
        k, col = (d < cap).nonzero(as_tuple=True)
        bi, oi = bi.index_select(0, k), oi.index_select(0, k)
        ci = self._link_clusters.index_select(0, li.index_select(0, k)).gather(
            1, col[:, None])[:, 0]
        # level 3: the spheres of each surviving cluster (a block of CLUSTER_SIZE)
        at = self._cluster_spheres_at.index_select(0, ci) * b + bi[:, None]
        x, y, z = rows.index_select(0, at.reshape(-1)).reshape(*at.shape, 3).unbind(-1)
        d = _distance(x, y, z, obs.params.index_select(0, oi)[:, None],
                      obs.kind_is_box.index_select(0, oi)[:, None], obs.kinds) - \
            self._cluster_spheres_radii.index_select(0, ci)
        return out.scatter_reduce(0, bi, d.amin(dim=1), reduce="amin")

    def _grid_distance(self, pts, centres, best, grid: _Grid) -> torch.Tensor:
        """``best`` (B,) lowered by the spheres' grid clearances, read as the kernel reads
        them: a link's spheres only where its bounding sphere's reading is below the best
        so far (the grid's readings are bounds, so this culling can change a value)."""
        for l, spheres in self._grid_links:
            near = grid.clearance(centres[:, l]) - self.link_radius[l] < best
            d = (grid.clearance(pts[:, spheres]) - self.radii[spheres]).amin(dim=1)
            best = torch.where(near, torch.minimum(best, d), best)
        return best

    def _self_distance(self, columns, rows, bound: torch.Tensor) -> torch.Tensor:
        """Smallest clearance (B,) between the robot's own spheres where it is below
        ``bound`` (B,), else ``bound``: cluster pairs by their bounding spheres, then
        every sphere pair of those nearer than the bound (two blocks of CLUSTER_SIZE
        spheres each). (A pair no nearer than the clearance to the world cannot change
        the smallest: the configuration's clearance is exact however far it culls.)"""
        out, b = bound.clone(), columns.shape[2]
        if len(self._pair_cluster_radii) == 0:
            return out
        # centre differences (3, P, B): (P, C) @ the cluster centres (3, C, B)
        diff = self._pair_difference @ columns.index_select(1, self._cluster_at)
        gap = _norm(*diff.unbind(0)) - self._pair_cluster_radii[:, None]
        pi, bi = (gap < bound).nonzero(as_tuple=True)
        size = self._pair_radii.shape[1]
        a = rows.index_select(0, (self._pair_spheres_at[0].index_select(0, pi) * b
                                  + bi[:, None]).reshape(-1)).reshape(-1, size, 3)
        z = rows.index_select(0, (self._pair_spheres_at[1].index_select(0, pi) * b
                                  + bi[:, None]).reshape(-1)).reshape(-1, size, 3)
        d = torch.cdist(a, z) - self._pair_radii.index_select(0, pi)
        return out.scatter_reduce(0, bi, d.amin(dim=(1, 2)), reduce="amin")

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
