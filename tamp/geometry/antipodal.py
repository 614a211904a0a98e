"""Antipodal grasps for a parallel gripper from an object's point cloud.

Normals come from open3d (or from the caller); pairs of points whose normals both lie
inside the friction cone of the line joining them become candidates; candidates are
turned into TCP poses (approach as close to straight down as the pair allows, plus tilted
variants), filtered in one batch for the stroke and for collisions of the open gripper
with the world, and ranked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from tamp.geometry.grasps import Grasp, GraspCandidates
from tamp.geometry.shapes import primitives
from tamp.geometry.transforms import invert
from tamp.robot import RobotSpec
from tamp.world import Shape


@dataclass(frozen=True)
class AntipodalConfig:
    n_samples: int = 400  #: first contact points drawn per query
    friction: float = 0.5  #: Coulomb coefficient: friction cone half-angle atan(mu)
    line_tolerance: float = 0.003  #: m: how close a point must be to the grasp line
    voxel: float = 0.004  #: m, down-sampling before the search
    normal_radius: float = 0.007  #: m, neighbourhood for normal estimation
    min_width: float = 0.004  #: m, thinner pairs are noise
    width_margin: float = 0.01  #: m kept between object width and the stroke
    tilts: tuple[float, ...] = (0.0, 0.35, -0.35)  #: rad of approach tilt from vertical
    max_candidates: int = 64
    #: m the fingertips keep above the lowest point of the object (its support)
    fingertip_clearance: float = 0.012
    #: contacts only where the surface is this flat (see ``surface_variation``)
    max_surface_variation: float = 0.02
    #: m a finger reaches beyond its pad along the closing axis (a 2F-85 finger is about
    #: 14 mm thick): on a sloped closing axis the outer finger reaches below the TCP
    finger_thickness: float = 0.014
    #: m opened beyond the object's width for the approach
    open_margin: float = 0.02


def _primitive_areas(prims) -> np.ndarray:
    areas = []
    for p in prims:
        hx, hy, hz = p.half
        areas.append(8 * (hx * hy + hy * hz + hx * hz) if p.kind == "box"
                     else 2 * math.pi * hx * (hx + 2 * hz))
    return np.array(areas)


def surface_points(shape: Shape, pose: np.ndarray, n: int, rng: np.random.Generator,
                   max_spacing: float | None = 0.003) -> tuple[np.ndarray, np.ndarray]:
    """Points (k, 3) and outward normals (k, 3) sampled on a shape's surface (world).

    ``n`` points are drawn, or more on a large shape: enough for one per ``max_spacing``
    squared of its pieces' area (a bowl's 8 mm walls need a few mm between points for
    their two faces to get separate normals). Faces hidden inside a neighbouring piece
    are dropped, so ``k`` is at most that count. Stands in for a camera's view of the
    object in tests and benchmarks.
    """
    pts, nrm = [], []
    prims = primitives(shape)
    areas = _primitive_areas(prims)
    if max_spacing is not None:
        n = max(int(n), int(math.ceil(areas.sum() / max_spacing ** 2)))
    counts = rng.multinomial(n, areas / areas.sum())
    for p, k in zip(prims, counts):
        hx, hy, hz = p.half
        if p.kind == "box":
            face = rng.integers(0, 6, k)
            axis, sign = face // 2, np.where(face % 2 == 0, 1.0, -1.0)
            local = rng.uniform(-1, 1, (k, 3)) * (hx, hy, hz)
            local[np.arange(k), axis] = sign * np.array((hx, hy, hz))[axis]
            normal = np.zeros((k, 3))
            normal[np.arange(k), axis] = sign
        else:
            side = rng.uniform(0, 1, k) < hz / (hx / 2 + hz)
            a = rng.uniform(0, 2 * math.pi, k)
            r = np.where(side, hx, hx * np.sqrt(rng.uniform(0, 1, k)))
            z = np.where(side, rng.uniform(-hz, hz, k), np.where(rng.uniform(0, 1, k) < 0.5,
                                                                  hz, -hz))
            local = np.column_stack([r * np.cos(a), r * np.sin(a), z])
            normal = np.where(side[:, None], np.column_stack([np.cos(a), np.sin(a), 0 * a]),
                              np.column_stack([0 * a, 0 * a, np.sign(z)]))
        # keep only the outer surface: faces buried in a neighbouring piece of the same
        # shape (where a bowl's plates overlap) are not visible and not graspable
        inside = np.zeros(len(local), bool)
        for other in prims:
            if other is p:
                continue
            rel = np.linalg.inv(other.local) @ p.local
            in_other = local @ rel[:3, :3].T + rel[:3, 3]
            inside |= _np_primitive_distance(in_other, np.asarray(other.half),
                                             other.kind == "box") < -1e-4
        t = pose @ p.local
        pts.append(local[~inside] @ t[:3, :3].T + t[:3, 3])
        nrm.append(normal[~inside] @ t[:3, :3].T)
    return np.concatenate(pts), np.concatenate(nrm)


def estimate_normals(points: np.ndarray, radius: float) -> np.ndarray:
    """Unit normals (unsigned) of a point cloud with open3d."""
    import open3d as o3d

    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points))
    cloud.estimate_normals(o3d.geometry.KDTreeSearchParamHybrid(radius=radius, max_nn=30))
    return np.asarray(cloud.normals)


def median_spacing(points: np.ndarray) -> float:
    """Median distance from a point to its nearest neighbour, m."""
    from scipy.spatial import cKDTree

    d, _ = cKDTree(points).query(points, k=2)
    return float(np.median(d[:, 1]))


def surface_variation(points: np.ndarray, radius: float) -> np.ndarray:
    """Per point, the smallest eigenvalue of the neighbourhood covariance over their sum:
    about 0 on a flat patch, up to 1/3 at an edge or corner, where a normal means little."""
    from scipy.spatial import cKDTree

    points = np.asarray(points, float)
    tree = cKDTree(points)
    # every neighbour within the radius, as one padded batch (missing ones masked)
    k = int(tree.query_ball_point(points, radius, return_length=True).max())
    dist, idx = tree.query(points, k=max(1, min(k, len(points))), distance_upper_bound=radius)
    dist, idx = dist.reshape(len(points), -1), idx.reshape(len(points), -1)
    mask = np.isfinite(dist)
    count = mask.sum(axis=1)
    nb = points[np.where(mask, idx, 0)] * mask[..., None]  # (N, k, 3)
    mean = nb.sum(axis=1) / np.maximum(count, 1)[:, None]
    centred = (nb - mean[:, None]) * mask[..., None]
    cov = np.einsum("nki,nkj->nij", centred, centred) / np.maximum(count - 1, 1)[:, None, None]
    ev = np.linalg.eigvalsh(cov)
    out = ev[:, 0] / np.maximum(ev.sum(axis=1), 1e-18)
    out[count < 4] = 1.0 / 3.0
    return np.clip(out, 0.0, 1.0 / 3.0)


def _downsample(points: np.ndarray, normals: np.ndarray, voxel: float):
    keys = np.floor(points / voxel).astype(np.int64)
    _, first = np.unique(keys, axis=0, return_index=True)
    first.sort()
    return points[first], normals[first]


def antipodal_grasps(obj_name: str, points: np.ndarray, robot: RobotSpec,
                     rng: np.random.Generator, obj_pose: np.ndarray | None = None,
                     normals: np.ndarray | None = None,
                     config: AntipodalConfig = AntipodalConfig(),
                     device: str | torch.device = "cpu") -> GraspCandidates:
    """Ranked antipodal grasps on ``points`` (N, 3, world frame).

    ``obj_pose`` is the frame the returned grasps are expressed in (default: a frame at
    the cloud's centroid aligned with the world). The pair search runs as one batch on
    ``device``.
    """
    device = torch.device(device)
    points = np.asarray(points, float)
    if len(points) < 10:
        return GraspCandidates([], f"too few points ({len(points)}) on {obj_name}")
    if normals is None:
        # about ten neighbours within the normal radius: the median gap between nearest
        # neighbours of evenly spread points is then 0.28 of that radius
        spacing = median_spacing(points)
        if spacing > 0.3 * config.normal_radius:
            return GraspCandidates([], f"the points on {obj_name} are too sparse for normals "
                                       f"({spacing * 1000:.1f} mm between neighbours, at "
                                       f"most {config.normal_radius * 300:.1f} mm needed)")
        normals = estimate_normals(points, config.normal_radius)
    pts_np, nrm_np = _downsample(points, np.asarray(normals, float), config.voxel)
    # contacts on edges and corners are unreliable (their normals are a blur of two
    # faces): a diagonal pair across a block's corners would pass the cone test
    flat = surface_variation(pts_np, config.normal_radius) < config.max_surface_variation
    if flat.sum() < 10:
        return GraspCandidates([], f"too few flat surface points on {obj_name}")
    pts_np, nrm_np = pts_np[flat], nrm_np[flat]
    pts = torch.as_tensor(pts_np, dtype=torch.float32, device=device)
    nrm = torch.nn.functional.normalize(torch.as_tensor(nrm_np, dtype=torch.float32,
                                                        device=device), dim=-1)
    g = robot.gripper
    max_width = g.stroke - config.width_margin
    cos_cone = math.cos(math.atan(config.friction))
    pick = torch.as_tensor(rng.choice(len(pts), min(config.n_samples, len(pts)),
                                      replace=False), device=device)
    p1, n1 = pts[pick], nrm[pick]  # (S, 3)
    # every point's offset from each sampled contact, along and across its normal line
    rel = pts[None] - p1[:, None]  # (S, N, 3)
    along = (rel * n1[:, None]).sum(-1)  # (S, N), signed
    across = (rel - along[..., None] * n1[:, None]).norm(dim=-1)
    on_line = (across < config.line_tolerance) & (along.abs() > config.min_width) & \
        (along.abs() < max_width)
    # the opposite contact: of the points on the line whose normal is also in the cone,
    # the one closest to the line for its distance (across a thin wall, a farther point
    # on the line is one on an oblique cut through it, not across it)
    cos2 = (nrm[None] * n1[:, None]).sum(-1).abs()
    ok = on_line & (cos2 >= cos_cone)
    score = torch.where(ok, -across / along.abs().clamp_min(1e-9),
                        torch.full_like(along, -math.inf))
    best, j = score.max(dim=1)
    keep = torch.isfinite(best)
    if not bool(keep.any()):
        return GraspCandidates([], f"no antipodal pair on {obj_name} fits the "
                                   f"{g.stroke * 1000:.0f} mm stroke")
    a, b = p1[keep], pts[j[keep]]
    na, nb = n1[keep], nrm[j[keep]]
    normals_ab = torch.stack([na, nb], dim=1)  # (K, 2, 3)
    # closing axis: the contacts' mean normal line (the points' offset is only known to
    # within the line tolerance, much of a wall's thickness), pointing from a to b
    axis = torch.nn.functional.normalize(na + torch.sign((na * nb).sum(-1, keepdim=True)) * nb,
                                         dim=-1)
    axis = torch.where(((b - a) * axis).sum(-1, keepdim=True) < 0, -axis, axis)
    width = ((b - a) * axis).sum(-1)
    wide = width > config.min_width
    a, b, axis, width, normals_ab = a[wide], b[wide], axis[wide], width[wide], normals_ab[wide]
    centre = (a + b) / 2
    grasps = _poses(axis.cpu().numpy().astype(float), centre.cpu().numpy().astype(float),
                    width.cpu().numpy().astype(float), config, robot,
                    support_z=float(points[:, 2].min()),
                    contact_normals=normals_ab.cpu().numpy().astype(float))
    if not grasps:
        return GraspCandidates([], f"no antipodal pair on {obj_name} allows an approach from "
                                   "above with the fingertips clear of its support")
    frame = obj_pose if obj_pose is not None else _centroid_frame(points)
    inv = invert(frame)
    centroid = points.mean(axis=0)
    support, top = float(points[:, 2].min()), float(points[:, 2].max())
    # the TCP height at which the pads cover the most of the object: the upper pad edge
    # at the top, unless that puts the fingertips too low
    ideal_z = max(support + config.fingertip_clearance + robot.tcp_to_fingertip,
                  top - g.pad_size[1] / 2)
    ranked = sorted(grasps, key=lambda gr: _rank(gr, centroid, ideal_z, g))
    out = [Grasp(obj_name, inv @ t, w, min(w + config.open_margin, g.stroke))
           for t, w, _ in ranked[:config.max_candidates]]
    return GraspCandidates(out)


def _centroid_frame(points: np.ndarray) -> np.ndarray:
    t = np.eye(4)
    t[:3, 3] = points.mean(axis=0)
    return t


def _poses(axis, centre, width, config: AntipodalConfig, robot: RobotSpec,
           support_z: float, contact_normals: np.ndarray):
    """TCP poses (world) for each contact pair: closing axis = pair axis, approach as
    vertical as possible, then tilted about the closing axis.

    The fingers must stay ``fingertip_clearance`` above the support. What reaches lowest
    is a corner of a fingertip: ``tcp_to_fingertip`` along the approach, the open half
    width plus the finger's thickness along the closing axis (which slopes when the pair
    does, as across a bowl's sloped wall) and half a pad across. A TCP whose fingers
    would reach lower is raised along the approach axis, as long as the contacts stay on
    the pads and the surfaces run along the approach (so that the pads still touch them
    higher up)."""
    out = []
    g = robot.gripper
    pad_half = g.pad_size[1] / 2
    down = np.array([0.0, 0.0, -1.0])
    for y, c, w, normals in zip(axis, centre, width, contact_normals):
        z = down - (down @ y) * y
        if np.linalg.norm(z) < 0.3:  # pair nearly vertical: no top approach
            continue
        z /= np.linalg.norm(z)
        side = min(w + config.open_margin, g.stroke) / 2 + config.finger_thickness
        for tilt in config.tilts:
            zt = math.cos(tilt) * z + math.sin(tilt) * np.cross(y, z)
            x = np.cross(y, zt)
            t = np.eye(4)
            t[:3, :3] = np.column_stack([x, y, zt])
            # the pad centre sits between the contacts; the TCP is the pad centre as the
            # pads were open, so closed on the object (the linkage's arc lowers them) it
            # lies that much back along the approach
            arc = g.pad_drop_at_width(w)
            t[:3, 3] = c - zt * arc
            # how far the lowest fingertip corner lies below the pad centre, m
            drop = -zt[2] * robot.tcp_to_fingertip + abs(y[2]) * side \
                + abs(x[2]) * g.pad_size[0] / 2
            short = support_z + config.fingertip_clearance - (c[2] - drop)
            if short > 0:
                along_approach = np.abs(normals @ zt).max() < 0.35  # within ~20 deg
                if not along_approach or -zt[2] < 1e-6 or short / -zt[2] > pad_half:
                    continue
                t[:3, 3] = c - zt * (short / -zt[2] + arc)
            out.append((t, float(w), abs(tilt)))
    return out


def _rank(grasp, centroid: np.ndarray, ideal_z: float, gripper) -> float:
    t, w, tilt = grasp
    # the pads' centre once closed (``ideal_z`` is where it would best be)
    t = t.copy()
    t[:3, 3] += t[:3, 2] * gripper.pad_drop_at_width(w)
    # prefer vertical approaches, contacts over the centre of mass, and pads that cover
    # the object well
    return tilt + 2.0 * float(np.linalg.norm(t[:2, 3] - centroid[:2])) \
        + 5.0 * abs(float(t[2, 3]) - ideal_z)


def gripper_collision_filter(grasps: list[Grasp], obj_pose: np.ndarray, checker,
                             open_joint: float, keep_mask: bool = False):
    """Keep the grasps whose open gripper, floating at the grasp pose, is clear of the
    world: fingers against everything but the grasped object (they are meant to touch
    it), the gripper's body against everything. One vectorised test for all grasps.

    ``checker`` is a :class:`tamp.geometry.collision.CollisionChecker` holding the world.
    Returns the kept grasps and how many were dropped (with ``keep_mask``: which are
    clear, a bool array).
    """
    if not grasps:
        return np.zeros(0, bool) if keep_mask else ([], 0)
    kin, m = checker.kin, checker.model
    # gripper spheres in the TCP frame, at the open width, read off one forward pass
    saved = checker.gripper
    checker.gripper = open_joint
    home = kin.robot.home
    world_pts = checker.sphere_positions(home)
    checker.gripper = saved
    tcp = kin.tcp_pose(home)
    on_gripper = m.sphere_joint >= m.tcp_joint
    local = (world_pts[on_gripper] - tcp[:3, 3]) @ tcp[:3, :3]
    radii = m.radii[on_gripper]
    finger = m.sphere_joint[on_gripper] > m.tcp_joint
    poses = np.array([obj_pose @ g.obj_T_tcp for g in grasps])  # (K, 4, 4)
    pts = np.einsum("kij,gj->kgi", poses[:, :3, :3], local) + poses[:, None, :3, 3]
    obs = checker.obstacles
    obj_name = grasps[0].obj
    keep_obs = np.array([o.split("/")[0] != obj_name for o in obs.owner])
    clear = np.ones(len(grasps), bool)
    for o in range(len(obs.owner)):
        local_o = np.einsum("ij,kgj->kgi", obs.rot[o], pts) + obs.trans[o]
        d = _np_primitive_distance(local_o, obs.half[o], bool(obs.is_box[o])) - radii
        relevant = np.ones_like(finger) if keep_obs[o] else ~finger
        clear &= ~np.any((d < 0) & relevant[None], axis=1)
    if keep_mask:
        return clear
    kept = [g for g, c in zip(grasps, clear) if c]
    return kept, len(grasps) - len(kept)


def finger_room_first(grasp: Grasp, poses: list[np.ndarray], checker,
                      open_joint: float) -> list[np.ndarray]:
    """Placement ``poses`` (object poses, 4x4) for an object held in ``grasp``, those
    where the gripper, open at ``open_joint``, has room around the placed object first
    (one batch: :func:`gripper_collision_filter`), each group in its given order. In a
    crowded bowl a sampler's footprints leave room for the object, not for the fingers."""
    from dataclasses import replace

    at = [replace(grasp, obj_T_tcp=pose @ grasp.obj_T_tcp) for pose in poses]
    room = gripper_collision_filter(at, np.eye(4), checker, open_joint, keep_mask=True)
    return [p for p, ok in zip(poses, room) if ok] + [p for p, ok in zip(poses, room) if not ok]


def _np_primitive_distance(local: np.ndarray, half: np.ndarray, is_box: bool) -> np.ndarray:
    if is_box:
        q = np.abs(local) - half
        return np.linalg.norm(np.maximum(q, 0), axis=-1) + np.minimum(q.max(axis=-1), 0)
    d = np.stack([np.linalg.norm(local[..., :2], axis=-1) - half[0],
                  np.abs(local[..., 2]) - half[2]], axis=-1)
    return np.linalg.norm(np.maximum(d, 0), axis=-1) + np.minimum(d.max(axis=-1), 0)
