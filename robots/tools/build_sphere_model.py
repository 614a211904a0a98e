"""Write ``NAME_sphere_model.npz`` beside a robot's YAML: its collision sphere model.

    python -m robots.tools.build_sphere_model            # every robot under robots/
    python -m robots.tools.build_sphere_model panda_2f85

The file is the :class:`tamp.geometry.sphere_model.SphereModel` the planner's collision
checker builds (the robot's stored spheres, grown by ``CollisionConfig().padding``), saved
so that the collision tests run without pinocchio (``experiments/gpu_collision.py``). A
test checks that the stored file equals a fresh build.
"""

from __future__ import annotations

import sys

import robots
from tamp.geometry.sphere_model import SphereModel


def build(name: str) -> SphereModel:
    """The sphere model of robot ``name``, as :class:`CollisionChecker` builds it."""
    from tamp.geometry.collision import CollisionConfig, robot_spheres
    from tamp.geometry.kinematics import Kinematics

    kin = Kinematics(robots.load(name))
    return SphereModel.build(kin, robot_spheres(kin), CollisionConfig().padding)


def main(argv: list[str] | None = None) -> None:
    names = (argv if argv is not None else sys.argv[1:]) or robots.available()
    for name in names:
        out = robots.sphere_model_path(name)
        build(name).save(out)
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
