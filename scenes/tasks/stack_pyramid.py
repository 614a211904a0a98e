"""``stack-pyramid``: six blocks built into a 3-2-1 pyramid in a given colour order.

Per seed: six cubes of one size (40-48 mm) in six distinct colours (of the simulator's
nine), scattered on the table; three places marked on the table in a row (one block wide,
10-14 mm apart) at a seeded position and angle across the table. The goal gives each
place of the pyramid a colour (a random order): three blocks on the marked places, two
blocks each resting across two neighbours of the bottom row, one on top across those two.

Success (ground truth): every block's bottom centre lies within 1 cm (horizontally and in
height) of its place in the pyramid (the marked place, or centred over the two places
below, one block height up), the block upright and at rest.
"""

from __future__ import annotations

import math

import numpy as np

from scenes.tasks.base import Atom, ObjectTruth, Task, TaskInstance
from scenes.tasks.layout import WORKSPACE, yaw_pose
from scenes.tasks.registry import register_task
from tamp.geometry.shapes import footprint_radius
from tamp.domains.pyramid import in_slot, pyramid_slots, slot_name
from tamp.world import Shape, WorldModel, WorldObject, Zone

COLOURS = ("red", "green", "blue", "yellow", "purple", "orange", "cyan", "white", "grey")
ROWS = 3  #: blocks in the bottom row; the pyramid has ROWS * (ROWS + 1) / 2 blocks
#: m kept free between a loose block and the pyramid's footprint, for the open gripper
CLEARANCE = 0.07
#: m kept free between loose blocks' footprint circles
GAP = 0.03


def _row_words(colours: list[str]) -> str:
    return ", ".join(colours[:-1]) + " and " + colours[-1] if len(colours) > 1 else \
        colours[0]


@register_task("stack-pyramid", gym_id="tamp/StackPyramid-v0", max_episode_steps=20000)
class StackPyramid(Task):
    def sample(self, rng: np.random.Generator) -> TaskInstance:
        n = ROWS * (ROWS + 1) // 2
        size = float(rng.uniform(0.04, 0.048))
        gap = float(rng.uniform(0.010, 0.014))
        colours = [str(c) for c in rng.choice(COLOURS, n, replace=False)]
        # the bottom row runs across the table, place 1 on the robot's left (+y)
        centre = np.array([rng.uniform(0.46, 0.56), rng.uniform(-0.12, 0.12)])
        yaw = float(rng.uniform(-0.35, 0.35))
        along = np.array([math.sin(yaw), -math.cos(yaw)])  # from left to right
        pitch = size + gap
        zones = tuple(Zone(slot_name(1, k + 1),
                           yaw_pose(*(centre + (k - (ROWS - 1) / 2) * pitch * along),
                                    yaw - math.pi / 2), (size, size))
                      for k in range(ROWS))
        shape = Shape("box", (size, size, size))
        objects = [WorldObject(f"{c}_block", "block", c, shape, pose)
                   for c, pose in zip(colours, self._scatter(shape, n, centre, along,
                                                             ROWS * pitch, rng))]
        # the goal: colours fill the slots row by row, left to right
        names = [slot_name(row, k) for row in range(1, ROWS + 1)
                 for k in range(1, ROWS - row + 2)]
        goal = frozenset(("on", f"{c}_block", s) for c, s in zip(colours, names))
        rows, i = [], 0
        for row in range(ROWS):
            width = ROWS - row
            rows.append(colours[i:i + width])
            i += width
        words = (f"build a pyramid: {_row_words(rows[0])} on the bottom from left to right, "
                 f"{_row_words(rows[1])} in the middle, {rows[2][0]} on top")
        return TaskInstance(objects, goal, words, domain="pyramid", zones=zones)

    @staticmethod
    def _scatter(shape: Shape, n: int, centre: np.ndarray, along: np.ndarray,
                 length: float, rng: np.random.Generator) -> list[np.ndarray]:
        """Poses for ``n`` loose blocks on the table, clear of each other and of the
        pyramid's row (a segment of ``length`` through ``centre`` along ``along``)."""
        r = footprint_radius(shape)
        (x0, x1), (y0, y1) = WORKSPACE
        placed: list[np.ndarray] = []
        poses = []
        for _ in range(n):
            for _ in range(5000):
                xy = np.array([rng.uniform(x0, x1), rng.uniform(y0, y1)])
                d = xy - centre
                t = float(np.clip(d @ along, -length / 2, length / 2))
                to_row = float(np.linalg.norm(d - t * along))
                if to_row > r + shape.size[0] / 2 + CLEARANCE and \
                        all(np.linalg.norm(xy - c) > 2 * r + GAP for c in placed):
                    break
            else:
                raise RuntimeError("could not scatter the blocks around the pyramid")
            placed.append(xy)
            poses.append(yaw_pose(xy[0], xy[1], rng.uniform(-math.pi, math.pi)))
        return poses

    def holds(self, fact: Atom, world: WorldModel, truth: ObjectTruth) -> bool:
        """``(on block slot)``: the block is in that slot of the pyramid (within 1 cm,
        upright) and at rest; other facts as every task judges them."""
        slots = pyramid_slots(world)
        if fact[0] == "on" and len(fact) == 3 and fact[2] in slots:
            obj = world.objects[fact[1]]
            return in_slot(obj, slots[fact[2]]) and truth.resting[fact[1]]
        return super().holds(fact, world, truth)
