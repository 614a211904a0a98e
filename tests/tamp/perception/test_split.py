"""Without masks, objects of one colour that touch are told apart by their geometry:
the rim of a bowl, the flat tops of blocks, the notches of a joint footprint."""

from __future__ import annotations

import math

import numpy as np
import pytest
from perception_scenes import HEIGHT_TOL, at, check_fit, render, touching_pair

from tamp.perception import PerceptionConfig, perceive
from tamp.perception.segment import SegmentationConfig, segment
from tamp.perception.solids import _best_cut
from tamp.world import Shape, WorldObject


def box(x: float, y: float, z: float) -> Shape:
    return Shape("box", (x, y, z))


#: pairs of blocks of one colour: (name, colour, where, (shape, yaw), (shape, yaw),
#: direction of the second from the first, gap between the footprints in m)
PAIRS = {
    "side by side": [
        # equal heights, yaws apart: only the notches of the joint footprint tell
        ("p1", "red", (0.42, -0.25), (box(.04, .04, .04), 0.0), (box(.04, .04, .04), 0.5),
         math.pi / 2, 0.0003),
        # one behind the other as the camera sees them, tops 3 mm apart in height
        ("p2", "green", (0.42, 0.0), (box(.038, .042, .037), 0.2), (box(.04, .04, .04), 0.2),
         0.0, 0.001),
        ("p3", "blue", (0.42, 0.25), (box(.045, .045, .045), 0.0),
         (box(.045, .045, .045), 0.8), math.pi / 4, 0.002),
        ("p4", "yellow", (0.62, -0.2), (box(.036, .036, .038), 1.0),
         (box(.044, .048, .038), 0.3), -math.pi / 3, 0.005),
        ("p5", "orange", (0.62, 0.15), (box(.04, .045, .042), -0.4),
         (box(.04, .04, .042), 0.4), 0.35, 0.0005),
    ],
    "more yaws": [
        ("q1", "red", (0.42, -0.25), (box(.035, .037, .036), 0.3),
         (box(.039, .036, .036), -0.3), math.pi / 2 + 0.2, 0.0005),
        ("q2", "green", (0.45, 0.0), (box(.045, .045, .045), 0.1), (box(.045, .045, .05), 0.1),
         math.pi, 0.003),
        ("q3", "blue", (0.42, 0.25), (box(.04, .04, .04), 0.6), (box(.04, .04, .045), 0.6),
         -math.pi / 2 + 0.6, 0.001),
        ("q4", "yellow", (0.62, -0.2), (box(.05, .04, .04), 0.0), (box(.04, .04, .04), 0.25),
         math.pi / 2, 0.002),
        ("q5", "orange", (0.62, 0.15), (box(.038, .038, .038), 0.7),
         (box(.036, .04, .038), 0.1), -2.5, 0.004),
    ],
}

SORT_BOWL = Shape("bowl", (0.135, 0.10, 0.045))  # as in sort-by-colour
BOWL = Shape("bowl", (0.13, 0.09, 0.05))  # as in place-in-bowl and clear-then-place


def bowls_with_blocks_of_their_colour() -> list[WorldObject]:
    """A red bowl holding three red blocks with a red block touching it outside, and a
    green bowl holding two green blocks side by side with a green block behind it."""
    red = [WorldObject("red_bowl", "bowl", "red", SORT_BOWL, at(0.45, -0.16))]
    for k, (a, yaw, size) in enumerate([(0.3, 0.2, (.037, .036, .038)),
                                        (2.4, 1.0, (.04, .04, .035)),
                                        (4.2, 0.5, (.035, .039, .04))]):
        red.append(WorldObject(f"red_in_{k}", "block", "red", box(*size),
                               at(0.45 + 0.065 * math.cos(a), -0.16 + 0.065 * math.sin(a),
                                  SORT_BOWL.wall + 0.0005, yaw)))
    red.append(WorldObject("red_out", "block", "red", box(.04, .04, .04),
                           at(0.45, -0.16 + 0.135 + 0.0265, 0.0, 0.3)))
    green = [WorldObject("green_bowl", "bowl", "green", BOWL, at(0.55, 0.2))]
    green += [WorldObject(f"green_in_{k}", "block", "green", box(.04, .04, .042 + 0.003 * k),
                          at(0.53 + 0.0402 * k, 0.2, BOWL.wall + 0.0005)) for k in range(2)]
    green.append(WorldObject("green_out", "block", "green", box(.045, .045, .045),
                             at(0.55 - 0.13 - 0.0235, 0.2, 0.0, 0.3)))
    return red + green


def _perceived(frame, truth, mode: str):
    """Perception with the true primitive of each object (as from the shape concepts)."""
    config = PerceptionConfig(segmentation=mode)
    seen = perceive(frame, config)
    return perceive(frame, config, {o.name: truth.objects[o.cloud.source].shape.kind
                                    for o in seen.objects})


@pytest.mark.parametrize("scene", sorted(PAIRS))
def test_touching_blocks_of_one_colour_are_split(scene):
    frame, truth = render([o for pair in PAIRS[scene] for o in touching_pair(*pair)],
                          settle=30)
    seg = segment(frame, "geometric")
    assert sorted(o.source for o in seg.objects) == sorted(truth.objects)
    for o in seg.objects:  # the points of one block each, give or take a few edge pixels
        assert np.mean(frame.instance.ravel()[_pixels(frame, o.points)]
                       == frame.labels.index(o.source)) > 0.95, o.source
    for o in _perceived(frame, truth, "geometric").objects:
        check_fit(o.fit, truth.objects[o.cloud.source])
        assert o.support == ""


def test_blocks_in_and_beside_a_bowl_of_their_colour_are_split():
    frame, truth = render(bowls_with_blocks_of_their_colour(), settle=30)
    seg = segment(frame, "geometric")
    assert sorted(o.source for o in seg.objects) == sorted(truth.objects)
    percept = _perceived(frame, truth, "geometric")
    names = {o.name: o.cloud.source for o in percept.objects}
    for o in percept.objects:
        gt = truth.objects[o.cloud.source]
        check_fit(o.fit, gt)
        assert abs(o.fit.pose[2, 3] - gt.position[2]) < HEIGHT_TOL, gt.name
        inside = "_in_" in gt.name
        assert names.get(o.support, "") == (gt.name.split("_")[0] + "_bowl" if inside else "")


def test_the_merge_that_remains():
    """Two blocks of one colour, one height and one yaw, one right behind the other as the
    camera sees them: their tops join seamlessly and their footprint is one rectangle, so
    they stay one object (the documented limit)."""
    objects = [WorldObject(f"red_{k}", "block", "red", box(.04, .04, .04),
                           at(0.5 + 0.0201 * (2 * k - 1), 0.05)) for k in range(2)]
    frame, _ = render(objects, settle=10)
    assert len(segment(frame, "instance").objects) == 2
    assert len(segment(frame, "geometric").objects) == 1


def test_single_objects_and_other_colours_are_left_alone(env):
    """Splitting changes nothing where every cluster is one object: single objects of
    every kind (a long packing box and a tray holding a box too) and touching objects of
    different colours."""
    objects = [
        WorldObject("long_box", "box", "red", box(.09, .045, .045), at(0.4, -0.3, 0.0, 0.3)),
        WorldObject("tall_box", "box", "green", box(.06, .04, .09), at(0.4, -0.15, 0.0, -0.7)),
        WorldObject("cylinder", "cylinder", "blue", Shape("cylinder", (.025, .025, .08)),
                    at(0.4, 0.0)),
        WorldObject("disk", "disk", "yellow", Shape("cylinder", (.033, .033, .02)),
                    at(0.4, 0.12)),
        WorldObject("bowl", "bowl", "purple", Shape("bowl", (.11, .075, .045)),
                    at(0.65, -0.2)),
        WorldObject("tray", "tray", "grey", Shape("tray", (.2, .15, .03)), at(0.65, 0.15)),
        WorldObject("in_tray", "box", "cyan", box(.05, .04, .04), at(0.62, 0.15, 0.009, 0.2)),
    ]
    objects += touching_pair("pair", "orange", (0.45, 0.3), (box(.04, .04, .04), 0.0),
                             (box(.04, .04, .04), 0.5), math.pi / 2, 0.0005)
    objects[-1] = WorldObject("pair_b", "block", "blue", objects[-1].shape, objects[-1].pose)
    frame, truth = render(objects, settle=30)
    assert sorted(o.source for o in segment(frame, "geometric").objects) == \
        sorted(truth.objects)
    frames = [frame]
    for seed in (0, 1):
        env.reset(seed=seed)
        frames.append(env.capture())
    for frame in frames:
        split = segment(frame, "geometric")
        whole = segment(frame, "geometric", SegmentationConfig(split=False))
        assert [(o.source, o.n) for o in split.objects] == \
            [(o.source, o.n) for o in whole.objects]


def test_a_cut_separates_two_rotated_squares_and_no_single_footprint():
    rng = np.random.default_rng(0)

    def square(centre, side, yaw, spacing=0.004):
        g = np.arange(-side / 2, side / 2 + 1e-9, spacing)
        local = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
        local += rng.uniform(-0.0005, 0.0005, local.shape)
        r = np.array([[np.cos(yaw), -np.sin(yaw)], [np.sin(yaw), np.cos(yaw)]])
        return local @ r.T + centre

    cfg = SegmentationConfig()
    a, b = square([0.0, 0.0], 0.04, 0.0), square([0.0, 0.0455], 0.04, 0.4)
    cut = _best_cut(np.vstack([a, b]), cfg)
    assert cut is not None
    side_a, side_b = cut[:len(a)].mean(), cut[len(a):].mean()
    assert min(side_a, 1 - side_a) < 0.02 and min(side_b, 1 - side_b) < 0.02
    assert round(side_a) != round(side_b)
    for single in (square([0.0, 0.0], 0.045, 0.3),
                   np.vstack([square([0.0, 0.0], 0.045, 0.0),
                              square([0.045, 0.0], 0.045, 0.0)]),  # a 90 x 45 mm box
                   _disk(0.03)):
        assert _best_cut(single, cfg) is None


def _disk(radius: float, spacing: float = 0.004) -> np.ndarray:
    g = np.arange(-radius, radius + 1e-9, spacing)
    xy = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    return xy[np.linalg.norm(xy, axis=1) <= radius]


def _pixels(frame, points: np.ndarray) -> np.ndarray:
    """The pixels (flat indices) that the world points of ``frame`` came from."""
    from scipy.spatial import cKDTree

    from tamp.perception.cloud import backproject

    _, pix = cKDTree(backproject(frame).xyz.reshape(-1, 3)).query(points)
    return pix


@pytest.mark.parametrize("x, y, dx, dy", [(0.521, 0.126, 0.007, 0.002), (0.521, 0.126, 0, 0),
                                          (0.45, 0.0, -0.006, 0.005)])
def test_a_disk_on_a_wider_one_leaves_one_crescent_not_two_objects(x, y, dx, dy):
    """The small disk hides a bite of the wide one's top: a notch that something stands
    in, not a gap between two objects of its colour."""
    objects = [WorldObject("red", "disk", "red", Shape("cylinder", (0.035, 0.035, 0.024)),
                           at(x, y)),
               WorldObject("green", "disk", "green", Shape("cylinder", (0.021, 0.021, 0.023)),
                           at(x + dx, y + dy, 0.024))]
    frame, _ = render(objects)
    seen = segment(frame, "geometric")
    assert sorted(o.source for o in seen.objects) == ["green", "red"]


@pytest.mark.parametrize("size, x, y", [((0.269, 0.261), 0.486, -0.034),
                                        ((0.276, 0.268), 0.355, 0.364),
                                        ((0.268, 0.280), 0.417, 0.199)])
def test_a_square_tray_is_one_object_not_a_bowl_and_its_corners(size, x, y):
    """Packing-boxes' trays are nearly square: a circle fits their rim at eight points."""
    tray = WorldObject("tray", "tray", "grey", Shape("tray", (*size, 0.03), 0.008),
                       at(x, y, 0.0, math.pi / 2))
    frame, truth = render([tray])
    percept = perceive(frame, PerceptionConfig(segmentation="geometric"))
    assert [o.cloud.source for o in percept.objects] == ["tray"]
    assert percept.objects[0].fit.kind == "tray"
    check_fit(percept.objects[0].fit, truth.objects["tray"])
