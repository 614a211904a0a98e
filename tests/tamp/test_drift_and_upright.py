"""Closed loop: an object off the pose a plan assumed is noticed (``drift``), and an
object that fell on its side is described upright again (``WorldObject.upright``);
placements turn the carried object by its symmetries, not the wrist (``tamp.candidates.least_turn``)."""

from __future__ import annotations

import numpy as np
import pytest

from tamp.execution.plan import DRIFT_DISTANCE, drift
from tamp.geometry.transforms import rpy_pose, translation, yaw_of as _yaw
from tamp.candidates import least_turn as _least_turn
from tamp.world import Shape, WorldObject

BOX = Shape("box", (0.04, 0.06, 0.1))
DISK = Shape("cylinder", (0.026, 0.026, 0.0235))


def _corners(obj: WorldObject) -> np.ndarray:
    sx, sy, sz = obj.shape.size
    local = np.array([[x, y, z, 1.0] for x in (-sx / 2, sx / 2) for y in (-sy / 2, sy / 2)
                      for z in (0.0, sz)])
    return (obj.pose @ local.T).T[:, :3]


@pytest.mark.parametrize("rpy", [(np.pi / 2, 0, 0.3), (0, -np.pi / 2, 0.1),
                                 (np.pi, 0, 0.2), (np.pi / 2, np.pi / 2, 0)])
def test_a_box_on_its_side_is_the_same_solid_standing_on_that_face(rpy):
    fallen = WorldObject("b", "box", "red", BOX, rpy_pose((0.5, 0.1, 0.03), rpy))
    up = fallen.upright()
    assert up.pose[2, 2] == pytest.approx(1.0)
    assert np.linalg.det(up.pose[:3, :3]) == pytest.approx(1.0)
    assert sorted(up.shape.size) == sorted(BOX.size)
    a, b = _corners(fallen), _corners(up)
    assert max(np.linalg.norm(a - q, axis=1).min() for q in b) < 1e-9  # same 8 corners
    # its frame sits at the bottom centre of the face it stands on
    assert up.pose[2, 3] == pytest.approx(a[:, 2].min())


def test_an_upside_down_disk_is_described_right_side_up_and_one_on_its_rim_is_not():
    flipped = WorldObject("d", "disk", "red", DISK, rpy_pose((0.5, 0.0, 0.0235), (np.pi, 0, 0)))
    up = flipped.upright()
    assert up.pose[2, 2] == pytest.approx(1.0)
    assert up.pose[:3, 3] == pytest.approx([0.5, 0.0, 0.0])
    on_rim = WorldObject("d", "disk", "red", DISK, rpy_pose((0.5, 0.0, 0.026), (np.pi / 2, 0, 0)))
    assert abs(on_rim.upright().pose[2, 2]) < 0.1  # a cylinder stands only on its ends
    upright = WorldObject("b", "box", "red", BOX, rpy_pose((0.5, 0, 0), (0, 0, 1.0)))
    assert upright.upright() is upright


def test_drift_names_the_object_that_moved_and_ignores_what_is_unseen():
    planned = {"disk_1": translation((0.45, -0.13, 0.0))}
    assert drift(planned, {"disk_1": translation((0.452, -0.13, 0.0))}) == ""
    moved = drift(planned, {"disk_1": translation((0.455, -0.117, 0.0))})
    assert moved.startswith("disk_1 is 14 mm")
    assert drift(planned, {}) == ""
    tipped = drift(planned, {"disk_1": rpy_pose((0.45, -0.13, 0.0), (0.5, 0, 0))})
    assert "tilted 29 deg" in tipped
    assert drift(planned, {"disk_1": translation((0.45 + 2 * DRIFT_DISTANCE, -0.13, 0))},
                 distance=3 * DRIFT_DISTANCE) == ""


def test_placements_turn_the_load_by_its_symmetry_not_the_wrist():
    held = WorldObject("b", "box", "red", Shape("box", (0.04, 0.04, 0.04)),
                       rpy_pose((0.4, 0.0, 0.1), (0, 0, 0.1)))
    poses = [rpy_pose((0.5, 0.2, 0.0), (0, 0, yaw)) for yaw in (1.6, -3.0, 0.2)]
    turned = _least_turn(held, poses)
    for before, after in zip(poses, turned):
        assert after[:3, 3] == pytest.approx(before[:3, 3])  # order and positions kept
        quarter = (_yaw(after) - _yaw(before)) / (np.pi / 2)
        assert quarter == pytest.approx(round(quarter), abs=1e-9)  # a square's symmetry
        assert abs(_yaw(after) - 0.1) <= np.pi / 4 + 1e-9
    disk = WorldObject("d", "disk", "red", DISK, rpy_pose((0.4, 0.0, 0.1), (0, 0, -2.0)))
    assert all(_yaw(p) == pytest.approx(-2.0) for p in _least_turn(disk, poses))
    long_box = WorldObject("b", "box", "red", BOX, rpy_pose((0.4, 0, 0.1), (0, 0, 0.0)))
    # a 4 x 6 cm box turns only by half turns: 1.6 rad becomes 1.6 - pi, nearer 0
    assert _yaw(_least_turn(long_box, poses)[0]) == pytest.approx(1.6 - np.pi)
    assert _yaw(_least_turn(long_box, poses)[2]) == pytest.approx(0.2)


def test_an_object_seen_as_something_else_is_no_reason_to_plan_again():
    """A view in which the arm hides most of a block can fit it as a thin cylinder off
    its centre: the agent does not re-plan on that view (policies.tamp_agent)."""
    from tamp.world import WorldModel
    from tamp.execution.loop import _same_kind_poses

    block = WorldObject("obj_1", "block", "purple", Shape("box", (0.043,) * 3),
                        translation((0.42, -0.08, 0.0)))
    hidden = WorldObject("obj_1", "cylinder", "purple", Shape("cylinder", (0.014, 0.014, 0.043)),
                         translation((0.43, -0.065, 0.0)))
    moved = block.moved(translation((0.44, -0.08, 0.0)))
    planned = WorldModel({"obj_1": block})
    assert _same_kind_poses(WorldModel({"obj_1": hidden}), planned) == {}
    seen = _same_kind_poses(WorldModel({"obj_1": moved}), planned)
    assert drift({"obj_1": block.pose}, seen).startswith("obj_1 is 20 mm")
