"""Primitive fits from rendered points: kind, pose and size within stated tolerances."""

from __future__ import annotations

import numpy as np
import pytest
from perception_scenes import HEIGHT_TOL, at, check_fit, render  # noqa: F401

from scenes.env import TabletopEnv
from tamp.perception import PerceptionConfig, perceive, world_model
from tamp.perception.cloud import ObjectCloud
from tamp.perception.fit import BOWL_WALL, fit_object, min_area_rectangle
from tamp.world import Shape, WorldObject

def test_min_area_rectangle_of_a_rotated_rectangle():
    rng = np.random.default_rng(0)
    yaw = 0.4
    local = rng.uniform([-0.03, -0.02], [0.03, 0.02], (500, 2))
    local = np.vstack([local, [[-0.03, -0.02], [0.03, -0.02], [0.03, 0.02], [-0.03, 0.02]]])
    r = np.array([[np.cos(yaw), -np.sin(yaw)], [np.sin(yaw), np.cos(yaw)]])
    rect = min_area_rectangle(local @ r.T + [0.5, 0.1])
    assert sorted([rect.length, rect.width]) == pytest.approx([0.04, 0.06], abs=1e-9)
    assert rect.centre == pytest.approx([0.5, 0.1], abs=1e-9)
    assert min(abs(rect.yaw - yaw), abs(rect.yaw - yaw + np.pi / 2)) < 1e-9


@pytest.mark.parametrize("task, seeds", [("place-in-bowl", [0, 3]), ("lift", [1, 2, 4, 8])])
def test_fits_of_task_objects(task, seeds):
    env = TabletopEnv(task)
    try:
        for seed in seeds:
            env.reset(seed=seed)
            truth = env.oracle_world()
            percept = perceive(env.capture(), PerceptionConfig(segmentation="instance"))
            assert len(percept.objects) == len(truth.objects)
            for o in percept.objects:
                check_fit(o.fit, truth.objects[o.cloud.source])
                assert o.support == "" and o.fit.bottom == 0.0
    finally:
        env.close()


def test_a_bowl_seen_down_to_its_floor_rests_on_the_table():
    """The lowest point seen of a bowl is often its floor, a wall's thickness above the
    table (the foot of its outer wall is seen at a grazing angle, if at all)."""
    top, floor, height = 0.13, 0.09, 0.05
    a = np.linspace(0.0, 2 * np.pi, 120, endpoint=False)
    ring = [np.c_[r * np.cos(a), r * np.sin(a), np.full_like(a, z)] for r, z in
            [(top, height), (top - BOWL_WALL, height)]
            + [(r, BOWL_WALL + (height - BOWL_WALL) * (r - floor) / (top - BOWL_WALL - floor))
               for r in np.linspace(floor, top - BOWL_WALL, 8)]]
    g = np.arange(-floor, floor, 0.006)
    xy = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    xy = xy[np.linalg.norm(xy, axis=1) < floor]
    points = np.vstack(ring + [np.c_[xy, np.full(len(xy), BOWL_WALL)]]) + [0.5, 0.1, 0.0]
    fit = fit_object(ObjectCloud("bowl", points, np.ones_like(points)), 0.0)
    assert fit.kind == "bowl" and fit.bottom == 0.0
    assert abs(fit.shape.height - height) < 1e-9


def test_supports_set_the_bottom_of_stacked_and_contained_objects():
    bowl = Shape("bowl", (0.12, 0.08, 0.05))
    objects = [
        WorldObject("green_bowl", "bowl", "green", bowl, at(0.5, -0.15)),
        WorldObject("red_block", "block", "red", Shape("box", (0.04, 0.045, 0.04)),
                    at(0.5, -0.15, bowl.wall + 0.001, 0.5)),
        WorldObject("blue_block", "block", "blue", Shape("box", (0.06, 0.06, 0.05)),
                    at(0.55, 0.15, 0.0, 0.3)),
        WorldObject("yellow_disk", "disk", "yellow", Shape("cylinder", (0.025, 0.025, 0.02)),
                    at(0.55, 0.15, 0.051)),
        WorldObject("grey_tray", "tray", "grey", Shape("tray", (0.2, 0.15, 0.03)),
                    at(0.45, 0.3, 0.0, 0.2)),
        WorldObject("cyan_block", "block", "cyan", Shape("box", (0.04, 0.04, 0.045)),
                    at(0.45, 0.3, 0.009, 0.7)),
    ]
    frame, truth = render(objects)
    for mode in ("instance", "geometric"):
        seen = perceive(frame, PerceptionConfig(segmentation=mode))
        # the primitive comes from the shape concepts in use; here from the truth
        kinds = {o.name: truth.objects[o.cloud.source].shape.kind for o in seen.objects}
        percept = perceive(frame, PerceptionConfig(segmentation=mode), kinds)
        by_source = {o.cloud.source: o for o in percept.objects}
        names = {o.name: o.cloud.source for o in percept.objects}
        red, disk = by_source["red_block"], by_source["yellow_disk"]
        assert names[red.support] == "green_bowl" and names[disk.support] == "blue_block"
        assert names[by_source["cyan_block"].support] == "grey_tray"
        assert by_source["blue_block"].support == by_source["green_bowl"].support == ""
        for o in percept.objects:  # bottoms from the supports, so heights are whole
            gt = truth.objects[o.cloud.source]
            assert abs(o.fit.pose[2, 3] - gt.position[2]) < HEIGHT_TOL, (mode, gt.name)
            assert abs(o.fit.shape.height - gt.shape.height) < HEIGHT_TOL, (mode, gt.name)
            if gt.name != "blue_block":  # the disk hides part of the block's top face
                check_fit(o.fit, gt)
        assert by_source["blue_block"].fit.kind == "box"


def test_world_model_for_the_planner(env):
    env.reset(seed=0)
    percept = perceive(env.capture())
    world = world_model(percept, {o.name: ("block", "red") for o in percept.objects})
    assert set(world.objects) == {o.name for o in percept.objects}
    assert abs(world.table_height) < 0.003
    obj = world.objects["obj_0"]
    assert obj.category == "block" and obj.color == "red" and obj.movable
    assert obj.pose.shape == (4, 4)
