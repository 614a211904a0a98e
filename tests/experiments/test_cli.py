"""The ``tamp`` command line: results, exit codes and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from experiments.cli import main
from policies import policy_names
from scenes.tasks import task_names

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the installed console script (as a user would) with a clean environment."""
    exe = Path(sys.executable).with_name("tamp")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "experiments.cli"]
    return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT, env={**os.environ, "PYTHONWARNINGS": "ignore"})


def test_tasks_lists_registered_tasks(capsys):
    assert main(["tasks"]) == 0
    out = capsys.readouterr().out
    assert "place-in-bowl" in out and "tamp/PlaceInBowl-v0" in out


KNOWN = ", ".join(task_names())


@pytest.mark.parametrize("args, expected", [
    (["run", "--task", "fly-to-moon"], f"unknown task 'fly-to-moon'; known tasks: {KNOWN}"),
    (["run", "--seed", "-3"], "--seed: must be 0..4294967295, got -3"),
    (["run", "--seed", "abc"], "--seed: 'abc' is not a whole number"),
    (["run", "--method", "magic"], "unknown method 'magic'; known methods: "
                                   + ", ".join(policy_names())),
    (["run", "--time-budget", "0"], "--time-budget must be > 0"),
    (["run", "--perception", "learned", "--concepts", "/nonexistent"],
     "no concept checkpoint at /nonexistent: concepts.json is missing"),
    (["run", "--perception", "magic"], "unknown perception 'magic'; known: oracle, learned"),
    (["run", "--goal", "put the red blok in the green bowl"], "--goal: unknown word 'blok'"),
    (["run", "--goal", "  "], "--goal: the goal is empty"),
    (["run", "--camera", "nope"], "unknown camera 'nope'; known cameras: d435, "
                                  "d435-miscalibrated, ideal"),
    (["run", "--method", "bc-1demo", "--goal", "put the red block in the green bowl"],
     "--goal: method 'bc-1demo' cannot use it (it would be ignored)"),
    (["run", "--method", "vlm", "--perception", "learned"],
     "--perception: method 'vlm' cannot use it"),
    (["run", "--method", "tamp-learned-geometric", "--perception", "learned"],
     "--perception: method 'tamp-learned-geometric' cannot use it"),
    (["dance"], "invalid choice: 'dance'"),
    ([], "the following arguments are required: COMMAND"),
])
def test_bad_input_is_one_line_and_exit_code_2(args, expected, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert expected in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_out_that_is_a_file_is_refused(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    assert main(["run", "--out", str(f)]) == 2
    assert "is not a directory" in capsys.readouterr().err


def test_out_that_cannot_be_written_is_refused_before_the_episode(tmp_path, capsys):
    import os

    f = tmp_path / "file"
    f.write_text("x")
    assert main(["run", "--out", str(f / "below")]) == 2  # a file in the way
    assert "cannot be written" in capsys.readouterr().err
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user who may write anywhere (root)")
        assert main(["run", "--out", str(locked / "run")]) == 2
    finally:
        locked.chmod(0o700)
    assert "cannot be written" in capsys.readouterr().err


def test_console_script_reports_bad_input_without_traceback():
    proc = run_cli("run", "--task", "nope")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"error: unknown task 'nope'; known tasks: {KNOWN}"]


def test_camera_defaults_to_the_realistic_one_for_learned_perception():
    from experiments.episode import EpisodeSpec, resolve_camera

    def camera(method="tamp", perception="oracle", given=None):
        return resolve_camera(EpisodeSpec("lift", 0, method, perception, camera=given))

    assert camera() == camera("vlm") == camera("bc-1demo") == "ideal"
    assert camera(perception="learned") == camera(perception="learned-geometric") == "d435"
    assert camera("tamp-learned") == camera("tamp-learned-geometric") == "d435"
    assert camera("tamp-learned", given="ideal") == "ideal"  # ideal stays available
    assert camera(given="d435-miscalibrated") == "d435-miscalibrated"


def test_result_records_the_camera(tmp_path, capsys):
    assert main(["run", "--task", "lift", "--seed", "0", "--out", str(tmp_path / "a")]) == 0
    assert json.loads((tmp_path / "a" / "result.json").read_text())["camera"] == "ideal"
    assert main(["run", "--task", "lift", "--seed", "0", "--camera", "d435", "--out",
                 str(tmp_path / "b")]) == 0
    result = json.loads((tmp_path / "b" / "result.json").read_text())
    assert result["camera"] == "d435" and result["success"] is True
    assert "camera d435" in capsys.readouterr().err  # named in the progress too


def test_failed_task_exits_1_with_a_reason(tmp_path):
    # a 1 ms planning budget cannot be met: the episode fails cleanly
    proc = run_cli("run", "--seed", "0", "--time-budget", "0.001", "--out", str(tmp_path))
    assert proc.returncode == 1, proc.stderr
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["success"] is False
    assert "budget" in result["failure_reason"]


@pytest.mark.slow
def test_run_writes_result_and_gif_and_is_deterministic(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    proc = run_cli("run", "--task", "place-in-bowl", "--seed", "3", "--out", str(a), "--gif")
    assert proc.returncode == 0, proc.stderr
    assert "planning" in proc.stderr  # progress is shown
    result = json.loads((a / "result.json").read_text())
    for key in ("task", "seed", "method", "success", "plan", "planning_time_s",
                "execution_time_s", "failure_reason"):
        assert key in result
    assert result["success"] is True and result["failure_reason"] is None
    assert result["task"] == "place-in-bowl" and result["seed"] == 3
    assert result["method"] == "tamp"
    assert result["goal"] == "put the red block in the green bowl" or "red blocks" in result["goal"]
    assert result["plan"][0] == {"name": "pick", "args": ["red_block_0"]} or \
        result["plan"][0]["name"] == "pick"
    gif = (a / "episode.gif").read_bytes()
    assert gif[:6] in (b"GIF87a", b"GIF89a") and len(gif) > 10_000
    assert not list(a.glob(".*tmp*"))  # atomic writes leave nothing behind
    proc = run_cli("run", "--task", "place-in-bowl", "--seed", "3", "--out", str(b))
    assert proc.returncode == 0, proc.stderr
    again = json.loads((b / "result.json").read_text())
    assert again["plan"] == result["plan"]
    assert again["success"] == result["success"]
    assert again["control_steps"] == result["control_steps"]


def test_each_command_is_built_from_the_module_the_map_names():
    """``tamp COMMAND`` builds only COMMANDS[COMMAND]'s parser: the map must say which
    module adds each command, and each such parser must still know its command."""
    import argparse
    import importlib

    from experiments.cli import COMMANDS, build_parser

    def commands(parser) -> set[str]:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        return set(sub.choices)

    builtin = {"run", "tasks"}
    assert commands(build_parser()) == builtin | set(COMMANDS)
    for module in {m for _, m in COMMANDS.items()}:
        parser = argparse.ArgumentParser()
        importlib.import_module(module).add_commands(parser.add_subparsers())
        assert commands(parser) == {c for c, m in COMMANDS.items() if m == module}
    for command in COMMANDS:
        assert command in commands(build_parser(command))


def test_the_overview_lists_every_command_with_its_own_summary():
    import argparse

    from experiments.cli import OVERVIEW, SUMMARIES, build_parser

    def helps(parser) -> dict[str, str]:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        return {c.dest: c.help for c in sub._choices_actions}

    assert helps(build_parser(OVERVIEW)) == helps(build_parser()) == SUMMARIES


@pytest.mark.parametrize("argv", [["--help"], ["tasks"]])
def test_help_and_tasks_do_not_import_torch(argv):
    """The overview and the task list need neither torch nor the command modules
    (issue 16: every command paid 3 s and 515 MB for its parser)."""
    import subprocess
    import sys

    code = ("import sys\nfrom experiments.cli import main\n"
            f"try:\n    rc = main({argv!r})\nexcept SystemExit as e:\n    rc = e.code\n"
            "heavy = sorted(m for m in ('torch', 'open3d', 'policies', 'experiments.policies_cli')"
            " if m in sys.modules)\n"
            "print('HEAVY', heavy)\nsys.exit(rc)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert "HEAVY []" in run.stdout


def test_deploy_runs_without_pybullet(tmp_path):
    """A robot's computer needs no simulator: ``tamp deploy`` (here refusing a bad
    workcell) never imports PyBullet."""
    import subprocess
    import sys

    (tmp_path / "pybullet.py").write_text("raise ImportError('pybullet imported')\n")
    bad = tmp_path / "cell.yaml"
    bad.write_text("table: {height: .nan}\n")
    run = subprocess.run([sys.executable, "-m", "experiments.cli", "deploy", "--ros1", "--goal",
                          "put the red block in the bowl", "--workcell", str(bad)],
                         capture_output=True, text=True, timeout=120,
                         env={**__import__("os").environ, "PYTHONPATH": str(tmp_path)})
    assert run.returncode == 2 and "table.height" in run.stderr, run.stderr


def test_a_broken_concept_checkpoint_is_one_line_naming_the_file(tmp_path, capsys):
    import shutil

    from tamp.concepts.checkpoint import shipped_checkpoint

    bad = tmp_path / "ck"
    shutil.copytree(shipped_checkpoint(), bad)
    (bad / "concepts.safetensors").write_bytes(b"not a safetensors file")
    code = main(["run", "--task", "lift", "--method", "tamp-learned", "--concepts", str(bad),
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert str(bad / "concepts.safetensors") in err[0] and "not a readable safetensors" in err[0]
    assert not (tmp_path / "out").exists()  # refused before the episode


def test_concepts_without_learned_perception_is_refused(tmp_path, capsys):
    code = main(["run", "--task", "lift", "--concepts", "tamp/concepts/checkpoints/base",
                 "--out", str(tmp_path / "out")])
    assert code == 2 and "does not use it" in capsys.readouterr().err


@pytest.mark.slow
def test_a_given_checkpoint_reaches_a_learned_method(tmp_path):
    """--concepts with --method tamp-learned is the checkpoint the episode uses (it was
    silently dropped unless --perception was given too)."""
    import json

    from tamp.concepts.checkpoint import shipped_checkpoint

    code = main(["run", "--task", "lift", "--method", "tamp-learned", "--concepts",
                 str(shipped_checkpoint()), "--out", str(tmp_path / "out")])
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert code == 0 and result["concepts_checkpoint"] == shipped_checkpoint().name == "base"


def test_a_rerun_into_an_earlier_result_needs_overwrite(tmp_path, capsys):
    """An OUT that holds an earlier episode is refused (nothing written is lost); with
    --overwrite the new result replaces it and no GIF of the earlier episode stays."""
    out = tmp_path / "out"
    assert main(["run", "--task", "lift", "--seed", "0", "--out", str(out)]) == 0
    (out / "episode.gif").write_bytes(b"GIF89a of the earlier episode")
    first = (out / "result.json").read_text()
    capsys.readouterr()
    assert main(["run", "--task", "lift", "--seed", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "already holds result.json and episode.gif" in err[0]
    assert (out / "result.json").read_text() == first  # untouched
    assert main(["run", "--task", "lift", "--seed", "1", "--out", str(out),
                 "--overwrite"]) == 0
    assert json.loads((out / "result.json").read_text())["seed"] == 1
    assert not (out / "episode.gif").exists()
