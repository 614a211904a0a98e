"""``towers-of-hanoi``: move a stack of 3 or 4 disks from the first marked place to the
third, one disk at a time, never a larger disk on a smaller one.

Per seed: 3 or 4 disks (radii 21-36 mm in 5 mm steps, 20-25 mm thick, distinct colours)
stacked largest-first on place ``place_1``; three 10 x 10 cm places marked on the table
in a row at a seeded position and angle. Optimal plans move 7 or 15 disks (14 or 30
actions).

Success (ground truth): each disk rests on the next larger one and the largest on
``place_3`` (within its marked square).

``towers-of-hanoi-3`` is the Ravens protocol's variant (Zeng et al. 2020, whose
towers-of-hanoi always has three disks): exactly 3 disks on every seed, so that a
one-demonstration policy is evaluated on scenes with the disks it was shown.
"""

from __future__ import annotations

import math

import numpy as np

from scenes.tasks.base import Task, TaskInstance
from scenes.tasks.layout import yaw_pose
from scenes.tasks.registry import register_task
from tamp.world import Shape, WorldObject, Zone

COLOURS = ("red", "orange", "yellow", "green", "blue")
SPACING = 0.15  #: m between the centres of the places


@register_task("towers-of-hanoi", gym_id="tamp/TowersOfHanoi-v0", max_episode_steps=40000)
class TowersOfHanoi(Task):
    def __init__(self, n_disks: int | None = None):
        self.n_disks = n_disks  # None: 3 or 4, drawn per seed

    def sample(self, rng: np.random.Generator) -> TaskInstance:
        n = self.n_disks or int(rng.integers(3, 5))
        centre = np.array([rng.uniform(0.45, 0.55), rng.uniform(-0.05, 0.05)])
        yaw = rng.uniform(-0.3, 0.3)
        axis = np.array([-math.sin(yaw), math.cos(yaw)])  # the row runs across the table
        zones = tuple(Zone(f"place_{k + 1}", yaw_pose(*(centre + (k - 1) * SPACING * axis),
                                                      yaw), (0.1, 0.1)) for k in range(3))
        thickness = float(rng.uniform(0.02, 0.025))
        objects, z = [], 0.0
        base = zones[0].pose
        for k in range(n):  # largest first, at the bottom
            r = 0.036 - 0.005 * (k + (4 - n))
            name = f"disk_{n - k}"  # disk_1 is the smallest
            pose = yaw_pose(base[0, 3], base[1, 3], rng.uniform(-math.pi, math.pi), z)
            objects.append(WorldObject(name, "disk", COLOURS[k], Shape("cylinder",
                                                                       (r, r, thickness)),
                                       pose))
            z += thickness
        goal = {("on", f"disk_{n}", "place_3")}
        goal |= {("on", f"disk_{k}", f"disk_{k + 1}") for k in range(1, n)}
        return TaskInstance(objects, frozenset(goal),
                            f"move the {n} disks from place 1 to place 3",
                            domain="hanoi-tabletop", zones=zones)


@register_task("towers-of-hanoi-3", gym_id="tamp/TowersOfHanoi3-v0", max_episode_steps=40000)
class TowersOfHanoi3(TowersOfHanoi):
    """Towers of Hanoi with exactly 3 disks on every seed (the Ravens protocol)."""

    variant_of = "towers-of-hanoi"

    def __init__(self):
        super().__init__(n_disks=3)
