"""Writing results so that nothing half-written is ever left behind."""

from __future__ import annotations

from pathlib import Path

from tamp.files import atomic_path, write_json_atomic  # noqa: F401  (one implementation)


def write_gif_atomic(path: str | Path, frames: list, fps: float) -> None:
    import imageio.v3 as iio

    with atomic_path(path, suffix=".gif") as tmp:
        iio.imwrite(tmp, frames, duration=1000.0 / fps, loop=0)
