"""A robot's collision geometry covered by spheres.

Every primitive in the URDF's ``<collision>`` elements is replaced by spheres whose union
*contains* it, so a sphere model that is free of obstacles guarantees the real geometry is
free too (conservative).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np

from tamp.geometry.transforms import rpy_pose


@dataclass(frozen=True)
class LinkSpheres:
    """Spheres of one link: centres in the link frame, shape (k, 3), m; radii (k,), m."""

    link: str
    centres: np.ndarray
    radii: np.ndarray


def _floats(text: str | None, n: int = 3) -> tuple[float, ...]:
    return tuple(float(v) for v in text.split()) if text else (0.0,) * n


def cylinder_spheres(radius: float, length: float, max_spacing: float | None = None):
    """Centres along the z axis and one radius that together cover the cylinder."""
    spacing = max_spacing or radius
    n = max(1, math.ceil(length / spacing))
    step = length / n
    z = -length / 2 + step / 2 + step * np.arange(n)
    centres = np.column_stack([np.zeros(n), np.zeros(n), z])
    return centres, math.hypot(radius, step / 2)


def box_spheres(half: tuple[float, float, float], cell: float | None = None):
    """Sphere centres on a grid and one radius that together cover the box."""
    extent = 2 * np.asarray(half, float)
    cell = cell or min(0.03, max(float(extent.min()), 0.01))
    counts = np.maximum(1, np.ceil(extent / cell - 1e-9)).astype(int)
    step = extent / counts
    axes = [-extent[i] / 2 + step[i] / 2 + step[i] * np.arange(counts[i]) for i in range(3)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    return grid, float(np.linalg.norm(step) / 2)


def spheres_from_urdf(urdf: str | Path) -> dict[str, LinkSpheres]:
    """Cover each link's collision primitives (sphere, cylinder, box) with spheres."""
    root = ET.parse(urdf).getroot()
    out: dict[str, LinkSpheres] = {}
    for link in root.findall("link"):
        centres, radii = [], []
        for col in link.findall("collision"):
            org = col.find("origin")
            t = rpy_pose(_floats(org.get("xyz") if org is not None else None),
                         _floats(org.get("rpy") if org is not None else None))
            geom = col.find("geometry")[0]
            if geom.tag == "sphere":
                c, r = np.zeros((1, 3)), float(geom.get("radius"))
            elif geom.tag == "cylinder":
                c, r = cylinder_spheres(float(geom.get("radius")), float(geom.get("length")))
            elif geom.tag == "box":
                c, r = box_spheres(tuple(v / 2 for v in _floats(geom.get("size"))))
            else:
                raise ValueError(f"{urdf}: link {link.get('name')}: unsupported collision "
                                 f"geometry '{geom.tag}' (use sphere, cylinder or box)")
            centres.append(c @ t[:3, :3].T + t[:3, 3])
            radii.append(np.full(len(c), r))
        if centres:
            name = link.get("name")
            out[name] = LinkSpheres(name, np.concatenate(centres), np.concatenate(radii))
    return out
