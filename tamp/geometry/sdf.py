"""Point-cloud obstacles as a distance grid: cheap, conservative clearance queries.

The grid stores, at each node, the distance to the nearest point of the cloud minus the
points' radius. For any query point, the value at its nearest node minus half the
node diagonal is a lower bound of the true clearance (a distance field changes by at most
the distance moved), so a sphere reported clear of the grid is clear of the cloud.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PointCloud:
    """Obstacle points (N, 3) in the world frame, each a ball of ``radius`` m."""

    points: np.ndarray
    radius: float = 0.005


@dataclass(frozen=True)
class DistanceGrid:
    origin: np.ndarray  #: (3,) world position of node (0, 0, 0), m
    spacing: float  #: m between nodes
    values: np.ndarray  #: (nx, ny, nz) clearance of each node to the cloud, m
    #: a lower bound of the clearance anywhere outside the grid, m
    outside: float

    @property
    def slack(self) -> float:
        """How much a nearest-node value can overstate the clearance: half a diagonal."""
        return self.spacing * np.sqrt(3.0) / 2.0

    @classmethod
    def from_clouds(cls, clouds: list[PointCloud], spacing: float = 0.01,
                    margin: float = 0.1) -> "DistanceGrid":
        """A grid over the clouds' bounding box grown by ``margin`` on every side."""
        from scipy.spatial import cKDTree

        if not clouds or sum(len(c.points) for c in clouds) == 0:
            return cls.empty()
        pts = np.concatenate([c.points for c in clouds])
        radius = np.concatenate([np.full(len(c.points), c.radius) for c in clouds])
        lo, hi = pts.min(axis=0) - margin, pts.max(axis=0) + margin
        dims = np.maximum(2, np.ceil((hi - lo) / spacing).astype(int) + 1)
        axes = [lo[i] + spacing * np.arange(dims[i]) for i in range(3)]
        nodes = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
        tree = cKDTree(pts)
        dist, idx = tree.query(nodes, k=1)
        values = (dist - radius[idx]).reshape(*dims).astype(np.float64)
        # outside the box every point of the cloud is at least `margin` away
        return cls(lo, float(spacing), values, float(margin - radius.max()))

    @classmethod
    def empty(cls) -> "DistanceGrid":
        return cls(np.zeros(3), 1.0, np.full((1, 1, 1), np.inf), float("inf"))

    def clearance(self, points: np.ndarray) -> np.ndarray:
        """Lower bounds (M,) of the clearance of points (M, 3) to the cloud."""
        idx = np.rint((np.asarray(points) - self.origin) / self.spacing).astype(int)
        dims = np.array(self.values.shape)
        inside = np.all((idx >= 0) & (idx < dims), axis=1)
        out = np.full(len(idx), self.outside)
        i = idx[inside]
        out[inside] = self.values[i[:, 0], i[:, 1], i[:, 2]] - self.slack
        return out
