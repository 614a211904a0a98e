"""Types of the command line's integer options: every one is a whole number in a stated
range, checked by the parser itself, so that a value outside it is one line naming the
option and exit code 2 before any work starts (``--seed -1`` used to reach numpy and end
in a traceback). A test walks every parser and holds each integer option to its range.
"""

from __future__ import annotations

import argparse
from pathlib import Path


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

    from experiments.cli import UsageError

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
    from experiments.cli import UsageError

    where = Path(path)
    if not where.is_dir():
        raise UsageError(f"{option} {where} is not a directory")
    return where
