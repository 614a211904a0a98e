"""``clear-then-place``: put the red block in the green bowl — which is already full.

Per seed: the green bowl holds 3 distractor blocks (40-45 mm) spread around its centre so
that no room is left for the red block; the planner has to take some out first. A second bowl and 0-2 more
blocks stand around.

Success (ground truth): the red block rests in the green bowl.
"""

from __future__ import annotations

import numpy as np

from scenes.tasks.base import Task, TaskInstance
from scenes.tasks.layout import block_shape, scatter, yaw_pose
from scenes.tasks.registry import register_task
from tamp.world import Shape, WorldObject

BOWL = Shape("bowl", (0.13, 0.09, 0.05))
OTHER = ("blue", "yellow", "orange", "purple", "cyan")


@register_task("clear-then-place", gym_id="tamp/ClearThenPlace-v0", max_episode_steps=10000)
class ClearThenPlace(Task):
    def sample(self, rng: np.random.Generator) -> TaskInstance:
        n_inside = 3
        n_extra = int(rng.integers(0, 3))
        red = block_shape(rng, 0.045, 0.05)
        inside = [block_shape(rng, 0.04, 0.045) for _ in range(n_inside)]
        extra = [block_shape(rng, 0.04, 0.05) for _ in range(n_extra)]
        other_bowl = str(rng.choice(("blue", "yellow")))
        poses = scatter([BOWL, BOWL, red] + extra, rng)
        bowl = poses[0]
        objects = [WorldObject("green_bowl", "bowl", "green", BOWL, bowl),
                   WorldObject(f"{other_bowl}_bowl", "bowl", other_bowl, BOWL, poses[1]),
                   WorldObject("red_block", "block", "red", red, poses[2])]
        # fill the bowl: blocks evenly around its centre, leaving no room for another
        radius = 0.045
        phase = rng.uniform(0, 2 * np.pi)
        colours = rng.choice(OTHER, n_inside + n_extra, replace=True)
        for k, shape in enumerate(inside):
            a = phase + 2 * np.pi * k / n_inside
            x, y = bowl[0, 3] + radius * np.cos(a), bowl[1, 3] + radius * np.sin(a)
            pose = yaw_pose(x, y, a + rng.uniform(-0.2, 0.2), BOWL.wall)
            objects.append(WorldObject(f"{colours[k]}_block_{k}", "block", str(colours[k]),
                                       shape, pose))
        for k, (shape, pose) in enumerate(zip(extra, poses[3:]), start=n_inside):
            objects.append(WorldObject(f"{colours[k]}_block_{k}", "block", str(colours[k]),
                                       shape, pose))
        return TaskInstance(objects, frozenset({("in", "red_block", "green_bowl")}),
                            "put the red block in the green bowl")
