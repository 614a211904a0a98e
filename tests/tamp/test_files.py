"""Atomic writes: the target is either the old file or the whole new one."""

from __future__ import annotations

import json
import os

import pytest

from tamp.files import atomic_path, write_bytes_atomic, write_json_atomic, write_text_atomic


def test_writes_land_whole_and_readable_by_others(tmp_path):
    path = tmp_path / "deep" / "result.json"
    write_json_atomic(path, {"success": True})
    assert json.loads(path.read_text()) == {"success": True}
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    write_text_atomic(path, "again\n")
    write_bytes_atomic(tmp_path / "b.bin", b"\x00\x01")
    assert path.read_text() == "again\n" and (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in path.parent.iterdir()) == ["result.json"]  # no temporaries


def test_a_failure_before_the_rename_keeps_the_old_file_and_no_temporary(tmp_path,
                                                                         monkeypatch):
    path = tmp_path / "result.json"
    write_json_atomic(path, {"n": 1})

    def no_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_disk)
    with pytest.raises(OSError, match="No space"):
        write_json_atomic(path, {"n": 2})
    assert json.loads(path.read_text()) == {"n": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_the_data_is_flushed_before_the_rename(tmp_path, monkeypatch):
    """The file's contents reach the disk before it replaces the old one, and the
    directory entry after."""
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd)))
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append("replace"),
                                                     real_replace(a, b)))
    write_text_atomic(tmp_path / "x.txt", "x")
    assert events == ["fsync", "replace", "fsync"]


def test_a_writer_that_raises_leaves_nothing(tmp_path):
    target = tmp_path / "plot.png"
    with pytest.raises(RuntimeError):
        with atomic_path(target, suffix=".png") as tmp:
            assert tmp.suffix == ".png" and tmp.parent == tmp_path
            tmp.write_bytes(b"half")
            raise RuntimeError("the library failed")
    assert list(tmp_path.iterdir()) == []
