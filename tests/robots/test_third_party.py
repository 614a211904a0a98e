"""A robot from a description nobody here wrote: example-robot-data's Panda (meshes, SRDF),
as pip installs it, with the project's 2F-85 on its flange (``robots/description.py``)."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

import robots
from robots.description import compose, share_dir
from tamp.geometry.meshes import read_stl, winding_number

NAME = "panda_erd_2f85"


@pytest.fixture(scope="module")
def erd():
    return robots.load(NAME)


def _urdf(robot):
    from xml.etree import ElementTree as ET

    return ET.parse(robot.urdf).getroot()


def test_nothing_of_the_third_party_is_in_the_repository(erd):
    folder = robots.ROOT / NAME
    assert sorted(p.suffix for p in folder.iterdir()) == [".npz", ".yaml", ".yaml"]
    assert not erd.urdf.is_relative_to(robots.ROOT)  # composed into the cache
    share = share_dir("example-robot-data")
    meshes = [m.get("filename") for m in _urdf(erd).iter("mesh")]
    assert len(meshes) == 16  # the 8 links' visual and collision meshes
    assert all(m.startswith(str(share)) for m in meshes)


def test_the_vendor_hand_is_replaced_by_the_2f85(erd):
    links = {e.get("name") for e in _urdf(erd).findall("link")}
    assert not {"panda_hand", "panda_leftfinger", "panda_rightfinger"} & links
    assert {"panda_link8", "panda_flange", "robotiq_base", "tcp"} <= links


def test_limits_come_from_its_urdf_and_pairs_from_its_srdf(erd):
    own = robots.load("panda_2f85")  # from Franka's published tables
    for name in ("lower", "upper", "max_velocity", "max_effort", "max_acceleration",
                 "max_jerk", "home"):
        np.testing.assert_allclose(getattr(erd, name), getattr(own, name), atol=1e-4)
    pairs = {frozenset(p) for p in erd.disabled_collisions}
    assert frozenset(("panda_link3", "panda_link7")) in pairs  # "Never", from the SRDF
    assert frozenset(("robotiq_left_finger", "robotiq_right_finger")) in pairs  # the YAML's
    assert not any("panda_hand" in p for p in pairs)  # the hand's pairs went with it


def test_its_tool_is_where_the_published_kinematics_put_ours(erd):
    """The same arm: example-robot-data's Panda and ours (from Franka's DH table) put the
    flange and the tool centre point in the same place, to 1e-6 m."""
    from tamp.geometry.kinematics import Kinematics

    own = robots.load("panda_2f85")
    k_erd, k_own = Kinematics(erd), Kinematics(own)
    rng = np.random.default_rng(11)
    for _ in range(50):
        q = rng.uniform(own.lower, own.upper)
        for frame in ("panda_flange", "tcp"):
            np.testing.assert_allclose(k_erd.frame_pose(q, frame), k_own.frame_pose(q, frame),
                                       atol=1e-6)


def _solid_points(vertices, faces, rng, n=4000):
    """Points on a mesh's surface, at its vertices and inside it."""
    tri = vertices[faces]
    on = np.einsum("pk,pkd->pd", rng.dirichlet([1, 1, 1], n), tri[rng.integers(0, len(tri), n)])
    box = rng.uniform(vertices.min(0), vertices.max(0), (3 * n, 3))
    inside = box[winding_number(box, vertices, faces) > 0.5]
    return np.concatenate([on, vertices, inside])


def test_its_spheres_cover_its_meshes(erd):
    """Every point of every collision mesh (surface, corners, inside) lies in one of the
    link's stored spheres, which the planner then pads further."""
    from tamp.geometry.transforms import rpy_pose

    rng = np.random.default_rng(5)
    checked = 0
    for link in _urdf(erd).findall("link"):
        for col in link.findall("collision"):
            mesh = col.find("geometry/mesh")
            if mesh is None:
                continue
            org = col.find("origin")
            t = rpy_pose(*(tuple(float(v) for v in (org.get(k) or "0 0 0").split())
                           for k in ("xyz", "rpy"))) if org is not None else np.eye(4)
            v, f = read_stl(mesh.get("filename"))
            pts = _solid_points(v, f, rng) @ t[:3, :3].T + t[:3, 3]
            s = erd.collision_spheres[link.get("name")]
            gap = np.linalg.norm(pts[:, None] - s.centres[None], axis=2) - s.radii[None]
            assert gap.min(axis=1).max() <= 1e-6, link.get("name")
            # and not a blanket: the spheres' centres lie within the mesh's box
            assert np.all(s.centres >= v.min(0) - 1e-9) and np.all(s.centres <= v.max(0))
            checked += 1
    assert checked == 8


@pytest.mark.slow
def test_its_stored_spheres_are_what_the_fitter_writes_from_the_installed_meshes():
    from robots.tools.fit_spheres import build

    assert (robots.ROOT / NAME / f"{NAME}_spheres.yaml").read_text() == build(NAME)


def test_a_description_that_cannot_be_composed_says_why(tmp_path):
    desc = yaml.safe_load((robots.ROOT / NAME / f"{NAME}.yaml").read_text())["description"]
    with pytest.raises(LookupError, match="'no-such-robots' is not installed .*pip install"):
        compose("x", dict(desc, package="no-such-robots"), tmp_path / "x.yaml")
    with pytest.raises(ValueError, match="no joint 'panda_gripper_joint' to remove"):
        compose("x", dict(desc, remove=["panda_gripper_joint"]), tmp_path / "x.yaml")
    with pytest.raises(ValueError, match="'description.flange' is missing"):
        compose("x", {k: v for k, v in desc.items() if k != "flange"}, tmp_path / "x.yaml")


@pytest.mark.slow
def test_it_plans_and_executes_place_in_bowl(tmp_path):
    from experiments.episode import EpisodeSpec, run_episode

    result = run_episode(EpisodeSpec("place-in-bowl", 3, robot=NAME), out=tmp_path)
    assert result["robot"] == NAME
    assert result["success"], result.get("failure")
