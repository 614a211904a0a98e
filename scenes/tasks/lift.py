"""``lift``: pick up the red object, whatever its shape, and hold it above the table.

Per seed: one red object of a random kind (block, box, cylinder, disk or bowl; sizes
within the stated ranges below) at a random pose in reach, plus 0-2 distractor blocks.

Success (ground truth): the object's bottom is at least 5 cm above the table, it touches
the robot, and it does not touch the table.
"""

from __future__ import annotations

import numpy as np

from scenes.tasks.base import Task, TaskInstance
from scenes.tasks.layout import scatter
from scenes.tasks.registry import register_task
from tamp.world import Shape, WorldObject

KINDS = ("block", "box", "cylinder", "disk", "bowl")
#: m from the robot's base: every footprint lies in reach of a grasp from above for each
#: robot of robots/ (tests/scenes/test_task_reach.py; a bowl is grasped by its rim)
REACH = (0.22, 0.74)


def sample_shape(kind: str, rng: np.random.Generator) -> Shape:
    u = rng.uniform
    if kind == "block":
        return Shape("box", (u(0.04, 0.05), u(0.04, 0.05), u(0.04, 0.05)))
    if kind == "box":
        return Shape("box", (u(0.05, 0.07), u(0.03, 0.045), u(0.06, 0.10)))
    if kind == "cylinder":
        r = u(0.02, 0.03)
        return Shape("cylinder", (r, r, u(0.06, 0.10)))
    if kind == "disk":  # at most 7 cm across: the 85 mm stroke less a 1 cm margin
        r = u(0.025, 0.035)
        return Shape("cylinder", (r, r, u(0.018, 0.025)))
    if kind == "bowl":
        return Shape("bowl", (u(0.10, 0.12), u(0.07, 0.08), u(0.04, 0.05)))
    raise ValueError(f"unknown object kind '{kind}'")


@register_task("lift", gym_id="tamp/Lift-v0", max_episode_steps=2000)
class Lift(Task):
    def __init__(self, kind: str | None = None):
        self.kind = kind  # None: drawn per seed

    def sample(self, rng: np.random.Generator) -> TaskInstance:
        kind = self.kind or str(rng.choice(KINDS))
        shapes = [sample_shape(kind, rng)] + [sample_shape("block", rng)
                                              for _ in range(int(rng.integers(0, 3)))]
        poses = scatter(shapes, rng, reach=REACH)
        objects = [WorldObject(f"red_{kind}", kind, "red", shapes[0], poses[0])]
        colors = ("blue", "yellow", "orange")
        objects += [WorldObject(f"{colors[k]}_block_{k}", "block", colors[k], s, p)
                    for k, (s, p) in enumerate(zip(shapes[1:], poses[1:]))]
        return TaskInstance(objects, frozenset({("holding", f"red_{kind}")}),
                            f"pick up the red {kind}")
