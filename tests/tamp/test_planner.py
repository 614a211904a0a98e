"""The pick-and-place planner on hand-built worlds (no simulator)."""

from __future__ import annotations

import time

import numpy as np

from tamp.geometry.collision import CollisionChecker
from tamp.planner import Planner, PlannerConfig, symbolic_state
from tamp.world import Shape, WorldModel, WorldObject

BOWL = Shape("bowl", (0.13, 0.09, 0.05))


def _at(x, y, yaw=0.0):
    t = np.eye(4)
    t[:2, :2] = [[np.cos(yaw), -np.sin(yaw)], [np.sin(yaw), np.cos(yaw)]]
    t[:2, 3] = (x, y)
    return t


def _world(block_xy=(0.55, 0.2), bowl_xy=(0.5, -0.2)):
    return WorldModel({
        "red_block_0": WorldObject("red_block_0", "block", "red", Shape("box", (0.045,) * 3),
                                   _at(*block_xy, 0.3)),
        "blue_block_0": WorldObject("blue_block_0", "block", "blue", Shape("box", (0.045,) * 3),
                                    _at(0.45, 0.05)),
        "green_bowl": WorldObject("green_bowl", "bowl", "green", BOWL, _at(*bowl_xy)),
    })


GOAL = frozenset({("in", "red_block_0", "green_bowl")})


def test_plan_is_pick_then_place_and_collision_free(robot):
    planner = Planner(robot, PlannerConfig(seed=0))
    plan = planner.plan(_world(), GOAL, robot.home)
    assert plan.success, plan.reason
    assert [(a.name, a.args) for a in plan.actions] == [
        ("pick", ("red_block_0", "table")), ("place-in", ("red_block_0", "green_bowl"))]
    labels = [s.label for a in plan.actions for s in a.segments]
    assert labels == ["open", "transit", "approach", "close", "lift", "transfer", "lower",
                      "release", "retreat"]
    # the transit path avoids every object (gripper open at the approach width)
    checker = CollisionChecker(planner.kin, _world())
    transit = plan.actions[0].segments[1].trajectory
    checker.gripper = robot.gripper.joint_for_width(plan.actions[0].segments[0].width)
    assert all(checker.is_free(q) for q in transit.positions)
    # the grasp puts the TCP at the block, pointing down
    q_grasp = plan.actions[0].segments[2].trajectory.positions[-1]
    tcp = planner.kin.tcp_pose(q_grasp)
    np.testing.assert_allclose(tcp[:2, 3], (0.55, 0.2), atol=1e-3)
    np.testing.assert_allclose(tcp[:3, 2], (0, 0, -1), atol=1e-3)
    # the block ends inside the bowl: the TCP at release is over the bowl's flat bottom
    q_release = plan.actions[1].segments[1].trajectory.positions[-1]
    assert np.linalg.norm(planner.kin.tcp_pose(q_release)[:2, 3] - (0.5, -0.2)) < 0.09
    # the place says where it leaves the block: in the bowl, under the TCP at release
    from tamp.geometry.resting import resting_in

    left = plan.actions[1].leaves["red_block_0"]
    assert set(plan.actions[1].leaves) == {"red_block_0"} and not plan.actions[0].leaves
    assert resting_in(_world().objects["red_block_0"].moved(left), _world().objects["green_bowl"])
    np.testing.assert_allclose(left[:2, 3], planner.kin.tcp_pose(q_release)[:2, 3],
                               atol=0.03)


def test_a_transit_of_the_empty_hand_avoids_every_object(robot):
    planner = Planner(robot, PlannerConfig(seed=0))
    world = _world()
    q_goal = planner.plan(world, GOAL, robot.home).actions[0].segments[1].trajectory.positions[-1]
    move = planner.plan_transit(world, robot.home, q_goal, "look")
    assert move.success, move.reason
    (action,) = move.actions
    assert action.name == "move" and [s.label for s in action.segments] == ["look"]
    path = action.segments[0].trajectory.positions
    np.testing.assert_allclose(path[0], robot.home, atol=1e-9)
    np.testing.assert_allclose(path[-1], q_goal, atol=1e-9)
    assert all(CollisionChecker(planner.kin, world).is_free(q) for q in path)
    # into an object: no motion, and the reason
    inside = planner.plan_transit(world, robot.home, _into_the_bowl(planner, world))
    assert not inside.success and "no collision-free motion" in inside.reason


def _into_the_bowl(planner, world):
    """A configuration with the hand down in the green bowl's floor."""
    target = planner.kin.tcp_pose(planner.robot.home)
    target[:3, 3] = (0.5, -0.2, 0.0)
    return planner.kin.ik(target, [planner.robot.home], np.random.default_rng(0)).q


def test_trajectories_respect_velocity_limits(robot):
    cfg = PlannerConfig(seed=1)
    plan = Planner(robot, cfg).plan(_world(), GOAL, robot.home)
    assert plan.success, plan.reason
    for action in plan.actions:
        for seg in action.segments:
            if seg.trajectory is None:
                continue
            t, q = seg.trajectory.times, seg.trajectory.positions
            v = np.abs(np.diff(q, axis=0)) / np.diff(t)[:, None]
            assert np.all(v <= robot.max_velocity * cfg.speed_scale * 1.01)


def test_same_seed_same_plan(robot):
    a = Planner(robot, PlannerConfig(seed=5)).plan(_world(), GOAL, robot.home)
    b = Planner(robot, PlannerConfig(seed=5)).plan(_world(), GOAL, robot.home)
    assert a.success and b.success
    for sa, sb in zip([s for x in a.actions for s in x.segments],
                      [s for x in b.actions for s in x.segments]):
        if sa.trajectory is not None:
            np.testing.assert_array_equal(sa.trajectory.positions, sb.trajectory.positions)


def test_unreachable_object_fails_with_a_reason_within_budget(robot):
    world = _world(block_xy=(1.6, 0.0))  # far beyond the arm's reach
    t0 = time.perf_counter()
    plan = Planner(robot, PlannerConfig(time_budget=10.0)).plan(world, GOAL, robot.home)
    assert not plan.success
    assert "red_block_0" in plan.reason and "IK" in plan.reason
    assert time.perf_counter() - t0 < 15.0


def test_unknown_goal_object_is_reported(robot):
    plan = Planner(robot).plan(_world(), frozenset({("in", "purple_block", "green_bowl")}),
                               robot.home)
    assert not plan.success and "purple_block" in plan.reason


def _tower_world():
    def block(name, x, z):
        return WorldObject(name, "block", name, Shape("box", (0.045,) * 3),
                           np.block([[np.eye(3), np.array([[x], [0.0], [z]])],
                                     [np.zeros((1, 3)), np.ones((1, 1))]]))

    return WorldModel({"a": block("a", 0.5, 0.0), "b": block("b", 0.5, 0.045),
                       "c": block("c", 0.5, 0.09)})


def test_symbolic_state_reads_a_tower():
    state = symbolic_state(_tower_world())
    assert {("on", "a", "table"), ("on", "b", "a"), ("on", "c", "b"), ("clear", "c"),
            ("handempty",)} == set(state)


def test_sussman_style_goal_is_planned_with_unstack_and_stack(robot):
    # the tower a-b-c rebuilt as c-b-a: c must come off first, then the rest reversed
    plan = Planner(robot, PlannerConfig(seed=0)).plan(
        _tower_world(), frozenset({("on", "b", "c"), ("on", "a", "b")}), robot.home)
    assert plan.success, plan.reason
    names = [(a.name, a.args) for a in plan.actions]
    assert names[0] == ("unstack", ("c", "b"))
    assert ("stack", ("a", "b")) == names[-1]


def test_full_bowl_is_cleared_before_placing(robot):
    bowl_pose = np.eye(4)
    bowl_pose[:2, 3] = (0.5, -0.15)
    objects = {"green_bowl": WorldObject("green_bowl", "bowl", "green", BOWL, bowl_pose)}
    for k in range(3):
        t = np.eye(4)
        a = 2 * np.pi * k / 3
        t[:3, 3] = (0.5 + 0.045 * np.cos(a), -0.15 + 0.045 * np.sin(a), 0.008)
        objects[f"o{k}"] = WorldObject(f"o{k}", "block", "blue", Shape("box", (0.042,) * 3), t)
    red = np.eye(4)
    red[:2, 3] = (0.55, 0.2)
    objects["red"] = WorldObject("red", "block", "red", Shape("box", (0.047,) * 3), red)
    plan = Planner(robot, PlannerConfig(seed=0)).plan(
        WorldModel(objects), frozenset({("in", "red", "green_bowl")}), robot.home)
    assert plan.success, plan.reason
    names = [a.name for a in plan.actions]
    assert names[0] == "take-out" and names[-2:] == ["pick", "place-in"]


def test_holding_a_bowl_is_planned_as_its_pick(robot):
    """The pick-place domain types a bowl as a container, yet "hold the bowl" is one
    pick: the planner plans it (a rim grasp) instead of failing symbolically."""
    world = _world()
    plan = Planner(robot, PlannerConfig(time_budget=60)).plan(
        world, frozenset({("holding", "green_bowl")}), robot.home)
    assert plan.success, plan.reason
    assert [a.name for a in plan.actions] == ["pick"]
    assert plan.actions[0].args[0] == "green_bowl"
    unknown = Planner(robot).plan(world, frozenset({("holding", "purple_bowl")}), robot.home)
    assert not unknown.success and "purple_bowl" in unknown.reason


def test_plan_records_its_cpu_time_next_to_the_wall_clock(robot):
    plan = Planner(robot, PlannerConfig(time_budget=60)).plan(_world(), GOAL, robot.home)
    assert plan.success
    assert 0.0 < plan.planning_cpu_time <= plan.planning_time + 0.05


def test_a_box_that_fits_nowhere_fails_within_the_budget_with_the_reason(robot):
    """Packing a box into a tray too small for it: no plan, a reason that names the box
    and the tray, and the planner gives up within its time budget."""
    tray = WorldObject("tray", "tray", "grey", Shape("tray", (0.12, 0.12, 0.03), 0.008),
                       _at(0.5, -0.2), movable=False)
    box = WorldObject("big_box", "box", "red", Shape("box", (0.08, 0.06, 0.05)),
                      _at(0.5, 0.2))
    world = WorldModel({"tray": tray, "big_box": box})
    budget = 10.0
    plan = Planner(robot, PlannerConfig(time_budget=budget)).plan(
        world, frozenset({("in", "big_box", "tray")}), robot.home)
    assert not plan.success
    assert "big_box" in plan.reason and "tray" in plan.reason
    assert plan.planning_time <= budget + 1.0


def test_a_placement_that_fails_is_refined_again_with_fresh_samples(robot, monkeypatch):
    """The first refinement's placement fails (as when earlier placements took the room):
    the planner refines the same skeleton with other samples before giving the goal's
    binding up; with no resamples allowed it gives up."""
    from tamp.refine import RefinementError, Refiner

    pick_place = Refiner.pick_place
    seeds = []

    def fail_first_draw(self, pick, place, rng_seed):
        seeds.append(rng_seed)
        if len(seeds) == 1:
            raise RefinementError("no collision-free IK above the placement (stand-in)")
        return pick_place(self, pick, place, rng_seed)

    monkeypatch.setattr(Refiner, "pick_place", fail_first_draw)
    plan = Planner(robot, PlannerConfig(seed=0)).plan(_world(), GOAL, robot.home)
    assert plan.success, plan.reason
    assert len(seeds) == 2 and seeds[0] != seeds[1]  # the same action, other samples
    seeds.clear()
    plan = Planner(robot, PlannerConfig(seed=0, max_resamples=0)).plan(_world(), GOAL,
                                                                       robot.home)
    assert not plan.success and "stand-in" in plan.reason


def test_the_planner_s_device_is_the_collision_section_s_and_reaches_the_grasp_search(
        robot, monkeypatch):
    """One device for the planner's batched work: ``PlannerConfig.device`` is the collision
    section's ("auto" decided), and the antipodal grasp search of a bowl's pick is given
    it (here the CPU, which the search is given explicitly)."""
    import torch

    import tamp.geometry.antipodal as antipodal
    from tamp.geometry.collision import CollisionConfig

    assert PlannerConfig().device == "cpu"
    assert PlannerConfig(collision=CollisionConfig(device="auto")).device == \
        ("cuda" if torch.cuda.is_available() else "cpu")
    given, search = [], antipodal.antipodal_grasps

    def recorded(*args, device=None, **kw):
        given.append(device)
        return search(*args, device=device or "cpu", **kw)

    monkeypatch.setattr(antipodal, "antipodal_grasps", recorded)
    config = PlannerConfig(time_budget=60, collision=CollisionConfig(device="cpu",
                                                                     backend="torch"))
    plan = Planner(robot, config).plan(_world(), frozenset({("holding", "green_bowl")}),
                                       robot.home)
    assert plan.success, plan.reason
    assert given and set(given) == {"cpu"}
