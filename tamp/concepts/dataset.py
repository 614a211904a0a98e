"""Labelled concept data: per-object features with ground-truth attributes and relations.

Stored as ``.npz`` of plain arrays (strings as fixed-width unicode), loaded with
``allow_pickle=False``: reading a dataset runs no code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from tamp.concepts.definitions import GROUPS, RELATIONS
from tamp.concepts.features import FEATURE_VERSION, OBJECT_FEATURES


@dataclass
class ConceptDataset:
    features: np.ndarray  #: shape (S, K, F), float32, ``features.OBJECT_FEATURES``
    object_mask: np.ndarray  #: shape (S, K), bool
    #: ground truth per attribute group ("color", "shape", "size"), shape (S, K), str
    labels: dict[str, np.ndarray]
    relations: np.ndarray  #: shape (S, K, K, len(RELATIONS)), bool
    novel: np.ndarray  #: shape (S, K), bool: a (colour, shape) pair held out of training
    sources: np.ndarray  #: shape (S, K), str: simulator object names
    meta: dict = field(default_factory=dict)  #: how it was generated

    @property
    def n_scenes(self) -> int:
        return int(self.features.shape[0])

    @property
    def n_objects(self) -> int:
        return int(self.object_mask.sum())

    def objects(self, where: np.ndarray | None = None) -> np.ndarray:
        """Features ``(M, F)`` of the objects selected by ``where`` (S, K) (default all)."""
        sel = self.object_mask if where is None else (self.object_mask & where)
        return self.features[sel]

    def targets(self, groups: dict[str, tuple[str, ...]]) -> np.ndarray:
        """Unary targets ``(S, K, U)`` in the order of the groups' concepts: 1 where the
        object's attribute is that concept; -1 where the attribute lies outside the
        group's vocabulary (e.g. a pink object for a model without "pink": no target)."""
        cols = []
        for g, names in groups.items():
            lab = self.labels[g]
            known = np.isin(lab, names)
            for n in names:
                cols.append(np.where(known, (lab == n).astype(np.int8), -1))
        return np.stack(cols, -1) if cols else np.zeros(self.object_mask.shape + (0,))

    def tensors(self, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
        return (torch.from_numpy(self.features).to(device),
                torch.from_numpy(self.object_mask).to(device))

    def save(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {"features": self.features, "object_mask": self.object_mask,
                  "relations": self.relations, "novel": self.novel, "sources": self.sources,
                  "meta": np.array(json.dumps({**self.meta, "feature_version": FEATURE_VERSION,
                                               "object_features": list(OBJECT_FEATURES),
                                               "relations": list(RELATIONS)}))}
        arrays.update({f"label_{g}": v for g, v in self.labels.items()})
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(tmp, **arrays)
        tmp.replace(path)

    @staticmethod
    def load(path: str | Path) -> "ConceptDataset":
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            if meta.get("feature_version") != FEATURE_VERSION:
                raise ValueError(f"{path} holds features of version "
                                 f"{meta.get('feature_version')}, this code computes "
                                 f"version {FEATURE_VERSION}: generate it again")
            labels = {k[len("label_"):]: z[k] for k in z.files if k.startswith("label_")}
            return ConceptDataset(z["features"], z["object_mask"], labels, z["relations"],
                                  z["novel"], z["sources"], meta)

    @staticmethod
    def concat(parts: list["ConceptDataset"]) -> "ConceptDataset":
        """Scenes of several datasets in one (object slots padded to the widest)."""
        k = max(p.features.shape[1] for p in parts)

        def pad(a: np.ndarray, axes: int, fill) -> np.ndarray:
            widths = [(0, 0)] * a.ndim
            for ax in range(1, 1 + axes):
                widths[ax] = (0, k - a.shape[ax])
            return np.pad(a, widths, constant_values=fill)

        return ConceptDataset(
            np.concatenate([pad(p.features, 1, 0.0) for p in parts]),
            np.concatenate([pad(p.object_mask, 1, False) for p in parts]),
            {g: np.concatenate([pad(p.labels[g], 1, "") for p in parts]) for g in GROUPS},
            np.concatenate([pad(p.relations, 2, False) for p in parts]),
            np.concatenate([pad(p.novel, 1, False) for p in parts]),
            np.concatenate([pad(p.sources, 1, "") for p in parts]),
            {"parts": [p.meta for p in parts]})
