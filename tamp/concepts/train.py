"""Training and evaluation of the concept model on labelled scenes.

The features are fixed functions of the points, so a dataset stores them once and
training only fits the heads: minutes of rendering, seconds of optimisation.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn

from tamp.concepts.dataset import ConceptDataset
from tamp.concepts.model import ConceptConfig, ConceptModel


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 200
    batch_scenes: int = 64
    lr: float = 3e-3  #: Adam learning rate (cosine decay to zero)
    weight_decay: float = 1e-4
    seed: int = 0


@dataclass(frozen=True)
class TrainReport:
    epochs: int
    seconds: float  #: wall time of the optimisation, s
    final_loss: float
    scenes: int
    objects: int
    pairs: int
    config: dict = field(default_factory=dict)


def _pair_mask(object_mask: torch.Tensor) -> torch.Tensor:
    k = object_mask.shape[1]
    eye = torch.eye(k, dtype=torch.bool, device=object_mask.device)
    return object_mask[:, :, None] & object_mask[:, None, :] & ~eye


def train(data: ConceptDataset, config: TrainConfig = TrainConfig(),
          model_config: ConceptConfig = ConceptConfig(), device: str | torch.device = "cpu",
          progress: Callable[[int, float], None] | None = None
          ) -> tuple[ConceptModel, TrainReport]:
    """Fit a new :class:`ConceptModel` to ``data``; ``progress(epoch, loss)`` hears of
    each epoch."""
    gen = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    model = ConceptModel(model_config).to(device)
    feats, omask = data.tensors(device)
    targets = torch.from_numpy(data.targets(model_config.groups)).to(device)
    rel = torch.from_numpy(data.relations).to(device).float()
    model.fit_normalisation(feats, omask)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = max(1, -(-data.n_scenes // config.batch_scenes))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, config.epochs * steps_per_epoch)
    bce = nn.functional.binary_cross_entropy_with_logits
    t0 = time.perf_counter()
    loss_value = float("nan")
    for epoch in range(config.epochs):
        order = torch.randperm(data.n_scenes, generator=gen).to(device)
        total = 0.0
        for b in order.split(config.batch_scenes):
            out = model.forward_features(feats[b], omask[b])
            t = targets[b]
            known = omask[b].unsqueeze(-1) & (t >= 0)
            loss_u = bce(out.unary[known], t[known].float())
            pm = _pair_mask(omask[b])
            loss_r = bce(out.relations[pm], rel[b][pm])
            loss = loss_u + loss_r
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach())
        loss_value = total / steps_per_epoch
        if progress is not None:
            progress(epoch + 1, loss_value)
    model.eval()
    model.fit_metric(feats, omask, data.labels)
    return model, TrainReport(config.epochs, time.perf_counter() - t0, loss_value,
                              data.n_scenes, data.n_objects,
                              int(_pair_mask(omask).sum()), asdict(config))


@dataclass(frozen=True)
class ConceptScore:
    """Binary scores of one concept: is it predicted (probability >= 0.5) where it holds?"""

    name: str
    group: str  #: "color", "shape", "size", "relation" or the group of a learned concept
    n: int  #: objects (or ordered pairs) scored
    positives: int  #: where the concept holds
    accuracy: float
    precision: float
    recall: float
    f1: float


@dataclass(frozen=True)
class EvalReport:
    split: str
    objects: int
    pairs: int
    #: per attribute group: the most probable concept of the group is the true one
    group_accuracy: dict[str, float]
    #: the same, over objects whose (colour, shape) pair training never showed
    novel_group_accuracy: dict[str, float]
    novel_objects: int
    unary: list[ConceptScore]
    relations: list[ConceptScore]

    @property
    def relation_accuracy(self) -> float:
        """Mean binary accuracy over the relations."""
        return float(np.mean([s.accuracy for s in self.relations])) if self.relations else 0.0


def binary_score(name: str, group: str, pred: np.ndarray, truth: np.ndarray) -> ConceptScore:
    pred, truth = pred.astype(bool), truth.astype(bool)
    tp = int((pred & truth).sum())
    fp = int((pred & ~truth).sum())
    fn = int((~pred & truth).sum())
    n = int(len(truth))
    precision = tp / (tp + fp) if tp + fp else float(fn == 0)
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return ConceptScore(name, group, n, int(truth.sum()), float((pred == truth).mean())
                        if n else 1.0, precision, recall, f1)


@torch.no_grad()
def predict(model: ConceptModel, data: ConceptDataset, device: str | torch.device = "cpu"
            ) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities: unary ``(S, K, U)`` and relations ``(S, K, K, R)``."""
    feats, omask = data.tensors(device)
    out = model.to(device).forward_features(feats, omask)
    return torch.sigmoid(out.unary).cpu().numpy(), torch.sigmoid(out.relations).cpu().numpy()


def evaluate(model: ConceptModel, data: ConceptDataset, split: str = "",
             device: str | torch.device = "cpu") -> EvalReport:
    """Accuracy and F1 of every concept of ``model`` on ``data``."""
    cfg = model.config
    pu, pr = predict(model, data, device)
    om = data.object_mask
    unary, group_acc, novel_acc = [], {}, {}
    col = 0
    for g, names in cfg.groups.items():
        lab = data.labels[g]
        known = om & np.isin(lab, names)
        probs = pu[..., col:col + len(names)]
        best = np.array(names)[probs.argmax(-1)]
        group_acc[g] = float((best == lab)[known].mean()) if known.any() else float("nan")
        nk = known & data.novel
        novel_acc[g] = float((best == lab)[nk].mean()) if nk.any() else float("nan")
        for k, n in enumerate(names):
            unary.append(binary_score(n, g, probs[..., k][known] >= 0.5, (lab == n)[known]))
        col += len(names)
    for k, e in enumerate(cfg.extra):
        lab = data.labels[e.group]
        sel = om & (lab != "")
        unary.append(binary_score(e.name, e.group, pu[..., col + k][sel] >= 0.5,
                                  (lab == e.name)[sel]))
    k = om.shape[1]
    pm = om[:, :, None] & om[:, None, :] & ~np.eye(k, dtype=bool)
    rels = [binary_score(r, "relation", pr[..., j][pm] >= 0.5, data.relations[..., j][pm])
            for j, r in enumerate(cfg.relations)]
    return EvalReport(split or data.meta.get("split", ""), int(om.sum()), int(pm.sum()),
                      group_acc, novel_acc, int((om & data.novel).sum()), unary, rels)
