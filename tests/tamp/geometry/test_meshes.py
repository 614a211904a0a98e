"""Meshes as collision geometry: STL read both ways, inside and outside told apart, and a
sphere cover that holds the whole solid (surface and inside), not only sampled points."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from tamp.geometry.meshes import mesh_spheres, read_stl, solid_cells, winding_number

# a closed, outward-facing box 0.2 x 0.1 x 0.06 m, as 12 triangles
_CORNERS = np.array([[x, y, z] for x in (0, 0.2) for y in (0, 0.1) for z in (0, 0.06)])
_FACES = np.array([[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
                   [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]])


def _binary_stl(tri: np.ndarray) -> bytes:
    out = b"made by the test".ljust(80, b"\0") + struct.pack("<I", len(tri))
    for t in tri:
        out += struct.pack("<12fH", 0, 0, 0, *t.reshape(-1), 0)
    return out


def _ascii_stl(tri: np.ndarray) -> str:
    rows = ["solid box"]
    for t in tri:
        rows += ["facet normal 0 0 0", "outer loop"]
        rows += [f"vertex {a:.9g} {b:.9g} {c:.9g}" for a, b, c in t]
        rows += ["endloop", "endfacet"]
    return "\n".join(rows + ["endsolid box"]) + "\n"


@pytest.mark.parametrize("kind", ["binary", "ascii"])
def test_an_stl_file_reads_back_its_triangles(tmp_path, kind):
    tri = _CORNERS[_FACES]
    path = tmp_path / "box.stl"
    if kind == "binary":
        path.write_bytes(_binary_stl(tri))
    else:
        path.write_text(_ascii_stl(tri))
    v, f = read_stl(path)
    assert len(v) == 8 and f.shape == (12, 3)  # shared corners merged
    np.testing.assert_allclose(np.sort(v[f].reshape(-1, 3), axis=0),
                               np.sort(tri.reshape(-1, 3), axis=0), atol=1e-7)


def test_what_is_not_an_stl_file_is_refused(tmp_path):
    path = tmp_path / "x.stl"
    path.write_text("hello world\n")
    with pytest.raises(ValueError, match="not an STL file"):
        read_stl(path)


def test_winding_number_tells_inside_from_outside_whichever_way_faces_turn():
    inside = np.array([[0.1, 0.05, 0.03], [0.01, 0.01, 0.01], [0.19, 0.09, 0.05]])
    outside = np.array([[0.3, 0.05, 0.03], [-0.01, 0.05, 0.03], [0.1, 0.05, 0.07]])
    for faces in (_FACES, _FACES[:, ::-1]):
        np.testing.assert_allclose(winding_number(inside, _CORNERS, faces), 1.0, atol=1e-9)
        np.testing.assert_allclose(winding_number(outside, _CORNERS, faces), 0.0, atol=1e-9)


def _uncovered(points, centres, radii) -> int:
    d = np.linalg.norm(points[:, None] - centres[None], axis=2) - radii[None]
    return int((d.min(axis=1) > 1e-12).sum())


def test_the_spheres_hold_the_whole_box_with_a_bounded_overhang():
    centres, radii = mesh_spheres(_CORNERS, _FACES, cell=0.01, max_radius=0.06)
    assert radii.max() <= 0.06 and 1 < len(radii) <= 40
    rng = np.random.default_rng(3)
    solid = rng.uniform(0, 1, (20000, 3)) * [0.2, 0.1, 0.06]
    assert _uncovered(solid, centres, radii) == 0
    assert _uncovered(_CORNERS, centres, radii) == 0  # the corners are the hardest points
    # and the spheres stay by the box: each centre within its radius of it
    gap = np.maximum(0, np.maximum(-centres, centres - [0.2, 0.1, 0.06]))
    assert np.all(np.linalg.norm(gap, axis=1) < radii)


def test_a_thin_plate_is_found_by_its_surface_between_cell_corners():
    # a 2 mm plate lying between two layers of cell corners: no corner is inside it, so its
    # cells come from its surface alone
    corners = _CORNERS * [1, 1, 0.002 / 0.06] + [0, 0, 0.003]
    cells = solid_cells(corners, _FACES, 0.01)
    assert len(cells.centres) > 0
    centres, radii = mesh_spheres(corners, _FACES, cell=0.01, max_radius=0.05)
    rng = np.random.default_rng(4)
    plate = rng.uniform(0, 1, (5000, 3)) * [0.2, 0.1, 0.002] + [0, 0, 0.003]
    assert _uncovered(plate, centres, radii) == 0
    assert _uncovered(corners, centres, radii) == 0


def test_the_cover_is_tight_to_half_a_cell():
    """The spheres reach at most half a cell past the surface where it sets their radius:
    shrunk by half a cell, they leave some of the box's surface out."""
    centres, radii = mesh_spheres(_CORNERS, _FACES, cell=0.01, max_radius=0.06)
    rng = np.random.default_rng(6)
    tri = _CORNERS[_FACES]
    surface = np.einsum("pk,pkd->pd", rng.dirichlet([1, 1, 1], 20000),
                        tri[rng.integers(0, len(tri), 20000)])
    assert _uncovered(surface, centres, radii) == 0
    assert _uncovered(surface, centres, radii - 0.005) > 0
