"""What each concept means, stated on a known world (ground truth, not perception).

These definitions label the training scenes and judge goals against the simulator's
state; the learned models only ever see camera points. Directions are the robot's: it
stands at the origin looking along +x, so +y is its left and +x is away from it
("behind" = farther from the robot).
"""

from __future__ import annotations

import numpy as np

from tamp.world import Shape, WorldModel, WorldObject

COLORS = ("red", "green", "blue", "yellow", "purple", "orange", "cyan", "white", "grey")
SHAPES = ("block", "box", "cylinder", "disk", "bowl", "tray")
SIZES = ("small", "large")
RELATIONS = ("on", "in", "left-of", "right-of", "behind", "in-front-of", "near")
#: attribute groups of unary concepts: within a group exactly one concept holds
GROUPS: dict[str, tuple[str, ...]] = {"color": COLORS, "shape": SHAPES, "size": SIZES}
#: the primitive each shape concept is modelled with
SHAPE_KIND = {"block": "box", "box": "box", "cylinder": "cylinder", "disk": "cylinder",
              "bowl": "bowl", "tray": "tray"}
CONTAINERS = ("bowl", "tray")

#: characteristic size (m) above which an object of a shape counts as large; the data
#: generator draws sizes well clear of it on both sides
LARGE_FROM = {"block": 0.055, "box": 0.105, "cylinder": 0.0925, "disk": 0.066,
              "bowl": 0.225, "tray": 0.24}
MIN_OFFSET = 0.03  #: m between centres before one object is left of/behind another
NEAR_GAP = 0.05  #: m between footprints (as discs) for "near"
CONTACT = 0.01  #: m: a bottom this close to a top rests on it ("on")


def characteristic_size(shape: Shape) -> float:
    """The largest dimension of the shape, m (2 x radius for round shapes)."""
    sx, sy, sz = shape.size
    if shape.kind == "box":
        return float(max(sx, sy, sz))
    if shape.kind == "cylinder":
        return float(max(2 * sx, sz))
    if shape.kind == "tray":
        return float(max(sx, sy))
    return float(2 * sx)  # bowl: the rim's diameter


def size_of(obj: WorldObject) -> str:
    return "large" if characteristic_size(obj.shape) >= LARGE_FROM[obj.category] else "small"


def footprint_radius(shape: Shape) -> float:
    """Radius of a disc with about the footprint's extent, m (boxes: mean half side)."""
    sx, sy, _ = shape.size
    return float((sx + sy) / 4 if shape.kind in ("box", "tray") else sx)


def _over_footprint(xy: np.ndarray, obj: WorldObject, margin: float) -> bool:
    local = obj.pose[:2, :2].T @ (xy - obj.pose[:2, 3])
    if obj.shape.kind in ("box", "tray"):
        return bool(np.all(np.abs(local) <= np.array(obj.shape.size[:2]) / 2 + margin))
    return bool(np.linalg.norm(local) <= obj.shape.size[0] + margin)


def relation_holds(rel: str, a: WorldObject, b: WorldObject) -> bool:
    """Whether ``rel(a, b)`` holds between two upright objects."""
    dx, dy = (a.position[:2] - b.position[:2])
    if rel == "on":
        top_b = b.position[2] + b.shape.height
        return (b.category not in CONTAINERS and abs(a.position[2] - top_b) <= CONTACT
                and _over_footprint(a.position[:2], b, 0.005))
    if rel == "in":
        # centre over the floor (the planner's in-bowl test for bowls), resting inside
        dz = float(a.position[2] - b.position[2])
        if b.category not in CONTAINERS or not -CONTACT <= dz <= b.shape.height:
            return False
        if b.shape.kind == "tray":
            from tamp.geometry.shapes import tray_interior

            ix, iy, _ = tray_interior(b.shape)
            local = b.pose[:2, :2].T @ (a.position[:2] - b.pose[:2, 3])
            return bool(abs(local[0]) <= ix / 2 + CONTACT and abs(local[1]) <= iy / 2 + CONTACT)
        return float(np.hypot(dx, dy)) <= b.shape.size[1] + CONTACT
    if rel == "left-of":
        return dy > max(abs(dx), MIN_OFFSET)
    if rel == "right-of":
        return -dy > max(abs(dx), MIN_OFFSET)
    if rel == "behind":
        return dx > max(abs(dy), MIN_OFFSET)
    if rel == "in-front-of":
        return -dx > max(abs(dy), MIN_OFFSET)
    if rel == "near":
        gap = float(np.hypot(dx, dy)) - footprint_radius(a.shape) - footprint_radius(b.shape)
        return gap < NEAR_GAP
    raise ValueError(f"unknown relation '{rel}'; known: {', '.join(RELATIONS)}")


def unary_truth(obj: WorldObject) -> dict[str, str]:
    """The object's value in each attribute group, e.g. {"color": "red", ...}."""
    return {"color": obj.color, "shape": obj.category, "size": size_of(obj)}


def relation_truth(world: WorldModel, names: list[str] | None = None) -> np.ndarray:
    """Every relation over ordered pairs of ``names`` (default: all objects), shape
    (K, K, len(RELATIONS)), bool; the diagonal is False."""
    names = list(world.objects) if names is None else names
    objs = [world.objects[n] for n in names]
    out = np.zeros((len(objs), len(objs), len(RELATIONS)), bool)
    for i, a in enumerate(objs):
        for j, b in enumerate(objs):
            if i != j:
                out[i, j] = [relation_holds(r, a, b) for r in RELATIONS]
    return out
