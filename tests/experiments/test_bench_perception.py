"""``tamp bench perception``: bad input refused in one line; a small run scores the ideal
and the realistic camera on the same scenes."""

from __future__ import annotations

import json

import pytest

from experiments.cli import EXIT_USAGE, main


@pytest.mark.parametrize("argv, words", [
    (["--cameras", "ideal,kinect"], "unknown camera 'kinect'"),
    (["--tasks", "nope"], "unknown task"),
    (["--scenes", "0"], "--scenes"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, words):
    assert main(["bench", "perception", *argv]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err


def test_both_cameras_see_the_same_scenes(tmp_path, capsys):
    out = tmp_path / "bp"
    assert main(["bench", "perception", "--tasks", "lift", "--scenes", "1",
                 "--out", str(out)]) == 0
    rows = json.loads((out / "perception.json").read_text())
    assert {(r["camera"], r["mode"]) for r in rows} == {
        (c, m) for c in ("ideal", "d435") for m in ("instance", "geometric")}
    assert {r["seed"] for r in rows} == {3000}
    # lift's few objects: every look finds each once, and names it right
    assert all(r["exact"] and r["color_ok"] == r["shape_ok"] == r["objects"] for r in rows)
    md = (out / "perception.md").read_text()
    assert "| d435 | instance | 1 |" in md and "tamp bench perception" in md


def test_the_checkpoint_follows_the_camera(tmp_path):
    from tamp.concepts.checkpoint import checkpoint_for_camera, shipped_checkpoint

    assert checkpoint_for_camera("ideal") == shipped_checkpoint()
    assert checkpoint_for_camera("no-such-camera") == shipped_checkpoint()
    d435 = shipped_checkpoint().parent / "d435"
    if (d435 / "concepts.safetensors").exists():
        # a calibration error is the same sensor: the same checkpoint
        assert checkpoint_for_camera("d435") == d435
        assert checkpoint_for_camera("d435-miscalibrated") == d435
