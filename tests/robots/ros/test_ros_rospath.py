"""rospy is importable from the virtual environment through links to Debian's ROS
packages only: the venv's own numpy, yaml and torch stay the ones in use."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from robots.ros import rospath


@pytest.mark.ros
def test_venv_imports_rospy_without_debians_other_packages():
    code = ("import json, sys, rospy, actionlib, genpy, numpy, yaml, torch;"
            "print(json.dumps({m: sys.modules[m].__file__ for m in "
            "('rospy', 'actionlib', 'numpy', 'yaml', 'torch')} | "
            "{'path': [p for p in sys.path if 'dist-packages' in p]}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    files = json.loads(out.stdout)
    prefix = sys.prefix
    for module in ("numpy", "yaml", "torch"):
        assert files[module].startswith(prefix) and "dist-packages" not in files[module], files
    assert rospath.LINK_DIR in files["rospy"]
    assert files["path"] == []  # Debian's dist-packages itself is not on the path


def test_link_makes_only_the_listed_packages_visible(tmp_path):
    source = tmp_path / "dist-packages"
    for name in ("rospy", "genpy", "numpy"):
        (source / name).mkdir(parents=True)
    prefix = tmp_path / "venv"
    result = rospath.link(prefix, source)
    assert set(result.linked) == {"rospy", "genpy"}
    assert "numpy" not in {p.name for p in result.link_dir.iterdir()}
    assert result.pth_file.read_text().strip() == str(result.link_dir.resolve())
    again = rospath.link(prefix, source)  # idempotent
    assert again.linked == result.linked


def test_check_names_the_install_command(monkeypatch):
    monkeypatch.setattr(rospath.shutil, "which", lambda exe: None)
    result = rospath.check()
    assert not result.ok and "roscore" in result.missing
    assert "apt-get install" in result.message and "ros-core" in result.message
