"""The package layout and the import direction tamp <- robots <- scenes <- policies <- experiments."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ORDER = ["tamp", "robots", "scenes", "policies", "experiments"]
#: third-party modules a package must not import (the planner knows nothing of a simulator)
FORBIDDEN_EXTRA = {"tamp": {"pybullet", "gymnasium", "rospy", "roslibpy", "serial", "pymodbus"},
                   "robots": {"pybullet", "gymnasium"}}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
    return out


@pytest.mark.parametrize("package", ORDER)
def test_package_imports_only_packages_before_it(package):
    later = set(ORDER[ORDER.index(package) + 1:])
    forbidden = later | FORBIDDEN_EXTRA.get(package, set())
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"{package}/ has no Python files"
    offenders = {str(f.relative_to(ROOT)): sorted(imported_modules(f) & forbidden)
                 for f in files}
    offenders = {k: v for k, v in offenders.items() if v}
    assert offenders == {}, f"{package} imports packages it must not: {offenders}"


def test_checker_catches_a_forbidden_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import pybullet as p\nfrom scenes.env import TabletopEnv\n")
    assert imported_modules(bad) == {"pybullet", "scenes"}


def test_layout_folders_exist():
    for folder in ORDER + ["tests", "docker"]:
        assert (ROOT / folder).is_dir(), folder
    for f in ["pyproject.toml", "README.md", "Makefile", ".ci/run", "docker/Dockerfile"]:
        assert (ROOT / f).is_file(), f


def test_import_tamp_does_not_load_simulator():
    import subprocess
    import sys

    code = ("import sys, tamp, tamp.planner; "
            "print(sorted(m for m in ('pybullet', 'gymnasium', 'scenes') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout.strip()
    assert out == "[]"
