"""Primitive fits from rendered points: kind, pose and size within stated tolerances."""

from __future__ import annotations

import math

import numpy as np
import pytest
from perception_scenes import at, render  # noqa: F401

from scenes.env import TabletopEnv
from tamp.perception import PerceptionConfig, perceive, world_model
from tamp.perception.fit import min_area_rectangle
from tamp.world import Shape, WorldObject

#: m: bottom-centre position (xy), height, box sides, cylinder radius, bowl radii
POSITION_TOL, HEIGHT_TOL, SIDE_TOL, RADIUS_TOL, BOWL_TOL = 0.005, 0.003, 0.005, 0.003, 0.006
YAW_TOL = math.radians(6)


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


def _yaw_error(fit_pose: np.ndarray, true_pose: np.ndarray) -> float:
    """Difference of yaw modulo a quarter turn (a box's sides are interchangeable)."""
    d = math.atan2(fit_pose[1, 0], fit_pose[0, 0]) - math.atan2(true_pose[1, 0], true_pose[0, 0])
    return abs((d + math.pi / 4) % (math.pi / 2) - math.pi / 4)


def _check(fit, gt: WorldObject) -> None:
    assert fit.kind == gt.shape.kind, gt.name
    assert np.linalg.norm(fit.pose[:2, 3] - gt.position[:2]) < POSITION_TOL, gt.name
    assert abs(fit.shape.height - gt.shape.height) < HEIGHT_TOL, gt.name
    f, t = np.array(fit.shape.size), np.array(gt.shape.size)
    if gt.shape.kind in ("box", "tray"):
        assert _yaw_error(fit.pose, gt.pose) < YAW_TOL, gt.name
        # the true box's extents along the fitted box's axes
        rel = np.abs(fit.pose[:2, :2].T @ gt.pose[:2, :2])
        assert np.abs(f[:2] - rel @ t[:2]).max() < SIDE_TOL, gt.name
    elif gt.shape.kind == "cylinder":
        assert abs(f[0] - t[0]) < RADIUS_TOL, gt.name
    else:  # the rendered bowl is a 16-sided ring: its flats lie inside the circle
        assert np.abs(f[:2] - t[:2]).max() < BOWL_TOL, gt.name


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
                _check(o.fit, truth.objects[o.cloud.source])
                assert o.support == "" and o.fit.bottom == 0.0
    finally:
        env.close()


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
                _check(o.fit, gt)
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
