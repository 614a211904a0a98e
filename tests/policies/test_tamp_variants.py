"""The TAMP agent's perception variants as methods of their own (benchmark columns)."""

from __future__ import annotations

import pytest

from experiments.episode import EpisodeSpec, policy_kwargs, run_episode
from policies import make_policy, policy_names
from policies.base import policy_class
from tamp.concepts.checkpoint import checkpoint_for_camera, shipped_checkpoint


def test_variants_are_registered_with_their_perception_and_the_shipped_model():
    assert {"tamp-learned", "tamp-learned-geometric"} <= set(policy_names())
    assert make_policy("tamp-learned").perception == "learned"
    geometric = make_policy("tamp-learned-geometric")
    # the concept model is the shipped one of the episode's camera, loaded at the first
    # look (the camera is the environment's)
    assert geometric.perception == "learned-geometric" and geometric.concepts is None
    assert any(shipped_checkpoint().glob("*.json"))
    assert any(shipped_checkpoint().glob("*.safetensors"))


def test_the_episode_runner_passes_the_seeded_planner_config():
    spec = EpisodeSpec("place-in-bowl", 7, "tamp-learned", time_budget=12.0)
    kwargs = policy_kwargs(spec, policy_class("tamp-learned"))
    assert kwargs["config"].seed == 7 and kwargs["config"].time_budget == 12.0
    assert "perception" not in kwargs  # fixed by the method itself


@pytest.mark.slow
def test_learned_perception_episode_records_what_it_saw(tmp_path):
    result = run_episode(EpisodeSpec("place-in-bowl", 3, "tamp-learned"), out=tmp_path)
    assert result["success"], result["failure_reason"]
    assert result["perceived_facts"] and result["perceived_objects"]
    assert result["camera"] == "d435"  # the realistic camera by default
    assert result["concepts_checkpoint"] == checkpoint_for_camera("d435").name
    # the goal's objects were found among those seen, under the simulator's names
    goal_objects = {w for f in result["goal_facts"] for w in f.split()[1:]}
    assert goal_objects <= set(result["simulator_names"].values())
    assert all(0.0 <= f["confidence"] <= 1.0 for f in result["perceived_facts"])


@pytest.mark.parametrize("timing", ["stop", "flow"])
def test_the_agent_moves_its_arm_out_of_the_view_before_it_looks(env, kinematics, timing):
    """With the hand held between the camera and the table, the agent moves it out of the
    view first (a view half blocked by the arm fits objects too small or as something
    else): home with the original timing, with "flow" only as far along the way home as
    the view needs; the view from there sees every object whole."""
    import numpy as np

    from tamp.execution.loop import LOOK_SHARES, ClosedLoop
    from scenes.agent_io import SimActuator
    from tamp.planner import Planner, PlannerConfig

    env.reset(seed=3)
    policy = make_policy("tamp-learned")
    world = policy.observe(env)
    perceiver, planner = policy.perceiver, Planner(env.robot, PlannerConfig(timing=timing))
    loop = ClosedLoop(perceiver, SimActuator(env), planner, env.robot, camera=True)
    assert loop.look(world) is None  # at home: nothing hidden
    target = kinematics.tcp_pose(env.robot.home)
    obj = min(world.objects.values(), key=lambda o: o.position[0])
    top = obj.position + (0.0, 0.0, obj.shape.height)
    camera = perceiver.camera_position
    target[:3, 3] = camera + 0.75 * (top - camera)  # on the line of sight
    ik = kinematics.ik(target, [env.robot.home], np.random.default_rng(0))
    assert ik.success
    env.sim.set_arm(ik.q)
    loop = ClosedLoop(perceiver, SimActuator(env), planner, env.robot, camera=True)
    move = loop.look(world)
    assert move is not None and move.actions[0].segments[0].label == "look"
    home = env.robot.home
    if timing == "stop":
        assert np.abs(env.sim.arm_positions() - home).max() < 0.02
    else:  # stopped at the quickest to reach of the points tried (the hand straight up,
        # or on the way home) from which the camera sees every object
        from tamp.execution.loop import LOOK_MARGIN
        from tamp.geometry.timing import rest_to_rest_time
        from tamp.perception.self_filter import hidden_by, robot_filter, top_points

        points = np.vstack([top_points(o) for o in world.objects.values()])
        gripper = env.robot.gripper.joint_for_width(env.sim.gripper_width())
        stops = [q for q in [*loop._lifted(ik.q), *(ik.q + share * (home - ik.q)
                                                     for share in LOOK_SHARES)]
                 if not hidden_by(robot_filter(kinematics, q, gripper, margin=LOOK_MARGIN),
                                  camera, points).any()]
        assert stops
        at = min(stops, key=lambda q: np.abs(env.sim.arm_positions() - q).max())
        assert np.abs(env.sim.arm_positions() - at).max() < 0.02

        def cost(q):
            return rest_to_rest_time(ik.q, q, env.robot.max_velocity, env.robot.max_acceleration)
        assert cost(at) == pytest.approx(min(cost(q) for q in stops))
        assert np.abs(env.sim.arm_positions() - home).max() > 0.05  # not all the way
    seen = policy.observe(env)
    assert sorted(seen.objects) == sorted(world.objects)
    if timing == "flow":  # first a point of the path the arm takes next: swung aside
        env.sim.set_arm(ik.q)
        aside = ik.q.copy()
        aside[0] += 1.2
        ahead = np.linspace(ik.q, aside, 30)
        loop.look(world, ahead)
        assert min(np.abs(env.sim.arm_positions() - q).max() for q in ahead[1:]) < 0.02
        assert np.abs(env.sim.arm_positions() - aside).max() > 0.05  # not all the way
    for name, o in seen.objects.items():
        assert np.linalg.norm(o.position[:2] - world.objects[name].position[:2]) < 0.005


def test_a_remembered_object_is_dropped_where_one_of_its_kind_is_seen_now():
    """An earlier view that saw one disk in two pieces leaves a phantom in memory; the
    next view that sees a disk of that colour where it stood retires it."""
    import numpy as np

    from tamp.concepts.perceiver import seen_again as _seen_again
    from tamp.world import Shape, WorldObject

    def disk(name, color, x, y, z=0.0, r=0.035):
        pose = np.eye(4)
        pose[:3, 3] = (x, y, z)
        return WorldObject(name, "disk", color, Shape("cylinder", (r, r, 0.024)), pose)

    phantom = disk("obj_4", "red", 0.532, 0.144, r=0.026)
    assert _seen_again(phantom, [disk("obj_3", "red", 0.522, 0.128)])
    assert not _seen_again(phantom, [disk("obj_3", "green", 0.522, 0.128)])  # colour
    assert not _seen_again(phantom, [disk("obj_3", "red", 0.522, 0.128, z=0.024)])  # on it
    assert not _seen_again(phantom, [disk("obj_3", "red", 0.60, 0.128)])  # elsewhere


@pytest.mark.parametrize("timing", ["stop", "flow"])
def test_a_step_continues_from_the_viewing_pose(robot, timing):
    """After a look from elsewhere, the next step's first transit starts where the arm
    is and still ends where the step's own transit did; the rest is unchanged (with
    "flow", the approach the transit flows into is timed again with it, along the same
    path)."""
    import numpy as np

    from tamp.execution.loop import _from_here, steps_of
    from tamp.planner import Planner, PlannerConfig
    from tamp.world import Shape, WorldModel, WorldObject

    pose = np.eye(4)
    pose[:3, 3] = (0.55, 0.2, 0.0)
    block = WorldObject("red_block", "block", "red", Shape("box", (0.045,) * 3), pose)
    world = WorldModel({"red_block": block})
    planner = Planner(robot, PlannerConfig(seed=0, timing=timing))
    plan = planner.plan(world, frozenset({("holding", "red_block")}), robot.home)
    assert plan.success, plan.reason
    (step,) = steps_of(plan.actions, "pick-place")
    q = robot.home + np.array([0.3, -0.2, 0.0, 0.1, 0.0, 0.1, 0.0])
    moved = _from_here(planner, world, q, step)
    assert moved.success, moved.reason
    old, new = step[0].segments, moved.actions[0].segments
    assert [s.label for s in new] == [s.label for s in old]
    np.testing.assert_allclose(new[1].trajectory.positions[0], q, atol=1e-9)
    assert new[0] is old[0]
    if timing == "stop":
        np.testing.assert_allclose(new[1].trajectory.positions[-1],
                                   old[1].trajectory.positions[-1], atol=1e-9)
        assert new[2] is old[2]
    else:
        # cut where it passes the same join (to a sample), the approach unchanged in space
        np.testing.assert_allclose(new[1].trajectory.positions[-1],
                                   old[1].trajectory.positions[-1], atol=0.05)
        np.testing.assert_allclose(new[2].trajectory.positions[-1],
                                   old[2].trajectory.positions[-1], atol=1e-9)
        assert (new[1].end, new[2].end) == ("flow", "reach")


@pytest.mark.slow
def test_a_held_object_is_not_carried_off_to_look(tmp_path):
    """After the pick of a "holding" goal the arm hides the table, but it keeps what it
    holds where it is (the look from home is for the empty hand)."""
    result = run_episode(EpisodeSpec("lift", 5014, "tamp-learned"), out=tmp_path)
    assert result["success"], result["failure_reason"]
    assert [a["name"] for a in result["executed"]] == ["pick"] and result["looks"] == 0


@pytest.mark.slow
def test_a_full_bowl_is_cleared_from_clear_views(tmp_path):
    """clear-then-place seed 5003: after the first block is out, the arm waits between
    the camera and the bowl; seen from there the bowl was fitted as a 166 x 258 mm tray
    and the plan failed. The agent now looks from home and succeeds."""
    result = run_episode(EpisodeSpec("clear-then-place", 5003, "tamp-learned"), out=tmp_path)
    assert result["success"], result["failure_reason"]
    assert result["looks"] >= 1 and result["replans"] == 0
    assert result["look_extra_s"] > 0  # what the looks added to the planned motion
