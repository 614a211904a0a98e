"""Writing results so that nothing half-written is ever left behind."""

from __future__ import annotations

import os
from pathlib import Path

from tamp.files import write_json_atomic  # noqa: F401  (one implementation for all)


def write_gif_atomic(path: str | Path, frames: list, fps: float) -> None:
    import imageio.v3 as iio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.gif")
    iio.imwrite(tmp, frames, duration=1000.0 / fps, loop=0)
    os.replace(tmp, path)
