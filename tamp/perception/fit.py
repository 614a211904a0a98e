"""Primitive shapes fitted to the visible points of one upright object.

The camera sees an object's top and the faces turned towards it. Projected onto the
table, every visible point lies inside the object's footprint and the top face spans all
of it, so the footprint is read from the 2-D convex hull of the points:

* its minimum-area rectangle gives a box's extents and yaw;
* the ratio of hull area to rectangle area ("fill") is about 1 for a box and pi/4 for
  a round footprint;
* a hollow object (bowl, or tray when its footprint is rectangular) is lower at its
  centre than at its rim ("concavity").

Heights come from the highest point above the table plane; the bottom is the surface
the object rests on (the table unless the caller knows a support below it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tamp.perception.cloud import ObjectCloud
from tamp.world import Shape, ShapeKind

BOWL_WALL = 0.008  #: m, the wall thickness assumed for bowls and trays (too thin to measure)
HOLLOW = ("bowl", "tray")  #: kinds that hold what is put in them
#: on noisy depth, at least this many of an object's highest points are left out of its
#: top (a covered object shows few points; a few stray ones must not set its height)
MIN_TRIMMED = 3
#: a box footprint thinner than this fraction of its length was seen by one face only
THIN_FACE = 0.5


@dataclass(frozen=True)
class FitConfig:
    bottom_snap: float = 0.005  #: m: a lowest point closer than this to the table rests on it
    centre_fraction: float = 0.35  #: of the radius: the region where concavity is read
    concave_below: float = 0.6  #: concavity under this means hollow (a bowl)
    round_below: float = 0.86  #: fill under this means a round footprint
    #: share of the points allowed beyond each side of the footprint's rectangle: on
    #: noisy depth the outermost points are the noisiest (a hull is a maximum), so a
    #: robust footprint leaves that many out; 0 on exact depth
    trim: float = 0.0


@dataclass(frozen=True)
class Rectangle:
    centre: np.ndarray  #: shape (2,), m
    length: float  #: m, along ``yaw``
    width: float  #: m, across
    yaw: float  #: rad, in [0, pi/2)
    area: float  #: m^2


@dataclass(frozen=True)
class ShapeFit:
    """A primitive and its pose for one object, and the cues that chose it."""

    kind: ShapeKind
    shape: Shape
    pose: np.ndarray = field(repr=False)  #: 4x4, bottom centre in the world
    fill: float  #: convex-hull area / minimum rectangle area (1 box, 0.785 disc)
    concavity: float  #: height at the centre / height at the top (1 flat top, ~0 hollow)
    bottom: float  #: m above the table of the object's bottom (0 when resting on it)
    top: float  #: m above the table of the highest point

    def contains_xy(self, xy: np.ndarray, margin: float = 0.0) -> bool:
        """Whether the point ``xy`` (2,) lies over the footprint grown by ``margin`` (m)."""
        local = self.pose[:2, :2].T @ (np.asarray(xy, float) - self.pose[:2, 3])
        if self.kind in ("box", "tray"):
            return bool(np.all(np.abs(local) <= np.array(self.shape.size[:2]) / 2 + margin))
        return bool(np.linalg.norm(local) <= self.shape.size[0] + margin)


def min_area_rectangle(xy: np.ndarray) -> Rectangle:
    """The smallest rectangle that contains the points ``xy`` (N, 2), m.

    One side of the optimal rectangle lies along an edge of the convex hull, so every
    hull edge direction is tried.
    """
    from scipy.spatial import ConvexHull, QhullError

    try:
        hull = xy[ConvexHull(xy).vertices]
    except (QhullError, ValueError):  # degenerate (collinear or too few points)
        hull = xy
    edges = np.diff(np.vstack([hull, hull[:1]]), axis=0)
    angles = np.unique(np.mod(np.arctan2(edges[:, 1], edges[:, 0]), np.pi / 2))
    c, s = np.cos(angles), np.sin(angles)
    # hull points in each candidate frame: (A, N)
    u = hull[None, :, 0] * c[:, None] + hull[None, :, 1] * s[:, None]
    v = -hull[None, :, 0] * s[:, None] + hull[None, :, 1] * c[:, None]
    du, dv = u.max(1) - u.min(1), v.max(1) - v.min(1)
    k = int(np.argmin(du * dv))
    mu, mv = (u[k].max() + u[k].min()) / 2, (v[k].max() + v[k].min()) / 2
    centre = np.array([mu * c[k] - mv * s[k], mu * s[k] + mv * c[k]])
    return Rectangle(centre, float(du[k]), float(dv[k]), float(angles[k]), float(du[k] * dv[k]))


def _hull_area(xy: np.ndarray) -> float:
    from scipy.spatial import ConvexHull, QhullError

    try:
        return float(ConvexHull(xy).volume)  # in 2-D, "volume" is the area
    except (QhullError, ValueError):
        return 0.0


def _bowl_bottom_radius(xyz: np.ndarray, centre: np.ndarray, top: float, bottom: float,
                        radius: float, camera: np.ndarray | None) -> float:
    """Radius of a bowl's flat inner bottom, from the slope of its inner wall.

    On the half of the bowl away from the camera the inner wall faces the camera; its
    points follow r(z) = r0 + slope * (z - wall). A line fitted to them gives r0.
    """
    fallback = 0.7 * radius
    if camera is None:
        return fallback
    d = xyz[:, :2] - centre
    away = d @ (centre - camera[:2]) > 0
    z = xyz[:, 2]
    r = np.linalg.norm(d, axis=1)
    band = away & (z > bottom + BOWL_WALL + 0.004) & (z < top - 0.004) & (r < radius - BOWL_WALL)
    if band.sum() < 10 or np.ptp(z[band]) < 0.01:
        return fallback
    slope, intercept = np.polyfit(z[band], r[band], 1)
    r0 = intercept + slope * (bottom + BOWL_WALL)
    return float(np.clip(r0, 0.3 * radius, radius - 1.5 * BOWL_WALL))


def _trimmed(xy: np.ndarray, share: float) -> np.ndarray:
    """The points ``xy`` (N, 2) without the ``share`` farthest out beyond each side of
    their smallest rectangle (the rectangle's sides are robust order statistics then,
    not maxima of the noise)."""
    if len(xy) * share < 1:
        return xy
    rect = min_area_rectangle(xy)
    c, s = np.cos(rect.yaw), np.sin(rect.yaw)
    local = (xy - rect.centre) @ np.array([[c, -s], [s, c]])
    lo, hi = np.quantile(local, [share, 1 - share], axis=0)
    keep = np.all((local >= lo) & (local <= hi), axis=1)
    return xy[keep]


def fill_ratio(xy: np.ndarray, rect: Rectangle | None = None) -> float:
    """Area of the convex hull of ``xy`` (N, 2) over that of its smallest rectangle
    (``rect`` when already known): 1 for a rectangle, pi/4 for a disc."""
    rect = rect or min_area_rectangle(xy)
    return _hull_area(xy) / max(rect.area, 1e-12)


def fit_object(cloud: ObjectCloud, table_z: float, camera: np.ndarray | None = None,
               kind: ShapeKind | None = None, bottom: float | None = None,
               cfg: FitConfig = FitConfig(), extra_xy: np.ndarray | None = None) -> ShapeFit:
    """Fit a box, cylinder, bowl or tray to ``cloud``; ``kind=None`` chooses from the cues.

    ``table_z`` is the table height under the object (m); ``camera`` the camera position
    in the world (m), used to find a bowl's inner wall; ``bottom`` the height above the
    table of the surface the object rests on (m), when known from the scene (the lowest
    visible point is often hidden behind the object itself or its support); ``extra_xy``
    (M, 2) more points of the footprint, m (those of objects resting on this one, whose
    top they hide).
    """
    pts = cloud.points
    if len(pts) < 5:
        raise ValueError(f"{cloud.name}: {len(pts)} points are too few to fit a shape")
    z = pts[:, 2] - table_z
    # on noisy depth the highest point is the noisiest: a robust top leaves out as many
    # as the footprint does
    top = float(z.max()) if cfg.trim <= 0 else float(
        np.quantile(z, 1 - max(cfg.trim, MIN_TRIMMED / len(z))))
    given_bottom = bottom
    if bottom is None:
        bottom = float(z.min())
        if bottom < cfg.bottom_snap:
            bottom = 0.0
    bottom = min(bottom, top - 1e-3)
    xy = pts[:, :2] if extra_xy is None else np.vstack([pts[:, :2], extra_xy])
    rect = min_area_rectangle(xy)
    fill = fill_ratio(xy, rect)
    length, width = rect.length, rect.width
    radius = (length + width) / 4
    r_xy = np.linalg.norm(pts[:, :2] - rect.centre, axis=1)
    central = z[r_xy < cfg.centre_fraction * radius]
    # the lowest fifth of the central points: whatever rests in a bowl hides its centre
    # but rarely all of it
    centre_h = float(np.quantile(central, 0.2)) if len(central) >= 3 else top
    concavity = (centre_h - bottom) / max(top - bottom, 1e-6)
    if kind is None:
        round_ = fill < cfg.round_below
        # a hollow shows its floor between walls all around: a footprint much thinner one
        # way than the other is one face of a solid seen from one side (on noisy depth
        # the face's points are smeared along the view and look low at its centre)
        face_only = width < THIN_FACE * length
        if concavity < cfg.concave_below and not face_only:
            kind = "bowl" if round_ else "tray"
        else:
            kind = "cylinder" if round_ else "box"
    if kind in HOLLOW and given_bottom is None and bottom <= BOWL_WALL + cfg.bottom_snap:
        # the lowest visible point of a bowl or tray on the table is often its floor,
        # which lies a wall's thickness above the table (the outer wall's foot is seen
        # at a grazing angle, if at all)
        bottom = 0.0
    height = top - bottom
    if cfg.trim > 0 and kind == "box":
        # a solid box's sides are long straight runs of points (its top face's edges), so
        # trimming the outermost few costs nothing but the noise; a round outline, and a
        # tray's outline of thin wall tops, have few points at their extremes and would
        # shrink (they keep the full extent)
        rect = min_area_rectangle(_trimmed(xy, cfg.trim))
        length, width = rect.length, rect.width
    yaw = rect.yaw
    if kind == "box":
        shape = Shape("box", (length, width, height))
    elif kind == "cylinder":
        shape, yaw = Shape("cylinder", (radius, radius, height)), 0.0
    elif kind == "bowl":
        r0 = _bowl_bottom_radius(pts[:, :3] - [0, 0, table_z], rect.centre, top, bottom,
                                 radius, camera)
        shape, yaw = Shape("bowl", (radius, r0, height), BOWL_WALL), 0.0
    elif kind == "tray":
        shape = Shape("tray", (length, width, height), BOWL_WALL)
    else:
        raise ValueError(f"unknown shape kind '{kind}'")
    pose = np.eye(4)
    pose[:3, :3] = [[np.cos(yaw), -np.sin(yaw), 0], [np.sin(yaw), np.cos(yaw), 0], [0, 0, 1]]
    pose[:3, 3] = (rect.centre[0], rect.centre[1], table_z + bottom)
    return ShapeFit(kind, shape, pose, float(fill), float(concavity), bottom, top)
