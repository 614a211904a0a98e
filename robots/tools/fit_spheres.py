"""Write ``NAME_spheres.yaml`` beside a robot's YAML: spheres covering its collision geometry.

    python -m robots.tools.fit_spheres panda_2f85

The spheres contain every primitive of the URDF's ``<collision>`` elements (see
``tamp.geometry.spheres``), so the planner's sphere checks are conservative. A test checks
that the stored file equals what this tool writes.
"""

from __future__ import annotations

import sys

from robots import ROOT
from tamp.geometry.spheres import dump_spheres, spheres_from_urdf


def build(name: str) -> str:
    return dump_spheres(spheres_from_urdf(ROOT / name / f"{name}.urdf"))


def main(argv: list[str] | None = None) -> None:
    names = (argv if argv is not None else sys.argv[1:]) or ["panda_2f85"]
    for name in names:
        out = ROOT / name / f"{name}_spheres.yaml"
        out.write_text(build(name))
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
