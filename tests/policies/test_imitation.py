"""The one-demonstration imitation baselines: state, demos, BC, augmentation, Transporter,
checkpoints and the ``tamp policies`` commands."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from policies.bc import (TABLE, BCConfig, BCPolicy, decode, feasible, make_sample,
                         rigid_groups, train_bc, transformed_step)
from policies.demos import (FEATURES, MAX_ENTITIES, Demo, DemoStep, cell_of, entity_features,
                            entity_pose, load_demo, movable_mask, place_pose, reference_of,
                            save_demo, topdown, topdown_shape, xy_of, yaw_of)
from policies.transporter import (TransportSample, TransporterConfig, augment, correlate,
                                  rotate_crops, train_transporter)
from policies.weights import (CheckpointInvalid, CheckpointMissing, checkpoint_robot,
                              default_root, load_checkpoint, save_checkpoint)
from scenes.env import TabletopEnv
from scenes.tasks.layout import yaw_pose
from tamp.world import Shape, WorldModel, WorldObject, Zone


def _world_with_stack() -> WorldModel:
    box = Shape("box", (0.05, 0.05, 0.05))
    objs = [WorldObject("red_block", "block", "red", box, yaw_pose(0.5, 0.1, 0.3)),
            WorldObject("blue_block", "block", "blue", box, yaw_pose(0.5, 0.1, 0.3, 0.05)),
            WorldObject("green_bowl", "bowl", "green", Shape("bowl", (0.13, 0.09, 0.05)),
                        yaw_pose(0.55, -0.2, 0.0)),
            WorldObject("tray", "tray", "grey", Shape("tray", (0.3, 0.25, 0.03)),
                        yaw_pose(0.4, 0.3, 0.0), movable=False)]
    zones = {"place_1": Zone("place_1", yaw_pose(0.6, 0.0, 0.2))}
    return WorldModel({o.name: o for o in objs}, zones=zones)


@pytest.fixture(scope="module")
def bowl_demo():
    return one_step_bowl_demo()


def one_step_bowl_demo(dx: float = 0.01) -> Demo:
    """A one-step demo on a real scene (place-in-bowl seed 0): the red block into the
    green bowl, ``dx`` m past its centre."""
    env = TabletopEnv("place-in-bowl")
    try:
        env.reset(seed=0)
        world = env.oracle_world()
        image = topdown(env).image
    finally:
        env.close()
    red = sorted(n for n in world.objects if n.startswith("red_block"))[0]
    bowl = world.objects["green_bowl"].position
    step = DemoStep(world, red, "green_bowl", (float(bowl[0]) + dx, float(bowl[1])), 0.4,
                    ("place-in", red, "green_bowl"))
    return Demo("place-in-bowl", 0, [step], image[None])


# -- state ----------------------------------------------------------------------------------
def test_state_is_canonical_and_padded():
    world = _world_with_stack()
    x, names = entity_features(world)
    assert x.shape == (MAX_ENTITIES, FEATURES)
    # blocks by colour, then bowls, trays, then zones
    assert names == ["blue_block", "red_block", "green_bowl", "tray", "place_1"]
    assert x[:5, -1].tolist() == [1, 1, 1, 1, 1] and not x[5:].any()
    assert x[1, :3].tolist() == pytest.approx([0.5, 0.1, 0.0])
    assert math.atan2(x[1, 4], x[1, 3]) == pytest.approx(0.3, abs=1e-6)
    assert movable_mask(world, names)[:5].tolist() == [True, True, True, False, False]


def test_sample_decodes_back_to_the_demonstrated_place():
    world = _world_with_stack()
    for ref, xy, yaw in (("green_bowl", (0.56, -0.21), 1.0), ("place_1", (0.61, 0.02), -0.5),
                         ("table", (0.42, -0.3), 2.0)):
        s = make_sample(world, "red_block", ref, xy, yaw)
        x, names = entity_features(world)
        pick = np.full(MAX_ENTITIES, -5.0)
        pick[s.pick] = 5.0
        refs = np.full(MAX_ENTITIES + 1, -5.0)
        refs[s.ref] = 5.0
        name, got_xy, got_yaw = decode(world, names, movable_mask(world, names), pick, refs,
                                       s.target)
        assert name == "red_block"
        assert got_xy == pytest.approx(xy, abs=1e-6)
        assert math.remainder(got_yaw - yaw, 2 * math.pi) == pytest.approx(0.0, abs=1e-6)
    assert make_sample(world, "red_block", "table", (0.4, 0.0), 0.0).ref == TABLE


def test_reference_of_an_abstract_target_is_what_lies_below():
    world = _world_with_stack()
    rest = yaw_pose(0.51, 0.1, 0.0, 0.1)
    assert reference_of(world, "red_block", "slot_2_1", rest) == "blue_block"
    assert reference_of(world, "red_block", "green_bowl", rest) == "green_bowl"


def test_place_pose_rests_across_two_blocks():
    box = Shape("box", (0.044, 0.044, 0.044))
    objs = {n: WorldObject(n, "block", c, box, yaw_pose(0.5, y, 0.0)) for n, c, y in
            (("a", "red", -0.028), ("b", "blue", 0.028), ("c", "green", 0.3))}
    world = WorldModel(objs)
    pose, support = place_pose(world, "c", (0.5, 0.0), 0.0)  # over the 12 mm gap
    assert support in ("a", "b")
    assert pose[2, 3] == pytest.approx(0.044 + 0.004, abs=1e-6)
    pose, support = place_pose(world, "c", (0.5, 0.2), 0.0)
    assert support == "table" and pose[2, 3] == pytest.approx(0.004, abs=1e-6)


# -- behaviour cloning ----------------------------------------------------------------------
def test_bc_fits_its_demonstration(bowl_demo):
    step = bowl_demo.steps[0]
    sample = make_sample(step.world, step.pick, step.reference, step.place_xy, step.place_yaw)
    net, report = train_bc([sample], BCConfig(iterations=300, lr=3e-3))
    assert report["train_pick_accuracy"] == 1.0
    assert report["train_reference_accuracy"] == 1.0
    x, names = entity_features(step.world)
    with torch.no_grad():
        pl, rl, place = net(torch.from_numpy(x)[None])
    name, xy, _ = decode(step.world, names, movable_mask(step.world, names), pl[0].numpy(),
                         rl[0].numpy(), place[0].numpy())
    assert name == step.pick
    assert np.linalg.norm(np.subtract(xy, step.place_xy)) < 0.01


def test_rigid_groups_keep_stacks_and_zones_together():
    world = _world_with_stack()
    groups = sorted(sorted(g) for g in rigid_groups(world, "pick-place"))
    assert ["blue_block", "red_block"] in groups
    assert ["green_bowl"] in groups and ["place_1"] in groups and ["tray"] in groups


def test_augmented_step_moves_the_target_with_its_reference(bowl_demo):
    step = bowl_demo.steps[0]
    rng = np.random.default_rng(3)
    for _ in range(5):
        new = transformed_step(step, "pick-place", rng)
        assert new is not None
        ref_old = entity_pose(step.world, "green_bowl")
        ref_new = entity_pose(new.world, "green_bowl")
        rel_old = np.linalg.inv(ref_old) @ np.array([*step.place_xy, 0, 1])
        rel_new = np.linalg.inv(ref_new) @ np.array([*new.place_xy, 0, 1])
        assert rel_new[:2] == pytest.approx(rel_old[:2], abs=1e-9)
        turn = yaw_of(ref_new) - yaw_of(ref_old)
        assert math.remainder(new.place_yaw - step.place_yaw - turn, 2 * math.pi) == \
            pytest.approx(0.0, abs=1e-9)
        # objects stay apart: no two footprints closer than the bowl's
        pos = np.array([o.position[:2] for o in new.world.objects.values()])
        dists = np.linalg.norm(pos[:, None] - pos[None], axis=-1) + np.eye(len(pos))
        assert dists.min() > 0.04


def test_planner_checks_augmented_steps(bowl_demo, robot):
    from tamp.planner import Planner, PlannerConfig

    planner = Planner(robot, PlannerConfig(time_budget=10.0))
    step = bowl_demo.steps[0]
    assert feasible(step, planner, seed=0) == ""
    far = DemoStep(step.world, step.pick, "table", (1.6, 0.0), 0.0, step.action)
    assert feasible(far, planner, seed=0) != ""


# -- transporter ----------------------------------------------------------------------------
def test_crop_rotation_turns_counter_clockwise_in_the_world():
    crop = torch.zeros(1, 33, 33)
    crop[0, 16 + 8, 16] = 1.0  # 8 cells along +x (rows)
    out = rotate_crops(crop, torch.tensor([math.pi / 2, math.pi]))
    assert np.unravel_index(int(out[0, 0].argmax()), (33, 33)) == (16, 24)  # now along +y
    assert np.unravel_index(int(out[1, 0].argmax()), (33, 33)) == (8, 16)  # along -x


def test_augmentation_moves_cells_with_the_image():
    h, w = topdown_shape()
    img = torch.zeros(h, w, 4)
    img[19:22, 29:32, 0] = 1.0  # 3 x 3 patches (a lone cell may fall between samples)
    img[59:62, 99:102, 1] = 1.0
    rng = np.random.default_rng(0)
    for _ in range(5):
        new, cells = augment(img, [(20, 30), (60, 100)], rng, 24)
        assert cells != [(20, 30), (60, 100)]
        for ch in (0, 1):  # the patch's centre, within a cell of the moved one
            rows, cols = torch.nonzero(new[..., ch] > 0.5, as_tuple=True)
            assert 5 <= len(rows) <= 13
            got = (float(rows.float().mean()), float(cols.float().mean()))
            assert max(abs(got[0] - cells[ch][0]), abs(got[1] - cells[ch][1])) <= 1.0


def test_fft_correlation_equals_convolution():
    key = torch.randn(3, 40, 50, dtype=torch.float64)
    query = torch.randn(5, 3, 9, 9, dtype=torch.float64)
    expected = torch.nn.functional.conv2d(key[None], query)[0]
    assert torch.allclose(correlate(key, query, (32, 42)), expected, atol=1e-8)


def test_cells_and_world_points_agree():
    for xy in ((0.3, -0.2), (0.7, 0.45)):
        assert xy_of(cell_of(xy)) == pytest.approx(xy, abs=1e-9)


def test_topdown_sees_objects_at_their_height(bowl_demo):
    image = bowl_demo.images[0]
    world = bowl_demo.steps[0].world
    for o in world.objects.values():
        if o.category == "block":
            r, c = (int(round(v)) for v in cell_of(o.position[:2]))
            assert image[r - 1:r + 2, c - 1:c + 2, 3].max() == \
                pytest.approx(o.shape.size[2], abs=0.006)


@pytest.mark.slow
def test_transporter_learns_a_demonstrated_pick_and_place():
    h, w = topdown_shape()
    image = np.zeros((h, w, 4), np.float32)
    image[..., :3] = 0.7
    image[40:47, 50:57] = (1.0, 0.0, 0.0, 0.05)  # a red block
    image[20:40, 110:130] = (0.0, 0.8, 0.0, 0.02)  # a green patch
    sample = TransportSample(image, (43, 53), (30, 120), 2)
    cfg = TransporterConfig(rotations=8, iterations=150, lr=1e-3, max_shift=0)
    net, report = train_transporter([sample], cfg)
    x = torch.from_numpy(image)
    from policies.transporter import prepare

    with torch.no_grad():
        pl = net.pick_logits(prepare(x))
        pick = np.unravel_index(int(pl.argmax()), (h, w))
        assert max(abs(pick[0] - 43), abs(pick[1] - 53)) <= 3
        tl = net.place_logits(prepare(x), (43, 53))
        rot, r, c = np.unravel_index(int(tl.argmax()), tl.shape)
    assert max(abs(r - 30), abs(c - 120)) <= 3 and rot == 2, report


# -- checkpoints and demos ------------------------------------------------------------------
def test_checkpoint_round_trip_and_errors(tmp_path):
    net = torch.nn.Linear(3, 2)
    save_checkpoint("bc-1demo", "lift", net, {"a": 1}, {"command": "x"}, tmp_path)
    doc, tensors = load_checkpoint("bc-1demo", "lift", tmp_path)
    assert doc["config"] == {"a": 1} and doc["task"] == "lift"
    assert torch.allclose(tensors["weight"], net.weight.detach(), atol=1e-3)
    assert tensors["weight"].dtype == torch.float32
    with pytest.raises(CheckpointMissing, match="tamp policies train --method bc-1demo "
                                                "--task place-in-bowl"):
        load_checkpoint("bc-1demo", "place-in-bowl", tmp_path)
    (tmp_path / "bc-1demo" / "lift.safetensors").write_bytes(b"truncated")
    with pytest.raises(CheckpointInvalid, match="lift.safetensors: not a readable safetensors"):
        load_checkpoint("bc-1demo", "lift", tmp_path)
    (tmp_path / "bc-1demo" / "lift.json").write_text("{not json")
    with pytest.raises(CheckpointInvalid):
        load_checkpoint("bc-1demo", "lift", tmp_path)


def test_missing_checkpoint_is_a_counted_failure(tmp_path, env):
    env.reset(seed=1000)
    for cls in (BCPolicy,):
        out = cls(checkpoints=tmp_path).run(env)
        assert out.success is False
        assert out.failure_reason == ("no bc-1demo checkpoint for task place-in-bowl (train "
                                      "with: tamp policies train --method bc-1demo --task "
                                      "place-in-bowl)")
    from policies import make_policy

    out = make_policy("transporter-1demo", checkpoints=tmp_path).run(env)
    assert not out.success and "no transporter-1demo checkpoint" in out.failure_reason


def test_demo_round_trip(tmp_path, bowl_demo):
    path = save_demo(bowl_demo, tmp_path)
    assert path.name == "seed0.json" and path.with_suffix(".safetensors").is_file()
    back = load_demo("place-in-bowl", 0, tmp_path)
    assert back.steps[0].pick == bowl_demo.steps[0].pick
    assert back.steps[0].place_xy == pytest.approx(bowl_demo.steps[0].place_xy)
    w0, w1 = bowl_demo.steps[0].world, back.steps[0].world
    assert set(w0.objects) == set(w1.objects)
    assert all(np.allclose(w0.objects[n].pose, w1.objects[n].pose) for n in w0.objects)
    assert np.array_equal(back.images, bowl_demo.images)
    assert json.loads(path.read_text())["format"] == "tamp-demo"


def test_shipped_checkpoints_load_and_stay_small():
    from policies import make_policy

    files = sorted(default_root().glob("*/*.safetensors"))
    assert files, "no shipped imitation checkpoints"
    assert sum(f.stat().st_size for f in files) < 5_000_000
    for f in files:
        method, task = f.parent.name, f.stem
        doc = json.loads(f.with_suffix(".json").read_text())
        assert doc["info"]["command"].startswith(f"tamp policies train --method {method} "
                                                 f"--task {task}")
        assert doc["info"]["demo_seed"] < 1000  # disjoint from the evaluation seeds
        policy = make_policy(method)
        policy.load(task)  # raises if the weights do not fit the code


# -- the command line -----------------------------------------------------------------------
@pytest.mark.parametrize("argv", [
    ["policies", "train", "--method", "nope", "--task", "place-in-bowl"],
    ["policies", "train", "--method", "bc-1demo", "--task", "nope"],
    ["policies", "train", "--method", "bc-1demo", "--task", "lift", "--iterations", "0"],
    ["policies", "train", "--method", "bc-1demo", "--task", "lift", "--threads", "0"],
    ["policies", "eval", "--seeds", "10-x"],
    ["policies", "eval", "--method", "tamp"],
    ["policies", "demo", "--task", "place-in-bowl", "--seed", "-1"],
])
def test_bad_input_is_one_line_and_exit_2(argv, capsys):
    from experiments.cli import main

    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err


def test_train_writes_a_checkpoint_from_a_demo(tmp_path, bowl_demo, capsys):
    from experiments.cli import main

    save_demo(bowl_demo, tmp_path / "demos")
    assert main(["policies", "train", "--method", "bc-1demo", "--task", "place-in-bowl",
                 "--demos", str(tmp_path / "demos"), "--out", str(tmp_path / "ckpt"),
                 "--iterations", "50"]) == 0
    doc, tensors = load_checkpoint("bc-1demo", "place-in-bowl", tmp_path / "ckpt")
    assert doc["info"]["command"] == ("tamp policies train --method bc-1demo --task "
                                      "place-in-bowl --iterations 50")
    assert doc["info"]["train"]["iterations"] == 50 and doc["info"]["demo_steps"] == 1
    assert doc["config"]["max_steps"] == 4
    policy = BCPolicy(checkpoints=tmp_path / "ckpt")
    net, _ = policy.load("place-in-bowl")
    assert net.pick.weight.shape == (MAX_ENTITIES, 128)


# -- robots ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ur5e_demos(tmp_path_factory):
    """place-in-bowl seed 0, demonstrated with the UR5e by ``tamp policies demo``."""
    from experiments.cli import main

    root = tmp_path_factory.mktemp("ur5e-demos")
    assert main(["policies", "demo", "--task", "place-in-bowl", "--robot", "ur5e_2f85",
                 "--demos", str(root)]) == 0
    return root


def test_a_demonstration_records_its_robot(ur5e_demos, bowl_demo):
    demo = load_demo("place-in-bowl", 0, ur5e_demos)
    assert demo.robot == "ur5e_2f85" and len(demo.steps) == 2
    assert json.loads((ur5e_demos / "place-in-bowl" / "seed0.json").read_text())["robot"] \
        == "ur5e_2f85"
    # the scene of the Panda's demonstration (bowl_demo), another arm in the cameras' view
    w0, w1 = bowl_demo.steps[0].world, demo.steps[0].world
    assert all(np.allclose(w0.objects[n].pose, w1.objects[n].pose) for n in w0.objects)
    assert not np.array_equal(demo.images[0], bowl_demo.images[0])
    # a demonstration recorded before robots were named is the default robot's
    doc = demo.to_json()
    del doc["robot"]
    assert Demo.from_json(doc).robot == "panda_2f85"


@pytest.mark.parametrize("argv, expected", [
    (["--robot", "panda_2f85", "--out", "OUT"], "--robot panda_2f85: the demonstration of "
     "place-in-bowl seed 0 in DEMOS was recorded with ur5e_2f85; leave out --robot"),
    ([], "place-in-bowl: training for ur5e_2f85 needs --out DIR"),
])
def test_training_refuses_another_robot_than_the_demonstrations(ur5e_demos, tmp_path, capsys,
                                                                argv, expected):
    from experiments.cli import main

    argv = [str(tmp_path) if a == "OUT" else a for a in argv]
    assert main(["policies", "train", "--method", "bc-1demo", "--task", "place-in-bowl",
                 "--demos", str(ur5e_demos), *argv]) == 2
    err = capsys.readouterr().err
    assert expected.replace("DEMOS", str(ur5e_demos)) in err and err.count("\n") == 1
    assert not list(tmp_path.iterdir())  # nothing trained


def test_a_checkpoint_of_another_robot_runs_and_says_so(ur5e_demos, tmp_path):
    from experiments.cli import main

    ckpt, out = tmp_path / "ckpt", tmp_path / "eval"
    assert main(["policies", "train", "--method", "bc-1demo", "--task", "place-in-bowl",
                 "--demos", str(ur5e_demos), "--out", str(ckpt), "--iterations", "300"]) == 0
    doc, _ = load_checkpoint("bc-1demo", "place-in-bowl", ckpt)
    assert doc["info"]["robot"] == "ur5e_2f85"
    assert doc["info"]["command"].endswith("--iterations 300 --robot ur5e_2f85")
    said = []
    assert checkpoint_robot(doc, "panda_2f85", said.append) == {"checkpoint_robot": "ur5e_2f85"}
    assert checkpoint_robot(doc, "ur5e_2f85", said.append) == {"checkpoint_robot": "ur5e_2f85"}
    assert said == ["bc-1demo checkpoint for place-in-bowl learned from a ur5e_2f85 "
                    "demonstration; panda_2f85 carries out its choices"]
    # evaluated with the Panda: it runs, and each episode names both robots
    assert main(["policies", "eval", "--method", "bc-1demo", "--task", "place-in-bowl",
                 "--seeds", "1002", "--checkpoints", str(ckpt), "--out", str(out)]) == 0
    record = json.loads((out / "bc-1demo" / "place-in-bowl" / "seed1002.json").read_text())
    assert (record["robot"], record["checkpoint_robot"]) == ("panda_2f85", "ur5e_2f85")
    assert record["steps"], record["failure_reason"]  # it acted
    summary = json.loads((out / "summary.json").read_text())
    assert not summary["command"].endswith("--robot panda_2f85")
    # resumed with the UR5e, the Panda's episode is run again, not kept
    assert main(["policies", "eval", "--method", "bc-1demo", "--task", "place-in-bowl",
                 "--seeds", "1002", "--checkpoints", str(ckpt), "--out", str(out),
                 "--resume", "--robot", "ur5e_2f85"]) == 0
    record = json.loads((out / "bc-1demo" / "place-in-bowl" / "seed1002.json").read_text())
    assert (record["robot"], record["checkpoint_robot"]) == ("ur5e_2f85", "ur5e_2f85")
    assert json.loads((out / "summary.json").read_text())["command"].endswith(
        "--robot ur5e_2f85")
