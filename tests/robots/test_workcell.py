"""The workcell file: the example loads, a round trip keeps everything, and every mistake
is one line that names the key."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from robots.workcell import WorkcellError, load, parse, save

EXAMPLE = Path(__file__).resolve().parents[2] / "robots" / "workcells" / "example.yaml"


def test_the_example_loads_with_its_places_and_no_camera_pose():
    cell = load(EXAMPLE)
    assert cell.robot == "panda_2f85" and cell.base_frame == "panda_link0"
    assert cell.camera.pose is None and cell.camera.frame == "camera_color_optical_frame"
    zone = cell.zones()["place_1"]
    np.testing.assert_allclose(zone.pose[:3, 3], (0.45, -0.25, 0.0))
    assert zone.extents == (0.1, 0.1)


def test_a_round_trip_keeps_everything(tmp_path):
    data = {"table": {"height": 0.02, "extent": [0, 1, -0.5, 0.5]},
            "places": {"a": {"centre": [0.5, 0.1], "size": [0.08, 0.12], "yaw": 0.3}},
            "camera": {"model": "ideal", "pose": {"position": [1, 0, 0.7],
                                                  "quaternion_xyzw": [0, 0, 0, 1]}},
            "gripper": "tcp:127.0.0.1:5020"}
    cell = parse(data)
    save(cell, tmp_path / "w.yaml")
    again = load(tmp_path / "w.yaml")
    assert again.as_dict() == cell.as_dict()
    np.testing.assert_allclose(again.camera.pose[:3, 3], (1, 0, 0.7))
    assert again.places[0].yaw == pytest.approx(0.3)


@pytest.mark.parametrize("data, words", [
    ({"tabel": {}}, "unknown key(s) tabel"),
    ({"table": {"height": float("nan")}}, "table.height"),
    ({"table": {"extent": [1, 0, 0, 1]}}, "min < max"),
    ({"table": {"extent": [0, 1, 0]}}, "table.extent must be a list of 4"),
    ({"places": {"p": {"size": [0.1, 0.1]}}}, "places.p.centre is missing"),
    ({"places": {"p": {"centre": [0, 0], "size": [0, 0.1]}}}, "must be positive"),
    ({"camera": {"pose": {"position": [0, 0, 1], "quaternion_xyzw": [0, 0, 0, 2]}}},
     "unit quaternion"),
    ({"camera": {"pose": {"position": [0, 0, 1]}}}, "needs position and quaternion_xyzw"),
    ({"controller": {"namespace": 3}}, "controller.namespace must be text"),
    ([1, 2], "the workcell must be a mapping"),
])
def test_mistakes_are_named(data, words):
    with pytest.raises(WorkcellError) as err:
        parse(data)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_unreadable_files(tmp_path):
    with pytest.raises(WorkcellError, match="No such file"):
        load(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("table: [1, 2\n")
    with pytest.raises(WorkcellError, match="not valid YAML"):
        load(bad)


def test_base_frame_and_controller_default_to_the_robots(tmp_path):
    from robots.workcell import load

    path = tmp_path / "ur.yaml"
    path.write_text("robot: ur5e_2f85\ntable: {height: 0.0}\n")
    cell = load(path)
    assert cell.base_frame == "base_link"
    assert cell.controller == "/scaled_pos_joint_traj_controller"  # ur_robot_driver's
    path.write_text("robot: panda_2f85\ntable: {height: 0.0}\n")
    cell = load(path)
    assert cell.base_frame == "panda_link0"
    assert cell.controller == "/position_joint_trajectory_controller"
