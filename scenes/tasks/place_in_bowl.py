"""``place-in-bowl``: put the red block(s) in the green bowl, among distractors.

Per seed: 1-2 red blocks, 2-4 distractor blocks of other colours, the green bowl and one
distractor bowl; block edges 40-50 mm; positions uniform on the reachable part of the table
with no footprints overlapping.

Success (ground truth): every red block rests in the green bowl — its centre within the
bowl's flat bottom radius + 10 mm, its bottom no lower than 10 mm below the bowl's bottom and
below the rim, moving slower than 5 cm/s and not touching the robot.
"""

from __future__ import annotations

import math

import numpy as np

from scenes.tasks.base import ObjectTruth, Task, TaskInstance
from scenes.tasks.registry import register_task
from tamp.geometry.shapes import footprint_radius
from tamp.planner import is_in_bowl
from tamp.symbolic.strips import Atom
from tamp.world import Shape, WorldModel, WorldObject

BLOCK_COLORS = ("blue", "yellow", "purple", "orange", "cyan")
BOWL = Shape("bowl", (0.13, 0.09, 0.05))  # top outer radius, bottom inner radius, height
#: where object centres may be sampled (x range, y range), m, robot base frame
WORKSPACE = ((0.35, 0.70), (-0.35, 0.35))


def yaw_pose(x: float, y: float, yaw: float, z: float = 0.0) -> np.ndarray:
    t = np.eye(4)
    t[:3, :3] = [[math.cos(yaw), -math.sin(yaw), 0], [math.sin(yaw), math.cos(yaw), 0],
                 [0, 0, 1]]
    t[:3, 3] = (x, y, z)
    return t


def scatter(shapes: list[Shape], rng: np.random.Generator, gap: float = 0.03,
            attempts: int = 2000) -> list[np.ndarray]:
    """Non-overlapping poses on the table for ``shapes`` (largest first)."""
    placed: list[tuple[np.ndarray, float]] = []
    poses: list[np.ndarray | None] = [None] * len(shapes)
    order = sorted(range(len(shapes)), key=lambda i: -footprint_radius(shapes[i]))
    (x0, x1), (y0, y1) = WORKSPACE
    for i in order:
        r = footprint_radius(shapes[i])
        for _ in range(attempts):
            xy = np.array([rng.uniform(x0, x1), rng.uniform(y0, y1)])
            if all(np.linalg.norm(xy - c) > r + rc + gap for c, rc in placed):
                break
        else:
            raise RuntimeError("could not scatter the objects without overlap")
        placed.append((xy, r))
        poses[i] = yaw_pose(xy[0], xy[1], rng.uniform(-math.pi, math.pi))
    return poses  # type: ignore[return-value]


@register_task("place-in-bowl", gym_id="tamp/PlaceInBowl-v0")
class PlaceInBowl(Task):
    def sample(self, rng: np.random.Generator) -> TaskInstance:
        n_red = int(rng.integers(1, 3))
        n_other = int(rng.integers(2, 5))
        specs: list[tuple[str, str, Shape]] = []
        for k in range(n_red):
            specs.append((f"red_block_{k}", "red", self._block(rng)))
        others = rng.choice(BLOCK_COLORS, size=n_other, replace=True)
        for k, color in enumerate(others):
            specs.append((f"{color}_block_{k}", str(color), self._block(rng)))
        other_bowl = str(rng.choice(("blue", "yellow")))
        specs += [("green_bowl", "green", BOWL), (f"{other_bowl}_bowl", other_bowl, BOWL)]
        poses = scatter([s for _, _, s in specs], rng)
        objects = [WorldObject(name, "bowl" if name.endswith("bowl") else "block", color,
                               shape, pose)
                   for (name, color, shape), pose in zip(specs, poses)]
        goal = frozenset(("in", f"red_block_{k}", "green_bowl") for k in range(n_red))
        words = "the red block" if n_red == 1 else "the red blocks"
        return TaskInstance(objects, goal, f"put {words} in the green bowl")

    @staticmethod
    def _block(rng: np.random.Generator) -> Shape:
        return Shape("box", tuple(float(v) for v in rng.uniform(0.04, 0.05, 3)))

    def holds(self, fact: Atom, world: WorldModel, truth: ObjectTruth) -> bool:
        if fact[0] != "in":
            raise ValueError(f"place-in-bowl has no predicate '{fact[0]}'")
        obj, bowl = world.objects[fact[1]], world.objects[fact[2]]
        return is_in_bowl(obj, bowl, tolerance=0.01) and truth.resting[obj.name]
