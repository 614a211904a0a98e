"""Transporter's training resumes exactly where it stopped, and ``tamp policies curve``
trains through its milestones, evaluates each checkpoint and resumes all of it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from policies.demos import save_demo
from policies.transporter import TransporterConfig, TransporterTrainer, TransportSample
from policies.weights import load_checkpoint
from tests.policies.test_imitation import one_step_bowl_demo

SMALL = TransporterConfig(width=4, crop=9, max_shift=4, rotations=12)


def _samples() -> list[TransportSample]:
    rng = np.random.default_rng(0)
    return [TransportSample(rng.random((40, 48, 4)).astype(np.float32), (10, 12), (25, 30), 3),
            TransportSample(rng.random((40, 48, 4)).astype(np.float32), (20, 20), (5, 40), 10)]


def _weights(trainer):
    return [v.clone() for v in trainer.net.state_dict().values()]


def test_training_resumes_exactly_where_it_stopped(tmp_path):
    straight = TransporterTrainer(_samples(), SMALL)
    straight.train(12)
    first = TransporterTrainer(_samples(), SMALL)
    first.train(5)
    first.save(tmp_path / "state.safetensors")
    again = TransporterTrainer(_samples(), SMALL)
    assert again.resume(tmp_path / "state.safetensors") and again.iteration == 5
    again.train(12)
    for a, b in zip(_weights(straight), _weights(again)):
        assert torch.equal(a, b)
    assert again.recent == straight.recent and again.report()["iterations"] == 12
    # without the generator's and Adam's state the same iterations end elsewhere
    fresh = TransporterTrainer(_samples(), SMALL)
    fresh.net.load_state_dict(first.net.state_dict())
    fresh.iteration = 5
    fresh.train(12)
    assert any(not torch.equal(a, b) for a, b in zip(_weights(straight), _weights(fresh)))


def test_a_state_of_other_settings_or_no_state_is_refused(tmp_path):
    path = tmp_path / "state.safetensors"
    assert not TransporterTrainer(_samples(), SMALL).resume(path)  # none yet
    trainer = TransporterTrainer(_samples(), SMALL, about={"task": "place-in-bowl"})
    trainer.train(2)
    trainer.save(path)
    other_seed = TransporterTrainer(_samples(), TransporterConfig(**{**SMALL.__dict__,
                                                                     "seed": 1}),
                                    about={"task": "place-in-bowl"})
    with pytest.raises(ValueError, match="other settings"):
        other_seed.resume(path)
    with pytest.raises(ValueError, match="other settings"):
        TransporterTrainer(_samples(), SMALL, about={"task": "towers-of-hanoi-3"}).resume(path)
    path.write_bytes(b"not a state")
    with pytest.raises(ValueError, match="not a readable"):
        TransporterTrainer(_samples(), SMALL, about={"task": "place-in-bowl"}).resume(path)


@pytest.fixture(scope="module")
def demos(tmp_path_factory):
    """A demo folder with one one-step place-in-bowl demonstration (seed 0)."""
    root = tmp_path_factory.mktemp("demos")
    save_demo(one_step_bowl_demo(), root)
    return root


def test_curve_trains_evaluates_and_resumes(tmp_path, demos):
    from experiments.cli import main

    out = tmp_path / "curve"
    args = ["policies", "curve", "--task", "place-in-bowl", "--seeds", "1000", "--out",
            str(out), "--demos", str(demos)]
    assert main(args + ["--iterations", "3,2"]) == 0
    doc = json.loads((out / "curve.json").read_text())
    assert [r["iterations"] for r in doc["rows"]] == [2, 3]
    assert all(r["episodes"] == 1 and r["task"] == "place-in-bowl" for r in doc["rows"])
    # probed on the planner's own solution of seed 1000, recorded once
    assert (out / "place-in-bowl" / "expert" / "place-in-bowl" / "seed1000.json").is_file()
    for r in doc["rows"]:
        assert r["expert"]["states"] >= 1
        assert len(r["expert"]["pick"]) == len(r["expert"]["place"]) == r["expert"]["states"]
    assert (out / "curve.png").stat().st_size > 1000 and "| place-in-bowl | 3 |" in \
        (out / "curve.md").read_text()
    ck2, _ = load_checkpoint("transporter-1demo", "place-in-bowl", out / "place-in-bowl" / "it2")
    ck3, _ = load_checkpoint("transporter-1demo", "place-in-bowl", out / "place-in-bowl" / "it3")
    assert ck2["info"]["train"]["iterations"] == 2 and ck3["info"]["train"]["iterations"] == 3
    assert ck3["config"]["model"]["iterations"] == 3
    record = out / "place-in-bowl" / "it3" / "eval" / "seed1000.json"
    stamp = record.stat().st_mtime_ns
    # one more milestone: training goes on from 3, nothing before it runs again
    assert main(args + ["--iterations", "2,3,4"]) == 0
    assert record.stat().st_mtime_ns == stamp
    ck4, _ = load_checkpoint("transporter-1demo", "place-in-bowl", out / "place-in-bowl" / "it4")
    assert ck4["info"]["train"]["iterations"] == 4
    assert len(json.loads((out / "curve.json").read_text())["rows"]) == 3


def test_curve_trains_at_the_learning_rate_given(tmp_path, demos):
    from experiments.cli import main

    out = tmp_path / "curve"
    assert main(["policies", "curve", "--task", "place-in-bowl", "--seeds", "1000", "--out",
                 str(out), "--demos", str(demos), "--iterations", "1", "--lr", "1e-4"]) == 0
    ck, _ = load_checkpoint("transporter-1demo", "place-in-bowl", out / "place-in-bowl" / "it1")
    assert ck["config"]["model"]["lr"] == pytest.approx(1e-4)
    assert "--lr 0.0001" in (out / "curve.md").read_text()


@pytest.mark.parametrize("extra", [["--iterations", "0"], ["--iterations", "5,x"],
                                   ["--seeds", "0-2"], ["--task", "nope"],
                                   ["--lr", "0"]])
def test_curve_bad_input_is_one_line_and_exit_2(extra, tmp_path, demos, capsys):
    from experiments.cli import main

    assert main(["policies", "curve", "--task", "place-in-bowl", "--out", str(tmp_path),
                 "--demos", str(demos), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ")


class _StubNet:
    """A test double of the Transporter network: its logits peak at given cells (the
    probe's arithmetic is under test, not a network)."""

    def __init__(self, pick_xy, place_xy):
        from policies.demos import cell_of

        self.pick = tuple(int(round(v)) for v in cell_of(pick_xy))
        self.place = tuple(int(round(v)) for v in cell_of(place_xy))

    def pick_logits(self, x):
        out = torch.zeros(x.shape[-2:])
        out[self.pick] = 1.0
        return out

    def place_logits(self, x, pick):
        out = torch.zeros((12, *x.shape[-2:]))
        out[(3, *self.place)] = 1.0
        return out


def test_the_expert_probe_scores_picks_and_places():
    from experiments.curve_cli import PLACE_TOLERANCE, expert_probe

    demo = one_step_bowl_demo(dx=0.0)
    step = demo.steps[0]
    world, red, target = step.world, step.pick, step.place_xy
    at = world.objects[red].position[:2]
    right = expert_probe(_StubNet(at, target), [demo], "cpu")
    assert right == {"pick": [1], "place": [1], "step": [1], "states": 1}
    # inside the bowl (its flat bottom) is the same choice, beside it is not
    bowl = world.objects["green_bowl"]
    inside = (target[0] + 0.8 * bowl.shape.size[1], target[1])
    assert expert_probe(_StubNet(at, inside), [demo], "cpu")["place"] == [1]
    off = (target[0] + bowl.shape.size[0] + PLACE_TOLERANCE, target[1])
    other = next(o for o in world.objects.values() if o.movable and o.name != red)
    wrong = expert_probe(_StubNet(other.position[:2], off), [demo], "cpu")
    assert wrong["pick"] == [0] and wrong["place"] == [0]


def test_a_third_level_doubles_what_a_cell_sees_and_keeps_the_image_size():
    from policies.transporter import FCN, Transporter, receptive_field

    # the towers-of-hanoi row is 48 cells (30 cm) end to end: 2 levels see 35 cells either
    # side of a cell, 3 levels 71
    assert receptive_field(2) == 71 and receptive_field(3) == 143
    for h, w in ((96, 160), (97, 161)):
        x = torch.rand(1, 4, h, w)
        assert FCN(4, 3, 4, 3)(x).shape == (1, 3, h, w)
    net = Transporter(TransporterConfig(width=4, levels=3, crop=9, rotations=12))
    x = torch.rand(4, 40, 48)
    assert net.pick_logits(x).shape == (40, 48)
    assert net.place_logits(x, (10, 12)).shape == (12, 40, 48)
    # the two-level network keeps the parameter names of the shipped checkpoints
    names = set(Transporter(TransporterConfig(width=4)).state_dict())
    assert "key.enc3.2.0.weight" in names and not any(".deeper." in n for n in names)


def test_a_state_saved_before_a_config_field_existed_resumes_with_its_default(tmp_path):
    import json as _json

    from safetensors import safe_open
    from safetensors.torch import save_file

    path = tmp_path / "state.safetensors"
    trainer = TransporterTrainer(_samples(), SMALL)
    trainer.train(2)
    trainer.save(path)
    with safe_open(str(path), framework="pt") as f:
        meta = _json.loads(f.metadata()["state"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    del meta["settings"]["model"]["levels"]  # as written before levels existed
    save_file(tensors, str(path), metadata={"format": "tamp-transporter-training-state",
                                            "state": _json.dumps(meta)})
    assert TransporterTrainer(_samples(), SMALL).resume(path)
    deeper = TransporterConfig(**{**SMALL.__dict__, "levels": 3})
    with pytest.raises(ValueError, match="other settings"):
        TransporterTrainer(_samples(), deeper).resume(path)
