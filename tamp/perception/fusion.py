"""Object sizes fused over looks: an object does not change size from one look to the
next, but each look's fit errs by the depth noise of its burst of frames.

A look's fitted extents are off by a few millimetres at the tail (on the D435 model, the
95th percentile of a block side's error is 2.8 mm, its worst over 60 blocks 5.6 mm), and
such a tail can decide whether fingers fit between neighbours. The errors of separate
looks are independent (each burst draws new temporal noise), so the running mean of the
looks at an object shrinks them (measured in docs/BENCHMARKS.md "robots-session16").

A look that disagrees with the running mean by more than ``agreement`` in any extent, or
calls the object another kind of solid, does not describe the same view of it (it was
half hidden before or is now, or it was tipped over): it starts the mean again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from tamp.geometry.transforms import yaw_of
from tamp.world import WorldObject

#: m: larger than a few standard deviations of one look's extent error (its 95th
#: percentile is about 3 mm on the D435 model), smaller than what a half-hidden view
#: loses
AGREEMENT = 0.006

_RECTANGULAR = ("box", "tray")  #: kinds whose first two extents follow the yaw


@dataclass(frozen=True)
class _Mean:
    kind: str
    size: np.ndarray  #: (3,), in the frame of ``yaw``
    yaw: float  #: rad, of the look that started the mean
    looks: int


class SizeFusion:
    """Running means of the extents of objects under stable names."""

    def __init__(self, agreement: float = AGREEMENT):
        self.agreement = agreement
        self._means: dict[str, _Mean] = {}

    def snapshot(self) -> dict:
        return dict(self._means)

    def restore(self, snapshot: dict) -> None:
        self._means = dict(snapshot)

    def forget(self, name: str) -> None:
        self._means.pop(name, None)

    def looks(self, name: str) -> int:
        """How many looks the size of ``name`` is the mean of (0: never seen)."""
        mean = self._means.get(name)
        return 0 if mean is None else mean.looks

    def fuse(self, objects: dict[str, WorldObject]) -> dict[str, WorldObject]:
        """``objects`` (seen in this look, by stable name) with each size the mean over
        the looks that agree with it; the means are updated."""
        out = {}
        for name, obj in objects.items():
            size = np.asarray(obj.shape.size, float)
            yaw = yaw_of(obj.pose)
            mean = self._means.get(name)
            turned = mean is not None and obj.shape.kind in _RECTANGULAR and \
                _quarter_turned(yaw, mean.yaw)
            here = size[[1, 0, 2]] if turned else size  # in the mean's frame
            if mean is None or mean.kind != obj.shape.kind or \
                    np.any(np.abs(here - mean.size) > self.agreement):
                self._means[name] = _Mean(obj.shape.kind, size, yaw, 1)
                out[name] = obj
                continue
            n = mean.looks + 1
            fused = mean.size + (here - mean.size) / n
            self._means[name] = replace(mean, size=fused, looks=n)
            size = fused[[1, 0, 2]] if turned else fused  # back in this look's frame
            out[name] = replace(obj, shape=replace(obj.shape, size=tuple(float(v)
                                                                         for v in size)))
        return out


def _quarter_turned(a: float, b: float) -> bool:
    """Whether the yaws ``a`` and ``b`` (rad) of a rectangle are nearer a quarter turn
    apart than a half turn (then its extents along them are swapped)."""
    d = (a - b) % math.pi
    return math.pi / 4 < d < 3 * math.pi / 4
