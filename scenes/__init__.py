"""PyBullet worlds, cameras, the task suite and gymnasium environments.

Importing ``scenes`` registers every task's gymnasium id (e.g. ``tamp/PlaceInBowl-v0``).
"""

import os as _os


def _import_pybullet_quietly() -> None:
    """PyBullet prints its build time on import; keep the command line's output clean."""
    saved = [_os.dup(fd) for fd in (1, 2)]
    null = _os.open(_os.devnull, _os.O_WRONLY)
    try:
        for fd in (1, 2):
            _os.dup2(null, fd)
        import pybullet  # noqa: F401

        try:  # flush C stdio while it still points at /dev/null
            import ctypes

            ctypes.CDLL(None).fflush(None)
        except (OSError, AttributeError):
            pass
    finally:
        for fd, copy in zip((1, 2), saved):
            _os.dup2(copy, fd)
            _os.close(copy)
        _os.close(null)


_import_pybullet_quietly()

from scenes import tasks  # noqa: E402,F401  (registers the tasks)
