"""Writing files so that nothing half-written is ever left behind (used by every layer:
results, checkpoints, caches, plots). One mechanism: write to a temporary file beside the
target, flush it to the disk, rename it into place, and flush the directory, so that after
a crash or a power cut the target is either the old file or the whole new one."""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator


def _fsync(path: str | Path, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """A temporary path beside ``path`` to write to (by any means: a library's ``save``);
    when the block ends without an exception it is flushed to the disk and renamed into
    place, otherwise removed. ``suffix`` keeps an extension a writer needs (``.gif``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                               suffix=f".tmp{suffix}")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; results are meant to be shared
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync(path.parent, directory=True)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_path`)."""
    write_bytes_atomic(path, text.encode())


def write_json_atomic(path: str | Path, data: Any, indent: int = 2) -> None:
    """Write JSON to ``path`` atomically (see :func:`atomic_path`)."""
    write_text_atomic(path, json.dumps(data, indent=indent) + "\n")
