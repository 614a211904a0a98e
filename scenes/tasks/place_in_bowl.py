"""``place-in-bowl``: put the red block(s) in the green bowl, among distractors.

Per seed: 1-2 red blocks, 2-4 distractor blocks of other colours, the green bowl and one
distractor bowl; block edges 40-50 mm; positions uniform on the reachable part of the table
with no footprints overlapping.

Success (ground truth): every red block rests in the green bowl — its centre within the
bowl's flat bottom radius + 10 mm, its bottom no lower than 10 mm below the bowl's bottom and
below the rim, moving slower than 5 cm/s and not touching the robot.
"""

from __future__ import annotations

import numpy as np

from scenes.tasks.base import Task, TaskInstance
from scenes.tasks.layout import block_shape, scatter
from scenes.tasks.registry import register_task
from tamp.world import Shape, WorldObject

BLOCK_COLORS = ("blue", "yellow", "purple", "orange", "cyan")
BOWL = Shape("bowl", (0.13, 0.09, 0.05))  # top outer radius, bottom inner radius, height


@register_task("place-in-bowl", gym_id="tamp/PlaceInBowl-v0")
class PlaceInBowl(Task):
    def sample(self, rng: np.random.Generator) -> TaskInstance:
        n_red = int(rng.integers(1, 3))
        n_other = int(rng.integers(2, 5))
        specs: list[tuple[str, str, Shape]] = []
        for k in range(n_red):
            specs.append((f"red_block_{k}", "red", block_shape(rng)))
        others = rng.choice(BLOCK_COLORS, size=n_other, replace=True)
        for k, color in enumerate(others):
            specs.append((f"{color}_block_{k}", str(color), block_shape(rng)))
        other_bowl = str(rng.choice(("blue", "yellow")))
        specs += [("green_bowl", "green", BOWL), (f"{other_bowl}_bowl", other_bowl, BOWL)]
        poses = scatter([s for _, _, s in specs], rng)
        objects = [WorldObject(name, "bowl" if name.endswith("bowl") else "block", color,
                               shape, pose)
                   for (name, color, shape), pose in zip(specs, poses)]
        goal = frozenset(("in", f"red_block_{k}", "green_bowl") for k in range(n_red))
        words = "the red block" if n_red == 1 else "the red blocks"
        return TaskInstance(objects, goal, f"put {words} in the green bowl")

