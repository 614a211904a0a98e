"""Packing boxes tightly into a tray (or any rectangular region): all at once, exactly, or
one at a time next to what is already there.

:func:`plan_packing` decides whether a set of footprints fits, by an exhaustive search,
and returns an order and a pose for each. :func:`pack_next` gives the tight poses for one
more object beside the occupants, for a planner that places objects one by one.
Lengths in metres, angles in radians.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tamp.geometry.placements import (PlacementConfig, Placements, Region, footprint_half,
                                      footprint_of, place_at, support_region)
from tamp.world import WorldObject


@dataclass(frozen=True)
class PackingConfig:
    gap: float = 0.004  #: m kept free between neighbouring footprints
    margin: float = 0.004  #: m kept free between a footprint and the region's edge
    rotate: bool = True  #: boxes may turn by 90° about z
    drop_height: float = 0.004  #: m above the floor at which a box is released
    #: search nodes before giving up (the result then says it did not decide)
    max_nodes: int = 100_000
    #: m; sizes are rounded outward to this grid, so the search is exact in integers and
    #: every gap comes out at least one grid step wider than ``gap``
    grid: float = 1e-5


@dataclass(frozen=True)
class RectPacking:
    """Where each rectangle goes in a container, or why they cannot all go in."""

    success: bool
    #: (n, 2) centre of each rectangle, container frame (origin at its centre), m
    centres: np.ndarray
    turned: np.ndarray  #: (n,) bool: True where the rectangle is turned by 90°
    order: tuple[int, ...]  #: rectangle indices in the order the search placed them
    nodes: int  #: search nodes expanded
    reason: str = ""


@dataclass(frozen=True)
class PackingPlan:
    """An order and a pose for every object, or why they cannot all go in."""

    success: bool
    order: tuple[str, ...]  #: object names, in the order to place them
    poses: dict[str, np.ndarray]  #: release pose (4x4, bottom centre) in the world per name
    nodes: int  #: search nodes expanded
    reason: str = ""


class _NodeLimit(Exception):
    pass


class _Skyline:
    """Exhaustive search for an arrangement of integer rectangles in a W x H container.

    The skyline is the upper outline of what is placed, as segments (x, width, y). The
    search always works at the lowest (then leftmost) segment: either some rectangle is
    placed in its left corner, or nothing will ever stand there and the segment is raised
    to its lower neighbour ("waste"). Any packing can be pushed down and left until no
    box moves; the lowest-leftmost free corner of such a packing is either a box's corner
    or uncovered, so these two branches miss no packing. A state (skyline, boxes left)
    that failed once is remembered and not searched again.
    """

    def __init__(self, dims: list[tuple[int, int]], counts: list[int], width: int,
                 height: int, rotate: bool, max_nodes: int):
        self.dims, self.width, self.height = dims, width, height
        self.counts0 = tuple(counts)
        self.orient = [[(w, h)] + ([(h, w)] if rotate and w != h else []) for w, h in dims]
        self.areas = [w * h for w, h in dims]
        self.max_nodes = max_nodes
        self.nodes = 0
        self.failed: set = set()
        self.sums: dict = {}  # (width, boxes left) -> widest fill, see _widest
        self.path: list[tuple[int, int, int, int, int]] = []  # (type, w, h, x, y)

    def run(self) -> bool:
        return self._dfs(((0, self.width, 0),), self.counts0, self.width * self.height)

    def _dfs(self, sky, counts, free: int) -> bool:
        if not any(counts):
            return True
        key = (sky, counts)
        if key in self.failed:
            return False
        self.nodes += 1
        if self.nodes > self.max_nodes:
            raise _NodeLimit
        left = [t for t, c in enumerate(counts) if c]
        i = min(range(len(sky)), key=lambda k: (sky[k][2], sky[k][0]))
        x, w, y = sky[i]
        # what is left must fit in the area above the skyline, and above its lowest point
        thinnest = min(min(self.dims[t]) for t in left)
        if (thinnest > self.height - y
                or sum(counts[t] * self.areas[t] for t in left) > free - self._waste(
                    sky, counts, thinnest)):
            self.failed.add(key)
            return False
        for t in left:
            rest = counts[:t] + (counts[t] - 1,) + counts[t + 1:]
            for bw, bh in self.orient[t]:
                if bw > w or y + bh > self.height:
                    continue
                new = sky[:i] + ((x, bw, y + bh),) + (((x + bw, w - bw, y),) if bw < w
                                                        else ()) + sky[i + 1:]
                self.path.append((t, bw, bh, x, y))
                if self._dfs(_merged(new), rest, free - bw * bh):
                    return True
                self.path.pop()
        if len(sky) > 1:
            up = min(sky[k][2] for k in (i - 1, i + 1) if 0 <= k < len(sky))
            new = sky[:i] + ((x, w, up),) + sky[i + 1:]
            if self._dfs(_merged(new), counts, free - w * (up - y)):
                return True
        self.failed.add(key)
        return False

    def _waste(self, sky, counts, thinnest: int) -> int:
        """Area that must stay empty whatever comes next (a lower bound).

        A segment lower than both neighbours is a well: boxes standing on its floor fit
        side by side in its width, so the part of the floor that no sum of box widths
        can fill stays empty, at least up to the thinnest box left (something standing
        beside it first) or up to the lower neighbour.
        """
        waste = 0
        for k, (_, w, y) in enumerate(sky):
            walls = [sky[j][2] for j in (k - 1, k + 1) if 0 <= j < len(sky)]
            if any(h <= y for h in walls):
                continue
            up = min(walls, default=self.height)
            waste += (w - self._widest(w, counts)) * min(thinnest, up - y)
        return waste

    def _widest(self, w: int, counts) -> int:
        """The largest sum of box widths (either side of each box left) not above ``w``."""
        key = (w, counts)
        if key not in self.sums:
            # the sums reachable so far, as the set bits of an int
            reach, full = 1, (1 << (w + 1)) - 1
            for t, c in enumerate(counts):
                for _ in range(c):
                    step = 0
                    for bw, _bh in self.orient[t]:
                        step |= reach << bw
                    reach = (reach | step) & full
            self.sums[key] = reach.bit_length() - 1
        return self.sums[key]


def _merged(sky):
    """Join neighbouring skyline segments at the same height."""
    out = [sky[0]]
    for x, w, y in sky[1:]:
        px, pw, py = out[-1]
        if py == y:
            out[-1] = (px, pw + w, y)
        else:
            out.append((x, w, y))
    return tuple(out)


def pack_rectangles(sizes, container: tuple[float, float],
                    config: PackingConfig = PackingConfig()) -> RectPacking:
    """Arrange rectangles ``sizes`` ((n, 2) x, y extents, m) in a ``container`` (x, y
    extents, m), ``config.gap`` apart and ``config.margin`` from its edge, each at yaw 0
    or (with ``config.rotate``) 90°. Exact: a failure after the search means no such
    arrangement exists, unless the reason says the node limit was reached.
    """
    sizes = np.asarray(sizes, float).reshape(-1, 2)
    n = len(sizes)
    q, g, m = config.grid, config.gap, config.margin
    # each box owns its footprint plus half the gap all round (plus one grid step of
    # slack, so that rounding never eats into the gap); the container loses the margin
    # but gains half a gap on each side, as its edge needs no gap of its own
    cells = [(math.ceil((w + g) / q - 1e-6) + 1, math.ceil((h + g) / q - 1e-6) + 1)
             for w, h in sizes]
    width = math.floor((container[0] - 2 * m + g) / q + 1e-6)
    height = math.floor((container[1] - 2 * m + g) / q + 1e-6)
    mm = 1e3
    for k, (cw, ch) in enumerate(cells):
        if not ((cw <= width and ch <= height)
                or (config.rotate and ch <= width and cw <= height)):
            turned = "" if config.rotate else " without turning it"
            return _failed(n, f"box {k} ({sizes[k][0] * mm:.0f} x {sizes[k][1] * mm:.0f} mm) "
                              f"does not fit in the {container[0] * mm:.0f} x "
                              f"{container[1] * mm:.0f} mm region{turned}", 0)
    need, room = sum(cw * ch for cw, ch in cells) * q * q, width * height * q * q
    if need > room:
        return _failed(n, f"the {n} footprints with their gaps cover {need * 1e4:.0f} cm², "
                          f"more than the {room * 1e4:.0f} cm² inside the margin", 0)
    # identical boxes (turned or not) are one type: the search never tries both orders
    key = [(min(c), max(c)) if config.rotate else c for c in cells]
    types = sorted(set(key), key=lambda d: (-d[0] * d[1], d))
    counts = [key.count(t) for t in types]
    search = _Skyline(types, counts, width, height, config.rotate, config.max_nodes)
    try:
        found = search.run()
    except _NodeLimit:
        return _failed(n, f"undecided: no arrangement found within {config.max_nodes} "
                          "search nodes (raise PackingConfig.max_nodes)", search.nodes)
    if not found:
        return _failed(n, f"no arrangement of the {n} boxes fits in the "
                          f"{container[0] * mm:.0f} x {container[1] * mm:.0f} mm region "
                          f"with {g * mm:.0f} mm gaps (exhaustive search, "
                          f"{search.nodes} nodes)", search.nodes)
    pool = {t: [k for k in range(n) if key[k] == t] for t in types}
    centres, turned, order = np.zeros((n, 2)), np.zeros(n, bool), []
    x0 = -container[0] / 2 + m - g / 2
    y0 = -container[1] / 2 + m - g / 2
    for t, bw, bh, x, y in search.path:
        k = pool[types[t]].pop(0)
        order.append(k)
        turned[k] = (bw, bh) != cells[k]
        centres[k] = (x0 + (x + bw / 2) * q, y0 + (y + bh / 2) * q)
    return RectPacking(True, centres, turned, tuple(order), search.nodes)


def _failed(n: int, reason: str, nodes: int) -> RectPacking:
    return RectPacking(False, np.zeros((n, 2)), np.zeros(n, bool), (), nodes, reason)


def _rect_region(where) -> Region | str:
    region = support_region(where) if isinstance(where, WorldObject) else where
    if region.kind != "rect":
        return f"{region.name} is round: packing needs a rectangular region"
    return region


def plan_packing(objects: list[WorldObject], tray: WorldObject | Region,
                 config: PackingConfig = PackingConfig()) -> PackingPlan:
    """An order and poses that put all ``objects`` on the floor of ``tray`` (a tray
    object or any rectangular :class:`Region`, e.g. a zone), upright, yaw along the
    region's axes, ``config.gap`` apart and ``config.margin`` from its edge.

    The order is the one the search filled the region in, from the region frame's -y
    side upwards and left to right, so each object goes against the edge or against
    objects placed before it. Footprints of round objects are their bounding squares.
    """
    region = _rect_region(tray)
    if isinstance(region, str):
        return PackingPlan(False, (), {}, 0, region)
    if region.frame[2, 2] < math.cos(PlacementConfig().max_tilt):
        return PackingPlan(False, (), {}, 0, f"{region.name} is not level")
    sizes = [(2 * h[0], 2 * h[1]) for h in map(footprint_half, objects)]
    packed = pack_rectangles(sizes, (2 * region.half[0], 2 * region.half[1]), config)
    if not packed.success:
        names = ", ".join(o.name for o in objects)
        return PackingPlan(False, (), {}, packed.nodes,
                           f"cannot pack {names} into {region.name}: {packed.reason}")
    frame = region.frame
    yaw0 = math.atan2(frame[1, 0], frame[0, 0])
    poses = {}
    for k, obj in enumerate(objects):
        cx, cy = packed.centres[k]
        t = np.eye(4)
        yaw = yaw0 + (math.pi / 2 if packed.turned[k] else 0.0)
        t[:2, :2] = [[math.cos(yaw), -math.sin(yaw)], [math.sin(yaw), math.cos(yaw)]]
        t[:3, 3] = frame[:3, :3] @ (cx, cy, config.drop_height) + frame[:3, 3]
        poses[obj.name] = t
    return PackingPlan(True, tuple(objects[k].name for k in packed.order), poses,
                       packed.nodes)


def pack_next(obj: WorldObject, tray: WorldObject | Region, occupants: list[WorldObject],
              config: PackingConfig = PackingConfig()) -> Placements:
    """Tight poses for one more object in ``tray`` beside ``occupants`` (objects already
    there, at any pose), best first; deterministic, no random draws.

    Candidates put the footprint (yaw along the region's axes) against the region's edge
    or against an occupant's bounding box, on both sides and in both directions; those
    that stay ``config.margin`` inside and ``config.gap`` clear of every occupant are
    kept, nearest the region frame's -y side first, then nearest its -x side. Greedy: it
    does not look ahead to objects still to come (:func:`plan_packing` does).
    """
    region = _rect_region(tray)
    if isinstance(region, str):
        return Placements([], region)
    half_obj = footprint_half(obj)
    # candidates sit one grid step further out than touching, so that a neighbour at
    # exactly the gap is not refused by the strict separating-axis test
    g, m, eps = config.gap, config.margin, config.grid
    lo = [[-region.half[0] + m + eps], [-region.half[1] + m + eps]]  # left/lower edges
    hi = [[region.half[0] - m - eps], [region.half[1] - m - eps]]  # right/upper edges
    for o in occupants:
        local = (footprint_of(o, o.pose) - region.frame[:2, 3]) @ region.frame[:2, :2]
        for axis in (0, 1):
            lo[axis].append(local[:, axis].max() + g + eps)
            hi[axis].append(local[:, axis].min() - g - eps)
    xy, yaw = [], []
    for turn in ((0.0, math.pi / 2) if config.rotate else (0.0,)):
        half = half_obj[::-1] if turn else half_obj
        xs, ys = ({v + half[a] for v in lo[a]} | {v - half[a] for v in hi[a]} for a in (0, 1))
        xy += [(x, y) for y in ys for x in xs]
        yaw += [turn] * (len(xs) * len(ys))
    xy_a, yaw_a = np.array(xy, float), np.array(yaw, float)
    # corner first: nearest the region's -y side, then its -x side
    order = np.lexsort((yaw_a, xy_a[:, 0], xy_a[:, 1]))
    cfg = PlacementConfig(margin=m, drop_height=config.drop_height)
    found = place_at(obj, region, xy_a[order], yaw_a[order], cfg, occupants, "none", gap=g)
    if not found.success:
        return Placements([], f"{obj.name} does not fit in {region.name} beside "
                              f"{len(occupants)} objects already there")
    return found
