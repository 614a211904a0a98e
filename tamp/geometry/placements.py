"""Stable placements: on a surface, inside a region (bowl, tray, marked zone), on top of
another object, clear of what is already there.

Every placement is an upright pose (4x4, the object's bottom centre, z up) released
``drop_height`` above a level support. All lengths are in metres, angles in radians. The
random samplers take a seeded ``np.random.Generator`` and give the same poses for the same
seed; tight deterministic packing into a tray lives in :mod:`tamp.geometry.packing`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from tamp.geometry.shapes import bowl_inner_radius, tray_interior
from tamp.world import WorldModel, WorldObject

#: corner signs of a rectangle, in order around it (the separating-axis test needs order)
_CORNERS = np.array([[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]])


@dataclass(frozen=True)
class PlacementConfig:
    n_samples: int = 200  #: random poses drawn per query
    margin: float = 0.01  #: m kept free between footprints and from the region's edge
    drop_height: float = 0.004  #: m above the support at which the object is released
    #: which poses come first: "edge" (nearest the region's boundary, which leaves the
    #: most room for objects placed later), "centre", or "none" (the order drawn)
    prefer: Literal["edge", "centre", "none"] = "edge"
    #: yaws (rad, relative to the region's frame) a pose may take; empty: any yaw
    yaws: tuple[float, ...] = ()
    #: m, largest horizontal offset of a stacked object's centre from the centre of the
    #: face it stands on
    stack_offset: float = 0.01
    #: stacked objects keep the lower object's yaw (or turn by 90°); False: any yaw
    stack_aligned: bool = True
    max_tilt: float = 0.05  #: rad a support may lean from level and still hold objects


@dataclass(frozen=True)
class Placements:
    poses: list[np.ndarray]  #: object poses (4x4, bottom centre) in the world, best first
    reason: str = ""  #: why there is none, when ``poses`` is empty

    @property
    def success(self) -> bool:
        return bool(self.poses)


@dataclass(frozen=True)
class Region:
    """A level area that objects rest on: a rectangle or a disk, no geometry of its own.

    Built by :func:`table_region`, :func:`support_region` (the top of a box, the floor of
    a tray or bowl) or :func:`zone` (a rectangle marked on the table).
    """

    name: str
    #: the region's frame in the world (4x4): origin at its centre on the supporting
    #: plane, z up; a disk's frame carries no yaw
    frame: np.ndarray = field(repr=False, compare=False)
    #: (half x, half y) of a rectangle, or (radius, radius) of a disk, m
    half: tuple[float, float]
    kind: Literal["rect", "disk"] = "rect"
    #: what must lie inside (shrunk by the margin): the object's whole "footprint" (a tray,
    #: the table), or only its "centre" (stacking: a wide object may overhang a small one)
    contain: Literal["footprint", "centre"] = "footprint"

    @property
    def height(self) -> float:
        """z of the supporting plane in the world, m."""
        return float(self.frame[2, 3])


def _flat_frame(xyz, yaw: float = 0.0) -> np.ndarray:
    t = np.eye(4)
    c, s = math.cos(yaw), math.sin(yaw)
    t[:2, :2] = [[c, -s], [s, c]]
    t[:3, 3] = xyz
    return t


def table_region(world: WorldModel) -> Region:
    """The whole table top."""
    x0, x1, y0, y1 = world.table_extent
    return Region("table", _flat_frame(((x0 + x1) / 2, (y0 + y1) / 2, world.table_height)),
                  ((x1 - x0) / 2, (y1 - y0) / 2))


def zone(name: str, pose: np.ndarray, extents: tuple[float, float]) -> Region:
    """A rectangle marked on a surface: centre and yaw from ``pose`` (4x4), full
    ``extents`` (x, y) in that frame, m."""
    return Region(name, np.asarray(pose, float), (extents[0] / 2, extents[1] / 2))


def support_region(obj: WorldObject) -> Region:
    """The face of ``obj`` that another object would rest on: the top of a box or
    cylinder, the inner floor of a tray or bowl."""
    sx, sy, sz = obj.shape.size
    kind = obj.shape.kind
    if kind == "box":
        return Region(f"top face of {obj.name}", obj.pose @ _flat_frame((0, 0, sz)),
                      (sx / 2, sy / 2))
    if kind == "tray":
        ix, iy, floor = tray_interior(obj.shape)
        return Region(obj.name, obj.pose @ _flat_frame((0, 0, floor)), (ix / 2, iy / 2))
    # round supports: the frame keeps only the position (a disk has no yaw); the bowl's
    # floor is `wall` up, as the existing in-bowl sampler has always placed it
    top = sz if kind == "cylinder" else obj.shape.wall
    radius = sx if kind == "cylinder" else bowl_inner_radius(obj.shape)
    name = f"top face of {obj.name}" if kind == "cylinder" else obj.name
    return Region(name, _flat_frame(obj.position[:2].tolist() + [obj.position[2] + top]),
                  (radius, radius), "disk")


def footprint(obj_pose: np.ndarray, size, margin: float = 0.0) -> np.ndarray:
    """Corners (4, 2) of a box's footprint, grown by ``margin`` on every side."""
    hx, hy = size[0] / 2 + margin, size[1] / 2 + margin
    local = np.array([[hx, hy], [-hx, hy], [-hx, -hy], [hx, -hy]])
    return local @ obj_pose[:2, :2].T + obj_pose[:2, 3]


def overlap(a: np.ndarray, b: np.ndarray) -> bool:
    """Do two convex polygons (corners in order) overlap? Separating-axis test."""
    for poly in (a, b):
        for k in range(len(poly)):
            edge = poly[(k + 1) % len(poly)] - poly[k]
            axis = np.array([-edge[1], edge[0]])
            pa, pb = a @ axis, b @ axis
            if pa.max() < pb.min() or pb.max() < pa.min():
                return False
    return True


def footprint_half(obj: WorldObject) -> tuple[float, float]:
    """Half extents (x, y) of the rectangle that holds ``obj``'s footprint in its own
    frame, m: a round object's is the square around its widest circle."""
    sx, sy, _ = obj.shape.size
    if obj.shape.kind in ("box", "tray"):
        return sx / 2, sy / 2
    return sx, sx


def footprint_of(obj: WorldObject, pose: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """Corners (4, 2) of ``obj``'s footprint at ``pose``, grown by ``margin``."""
    hx, hy = footprint_half(obj)
    return footprint(pose, (2 * (hx + margin), 2 * (hy + margin)))


def _footprints(half, xy: np.ndarray, yaw: np.ndarray, margin: float) -> np.ndarray:
    """Corners (N, 4, 2) of N footprints with centres ``xy`` (N, 2) and yaws (N,)."""
    local = _CORNERS * (half[0] + margin, half[1] + margin)
    c, s = np.cos(yaw), np.sin(yaw)
    rot = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)  # (N, 2, 2)
    return local @ rot.transpose(0, 2, 1) + xy[:, None, :]


def overlaps_any(cands: np.ndarray, polys: list[np.ndarray]) -> np.ndarray:
    """For N convex polygons ``cands`` (N, K, 2): does each overlap any of ``polys``?
    The separating-axis test of :func:`overlap`, in one batch per obstacle."""
    hit = np.zeros(len(cands), bool)
    edges = np.roll(cands, -1, axis=1) - cands
    cand_axes = np.stack([-edges[..., 1], edges[..., 0]], -1)
    for poly in polys:
        e = np.roll(poly, -1, axis=0) - poly
        axes = np.concatenate([cand_axes, np.broadcast_to(
            np.stack([-e[:, 1], e[:, 0]], -1), (len(cands), len(poly), 2))], axis=1)
        pa = np.einsum("nkd,ncd->nkc", axes, cands)
        pb = np.einsum("nkd,cd->nkc", axes, poly)
        separated = (pa.max(-1) < pb.min(-1)) | (pb.max(-1) < pa.min(-1))
        hit |= ~separated.any(-1)
    return hit


def resting_on(region: Region, objects, tolerance: float = 0.01) -> list[WorldObject]:
    """The objects whose bottom is on ``region``'s plane and whose centre is over it:
    the occupants a new placement there must keep clear of."""
    out = []
    for o in objects:
        local = np.linalg.solve(region.frame, np.append(o.position, 1.0))[:3]
        if abs(local[2]) > tolerance:
            continue
        inside = (np.hypot(local[0], local[1]) <= region.half[0] + tolerance
                  if region.kind == "disk" else
                  abs(local[0]) <= region.half[0] + tolerance
                  and abs(local[1]) <= region.half[1] + tolerance)
        if inside:
            out.append(o)
    return out


def _yaws(u: np.ndarray, allowed: tuple[float, ...]) -> np.ndarray:
    """Yaws from uniform draws ``u`` in [0, 1): any yaw, or one of ``allowed``."""
    if not allowed:
        return -math.pi + 2 * math.pi * u
    return np.asarray(allowed, float)[np.minimum((u * len(allowed)).astype(int),
                                                 len(allowed) - 1)]


def _level(region: Region, config: PlacementConfig) -> bool:
    return region.frame[2, 2] >= math.cos(config.max_tilt)


def place_at(obj: WorldObject, region: Region, xy: np.ndarray, yaw: np.ndarray,
             config: PlacementConfig, occupants: list[WorldObject], prefer: str,
             gap: float | None = None) -> Placements:
    """Check candidate centres ``xy`` (N, 2) and yaws (N,), both in ``region``'s frame,
    and return the valid ones as world poses, ordered by ``prefer``.

    Valid: inside the region by ``config.margin`` and ``gap`` (m; default
    ``config.margin``) clear of every occupant's footprint. The one check behind every
    sampler in this module and the packer's one-at-a-time placements.
    """
    if not _level(region, config):
        return Placements([], f"{region.name} is not level")
    frame = region.frame
    region_yaw = math.atan2(frame[1, 0], frame[0, 0])
    local3 = np.column_stack([xy, np.full(len(xy), config.drop_height)])
    world = np.einsum("ij,nj->ni", frame[:3, :3], local3) + frame[:3, 3]
    world_yaw = region_yaw + yaw
    half = footprint_half(obj)
    # containment is decided in the region's frame, from corners computed in the world:
    # the same corners the overlap test below sees
    corners = _footprints(half, world[:, :2], world_yaw, 0.0)
    local = (corners - frame[:2, 3]) @ frame[:2, :2]
    m = config.margin
    if region.contain == "centre":
        pts = xy[:, None, :]
    else:
        pts = local
    if region.kind == "disk":
        ok = np.linalg.norm(pts, axis=-1).max(-1) <= region.half[0] - m
    else:
        ok = ((np.abs(pts[..., 0]) <= region.half[0] - m).all(-1)
              & (np.abs(pts[..., 1]) <= region.half[1] - m).all(-1))
    if not ok.any():
        return Placements([], f"{obj.name} did not fit inside {region.name} (margin "
                              f"{1e3 * m:.0f} mm) in any of the {len(xy)} poses tried")
    g = m if gap is None else gap
    taken = [footprint_of(o, o.pose, g / 2) for o in occupants]
    if taken:
        idx = np.flatnonzero(ok)
        grown = _footprints(half, world[idx, :2], world_yaw[idx], g / 2)
        ok[idx[overlaps_any(grown, taken)]] = False
    keep = np.flatnonzero(ok)
    if len(keep) == 0:
        return Placements([], f"no free spot left in {region.name} for {obj.name}")
    if prefer == "edge":
        if region.kind == "disk":
            key = -np.hypot(xy[keep, 0], xy[keep, 1])
        else:  # the smallest clearance from any corner of the footprint to a side
            key = np.minimum(region.half[0] - np.abs(local[keep, :, 0]),
                             region.half[1] - np.abs(local[keep, :, 1])).min(-1)
        keep = keep[np.argsort(key, kind="stable")]
    elif prefer == "centre":
        keep = keep[np.argsort(np.hypot(xy[keep, 0], xy[keep, 1]), kind="stable")]
    poses = []
    seen = set()
    for k in keep:
        # a tolerance of 0 or a one-yaw stack gives the same pose many times: keep one
        tag = (round(float(world[k, 0]), 9), round(float(world[k, 1]), 9),
               round(float(world_yaw[k]), 9))
        if tag in seen:
            continue
        seen.add(tag)
        poses.append(_flat_frame(world[k], float(world_yaw[k])))
    return Placements(poses)


def sample_placements(obj: WorldObject, region: Region, occupants: list[WorldObject],
                      rng: np.random.Generator,
                      config: PlacementConfig = PlacementConfig()) -> Placements:
    """Random stable poses for ``obj`` in ``region`` (a surface, a tray, a zone, a bowl),
    clear of ``occupants`` (the objects already there), best first (``config.prefer``)."""
    n = config.n_samples
    # three draws per sample, in the order the bowl sampler has always drawn them
    u = rng.uniform(size=(n, 3))
    yaw = _yaws(u[:, 2], config.yaws)
    m = config.margin
    if region.kind == "disk":
        r = (region.half[0] - m) * np.sqrt(u[:, 0])
        a = 2 * math.pi * u[:, 1]
        xy = np.column_stack([r * np.cos(a), r * np.sin(a)])
    else:
        # a footprint holds the disk of its smaller half extent around its centre, so
        # centres closer than that to a side can never fit: don't draw them
        inner = min(footprint_half(obj))
        reach = np.array(region.half) - m - (inner if region.contain == "footprint" else 0)
        if (reach < 0).any():
            hx, hy = footprint_half(obj)
            return Placements([], f"{obj.name} ({2e3 * hx:.0f} x {2e3 * hy:.0f} mm) does not "
                                  f"fit in {region.name} ({2e3 * region.half[0]:.0f} x "
                                  f"{2e3 * region.half[1]:.0f} mm, margin {1e3 * m:.0f} mm)")
        xy = (2 * u[:, :2] - 1) * reach
    return place_at(obj, region, xy, yaw, config, occupants, config.prefer)


def in_bowl(obj: WorldObject, bowl: WorldObject, occupants: list[WorldObject],
            rng: np.random.Generator, config: PlacementConfig = PlacementConfig()
            ) -> Placements:
    """Resting poses for ``obj`` on the bowl's flat bottom, clear of the wall and of
    ``occupants`` (objects already in the bowl).

    Poses nearer the wall come first: they leave the most room for objects placed later.
    """
    return sample_placements(obj, support_region(bowl), occupants, rng, config)


def in_tray(obj: WorldObject, tray: WorldObject, occupants: list[WorldObject],
            rng: np.random.Generator, config: PlacementConfig = PlacementConfig()
            ) -> Placements:
    """Random resting poses for ``obj`` on a tray's floor, clear of its walls and of
    ``occupants``. For tight packing use :func:`tamp.geometry.packing.pack_next`."""
    return sample_placements(obj, support_region(tray), occupants, rng, config)


def on_table(obj: WorldObject, world: WorldModel, rng: np.random.Generator,
             config: PlacementConfig = PlacementConfig()) -> Placements:
    """Random poses for ``obj`` on the table top, clear of every other object's
    footprint (all of them: a stacked or overhanging object blocks the table too)."""
    others = [o for o in world.objects.values() if o.name != obj.name]
    return sample_placements(obj, table_region(world), others, rng, config)


def on_top_of(obj: WorldObject, lower: WorldObject, occupants: list[WorldObject],
              rng: np.random.Generator, config: PlacementConfig = PlacementConfig()
              ) -> Placements:
    """Poses that stack ``obj`` on ``lower``: bottom on its top face, centre within
    ``config.stack_offset`` of that face's centre and ``config.margin`` inside its edge
    (the centre of mass stays over the support), clear of ``occupants`` (objects already
    on ``lower``). The centred poses come first.
    """
    region = support_region(lower)
    if lower.shape.kind in ("box", "cylinder"):
        # a wide object on a narrow one is stable while its centre is over the top face
        region = replace(region, contain="centre")
    if config.yaws:
        allowed = config.yaws
    elif config.stack_aligned:
        allowed = (0.0, math.pi / 2) if region.kind == "rect" else (0.0,)
    else:
        allowed = ()
    u = rng.uniform(size=(config.n_samples, 3))
    r = config.stack_offset * np.sqrt(u[:, 0])
    a = 2 * math.pi * u[:, 1]
    xy = np.column_stack([r * np.cos(a), r * np.sin(a)])
    yaw = _yaws(u[:, 2], allowed)
    centred = np.asarray(allowed or (0.0,), float)
    xy = np.concatenate([np.zeros((len(centred), 2)), xy])
    yaw = np.concatenate([centred, yaw])
    return place_at(obj, region, xy, yaw, config, occupants, "centre")
