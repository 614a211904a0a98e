"""Every path option of every subcommand, found by walking the parsers, is checked before
any work starts: an output directory that is a file, or an input that does not exist, is
one line on stderr and exit code 2 — not a traceback, and not minutes of rendering or
training that fail at the end (each case runs in its own process with a 60 s limit, so
that a command which starts working instead fails here quickly)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cli_walk import options

pytestmark = pytest.mark.slow

REPO = __import__("pathlib").Path(__file__).resolve().parents[2]

#: where a command writes: given an existing *file*, each must refuse
OUTPUTS = {"out", "data_dir", "demos", "vlm_cache", "report"}
#: what a command reads: given a path that does not exist, each must refuse
INPUTS = {"checkpoint", "checkpoints", "concepts", "episodes_dir", "workcell", "gguf",
          "rosauth_secret_file"}
#: a name that says "path" (a new option so named must be put in one of the two sets)
PATHLIKE = ("out", "dir", "checkpoint", "file", "cache", "demos", "workcell", "gguf",
            "report", "concepts")

#: arguments a subcommand needs before it gets to its paths (cheap choices)
REQUIRED = {
    "run": ["--task", "lift"],
    "bench episodes": ["--methods", "tamp", "--tasks", "lift", "--episodes", "1"],
    "bench perception": ["--tasks", "lift", "--scenes", "1"],
    "bench twin": ["--tasks", "lift", "--episodes", "1", "--no-run"],
    "concepts learn": ["shiny", "--where", "color=red"],
    "deploy": ["--ros1", "--goal", "put the red blocks in the green bowl", "--workcell",
               str(REPO / "robots" / "workcells" / "example.yaml")],
    "twin": ["--task", "lift", "--ros1"],
    "policies demo": ["--task", "lift"],
    "policies train": ["--method", "transporter-1demo", "--task", "place-in-bowl"],
    "policies eval": ["--method", "transporter-1demo", "--task", "place-in-bowl"],
}
#: options that only count with another one
NEEDS = {("run", "vlm_cache"): ["--method", "vlm", "--vlm-model", "m", "--vlm-base-url",
                                "http://127.0.0.1:1/v1"],
         ("run", "concepts"): ["--method", "tamp-learned"],
         ("bench episodes", "vlm_cache"): ["--methods", "vlm", "--vlm-model", "m",
                                           "--vlm-base-url", "http://127.0.0.1:1/v1"]}


OPTIONS = [(" ".join(p), a.dest, a.option_strings[-1]) for p, a in options(
    lambda a: a.type is None and a.nargs is None and any(k in a.dest for k in PATHLIKE))]
WITH_OUT = {(c, dest) for c, dest, _ in OPTIONS if dest == "out"}


def test_every_path_option_is_an_input_or_an_output():
    unknown = [f"{c} {o}" for c, dest, o in OPTIONS if dest not in OUTPUTS | INPUTS]
    assert not unknown, f"classify these path options in this test: {unknown}"
    assert len(OPTIONS) >= 25


@pytest.mark.parametrize("command, dest, option", OPTIONS,
                         ids=[f"{c} {o}" for c, _, o in OPTIONS])
def test_a_bad_path_is_one_line_and_exit_2_before_any_work(command, dest, option,
                                                            tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    if dest in OUTPUTS:
        # --report names a file: a place where no file can be made is the bad case
        value = a_file / "x" if dest == "report" else a_file
    else:
        value = tmp_path / "nothing" / "here"
    argv = [*command.split(), *REQUIRED.get(command, []), *NEEDS.get((command, dest), [])]
    if dest != "out" and (command, "out") in WITH_OUT:
        argv += ["--out", str(tmp_path / "out")]  # never the default, under runs/
    argv += [option, str(value)]
    proc = subprocess.run([sys.executable, "-m", "experiments.cli", *argv], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    err = proc.stderr
    assert proc.returncode == 2, f"{argv}: exit {proc.returncode}: {err[-600:]}"
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err
    assert option in err or str(value) in err, err  # refused for this path, not another
