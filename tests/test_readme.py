"""The README's commands exist and its quick examples run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _tamp(*args: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("tamp")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)


def test_readme_shows_the_two_commands():
    assert "make run" in README and "make test" in README


def test_every_tamp_subcommand_in_the_readme_exists():
    subs = set(re.findall(r"\.venv/bin/tamp (\w[\w-]*)", README))
    assert {"run", "tasks", "pddl", "bench", "gripper", "deploy"} <= subs
    for sub in sorted(subs):
        proc = _tamp(sub, "--help")
        assert proc.returncode == 0, (sub, proc.stderr)


def test_readme_symbolic_example_prints_the_sussman_plan():
    proc = _tamp("pddl", "tamp/symbolic/domains/blocksworld.pddl",
                 "tamp/symbolic/domains/problems/sussman.pddl")
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("(")]
    assert len(lines) == 6 and lines[0] == "(unstack c a)"


def test_readme_task_table_matches_the_registry():
    from scenes.tasks import task_names

    listed = set(re.findall(r"^\| `([a-z0-9-]+)` \|", README, re.M))
    assert listed == set(task_names())
