"""Placements on surfaces, in regions, stacked and packed: every pose is checked against
its region and, with the separating-axis test, against every other footprint."""

from __future__ import annotations

import functools
import math
import time
from pathlib import Path

import numpy as np
import pytest

from tamp.geometry.packing import PackingConfig, pack_next, pack_rectangles, plan_packing
from tamp.geometry.placements import (PlacementConfig, Region, footprint_of, in_bowl, in_tray,
                                      on_table, on_top_of, overlap, resting_on,
                                      sample_placements, support_region, table_region, zone)
from tamp.geometry.shapes import primitives, tray_interior
from tamp.geometry.transforms import rpy_pose
from tamp.world import Shape, WorldModel, WorldObject


def _obj(name, size, xyz=(0.0, 0.0, 0.0), yaw=0.0, kind="box", wall=0.008):
    return WorldObject(name, "tray" if kind == "tray" else "block", "red",
                       Shape(kind, size, wall), rpy_pose(xyz, (0, 0, yaw)))


def _local(region: Region, pose: np.ndarray) -> np.ndarray:
    return np.linalg.solve(region.frame, pose)


def _assert_valid(poses, obj, region, occupants, margin, gap, drop):
    """Upright, released ``drop`` above the support, inside by ``margin``, ``gap`` clear
    of every occupant."""
    assert poses
    for pose in poses:
        np.testing.assert_allclose(pose[:3, 2], (0, 0, 1), atol=1e-12)
        assert _local(region, pose)[2, 3] == pytest.approx(drop, abs=1e-9)
        corners = footprint_of(obj, pose)
        local = (corners - region.frame[:2, 3]) @ region.frame[:2, :2]
        if region.kind == "disk":
            assert np.linalg.norm(local, axis=1).max() <= region.half[0] - margin + 1e-9
        else:
            assert (np.abs(local) <= np.array(region.half) - margin + 1e-9).all()
        for other in occupants:
            assert not overlap(footprint_of(obj, pose, gap / 2),
                               footprint_of(other, other.pose, gap / 2)), other.name


# -- the bowl sampler the planner uses -------------------------------------------------

def test_in_bowl_gives_the_poses_it_always_gave():
    """Poses recorded from the sampler before the general one replaced its insides."""
    bowl = WorldObject("bowl", "bowl", "green", Shape("bowl", (0.13, 0.09, 0.05)),
                       rpy_pose((0.5, 0.1, 0.0), (0, 0, 0.3)))
    block = _obj("b", (0.04, 0.05, 0.04))
    places = in_bowl(block, bowl, [], np.random.default_rng(0))
    assert len(places.poses) == 68
    np.testing.assert_array_equal(places.poses[0][:3, 3],
                                  [0.4553939976522289, 0.07312577090293568, 0.012])
    np.testing.assert_array_equal(places.poses[-1][:3, 3],
                                  [0.49471980237003754, 0.10598570815820545, 0.012])
    region = support_region(bowl)
    _assert_valid(places.poses, block, region, [], 0.01, 0.01, 0.004)
    # nearest the wall first
    r = [np.hypot(*(p[:2, 3] - bowl.position[:2])) for p in places.poses]
    assert r == sorted(r, reverse=True)
    full = [_obj(f"o{k}", (0.045, 0.045, 0.04), (0.5 + dx, 0.1 + dy, 0.012))
            for k, (dx, dy) in enumerate((dx, dy) for dx in (-0.05, 0, 0.05)
                                         for dy in (-0.05, 0, 0.05))]
    refused = in_bowl(block, bowl, full, np.random.default_rng(0))
    assert not refused.success and refused.reason == "no free spot left in bowl for b"


# -- surfaces and regions --------------------------------------------------------------

def test_table_placements_keep_clear_of_everything_on_it():
    objs = {o.name: o for o in [
        _obj("a", (0.05, 0.05, 0.05), (0.3, 0.0, 0.0), 0.3),
        _obj("c", (0.03, 0.03, 0.08), (0.5, 0.2, 0.0), kind="cylinder"),
        _obj("t", (0.3, 0.2, 0.05), (0.6, -0.2, 0.0), 0.5, kind="tray"),
        _obj("new", (0.06, 0.04, 0.05))]}
    world = WorldModel(objs, table_extent=(0.2, 0.8, -0.4, 0.4))
    cfg = PlacementConfig(n_samples=400)
    places = on_table(objs["new"], world, np.random.default_rng(3), cfg)
    others = [o for o in objs.values() if o.name != "new"]
    _assert_valid(places.poses, objs["new"], table_region(world), others, cfg.margin,
                  cfg.margin, cfg.drop_height)
    assert len(places.poses) > 200


def test_top_face_of_a_turned_box_holds_a_smaller_one():
    base = _obj("base", (0.3, 0.2, 0.1), (0.5, 0.0, 0.0), 0.7)
    small = _obj("small", (0.05, 0.03, 0.04))
    there = _obj("there", (0.05, 0.05, 0.03), (0.5, 0.0, 0.1), 0.7)
    region = support_region(base)
    assert region.height == pytest.approx(0.1)
    assert [o.name for o in resting_on(region, [base, small, there])] == ["there"]
    places = sample_placements(small, region, [there], np.random.default_rng(0))
    _assert_valid(places.poses, small, region, [there], 0.01, 0.01, 0.004)


@pytest.mark.parametrize("where", ["tray", "zone"])
def test_tray_and_marked_zone_keep_objects_inside(where):
    if where == "tray":
        tray = _obj("tray", (0.30, 0.22, 0.06), (0.5, 0.1, 0.0), 0.4, kind="tray", wall=0.01)
        region = support_region(tray)
        assert region.half == pytest.approx((0.14, 0.10))
        assert region.height == pytest.approx(0.01)
    else:
        region = zone("drop zone", rpy_pose((0.4, -0.2, 0.0), (0, 0, -0.6)), (0.25, 0.15))
    placed = _obj("placed", (0.06, 0.06, 0.05), (*region.frame[:2, 3], region.height), 0.2)
    new = _obj("new", (0.07, 0.04, 0.05))
    cfg = PlacementConfig(margin=0.005, prefer="centre")
    places = sample_placements(new, region, [placed], np.random.default_rng(1), cfg)
    _assert_valid(places.poses, new, region, [placed], 0.005, 0.005, cfg.drop_height)
    d = [np.hypot(*_local(region, p)[:2, 3]) for p in places.poses]
    assert d == sorted(d)
    if where == "tray":
        _assert_valid(in_tray(new, tray, [placed], np.random.default_rng(1), cfg).poses,
                      new, region, [placed], 0.005, 0.005, cfg.drop_height)


def test_samplers_are_deterministic_for_a_seed():
    region = zone("z", rpy_pose((0.4, 0.0, 0.0), (0, 0, 0.3)), (0.3, 0.2))
    new = _obj("new", (0.05, 0.04, 0.05))

    def run(seed):
        return sample_placements(new, region, [], np.random.default_rng(seed)).poses

    a, b, c = run(5), run(5), run(6)
    assert len(a) == len(b) and all((p == q).all() for p, q in zip(a, b))
    assert not np.allclose(a[0], c[0])


def test_refusals_say_why():
    rng = np.random.default_rng(0)
    small_zone = zone("z", np.eye(4), (0.2, 0.2))
    wide = sample_placements(_obj("wide", (0.3, 0.3, 0.05)), small_zone, [], rng)
    assert not wide.success and "wide (300 x 300 mm) does not fit in z" in wide.reason
    long = sample_placements(_obj("long", (0.4, 0.1, 0.05)), small_zone, [], rng)
    assert "long did not fit inside z" in long.reason
    tilted = Region("ramp", rpy_pose((0, 0, 0), (0.3, 0, 0)), (0.5, 0.5))
    assert "not level" in sample_placements(_obj("s", (0.04, 0.04, 0.04)), tilted, [],
                                            rng).reason


# -- stacking --------------------------------------------------------------------------

def test_stacking_is_centred_first_aligned_and_within_the_offset():
    lower = _obj("lower", (0.06, 0.06, 0.05), (0.4, 0.1, 0.02), 0.5)
    upper = _obj("upper", (0.04, 0.05, 0.04))
    cfg = PlacementConfig(stack_offset=0.008, margin=0.005)
    places = on_top_of(upper, lower, [], np.random.default_rng(2), cfg)
    assert len(places.poses) > 10
    first = places.poses[0]
    np.testing.assert_allclose(first[:2, 3], lower.position[:2], atol=1e-12)
    for pose in places.poses:
        assert pose[2, 3] == pytest.approx(0.02 + 0.05 + cfg.drop_height)
        assert np.hypot(*(pose[:2, 3] - lower.position[:2])) <= cfg.stack_offset + 1e-12
        turn = (math.atan2(pose[1, 0], pose[0, 0]) - 0.5) % (math.pi / 2)
        assert min(turn, math.pi / 2 - turn) < 1e-9
    free = on_top_of(upper, lower, [], np.random.default_rng(2),
                     PlacementConfig(stack_aligned=False))
    yaws = {round(math.atan2(p[1, 0], p[0, 0]), 3) for p in free.poses}
    assert len(yaws) > 50


def test_a_wide_object_may_overhang_a_narrow_one_but_not_its_neighbour():
    lower = _obj("post", (0.03, 0.03, 0.10), (0.5, 0.0, 0.0))
    plate = _obj("plate", (0.12, 0.12, 0.01))
    places = on_top_of(plate, lower, [], np.random.default_rng(0),
                       PlacementConfig(stack_offset=0.0, margin=0.005))
    assert len(places.poses) == 2  # centred, turned by 0 and 90°
    assert places.poses[0][2, 3] == pytest.approx(0.104)
    neighbour = _obj("n", (0.04, 0.04, 0.02), (0.5, 0.0, 0.1))
    blocked = on_top_of(_obj("u", (0.04, 0.04, 0.04)), lower, [neighbour],
                        np.random.default_rng(0))
    assert not blocked.success and "top face of post" in blocked.reason


# -- the tray shape --------------------------------------------------------------------

def _inside_any(parts, p):
    for q in parts:
        local = np.linalg.solve(q.local, np.append(p, 1.0))[:3]
        if (np.abs(local) <= np.array(q.half) + 1e-12).all():
            return True
    return False


def test_tray_primitives_are_closed_walls_on_a_base():
    shape = Shape("tray", (0.30, 0.20, 0.06), 0.01)
    parts = primitives(shape)
    assert [q.part for q in parts] == ["bottom"] + ["wall"] * 4
    ix, iy, floor = tray_interior(shape)
    assert (ix, iy, floor) == pytest.approx((0.28, 0.18, 0.01))
    rng = np.random.default_rng(0)
    pts = rng.uniform((-0.15, -0.10, 0.0), (0.15, 0.10, 0.06), size=(4000, 3))
    # and points on the seams, where a wall meets the base or another wall
    seams = [(0.145, y, 0.01) for y in np.linspace(-0.1, 0.1, 21)] + \
        [(x, -0.095, 0.005) for x in np.linspace(-0.15, 0.15, 21)] + \
        [(0.14, 0.09, z) for z in np.linspace(0, 0.06, 13)]
    for p in np.vstack([pts, seams]):
        cavity = abs(p[0]) < ix / 2 and abs(p[1]) < iy / 2 and p[2] > floor
        assert _inside_any(parts, p) != cavity, p


# -- packing ---------------------------------------------------------------------------

U, GAP = 0.04, 0.004


def _pinwheel(turn_some: bool):
    """Boxes that fill a 7 x 6 grid of 40 mm cells exactly, but only as a pinwheel: each
    box is k x l cells less the gap. ``turn_some`` hands two of them over turned, so
    they fit only if the packer turns them back."""
    cells = [(4, 2), (3, 4), (5, 2), (2, 4), (2, 2)]
    if turn_some:
        cells[1], cells[3] = (4, 3), (4, 2)
    return [_obj(f"box{k}", (a * U - GAP, b * U - GAP, 0.05)) for k, (a, b) in enumerate(cells)]


def _tray_for(cols, rows, wall=0.006, yaw=0.3, slack=2e-4):
    cfg = PackingConfig()
    inner = (cols * U - GAP + 2 * cfg.margin + slack, rows * U - GAP + 2 * cfg.margin + slack)
    return _obj("tray", (inner[0] + 2 * wall, inner[1] + 2 * wall, 0.05), (0.5, 0.1, 0.0),
                yaw, kind="tray", wall=wall)


def _assert_packed(plan, objs, region, cfg):
    assert plan.success, plan.reason
    assert sorted(plan.order) == sorted(o.name for o in objs)
    placed = []
    for name in plan.order:
        obj = next(o for o in objs if o.name == name)
        _assert_valid([plan.poses[name]], obj, region, placed, cfg.margin, cfg.gap,
                      cfg.drop_height)
        placed.append(obj.moved(plan.poses[name]))


@pytest.mark.parametrize("split", [False, True])
def test_boxes_that_fit_only_as_a_pinwheel_are_packed(split):
    objs = _pinwheel(turn_some=True)
    if split:  # six boxes: the 5 x 2 one as a 3 x 2 and a 2 x 2
        objs[2:3] = [_obj("box2", (3 * U - GAP, 2 * U - GAP, 0.05)),
                     _obj("box5", (2 * U - GAP, 2 * U - GAP, 0.05))]
    tray = _tray_for(7, 6)
    cfg = PackingConfig()
    plan = plan_packing(objs, tray, cfg)
    _assert_packed(plan, objs, support_region(tray), cfg)
    # the footprints cover > 85 % of the floor: a tight packing
    ix, iy, _ = tray_interior(tray.shape)
    assert sum(o.shape.size[0] * o.shape.size[1] for o in objs) > 0.85 * ix * iy
    # without turning boxes, no arrangement exists, and the search says so
    stiff = plan_packing(objs, tray, PackingConfig(rotate=False))
    assert not stiff.success and "no arrangement" in stiff.reason and stiff.poses == {}


def test_greedy_one_at_a_time_gets_stuck_where_the_plan_does_not():
    objs, tray = _pinwheel(turn_some=False), _tray_for(7, 6)
    placed = []
    for obj in sorted(objs, key=lambda o: -o.shape.size[0] * o.shape.size[1]):
        places = pack_next(obj, tray, placed)
        if not places.success:
            break
        _assert_valid(places.poses, obj, support_region(tray), placed, 0.004, 0.004, 0.004)
        placed.append(obj.moved(places.poses[0]))
    assert len(placed) < len(objs) and "does not fit in tray" in places.reason
    # placing in the plan's order at the plan's poses goes through
    plan = plan_packing(objs, tray)
    _assert_packed(plan, objs, support_region(tray), PackingConfig())


def test_pack_next_fills_a_zone_tightly_beside_occupants():
    region = zone("bin", rpy_pose((0.4, 0.0, 0.0), (0, 0, 0.2)), (0.2, 0.13))
    cfg = PackingConfig()
    placed = []
    for k in range(6):
        obj = _obj(f"b{k}", (0.06, 0.045, 0.04))
        places = pack_next(obj, region, placed, cfg)
        _assert_valid(places.poses, obj, region, placed, cfg.margin, cfg.gap,
                      cfg.drop_height)
        placed.append(obj.moved(places.poses[0]))
    # six 60 x 45 mm boxes in 200 x 130 mm: three by two, so the first went in a corner
    corner = _local(region, placed[0].pose)[:2, 3]
    assert corner == pytest.approx((-0.1 + 0.004 + 0.03, -0.065 + 0.004 + 0.0225), abs=1e-4)


@pytest.mark.parametrize("sizes, why", [
    ([(0.25, 0.25)], "does not fit"),
    ([(0.12, 0.12)] * 5, "more than"),
    ([(0.11, 0.11), (0.11, 0.11)], "no arrangement"),  # half the area, but not side by side
    # 79 % of the area, six boxes: only a search shows they do not go in
    ([(0.09, 0.09)] * 3 + [(0.04, 0.06)] * 3, "no arrangement"),
])
def test_impossible_sets_are_refused_quickly_with_a_reason(sizes, why):
    objs = [_obj(f"b{k}", (*s, 0.04)) for k, s in enumerate(sizes)]
    t0 = time.perf_counter()
    plan = plan_packing(objs, zone("bin", np.eye(4), (0.2, 0.2)))
    assert time.perf_counter() - t0 < 1.0
    assert not plan.success and why in plan.reason and "cannot pack" in plan.reason


def test_packing_refuses_round_regions():
    bowl = WorldObject("bowl", "bowl", "green", Shape("bowl", (0.13, 0.09, 0.05)), np.eye(4))
    plan = plan_packing([_obj("b", (0.04, 0.04, 0.04))], bowl)
    assert not plan.success and "round" in plan.reason


def _fits_by_brute_force(cells, cols, rows, rotate):
    """Every integer position of every box, one box after another (independent of the
    packer's skyline search)."""
    masks = []
    for w, h in cells:
        ms = set()
        for a, b in {(w, h), (h, w)} if rotate else {(w, h)}:
            for x in range(cols - a + 1):
                for y in range(rows - b + 1):
                    ms.add(sum(1 << ((y + j) * cols + x + i) for i in range(a) for j in range(b)))
        masks.append(sorted(ms))

    @functools.lru_cache(maxsize=None)
    def go(k, taken):
        return k == len(cells) or any(go(k + 1, taken | m) for m in masks[k] if not taken & m)

    return go(0, 0)


def test_packer_is_exact_on_small_grid_instances():
    """Integer-sized boxes in a container a hair over an integer size: they fit exactly
    when the brute force finds integer positions for them."""
    rng = np.random.default_rng(0)
    outcomes = set()
    for _ in range(300):
        cols, rows = (int(v) for v in rng.integers(3, 7, size=2))
        cells = [tuple(int(v) for v in rng.integers(1, 5, size=2))
                 for _ in range(int(rng.integers(2, 6)))]
        if sum(a * b for a, b in cells) > cols * rows:
            continue
        rotate = bool(rng.integers(0, 2))
        packed = pack_rectangles(np.array(cells) * U, (cols * U + 1e-4, rows * U + 1e-4),
                                 PackingConfig(gap=0.0, margin=0.0, rotate=rotate))
        assert packed.success == _fits_by_brute_force(cells, cols, rows, rotate), cells
        outcomes.add(packed.success)
        if packed.success:  # verify the arrangement itself, box by box
            half = np.where(packed.turned[:, None], np.array(cells)[:, ::-1],
                            np.array(cells)) * U / 2
            lo, hi = packed.centres - half, packed.centres + half
            inner = (np.array([cols, rows]) * U + 1e-4) / 2
            assert (lo >= -inner).all() and (hi <= inner).all()
            for i in range(len(cells)):
                for j in range(i):
                    assert ((lo[i] >= hi[j] - 1e-12) | (lo[j] >= hi[i] - 1e-12)).any()
    assert outcomes == {True, False}


def test_the_example_in_the_docs_runs():
    doc = (Path(__file__).parents[3] / "docs" / "PLACEMENTS.md").read_text()
    code = doc.split("```python\n", 1)[1].split("```", 1)[0]
    ns: dict = {}
    exec(compile(code, "docs/PLACEMENTS.md", "exec"), ns)
    # what the text around the example says it gives
    assert ns["pose"][2, 3] == pytest.approx(0.004)  # released 4 mm above the zone
    assert ns["stacked"].success and ns["beside"].success
    assert sorted(ns["plan"].order) == ["b0", "b1", "b2", "b3"]
