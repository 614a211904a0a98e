"""The stored collision sphere models (``robots/NAME/NAME_sphere_model.npz``) equal what
the planner's collision checker builds, so that a pinocchio-free user of the file (the GPU
benchmark) checks the same robot."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest

import robots
from robots.tools import build_sphere_model
from tamp.geometry.collision import CollisionChecker
from tamp.geometry.kinematics import Kinematics
from tamp.geometry.sphere_model import SphereModel
from tamp.world import WorldModel

REBUILD = "python -m robots.tools.build_sphere_model"


def differences(a: SphereModel, b: SphereModel) -> list[str]:
    """The fields in which ``a`` and ``b`` differ: exactly for integers, flags and names,
    within 1e-12 for floats (a pinocchio or libm update may move the last bit)."""
    out = []
    for f in fields(SphereModel):
        x, y = np.asarray(getattr(a, f.name)), np.asarray(getattr(b, f.name))
        if x.shape != y.shape or x.dtype.kind != y.dtype.kind:
            out.append(f"{f.name}: {x.dtype}{x.shape} != {y.dtype}{y.shape}")
        elif x.dtype.kind == "f" and not np.allclose(x, y, rtol=0.0, atol=1e-12):
            out.append(f"{f.name}: values differ by up to {np.abs(x - y).max():.1e}")
        elif x.dtype.kind != "f" and not np.array_equal(x, y):
            out.append(f"{f.name}: values differ")
    return out


@pytest.mark.parametrize("name", robots.available())
def test_stored_sphere_model_equals_a_fresh_build(name):
    path = robots.sphere_model_path(name)
    assert path.is_file(), f"{path} is missing: run `{REBUILD} {name}`"
    stale = differences(SphereModel.load(path), build_sphere_model.build(name))
    assert stale == [], f"{path} is stale ({'; '.join(stale)}): run `{REBUILD} {name}`"


def test_it_is_the_model_the_collision_checker_builds(robot):
    checker = CollisionChecker(Kinematics(robot), WorldModel({}))
    assert differences(SphereModel.load(robots.sphere_model_path(robot.name)),
                       checker.model) == []


def test_a_changed_model_is_reported(tmp_path):
    model = build_sphere_model.build("panda_2f85")
    radii = model.radii.copy()
    radii[0] += 1e-6
    changed = SphereModel(**{f.name: getattr(model, f.name) for f in fields(model)}
                          | {"radii": radii})
    changed.save(tmp_path / "m.npz")
    assert differences(SphereModel.load(tmp_path / "m.npz"), model) == \
        ["radii: values differ by up to 1.0e-06"]


def test_saving_twice_writes_the_same_bytes(tmp_path):
    model = SphereModel.load(robots.sphere_model_path("panda_2f85"))
    model.save(tmp_path / "a.npz")
    model.save(tmp_path / "b.npz")
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    assert differences(SphereModel.load(tmp_path / "a.npz"), model) == []
