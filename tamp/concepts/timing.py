"""Inference time of the concept model: one batched pass against one call per object and
one per ordered pair, on the same scene and device."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from tamp.concepts.model import ConceptModel


@dataclass(frozen=True)
class InferenceTiming:
    objects: int
    pairs: int  #: ordered pairs, objects * (objects - 1)
    device: str
    threads: int  #: torch intra-op threads
    batched_ms: float  #: median of ``repeats`` forward passes over the whole scene
    batched_p90_ms: float
    looped_ms: float  #: median time of one call per object plus one call per pair
    looped_p90_ms: float
    repeats: int
    max_abs_difference: float  #: largest logit difference, batched vs looped

    @property
    def speedup(self) -> float:
        return self.looped_ms / self.batched_ms


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _clock(fn, device: torch.device, repeats: int) -> np.ndarray:
    fn()  # warm-up: allocations, kernels, caches
    out = []
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        fn()
        _sync(device)
        out.append(time.perf_counter() - t0)
    return np.array(out) * 1e3


@torch.no_grad()
def time_inference(model: ConceptModel, points: torch.Tensor, mask: torch.Tensor,
                   repeats: int = 50, loop_repeats: int = 10) -> InferenceTiming:
    """Time the model on one scene ``points`` (1, K, N, 6) / ``mask`` (1, K, N).

    The loop calls the model once per object (a one-object scene, for its unary
    concepts) and once per ordered pair (a two-object scene, for the pair's relations):
    how a model without batching over objects and pairs would be used.
    """
    device = points.device
    k = points.shape[1]
    singles = [(points[:, i:i + 1], mask[:, i:i + 1]) for i in range(k)]
    pairs = [(points[:, [i, j]], mask[:, [i, j]]) for i in range(k) for j in range(k) if i != j]

    def looped():
        unary = [model(p, m).unary[0, 0] for p, m in singles]
        rel = [model(p, m).relations[0, 0, 1] for p, m in pairs]
        return torch.stack(unary), torch.stack(rel)

    batched_t = _clock(lambda: model(points, mask), device, repeats)
    looped_t = _clock(looped, device, loop_repeats)
    out = model(points, mask)
    unary, rel = looped()
    off = ~torch.eye(k, dtype=torch.bool, device=device)
    diff = max(float((out.unary[0] - unary).abs().max()),
               float((out.relations[0][off] - rel).abs().max()) if len(pairs) else 0.0)
    return InferenceTiming(k, len(pairs), str(device), torch.get_num_threads(),
                           float(np.median(batched_t)), float(np.percentile(batched_t, 90)),
                           float(np.median(looped_t)), float(np.percentile(looped_t, 90)),
                           repeats, diff)
