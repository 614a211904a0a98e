"""What the arm hides from the camera, and objects half hidden by what stands on them."""

from __future__ import annotations

import numpy as np
import pytest
from perception_scenes import HEIGHT_TOL, at, render

from tamp.perception import PerceptionConfig, perceive
from tamp.perception.self_filter import RobotFilter, hidden_by, top_points
from tamp.world import Shape, WorldObject


def test_a_sphere_on_the_line_of_sight_hides_what_lies_behind_it():
    camera = np.array([1.0, 0.0, 1.0])
    robot = RobotFilter(np.array([[0.5, 0.0, 0.5]]), np.array([0.05]), margin=0.0)
    points = np.array([[0.0, 0.0, 0.0],  # behind the sphere: hidden
                       [0.0, 0.3, 0.0],  # the line of sight passes 0.1 m beside it
                       [0.75, 0.0, 0.75],  # between the camera and the sphere
                       [0.5, 0.0, 0.56]])  # just above the sphere's top, in front of it
    assert hidden_by(robot, camera, points).tolist() == [True, False, False, False]
    assert not hidden_by(RobotFilter(np.zeros((0, 3)), np.zeros(0)), camera, points).any()


def test_top_points_lie_on_the_top_inside_the_footprint():
    box = WorldObject("b", "block", "red", Shape("box", (0.04, 0.06, 0.05)), at(0.5, 0.1, 0.0, 0.3))
    pts = top_points(box)
    assert pts.shape == (17, 3) and np.allclose(pts[:, 2], 0.05)
    local = (pts[:, :2] - [0.5, 0.1]) @ box.pose[:2, :2]
    assert np.all(np.abs(local) <= [0.02, 0.03]) and np.abs(local).max(0) == pytest.approx(
        [0.018, 0.027])
    disk = WorldObject("d", "disk", "red", Shape("cylinder", (0.03, 0.03, 0.02)), at(0.4, 0.0))
    assert np.linalg.norm(top_points(disk)[1:, :2] - [0.4, 0.0], axis=1) == pytest.approx(
        np.full(16, 0.027))


#: towers as rebuild-tower builds them: (x, y), then per block (x, y, z sides, yaw in deg)
TOWERS = [
    ((0.398, -0.177), [(0.0482, 0.0486, 0.0482, -170.3), (0.0488, 0.048, 0.0484, -164.6),
                       (0.0475, 0.0456, 0.0468, -167.4)]),
    ((0.692, 0.241), [(0.0456, 0.045, 0.0493, 142.1), (0.049, 0.0475, 0.0451, 143.0),
                      (0.0464, 0.0496, 0.0464, 146.2)]),
    ((0.479, 0.079), [(0.0494, 0.0479, 0.0459, -88.6), (0.0492, 0.0495, 0.0495, -90.8),
                      (0.0499, 0.0492, 0.0472, -91.5)]),
]


@pytest.mark.parametrize("xy, blocks", TOWERS)
def test_each_block_of_a_tower_rests_on_the_one_below(xy, blocks):
    """The middle block of a tower can show the camera little more than its front face;
    it still holds up the block on top, and the top block is one block tall."""
    names = ("bottom", "middle", "top")
    objects, z = [], 0.0
    for n, c, (sx, sy, sz, yaw) in zip(names, ("purple", "green", "orange"), blocks):
        objects.append(WorldObject(n, "block", c, Shape("box", (sx, sy, sz)),
                                   at(*xy, z, np.radians(yaw))))
        z += sz
    frame, truth = render(objects)
    for mode in ("instance", "geometric"):
        percept = perceive(frame, PerceptionConfig(segmentation=mode),
                           {o.name: "box" for o in perceive(frame, PerceptionConfig(
                               segmentation=mode)).objects})
        by_source = {o.cloud.source: o for o in percept.objects}
        source = {o.name: o.cloud.source for o in percept.objects}
        assert sorted(by_source) == sorted(names), mode
        assert source.get(by_source["top"].support) == "middle", mode
        assert source.get(by_source["middle"].support) == "bottom", mode
        for n in names:
            fit, gt = by_source[n].fit, truth.objects[n]
            assert abs(fit.pose[2, 3] - gt.position[2]) < HEIGHT_TOL, (mode, n)
            assert abs(fit.shape.height - gt.shape.height) < HEIGHT_TOL, (mode, n)


def test_a_block_across_two_does_not_widen_either():
    """A pyramid's upper block rests on two: neither lower block's footprint is grown to
    reach under all of it (only what rests on one object alone shows its hidden top)."""
    size = 0.042
    objects = [WorldObject("left", "block", "white", Shape("box", (size,) * 3),
                           at(0.505, 0.035)),
               WorldObject("right", "block", "green", Shape("box", (size,) * 3),
                           at(0.513, 0.094)),
               WorldObject("upper", "block", "purple", Shape("box", (size,) * 3),
                           at(0.511, 0.064, size))]
    frame, truth = render(objects)
    for mode in ("instance", "geometric"):
        percept = perceive(frame, PerceptionConfig(segmentation=mode),
                           {o.name: "box" for o in perceive(frame, PerceptionConfig(
                               segmentation=mode)).objects})
        for o in percept.objects:
            assert max(o.fit.shape.size[:2]) < size + 0.006, (mode, o.cloud.source)
            assert abs(o.fit.pose[2, 3] - truth.objects[o.cloud.source].position[2]) \
                < HEIGHT_TOL, (mode, o.cloud.source)
