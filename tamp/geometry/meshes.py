"""Triangle meshes as collision geometry: read them, test points against them, and cover
them with spheres.

A robot description written elsewhere (a vendor's URDF, ``example-robot-data``) gives its
links' collision geometry as meshes. The planner checks spheres, so each mesh is covered by
a few spheres whose union *contains* the solid the mesh bounds (:func:`mesh_spheres`):

1. the mesh's bounding box is cut into cubic cells of side ``cell``; a cell is kept when
   the surface may pass through it (a piece of a triangle, cut shorter than half a cell,
   reaches into it) or a corner of it lies inside the solid (generalised winding number).
   The solid's part in a kept cell lies in the convex hull of the cell's corners inside the
   solid and the surface pieces reaching into it (:func:`solid_cells`);
2. the kept cells are grouped by k-means (deterministic start), and each group becomes the
   sphere about its mean that holds those corners and pieces of all its cells (a sphere is
   convex: holding a piece's corners holds the piece). ``k`` is the least that keeps every
   sphere's radius within ``max_radius``.

So the cover is conservative by construction, not by sampling; a sphere reaches at most
half a cell beyond the surface where it is widest. Meshes are read from STL (binary or ASCII)
without any mesh library.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np


def read_stl(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (n, 3) and faces (m, 3) of an STL file, binary or ASCII, in its own units.
    Equal vertices are merged, so the faces share them."""
    data = Path(path).read_bytes()
    triangles = None
    if len(data) >= 84:
        count = int(np.frombuffer(data, "<u4", 1, 80)[0])
        if len(data) == 84 + 50 * count:  # binary: header, count, 50 bytes per triangle
            rows = np.frombuffer(data, np.dtype([("n", "<f4", 3), ("v", "<f4", (3, 3)),
                                                 ("a", "<u2")]), count, 84)
            triangles = rows["v"].astype(float)
    if triangles is None:
        words = data.decode("ascii", "replace").split()
        if not words or words[0].lower() != "solid":
            raise ValueError(f"{path}: not an STL file (neither binary nor ASCII)")
        values = [float(words[i + j]) for i, w in enumerate(words) if w.lower() == "vertex"
                  for j in (1, 2, 3)]
        triangles = np.asarray(values, float).reshape(-1, 3, 3)
    if len(triangles) == 0:
        raise ValueError(f"{path}: the STL file holds no triangles")
    vertices, faces = np.unique(triangles.reshape(-1, 3), axis=0, return_inverse=True)
    return vertices, faces.reshape(-1, 3)


def winding_number(points: np.ndarray, vertices: np.ndarray, faces: np.ndarray,
                   ) -> np.ndarray:
    """Generalised winding number of each point (k, 3) about the mesh: about 1 inside a
    closed mesh, 0 outside (sum of the triangles' signed solid angles over 4 pi; van
    Oosterom and Strackee's formula), whatever the faces' orientation sign."""
    tri = vertices[faces]
    out = np.empty(len(points))
    chunk = max(1, 1_000_000 // (9 * len(tri)))  # about 72 MB of differences at a time
    for s in range(0, len(points), chunk):
        d = tri[None] - points[s:s + chunk, None, None, :]  # (k, m, 3, 3)
        a, b, c = d[..., 0, :], d[..., 1, :], d[..., 2, :]
        la, lb, lc = (np.linalg.norm(v, axis=-1) for v in (a, b, c))
        num = np.einsum("kmi,kmi->km", a, np.cross(b, c))
        den = (la * lb * lc + np.einsum("kmi,kmi->km", a, b) * lc
               + np.einsum("kmi,kmi->km", b, c) * la + np.einsum("kmi,kmi->km", c, a) * lb)
        out[s:s + chunk] = np.arctan2(num, den).sum(axis=1) / (2 * math.pi)
    return np.abs(out)


def _surface_pieces(vertices: np.ndarray, faces: np.ndarray, cell: float) -> np.ndarray:
    """Corner points of the surface cut into pieces shorter than half a cell: each triangle
    split n x n (barycentric) with its longest edge over n below ``cell`` / 2."""
    tri = vertices[faces]
    edges = np.linalg.norm(tri - np.roll(tri, 1, axis=1), axis=-1).max(axis=1)
    splits = np.maximum(1, np.ceil(edges / (0.5 * cell)).astype(int))
    out = []
    for n in np.unique(splits):
        i, j = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
        keep = i + j <= n
        w = np.stack([(n - i - j)[keep], i[keep], j[keep]], axis=1) / n  # (p, 3)
        out.append(np.einsum("pk,mkd->mpd", w, tri[splits == n]).reshape(-1, 3))
    return np.unique(np.round(np.concatenate(out), 12), axis=0)


@dataclass(frozen=True)
class SolidCells:
    """The cells that together contain a mesh's solid, and what a sphere must hold to hold
    the solid's part in a cell: ``points[i]`` for cell ``cell_of[i]`` (cell corners inside
    the solid, and the corners of every surface piece that may reach into the cell)."""

    centres: np.ndarray  #: (k, 3) centres of the kept cells
    points: np.ndarray  #: (n, 3)
    cell_of: np.ndarray  #: (n,) index into ``centres``


def solid_cells(vertices: np.ndarray, faces: np.ndarray, cell: float) -> SolidCells:
    """The cubic cells of side ``cell`` that meet the solid the mesh bounds.

    A cell meets the solid when the surface passes through it or it lies inside. The part
    of the solid in a cell is a polytope whose corners are cell corners inside the solid or
    points of the surface in the cell, so it lies in the convex hull of those; each surface
    point in the cell lies on a piece (shorter than half a cell) whose corners are all
    within half a cell of it, so the cells around each piece corner, half a cell either way
    along each axis, include every cell its pieces reach. A sphere holding a cell's points
    (convex: holding a piece's corners holds the piece) holds the solid's part in it."""
    lo = vertices.min(axis=0) - cell
    counts = np.ceil((vertices.max(axis=0) + cell - lo) / cell).astype(int)
    # cell corners: a lattice of counts + 1 points per axis, each inside the solid or not
    axes = [lo[i] + cell * np.arange(counts[i] + 1) for i in range(3)]
    lattice = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    corner_in = (winding_number(lattice, vertices, faces) > 0.5).reshape(tuple(counts + 1))
    # surface pieces: every cell within half a cell of a piece corner, per axis
    pts = _surface_pieces(vertices, faces, cell)
    flat_of = []
    for d in np.array(np.meshgrid((-0.5, 0.5), (-0.5, 0.5), (-0.5, 0.5))).reshape(3, -1).T:
        idx = np.clip(np.floor((pts + d * cell - lo) / cell).astype(int), 0, counts - 1)
        flat_of.append(np.ravel_multi_index(idx.T, tuple(counts)))
    surface_cell = np.concatenate(flat_of)
    surface_pts = np.tile(pts, (8, 1))
    # corners inside, by cell: cell (i, j, k) has corners (i + a, j + b, k + c), a, b, c in 0/1
    grid = np.stack(np.meshgrid(*[np.arange(c) for c in counts], indexing="ij"), -1)
    grid = grid.reshape(-1, 3)
    corner_cell, corner_pts = [], []
    for off in np.array(np.meshgrid((0, 1), (0, 1), (0, 1))).reshape(3, -1).T:
        c = grid + off
        inside = corner_in[c[:, 0], c[:, 1], c[:, 2]]
        corner_cell.append(np.flatnonzero(inside))
        corner_pts.append(lo + cell * c[inside])
    flat = np.concatenate([surface_cell, *corner_cell])
    points = np.concatenate([surface_pts, *corner_pts])
    kept, cell_of = np.unique(flat, return_inverse=True)
    centres = lo + cell * (np.stack(np.unravel_index(kept, tuple(counts)), -1) + 0.5)
    return SolidCells(centres, points, cell_of.reshape(-1))


def _kmeans(points: np.ndarray, k: int, iterations: int = 30) -> np.ndarray:
    """Labels of a k-means grouping, started deterministically by farthest points."""
    first = int(np.argmin(np.linalg.norm(points - points.mean(axis=0), axis=1)))
    chosen = [first]
    d = np.linalg.norm(points - points[first], axis=1)
    for _ in range(1, k):
        chosen.append(int(np.argmax(d)))
        d = np.minimum(d, np.linalg.norm(points - points[chosen[-1]], axis=1))
    centres = points[chosen]
    labels = np.zeros(len(points), int)
    for _ in range(iterations):
        labels = np.argmin(np.linalg.norm(points[:, None] - centres[None], axis=2), axis=1)
        moved = np.array([points[labels == g].mean(axis=0) if np.any(labels == g)
                          else centres[g] for g in range(k)])
        if np.allclose(moved, centres):
            break
        centres = moved
    return labels


def mesh_spheres(vertices: np.ndarray, faces: np.ndarray, cell: float = 0.006,
                 max_radius: float = 0.07, max_spheres: int = 40):
    """Centres (k, 3) and radii (k,) of spheres whose union contains the solid the mesh
    bounds; ``k`` is the least (up to ``max_spheres``) that keeps every radius within
    ``max_radius``."""
    cells = solid_cells(np.asarray(vertices, float), np.asarray(faces), cell)
    best = None
    for k in range(1, min(max_spheres, len(cells.centres)) + 1):
        labels = _kmeans(cells.centres, k)
        used = np.unique(labels)
        centres = np.array([cells.centres[labels == g].mean(axis=0) for g in used])
        group = np.searchsorted(used, labels[cells.cell_of])  # each point's sphere
        dist = np.linalg.norm(cells.points - centres[group], axis=1)
        radii = np.zeros(len(used))
        np.maximum.at(radii, group, dist)
        best = (centres, radii)
        if radii.max() <= max_radius:
            break
    return best
