"""``sort-by-colour``: put every block into the bowl of its colour.

Per seed: 2 or 3 bowls of distinct colours and 8 or 9 blocks (35-40 mm) of those colours,
at most 4 per bowl (the 100 mm flat bottom holds four), scattered on the table.

Success (ground truth): every block rests in the bowl of its colour (see ``Task.holds``).
"""

from __future__ import annotations

import numpy as np

from scenes.tasks.base import Task, TaskInstance
from scenes.tasks.layout import block_shape, scatter
from scenes.tasks.registry import register_task
from tamp.world import Shape, WorldObject

BOWL = Shape("bowl", (0.135, 0.10, 0.045))
COLOURS = ("red", "green", "blue", "yellow")
WORKSPACE = ((0.30, 0.68), (-0.42, 0.42))


@register_task("sort-by-colour", gym_id="tamp/SortByColour-v0", max_episode_steps=12000)
class SortByColour(Task):
    def sample(self, rng: np.random.Generator) -> TaskInstance:
        n_bowls = int(rng.integers(2, 4))
        colours = [str(c) for c in rng.choice(COLOURS, n_bowls, replace=False)]
        n_blocks = int(rng.integers(8, 10)) if n_bowls == 3 else 8
        counts = np.full(n_bowls, n_blocks // n_bowls)
        counts[:n_blocks % n_bowls] += 1
        block_colours = [c for c, k in zip(colours, counts) for _ in range(k)]
        shapes = [BOWL] * n_bowls + [block_shape(rng, 0.035, 0.04) for _ in block_colours]
        poses = scatter(shapes, rng, gap=0.02, workspace=WORKSPACE)
        objects = [WorldObject(f"{c}_bowl", "bowl", c, BOWL, p)
                   for c, p in zip(colours, poses[:n_bowls])]
        objects += [WorldObject(f"{c}_block_{k}", "block", c, s, p) for k, (c, s, p) in
                    enumerate(zip(block_colours, shapes[n_bowls:], poses[n_bowls:]))]
        goal = frozenset(("in", o.name, f"{o.color}_bowl") for o in objects
                         if o.category == "block")
        return TaskInstance(objects, goal, "sort the blocks into the bowls of their colour")
