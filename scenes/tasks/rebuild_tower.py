"""``rebuild-tower``: a tower of three blocks must be rebuilt in another order.

Per seed: three blocks (45-50 mm, distinct colours) stacked at a random spot, and the goal
order a different permutation of the three — the subgoals undo each other if taken one at
a time (the Sussman anomaly is one of the cases). 0-2 distractor blocks lie around.

Success (ground truth): each goal block rests on the one named below it.
"""

from __future__ import annotations

import itertools

import numpy as np

from scenes.tasks.base import Task, TaskInstance
from scenes.tasks.layout import block_shape, scatter, yaw_pose
from scenes.tasks.registry import register_task
from tamp.world import WorldObject

COLOURS = ("red", "green", "blue", "yellow", "orange", "purple")


@register_task("rebuild-tower", gym_id="tamp/RebuildTower-v0", max_episode_steps=8000)
class RebuildTower(Task):
    def sample(self, rng: np.random.Generator) -> TaskInstance:
        colours = [str(c) for c in rng.choice(COLOURS, 5, replace=False)]
        tower = [f"{c}_block" for c in colours[:3]]  # bottom to top
        n_extra = int(rng.integers(0, 3))
        shapes = [block_shape(rng, 0.045, 0.05) for _ in range(3 + n_extra)]
        # the tower occupies one footprint: scatter its base with the distractors
        poses = scatter([shapes[0]] + shapes[3:], rng)
        base = poses[0]
        yaw = float(np.arctan2(base[1, 0], base[0, 0]))
        objects, z = [], 0.0
        for k, name in enumerate(tower):
            pose = yaw_pose(base[0, 3], base[1, 3], yaw + rng.uniform(-0.1, 0.1), z)
            objects.append(WorldObject(name, "block", colours[k], shapes[k], pose))
            z += shapes[k].size[2]
        objects += [WorldObject(f"{colours[3 + k]}_block", "block", colours[3 + k], s, p)
                    for k, (s, p) in enumerate(zip(shapes[3:], poses[1:]))]
        orders = [o for o in itertools.permutations(tower) if list(o) != tower]
        order = orders[int(rng.integers(len(orders)))]
        goal = frozenset({("on", order[1], order[0]), ("on", order[2], order[1])})
        words = ", ".join(n.split("_")[0] for n in order)
        return TaskInstance(objects, goal, f"rebuild the tower as {words} from the bottom")
