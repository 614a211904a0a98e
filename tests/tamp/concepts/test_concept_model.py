"""The concept model: one batched pass over objects and pairs, devices, checkpoints,
concepts added from few examples. Synthetic points, so no simulator is needed."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tamp.concepts import features as F
from tamp.concepts.checkpoint import (CheckpointError, load_checkpoint, read_config,
                                      save_checkpoint)
from tamp.concepts.definitions import GROUPS, RELATIONS
from tamp.concepts.model import ConceptModel
from tamp.concepts.timing import time_inference

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def box_points(centre, size, rgb, rng, n=300) -> np.ndarray:
    """Points on the top and the four sides of an axis-aligned box standing on z = 0,
    shape (n, 6)."""
    c, s = np.asarray(centre, float), np.asarray(size, float)
    u = rng.uniform(-0.5, 0.5, (n, 3)) * s
    face = rng.integers(0, 5, n)
    u[face == 0, 2] = s[2] / 2  # top
    for k, (ax, sign) in enumerate([(0, 1), (0, -1), (1, 1), (1, -1)], start=1):
        u[face == k, ax] = sign * s[ax] / 2
    xyz = u + [c[0], c[1], s[2] / 2]
    return np.hstack([xyz, np.tile(rgb, (n, 1))])


def scene(rng, k=6, n_max=400):
    """A padded batch (1, k, n_max, 6) of boxes with different point counts."""
    pts = np.zeros((1, k, n_max, 6), np.float32)
    mask = np.zeros((1, k, n_max), bool)
    for i in range(k):
        n = int(rng.integers(50, n_max))
        pts[0, i, :n] = box_points(rng.uniform([0.3, -0.3], [0.7, 0.3]),
                                   rng.uniform(0.03, 0.08, 3), rng.uniform(0, 1, 3), rng, n)
        mask[0, i, :n] = True
    return torch.from_numpy(pts), torch.from_numpy(mask)


@pytest.fixture
def model():
    torch.manual_seed(0)
    return ConceptModel().eval()


@pytest.mark.parametrize("device", DEVICES)
def test_one_pass_gives_every_object_and_every_ordered_pair(model, device):
    pts, mask = scene(np.random.default_rng(0))
    model = model.to(device)
    out = model(pts.to(device), mask.to(device))
    u = sum(len(v) for v in GROUPS.values())
    assert out.unary.shape == (1, 6, u) and out.relations.shape == (1, 6, 6, len(RELATIONS))
    assert out.unary.device.type == out.relations.device.type == torch.device(device).type
    assert torch.isfinite(out.unary).all() and torch.isfinite(out.relations).all()
    assert out.object_mask.all()


def test_features_match_the_geometry_they_describe():
    rng = np.random.default_rng(1)
    pts = box_points((0.5, 0.1), (0.06, 0.04, 0.05), (0.9, 0.1, 0.1), rng, 2000)
    f = F.object_features(torch.from_numpy(pts[None, None]).float(),
                          torch.ones(1, 1, 2000, dtype=torch.bool))[0, 0]
    get = dict(zip(F.OBJECT_FEATURES, f.tolist()))
    assert get["height"] == pytest.approx(0.05, abs=1e-3)
    assert get["extent_min"] == pytest.approx(0.04, abs=1e-3)
    assert get["extent_across"] == pytest.approx(0.06, abs=1e-3)
    assert get["extent_max"] == pytest.approx(np.hypot(0.06, 0.04), abs=2e-3)  # diagonal
    assert (get["cx"], get["cy"]) == pytest.approx((0.5, 0.1), abs=1e-3)
    assert get["r"] == pytest.approx(0.9, abs=1e-6) and get["chroma_r"] > 0.8
    assert get["centre_mean_rel"] > 0.9  # a flat top: no hollow


def test_batched_pass_equals_calling_per_object_and_per_pair(model):
    pts, mask = scene(np.random.default_rng(2), k=5)
    timing = time_inference(model, pts, mask, repeats=3, loop_repeats=1)
    assert timing.objects == 5 and timing.pairs == 20
    assert timing.max_abs_difference < 1e-4


def test_padding_and_order_do_not_change_the_answers(model):
    pts, mask = scene(np.random.default_rng(3), k=4)
    out = model(pts, mask)
    # an empty object slot and extra empty point slots
    big = torch.zeros(1, 5, pts.shape[2] + 50, 6)
    big[:, :4, :pts.shape[2]] = pts
    bigmask = torch.zeros(1, 5, pts.shape[2] + 50, dtype=torch.bool)
    bigmask[:, :4, :pts.shape[2]] = mask
    out2 = model(big, bigmask)
    assert torch.allclose(out.unary, out2.unary[:, :4], atol=1e-5)
    assert torch.allclose(out.relations, out2.relations[:, :4, :4], atol=1e-5)
    assert out2.object_mask.tolist() == [[True] * 4 + [False]]
    perm = torch.tensor([2, 0, 3, 1])
    out3 = model(pts[:, perm], mask[:, perm])
    assert torch.allclose(out.unary[:, perm], out3.unary, atol=1e-5)
    assert torch.allclose(out.relations[:, perm][:, :, perm], out3.relations, atol=1e-5)


def test_safetensors_round_trip(model, tmp_path):
    pts, mask = scene(np.random.default_rng(4))
    with torch.no_grad():
        model.object_mean.fill_(0.1)  # not the defaults: buffers must travel too
    path = save_checkpoint(model, tmp_path / "ckpt", {"note": "test"})
    assert sorted(p.name for p in path.iterdir()) == ["concepts.json", "concepts.safetensors"]
    raw = (path / "concepts.safetensors").read_bytes()
    header = json.loads(raw[8:8 + int.from_bytes(raw[:8], "little")])
    assert "object_mean" in header and header["__metadata__"]["format"] == "tamp-concepts"
    assert read_config(path)["info"] == {"note": "test"}
    loaded = load_checkpoint(path / "concepts.safetensors")
    a, b = model(pts, mask), loaded(pts, mask)
    assert torch.equal(a.unary, b.unary) and torch.equal(a.relations, b.relations)


def test_checkpoint_errors_name_the_problem(model, tmp_path):
    with pytest.raises(CheckpointError, match="no concept checkpoint at .*concepts.json is "
                                              "missing .*tamp concepts train"):
        load_checkpoint(tmp_path / "nothing")
    path = save_checkpoint(model, tmp_path / "old")
    doc = json.loads((path / "concepts.json").read_text())
    doc["feature_version"] = -1
    (path / "concepts.json").write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="trained on other features"):
        load_checkpoint(path)
    path = save_checkpoint(model, tmp_path / "bad")
    doc = json.loads((path / "concepts.json").read_text())
    doc["model"]["hidden"] = 8
    (path / "concepts.json").write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="weights do not match its config"):
        load_checkpoint(path)


PALETTE = {"red": (0.85, 0.15, 0.15), "green": (0.2, 0.7, 0.25), "blue": (0.2, 0.35, 0.85),
           "yellow": (0.95, 0.8, 0.15), "purple": (0.55, 0.25, 0.7), "orange": (0.95, 0.5, 0.1),
           "cyan": (0.2, 0.75, 0.8), "white": (0.92, 0.92, 0.92), "grey": (0.5, 0.5, 0.5)}


def colored_boxes(colours, rng) -> torch.Tensor:
    """Features (len(colours), F) of boxes in the given rgb colours, with some shading."""
    pts = np.stack([box_points(rng.uniform(0.3, 0.6, 2), rng.uniform(0.04, 0.06, 3),
                               np.clip(np.asarray(c) * rng.uniform(0.8, 1.0), 0, 1), rng)
                    for c in colours])
    return F.object_features(torch.from_numpy(pts[None]).float(),
                             torch.ones(1, len(colours), 300, dtype=torch.bool))[0]


@pytest.fixture(scope="module")
def colour_model():
    """A model whose colour head learned the palette on synthetic boxes (seconds)."""
    from tamp.concepts.dataset import ConceptDataset
    from tamp.concepts.train import TrainConfig, train

    rng = np.random.default_rng(6)
    names = [str(rng.choice(list(PALETTE))) for _ in range(8 * 20)]
    x = colored_boxes([PALETTE[n] for n in names], rng).numpy().reshape(20, 8, -1)
    lab = np.array(names, dtype="<U16").reshape(20, 8)
    data = ConceptDataset(x, np.ones((20, 8), bool),
                          {"color": lab, "shape": np.full((20, 8), "block"),
                           "size": np.full((20, 8), "small")},
                          np.zeros((20, 8, 8, len(RELATIONS)), bool), np.zeros((20, 8), bool),
                          lab)
    model, report = train(data, TrainConfig(epochs=60, batch_scenes=5))
    return model


def test_a_concept_from_few_examples_changes_no_other_weight(colour_model, tmp_path):
    model = colour_model
    rng = np.random.default_rng(5)
    pink = (0.95, 0.55, 0.75)
    others = [PALETTE[c] for c in ("red", "blue", "grey", "white", "purple")]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = colored_boxes([pink] * 5 + others, rng)
    model.add_concept("pink", "color", x, torch.tensor([1.0] * 5 + [0.0] * 5))
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert model.config.unary_names[-1] == "pink"
    probe = colored_boxes([pink] * 10 + list(PALETTE.values()), rng)
    with torch.no_grad():
        out = model.forward_features(probe[None], torch.ones(1, len(probe), dtype=torch.bool))
    p = torch.sigmoid(out.unary[0, :, -1])
    assert p[:10].min() > 0.5 and p[10:].max() < 0.5, p
    again = load_checkpoint(save_checkpoint(model, tmp_path / "pink"))
    assert again.config.extra[0].name == "pink" and again.config.extra[0].examples == 10
    with pytest.raises(ValueError, match="exists already"):
        model.add_concept("pink", "color", x, torch.ones(10))
