"""Compiled (numba) CPU kernel for the sphere-model collision check.

The same test as the torch path in :mod:`tamp.geometry.batch` (link -> cluster -> sphere
culling, exact clearances below a cap), one configuration at a time, with an optional
early exit at the first collision. On a CPU it is the fastest path at every batch size:
torch's per-operation overhead dominates the small tensors of this problem.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def _primitive_distance(px, py, pz, rot, trans, half, is_box) -> float:
    lx = rot[0, 0] * px + rot[0, 1] * py + rot[0, 2] * pz + trans[0]
    ly = rot[1, 0] * px + rot[1, 1] * py + rot[1, 2] * pz + trans[1]
    lz = rot[2, 0] * px + rot[2, 1] * py + rot[2, 2] * pz + trans[2]
    if is_box:
        qx, qy, qz = abs(lx) - half[0], abs(ly) - half[1], abs(lz) - half[2]
        ox, oy, oz = max(qx, 0.0), max(qy, 0.0), max(qz, 0.0)
        return np.sqrt(ox * ox + oy * oy + oz * oz) + min(max(qx, max(qy, qz)), 0.0)
    dr = np.sqrt(lx * lx + ly * ly) - half[0]
    dz = abs(lz) - half[2]
    ox, oz = max(dr, 0.0), max(dz, 0.0)
    return np.sqrt(ox * ox + oz * oz) + min(max(dr, dz), 0.0)


@njit(cache=True, inline="always")
def _apply(rot, trans, j, p, out, k):
    """out[k] = rot[j] @ p + trans[j] (written out: numba's @ on 3x3 calls BLAS)."""
    for r in range(3):
        out[k, r] = rot[j, r, 0] * p[0] + rot[j, r, 1] * p[1] + rot[j, r, 2] * p[2] + trans[j, r]


@njit(cache=True)
def _joint_frames(q, parents, placements, axes, prismatic, q_index, rots, trans):
    """World rotation (J, 3, 3) and translation (J, 3) of every joint; joint 0 = base."""
    for r in range(3):
        trans[0, r] = 0.0
        for c in range(3):
            rots[0, r, c] = 1.0 if r == c else 0.0
    local = np.empty((3, 3))
    rod = np.empty((3, 3))
    tl = np.empty(3)
    for j in range(1, parents.shape[0]):
        v = q[q_index[j]]
        par = parents[j]
        if prismatic[j]:
            for r in range(3):
                tl[r] = placements[j, r, 3] + v * (placements[j, r, 0] * axes[j, 0]
                                                   + placements[j, r, 1] * axes[j, 1]
                                                   + placements[j, r, 2] * axes[j, 2])
                for c in range(3):
                    local[r, c] = placements[j, r, c]
        else:
            x, y, z = axes[j, 0], axes[j, 1], axes[j, 2]
            s, c_ = np.sin(v), np.cos(v)
            w = 1.0 - c_
            rod[0, 0], rod[0, 1], rod[0, 2] = c_ + x * x * w, x * y * w - z * s, x * z * w + y * s
            rod[1, 0], rod[1, 1], rod[1, 2] = y * x * w + z * s, c_ + y * y * w, y * z * w - x * s
            rod[2, 0], rod[2, 1], rod[2, 2] = z * x * w - y * s, z * y * w + x * s, c_ + z * z * w
            for r in range(3):
                tl[r] = placements[j, r, 3]
                for c in range(3):
                    local[r, c] = (placements[j, r, 0] * rod[0, c] + placements[j, r, 1] * rod[1, c]
                                   + placements[j, r, 2] * rod[2, c])
        for r in range(3):
            trans[j, r] = (rots[par, r, 0] * tl[0] + rots[par, r, 1] * tl[1]
                           + rots[par, r, 2] * tl[2] + trans[par, r])
            for c in range(3):
                rots[j, r, c] = (rots[par, r, 0] * local[0, c] + rots[par, r, 1] * local[1, c]
                                 + rots[par, r, 2] * local[2, c])


@njit(cache=True, inline="always")
def _grid_clearance(px, py, pz, values, origin, spacing, slack, outside):
    """Lower bound of a point's clearance to the point cloud behind a distance grid."""
    i = int(np.floor((px - origin[0]) / spacing + 0.5))
    j = int(np.floor((py - origin[1]) / spacing + 0.5))
    k = int(np.floor((pz - origin[2]) / spacing + 0.5))
    if i < 0 or j < 0 or k < 0 or i >= values.shape[0] or j >= values.shape[1] \
            or k >= values.shape[2]:
        return outside
    return values[i, j, k] - slack


@njit(cache=True)
def check_batch(qs, lower, upper, parents, placements, axes, prismatic, q_index,
                sphere_joint, sphere_local, radii,
                link_joint, link_local, link_radius, link_first, link_count, world_link,
                obs_rot, obs_trans, obs_half, obs_box, obs_centre, obs_radius, obs_mask,
                cl_joint, cl_local, cl_radius, pair_a, pair_b, pair_first, pair_count,
                pair_sa, pair_sb, load_local, load_radius, load_mask, tcp_joint, tcp_local,
                arm_joint_limit, grid_values, grid_origin, grid_spacing, grid_slack,
                grid_outside, cap, early_exit, stop_batch):
    """Clearance (m) of each configuration in ``qs`` (B, nq); capped at ``cap``.

    ``early_exit``: stop a configuration's test at its first collision (its clearance is
    then only known to be negative). ``stop_batch``: stop the whole batch at the first
    colliding configuration (the rest stay NaN), for edge checks.
    """
    b = qs.shape[0]
    out = np.full(b, np.nan)
    nj = parents.shape[0]
    rots = np.empty((nj, 3, 3))
    trans = np.empty((nj, 3))
    pts = np.empty((sphere_local.shape[0], 3))
    links = np.empty((link_local.shape[0], 3))
    cls = np.empty((cl_local.shape[0], 3))
    n_arm = lower.shape[0]
    for k in range(b):
        q = qs[k]
        best = cap
        for i in range(n_arm):
            v = q[q_index[i + 1]]
            if v < lower[i] - 1e-9 or v > upper[i] + 1e-9:
                best = -1.0
        if best < 0.0:
            out[k] = best
            if stop_batch:
                return out
            continue
        _joint_frames(q, parents, placements, axes, prismatic, q_index, rots, trans)
        for s in range(pts.shape[0]):
            _apply(rots, trans, sphere_joint[s], sphere_local[s], pts, s)
        for l in range(links.shape[0]):
            _apply(rots, trans, link_joint[l], link_local[l], links, l)
        for c in range(cls.shape[0]):
            _apply(rots, trans, cl_joint[c], cl_local[c], cls, c)
        done = False
        # world: link bounding sphere -> obstacle bounding sphere -> primitive -> spheres
        for l in range(links.shape[0]):
            if done or not world_link[l]:
                continue
            for o in range(obs_rot.shape[0]):
                if not obs_mask[o]:
                    continue
                dx = links[l, 0] - obs_centre[o, 0]
                dy = links[l, 1] - obs_centre[o, 1]
                dz = links[l, 2] - obs_centre[o, 2]
                if np.sqrt(dx * dx + dy * dy + dz * dz) - obs_radius[o] - link_radius[l] >= best:
                    continue
                if _primitive_distance(links[l, 0], links[l, 1], links[l, 2], obs_rot[o],
                                       obs_trans[o], obs_half[o], obs_box[o]) \
                        - link_radius[l] >= best:
                    continue
                for s in range(link_first[l], link_first[l] + link_count[l]):
                    d = _primitive_distance(pts[s, 0], pts[s, 1], pts[s, 2], obs_rot[o],
                                            obs_trans[o], obs_half[o], obs_box[o]) - radii[s]
                    if d < best:
                        best = d
                if early_exit and best < 0.0:
                    done = True
                    break
        # point clouds: link bounding sphere, then its spheres, against the distance grid
        if not done and grid_outside < 1e300:
            for l in range(links.shape[0]):
                if not world_link[l]:
                    continue
                if _grid_clearance(links[l, 0], links[l, 1], links[l, 2], grid_values,
                                   grid_origin, grid_spacing, grid_slack, grid_outside) \
                        - link_radius[l] >= best:
                    continue
                for s in range(link_first[l], link_first[l] + link_count[l]):
                    d = _grid_clearance(pts[s, 0], pts[s, 1], pts[s, 2], grid_values,
                                        grid_origin, grid_spacing, grid_slack,
                                        grid_outside) - radii[s]
                    if d < best:
                        best = d
                if early_exit and best < 0.0:
                    done = True
                    break
        # self: cluster pairs -> sphere pairs
        if not done:
            for p in range(pair_a.shape[0]):
                a, c = pair_a[p], pair_b[p]
                dx = cls[a, 0] - cls[c, 0]
                dy = cls[a, 1] - cls[c, 1]
                dz = cls[a, 2] - cls[c, 2]
                if np.sqrt(dx * dx + dy * dy + dz * dz) - cl_radius[a] - cl_radius[c] >= best:
                    continue
                for i in range(pair_first[p], pair_first[p] + pair_count[p]):
                    sa, sb = pair_sa[i], pair_sb[i]
                    dx = pts[sa, 0] - pts[sb, 0]
                    dy = pts[sa, 1] - pts[sb, 1]
                    dz = pts[sa, 2] - pts[sb, 2]
                    d = np.sqrt(dx * dx + dy * dy + dz * dz) - radii[sa] - radii[sb]
                    if d < best:
                        best = d
                if early_exit and best < 0.0:
                    done = True
                    break
        # a carried load: its spheres (in the TCP frame) against the world
        if not done and load_local.shape[0] > 0:
            # the TCP frame, then each load sphere in the world
            tcp_rot = np.empty((1, 3, 3))
            tcp_trans = np.empty((1, 3))
            for r in range(3):
                tcp_trans[0, r] = trans[tcp_joint, r]
                for c in range(3):
                    tcp_rot[0, r, c] = (rots[tcp_joint, r, 0] * tcp_local[0, c]
                                        + rots[tcp_joint, r, 1] * tcp_local[1, c]
                                        + rots[tcp_joint, r, 2] * tcp_local[2, c])
                tcp_trans[0, r] += (rots[tcp_joint, r, 0] * tcp_local[0, 3]
                                    + rots[tcp_joint, r, 1] * tcp_local[1, 3]
                                    + rots[tcp_joint, r, 2] * tcp_local[2, 3])
            pl = np.empty((1, 3))
            for s in range(load_local.shape[0]):
                _apply(tcp_rot, tcp_trans, 0, load_local[s], pl, 0)
                p = pl[0]
                for o in range(obs_rot.shape[0]):
                    if not load_mask[o]:
                        continue
                    dx = p[0] - obs_centre[o, 0]
                    dy = p[1] - obs_centre[o, 1]
                    dz = p[2] - obs_centre[o, 2]
                    if np.sqrt(dx * dx + dy * dy + dz * dz) - obs_radius[o] \
                            - load_radius[s] >= best:
                        continue
                    d = _primitive_distance(p[0], p[1], p[2], obs_rot[o], obs_trans[o],
                                            obs_half[o], obs_box[o]) - load_radius[s]
                    if d < best:
                        best = d
                if grid_outside < 1e300:
                    d = _grid_clearance(p[0], p[1], p[2], grid_values, grid_origin,
                                        grid_spacing, grid_slack, grid_outside) - load_radius[s]
                    if d < best:
                        best = d
                # the load against the arm (not the gripper holding it)
                for a in range(pts.shape[0]):
                    if sphere_joint[a] >= arm_joint_limit:
                        continue
                    dx = p[0] - pts[a, 0]
                    dy = p[1] - pts[a, 1]
                    dz = p[2] - pts[a, 2]
                    d = np.sqrt(dx * dx + dy * dy + dz * dz) - load_radius[s] - radii[a]
                    if d < best:
                        best = d
                if early_exit and best < 0.0:
                    break
        out[k] = best
        if stop_batch and best < 0.0:
            return out
    return out


@njit(cache=True)
def tcp_rotations(qs, parents, placements, axes, prismatic, q_index, tcp_joint, tcp_local):
    """World rotation (B, 3, 3) of the TCP at each full configuration of ``qs`` (B, nq)."""
    nj = parents.shape[0]
    rots = np.empty((nj, 3, 3))
    trans = np.empty((nj, 3))
    out = np.empty((qs.shape[0], 3, 3))
    for k in range(qs.shape[0]):
        _joint_frames(qs[k], parents, placements, axes, prismatic, q_index, rots, trans)
        for r in range(3):
            for c in range(3):
                out[k, r, c] = (rots[tcp_joint, r, 0] * tcp_local[0, c]
                                + rots[tcp_joint, r, 1] * tcp_local[1, c]
                                + rots[tcp_joint, r, 2] * tcp_local[2, c])
    return out
