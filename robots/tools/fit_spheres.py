"""Write ``NAME_spheres.yaml`` beside a robot's YAML: spheres covering its collision geometry.

    python -m robots.tools.fit_spheres panda_2f85

The spheres contain every primitive and every mesh of the URDF's ``<collision>`` elements
(see ``tamp.geometry.spheres`` and ``tamp.geometry.meshes``), so the planner's sphere checks
are conservative. A robot composed from a third party's description is fitted on its
meshes as installed (``robots.urdf_path``). A test checks
that the stored file equals what this tool writes.
"""

from __future__ import annotations

import sys

import robots
from robots import ROOT
from tamp.geometry.spheres import dump_spheres, spheres_from_urdf


def build(name: str) -> str:
    return dump_spheres(spheres_from_urdf(robots.urdf_path(name)))


def main(argv: list[str] | None = None) -> None:
    names = (argv if argv is not None else sys.argv[1:]) or ["panda_2f85"]
    for name in names:
        out = ROOT / name / f"{name}_spheres.yaml"
        out.write_text(build(name))
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
