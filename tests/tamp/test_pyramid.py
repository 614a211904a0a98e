"""The pyramid domain: slots from the marked places, facts from geometry, slot placements."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scenes.tasks.layout import yaw_pose
from tamp.geometry.placements import PlacementConfig
from tamp.planner import goal_holds, symbolic_state
from tamp.domains.pyramid import pyramid_slots, slot_placements
from tamp.domains import get_domain
from tamp.world import Shape, WorldModel, WorldObject, Zone

SIZE, GAP = 0.045, 0.012
CUBE = Shape("box", (SIZE, SIZE, SIZE))
SLOTS = ["slot_1_1", "slot_1_2", "slot_1_3", "slot_2_1", "slot_2_2", "slot_3_1"]


def zones(yaw: float = 0.3, centre=(0.5, 0.05)) -> dict[str, Zone]:
    along = np.array([math.cos(yaw), math.sin(yaw)])
    out = {}
    for k in range(3):
        xy = np.asarray(centre) + (k - 1) * (SIZE + GAP) * along
        out[f"slot_1_{k + 1}"] = Zone(f"slot_1_{k + 1}", yaw_pose(*xy, yaw), (SIZE, SIZE))
    return out


def world_with(blocks: dict[str, tuple[float, float, float]], yaw_of=None) -> WorldModel:
    """Blocks named b0.. at the given bottom centres (x, y, z)."""
    objs = {n: WorldObject(n, "block", "red", CUBE, yaw_pose(x, y, (yaw_of or {}).get(n, 0.3),
                                                            z))
            for n, (x, y, z) in blocks.items()}
    return WorldModel(objs, zones=zones())


def built(skip: tuple[str, ...] = ()) -> WorldModel:
    """The pyramid built exactly: block b<k> in the k-th slot (bottom row first)."""
    slots = pyramid_slots(WorldModel({"x": WorldObject("x", "block", "red", CUBE, np.eye(4))},
                                     zones=zones()))
    return world_with({f"b{k}": (*slots[s].xy, slots[s].z) for k, s in enumerate(SLOTS)
                       if s not in skip})


def test_slots_rest_across_the_two_below_one_block_higher():
    slots = pyramid_slots(built())
    assert sorted(slots) == SLOTS
    z1 = zones()
    mid = (z1["slot_1_1"].pose[:2, 3] + z1["slot_1_2"].pose[:2, 3]) / 2
    assert np.allclose(slots["slot_2_1"].xy, mid)
    assert slots["slot_2_1"].z == pytest.approx(SIZE)
    assert slots["slot_3_1"].z == pytest.approx(2 * SIZE)
    assert slots["slot_3_1"].supports == ("slot_2_1", "slot_2_2")
    assert slots["slot_1_2"].supports == ("table", "table")
    # the top is centred over the middle place of the bottom row
    assert np.allclose(slots["slot_3_1"].xy, z1["slot_1_2"].pose[:2, 3])
    assert slots["slot_1_1"].yaw == pytest.approx(0.3)


def test_state_of_a_built_pyramid_meets_the_goal():
    world = built()
    goal = frozenset(("on", f"b{k}", s) for k, s in enumerate(SLOTS))
    state = symbolic_state(world, "pyramid")
    assert goal <= state and goal_holds(world, goal, "pyramid")
    assert not any(f[0] == "vacant" for f in state)
    assert ("rests", "slot_2_2", "slot_1_2", "slot_1_3") in state
    assert not any(f[0] == "on" and f[2] == "table" for f in state)


def test_a_block_off_its_slot_by_more_than_a_centimetre_is_not_in_it():
    world = built()
    b3 = world.objects["b3"]
    shifted = b3.pose.copy()
    shifted[:3, 3] += (0.012, 0.0, 0.0)
    state = symbolic_state(world.with_pose("b3", shifted), "pyramid")
    assert ("on", "b3", "slot_2_1") not in state and ("vacant", "slot_2_1") in state
    nearly = b3.pose.copy()
    nearly[:3, 3] += (0.006, 0.0, 0.0)
    assert ("on", "b3", "slot_2_1") in symbolic_state(world.with_pose("b3", nearly), "pyramid")
    tilted = b3.pose.copy()
    tilted[:3, :3] = tilted[:3, :3] @ np.array([[1, 0, 0], [0, math.cos(0.3), -math.sin(0.3)],
                                                [0, math.sin(0.3), math.cos(0.3)]])
    assert ("on", "b3", "slot_2_1") not in symbolic_state(world.with_pose("b3", tilted),
                                                          "pyramid")


def test_loose_blocks_are_on_the_table_or_over_blocks_unless_something_rests_on_them():
    world = world_with({"a": (0.4, -0.28, 0.0), "b": (0.4, -0.22, 0.0),
                        "c": (0.4, -0.25, SIZE), "d": (0.6, 0.3, 0.0),
                        "e": (0.6, 0.305, SIZE)})  # c lies across a and b, e on d
    state = symbolic_state(world, "pyramid")
    assert ("on", "c", "table") not in state and ("over", "c", "a", "b") in state
    assert ("over", "e", "d", "d") in state
    assert not any(f[1] in "abd" for f in state if f[0] in ("on", "over"))
    # a middle block pushed 15 mm off its slot lies loose over its two supports
    world = built(skip=("slot_2_2", "slot_3_1"))
    b3 = world.objects["b3"].pose.copy()
    b3[:2, 3] += 0.015 * np.array([-math.sin(0.3), math.cos(0.3)])
    state = symbolic_state(world.with_pose("b3", b3), "pyramid")
    assert ("over", "b3", "b0", "b1") in state and ("vacant", "slot_2_1") in state
    world = world_with({"a": (0.4, -0.3, 0.0), "b": (0.4, -0.2, 0.0)})
    state = symbolic_state(world, "pyramid")
    assert {("on", "a", "table"), ("on", "b", "table")} <= state
    assert {("vacant", s) for s in SLOTS} <= state


def test_build_stream_centres_the_block_over_its_two_supports():
    world = built(skip=("slot_2_2", "slot_3_1"))
    loose = WorldObject("new", "block", "blue", CUBE, yaw_pose(0.4, -0.3, 1.0))
    world = _add(world, loose)
    cfg = PlacementConfig()
    stream = get_domain("pyramid").stream("build")(world, loose, ("new", "slot_2_2", "slot_1_2",
                                                      "slot_1_3"),
                                        np.random.default_rng(0), cfg, {})
    poses = stream.placements.poses
    assert len(poses) == 4 and set(stream.load_may_touch) == {"b1", "b2"}
    b1, b2 = world.objects["b1"], world.objects["b2"]
    for pose in poses:
        assert np.allclose(pose[:2, 3], (b1.position[:2] + b2.position[:2]) / 2)
        assert pose[2, 3] == pytest.approx(SIZE + cfg.drop_height)
        yaw = math.atan2(pose[1, 0], pose[0, 0]) - 0.3  # square to the row
        assert abs(math.remainder(yaw, math.pi / 2)) < 1e-9
    # the top waits for the middle row
    stream = get_domain("pyramid").stream("build")(world, loose, ("new", "slot_3_1", "slot_2_1",
                                                      "slot_2_2"),
                                        np.random.default_rng(0), cfg, {})
    assert stream.placements.poses == [] and "slot_2_2" in stream.placements.reason


def test_build_stream_on_the_table_and_with_something_in_the_way():
    world = built(skip=("slot_1_3", "slot_2_2", "slot_3_1"))
    new = WorldObject("new", "block", "blue", CUBE, yaw_pose(0.4, -0.3, 0.0))
    zone = zones()["slot_1_3"]
    poses, reason, touch, blockers = slot_placements(_add(world, new), new, "slot_1_3", 0.004)
    assert len(poses) == 4 and touch == ("table",) and not blockers
    assert np.allclose(poses[0][:2, 3], zone.pose[:2, 3]) and poses[0][2, 3] == 0.004
    # a loose block lying half over the place is in the way
    junk = WorldObject("junk", "block", "grey", CUBE,
                       yaw_pose(*(zone.pose[:2, 3] + (0.0, 0.03)), 0.0))
    poses, reason, _, blockers = slot_placements(_add(_add(world, new), junk), new,
                                                 "slot_1_3", 0.004)
    assert poses == [] and blockers == ("junk",) and "junk" in reason


def test_build_stream_refuses_supports_of_different_heights():
    world = built(skip=("slot_2_1", "slot_2_2", "slot_3_1"))
    b0 = world.objects["b0"]
    sunk = b0.pose.copy()
    sunk[2, 3] -= 0.008  # still within the slot's tolerance, but 8 mm lower
    world = world.with_pose("b0", sunk)
    new = WorldObject("new", "block", "blue", CUBE, yaw_pose(0.4, -0.3, 0.0))
    poses, reason, _, _ = slot_placements(_add(world, new), new, "slot_2_1", 0.004)
    assert poses == [] and "differ by 8 mm" in reason


def _add(world: WorldModel, obj: WorldObject) -> WorldModel:
    objs = dict(world.objects)
    objs[obj.name] = obj
    return WorldModel(objs, world.table_extent, world.table_height, world.clouds, world.zones)


@pytest.mark.parametrize("load_cell, planned", [(None, True), (0.03, False)])
def test_a_block_goes_down_between_neighbours_seen_wider_than_they_are(robot, load_cell,
                                                                       planned):
    """A camera's fit errs by a few mm: neighbours perceived 5 mm wider than the block
    (7 mm left beside it instead of 12) still let it down into its slot, as the carried
    block's spheres reach 4 mm beyond its faces (with 3 cm cells, 8 mm: no way down)."""
    from dataclasses import replace

    from tamp.geometry.collision import CollisionConfig
    from tamp.planner import Planner, PlannerConfig

    slots = pyramid_slots(built())
    wide = Shape("box", (SIZE + 0.01, SIZE + 0.01, SIZE))
    world = world_with({"b0": (*slots["slot_1_1"].xy, 0.0), "b2": (*slots["slot_1_3"].xy, 0.0),
                        "b1": (0.45, -0.25, 0.0)})
    world = replace(world, objects={n: replace(o, shape=wide) if n != "b1" else o
                                    for n, o in world.objects.items()})
    collision = CollisionConfig() if load_cell is None else replace(CollisionConfig(),
                                                                    load_cell=load_cell)
    config = PlannerConfig(domain="pyramid", time_budget=20.0, collision=collision)
    plan = Planner(robot, config).plan(world, frozenset({("on", "b1", "slot_1_2")}),
                                       robot.home)
    assert plan.success is planned, plan.reason
    if planned:
        assert [a.name for a in plan.actions] == ["pick", "build"]
