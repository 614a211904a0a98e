"""``packing-boxes``: put every box into the tray — which holds them in few arrangements.

Per seed: a tray whose inside is cut into 4 rectangles by one cut across and one cut
along each half (cut positions random), every rectangle shrunk to leave room for the
gripper's fingers around it (35 mm); the boxes are those rectangles (30-60 mm tall),
scattered on the table turned by random multiples of 90 degrees plus a little. A box
that does not fit one of the tight arrangements blocks the others.

Success (ground truth): every box rests inside the tray (see ``Task.holds``).
"""

from __future__ import annotations

import numpy as np

from scenes.tasks.base import Task, TaskInstance
from scenes.tasks.layout import scatter, yaw_pose
from scenes.tasks.registry import register_task
from tamp.world import Shape, WorldObject

GAP = 0.035  #: m around each box in the tray (as the planner packs them)
WALL = 0.008
COLOURS = ("red", "green", "blue", "yellow", "orange", "purple")
WORKSPACE = ((0.30, 0.68), (-0.42, 0.42))
#: m from the robot's base: every footprint (the tray's included) lies where a top-down
#: grasp or release is in easy reach of each robot of robots/
#: (tests/scenes/test_task_reach.py)
REACH = (0.22, 0.74)


@register_task("packing-boxes", gym_id="tamp/PackingBoxes-v0", max_episode_steps=12000)
class PackingBoxes(Task):
    def sample(self, rng: np.random.Generator) -> TaskInstance:
        # the free floor, then cells: a cut across x, and one cut along y in each half
        width, depth = rng.uniform(0.21, 0.25), rng.uniform(0.19, 0.23)
        cx = rng.uniform(0.4, 0.6) * width
        cells = []
        for x0, x1 in ((0.0, cx), (cx, width)):
            cy = rng.uniform(0.4, 0.6) * depth
            cells += [(x1 - x0, cy), (x1 - x0, depth - cy)]
        sizes = []
        for w, d in cells:  # a box fills its cell less the gap, and fits the stroke
            bx, by = w - GAP, d - GAP
            sizes.append((float(min(bx, 0.09)), float(min(by, 0.065)), rng.uniform(0.03, 0.06)))
        # the tray: the cells plus the outer gap, plus walls
        slack = 0.006  # a few mm: an exact fit would hinge on rounding
        tray = Shape("tray", (width + GAP + 2 * WALL + slack, depth + GAP + 2 * WALL + slack,
                              0.03), WALL)
        shapes = [tray] + [Shape("box", s) for s in sizes]
        poses = scatter(shapes, rng, gap=0.04, workspace=WORKSPACE, reach=REACH)
        tray_pose = yaw_pose(poses[0][0, 3], poses[0][1, 3], rng.choice([0.0, np.pi / 2]))
        objects = [WorldObject("tray", "tray", "grey", tray, tray_pose, movable=False)]
        for k, (shape, pose) in enumerate(zip(shapes[1:], poses[1:])):
            objects.append(WorldObject(f"{COLOURS[k]}_box", "box", COLOURS[k], shape, pose))
        goal = frozenset(("in", o.name, "tray") for o in objects[1:])
        return TaskInstance(objects, goal, "pack all the boxes into the tray")
