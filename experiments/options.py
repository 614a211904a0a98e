"""The command line's shared pieces, in one module that imports no command: the usage
error and exit codes, the one-line parser, the types of its options and the checks of
paths and planner settings. Commands declare their options as dataclasses
(:mod:`experiments.declare`); the options several declare alike (``--robot``,
``--camera``, the VLM flags) are in :mod:`experiments.shared_options`.

Every integer option is a whole number in a stated range and every real one finite,
checked by the parser itself, so that a value outside it is one line naming the option
and exit code 2 before any work starts (``--seed -1`` used to reach numpy and end in a
traceback). A test walks every parser and holds each option to its range.
"""

from __future__ import annotations

import argparse
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad input from the user: reported as one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line instead of usage + message
        raise UsageError(f"{self.prog}: {message} (see '{self.prog} --help')")


def finite_float(value: str) -> float:
    """The type of every real-valued option: a finite number. ``nan`` compares false
    with everything, so a range check written as ``x <= 0`` would let it through (and
    a NaN budget or limit switches its check off); ``inf`` is no budget either."""
    import math

    try:
        x = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{value}' is not a number") from None
    if not math.isfinite(x):
        raise argparse.ArgumentTypeError(f"'{value}' is not a finite number")
    return x


def torch_device(name: str):
    """The torch device ``--device`` names, checked to exist here: ``auto`` is CUDA when
    there is one, else the CPU; a device this machine lacks (``cuda`` without CUDA, a
    GPU index past the last) is a usage error, not a traceback later."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError as err:
        raise UsageError(f"--device {name}: {err}") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(f"--device {name}: CUDA is not available on this machine "
                             "(use --device cpu or auto)")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise UsageError(f"--device {name}: only {torch.cuda.device_count()} CUDA "
                             "device(s) here")
    elif dev.type not in ("cpu",):
        raise UsageError(f"--device {name}: only cpu, cuda[:N] and auto are supported")
    return dev


def camera_name(value: str) -> str:
    """``--camera``'s type: a registered sensor model's name (``tamp.perception.sensors.SENSORS``);
    anything else is a usage error naming the known ones."""
    from tamp.perception.sensors import sensor_model

    try:
        return sensor_model(value).name
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def robot_name(value: str) -> str:
    """``--robot``'s type: a robot described under ``robots/``."""
    import robots

    if value not in robots.available():
        raise argparse.ArgumentTypeError(f"unknown robot '{value}'; known: "
                                         f"{', '.join(robots.available())}")
    return value


def int_in(lo: int, hi: int):
    """The type of an option that takes a whole number in ``lo..hi``."""
    def parse(value: str) -> int:
        try:
            x = int(value, 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{value}' is not a whole number") from None
        if not lo <= x <= hi:
            raise argparse.ArgumentTypeError(f"must be {lo}..{hi}, got {x}")
        return x

    parse.__name__ = "int_in"
    parse.bounds = (lo, hi)  # for the test that walks the parsers
    return parse


SEED = int_in(0, 2 ** 32 - 1)  #: what numpy's legacy generator and PyBullet accept
COUNT = int_in(1, 1_000_000)  #: episodes, scenes, runs, samples
THREADS = int_in(1, 256)
PORT = int_in(0, 65535)  #: 0: a free port
PORT_NONZERO = int_in(1, 65535)


def writable_dir(option: str, path) -> Path:
    """``path`` as an output directory, checked before any work: made if missing; a
    usage error (one line, exit 2) if it is a file or cannot be written."""
    import os

    out = Path(path)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{option} {out} exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
        if not os.access(out, os.W_OK):
            raise PermissionError("not writable")
    except OSError as err:
        raise UsageError(f"{option} {out} cannot be written: {err.strerror or err}") from None
    return out


def existing_dir(option: str, path) -> Path:
    """``path`` as an input directory: a usage error if it is not one."""
    where = Path(path)
    if not where.is_dir():
        raise UsageError(f"{option} {where} is not a directory")
    return where


def replace_section(text: str, name: str, body: str) -> str:
    """``text`` with the block between ``<!-- name:start -->`` and ``<!-- name:end -->``
    replaced by ``body`` (appended if there is none yet)."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{body}\n{end}"
    if start in text and end in text:
        return text[:text.index(start)] + block + text[text.index(end) + len(end):]
    return text.rstrip() + "\n\n" + block + "\n"


def planner_overrides(path: str | None) -> dict:
    """The settings of a ``--planner-config`` file, checked against the planner's
    configuration; a :class:`UsageError` names the file and what is wrong."""
    if path is None:
        return {}
    import yaml

    from tamp.planner import PER_EPISODE_FIELDS, PlannerConfig, with_overrides

    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as err:
        raise UsageError(f"--planner-config {path}: {err.strerror or err}") from None
    except yaml.YAMLError as err:
        raise UsageError(f"--planner-config {path}: not YAML ({str(err).splitlines()[0]})"
                         ) from None
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise UsageError(f"--planner-config {path}: needs a mapping of settings, got "
                         f"{type(data).__name__}")
    fixed = [k for k in PER_EPISODE_FIELDS if k in data]
    if fixed:
        raise UsageError(f"--planner-config {path}: '{fixed[0]}' is set by each episode "
                         "(its seed, --time-budget, the task's domain), not by the file")
    try:
        with_overrides(PlannerConfig(), data).collision.resolved()
    except ValueError as err:
        raise UsageError(f"--planner-config {path}: {err}") from None
    return data
