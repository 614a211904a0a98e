"""The concept model: unary concepts per object and relations per ordered pair, in one
batched forward pass over a whole scene (or a batch of scenes), on any torch device.

Each attribute group reads only its own features: colour concepts see colour features,
shape and size concepts see geometry, relations see pair geometry. A concept of one
group therefore cannot latch onto another group's attribute, which is what lets a
"red cylinder" be recognised when training never showed one (the compositional split).

Every concept is its own sigmoid output, so a concept learned later from a few examples
(:meth:`ConceptModel.add_concept`) is one more head (a prototype with a radius in the
frozen embedding of its group) and changes no existing weight.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from tamp.concepts import features as F
from tamp.concepts.definitions import GROUPS, RELATIONS

#: which features each group of concepts reads
GROUP_INPUT = {"color": F.COLOR_SLICE, "shape": F.GEOMETRY_SLICE, "size": F.GEOMETRY_SLICE}


@dataclass(frozen=True)
class ExtraConcept:
    """A unary concept added after training, from a few labelled objects."""

    name: str
    group: str  #: the features it reads ("color", "shape" or "size")
    examples: int  #: how many labelled objects it was learned from


@dataclass(frozen=True)
class ConceptConfig:
    groups: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(GROUPS))
    relations: tuple[str, ...] = RELATIONS
    hidden: int = 128  #: units per hidden layer
    extra: tuple[ExtraConcept, ...] = ()

    @property
    def unary_names(self) -> tuple[str, ...]:
        names = tuple(n for g in self.groups.values() for n in g)
        return names + tuple(e.name for e in self.extra)

    def to_json(self) -> dict:
        return {"groups": {g: list(v) for g, v in self.groups.items()},
                "relations": list(self.relations), "hidden": self.hidden,
                "extra": [{"name": e.name, "group": e.group, "examples": e.examples}
                          for e in self.extra]}

    @staticmethod
    def from_json(d: dict) -> "ConceptConfig":
        return ConceptConfig({g: tuple(v) for g, v in d["groups"].items()},
                             tuple(d["relations"]), int(d["hidden"]),
                             tuple(ExtraConcept(e["name"], e["group"], int(e["examples"]))
                                   for e in d.get("extra", ())))


@dataclass
class ConceptOutput:
    """Logits of one forward pass; probabilities are ``sigmoid`` of them."""

    unary: torch.Tensor  #: shape (S, K, U), in the order of ``ConceptConfig.unary_names``
    relations: torch.Tensor  #: shape (S, K, K, R); [s, i, j, r] is r(i, j)
    object_mask: torch.Tensor  #: shape (S, K), bool: the slot holds an object


def _mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.SiLU(), nn.Linear(hidden, hidden),
                         nn.SiLU(), nn.Linear(hidden, n_out))


class ConceptModel(nn.Module):
    def __init__(self, config: ConceptConfig = ConceptConfig()):
        super().__init__()
        self.config = config
        h = config.hidden
        n_obj, n_pair = len(F.OBJECT_FEATURES), len(F.PAIR_FEATURES)
        # feature standardisation, set from the training data (see ``fit_normalisation``)
        self.register_buffer("object_mean", torch.zeros(n_obj))
        self.register_buffer("object_std", torch.ones(n_obj))
        self.register_buffer("pair_mean", torch.zeros(n_pair))
        self.register_buffer("pair_std", torch.ones(n_pair))
        self.heads = nn.ModuleDict({
            g: _mlp(GROUP_INPUT[g].stop - GROUP_INPUT[g].start, h, len(names))
            for g, names in config.groups.items()})
        self.relation_head = _mlp(n_pair, h, len(config.relations))
        for g in config.groups:  # see ``fit_metric``
            self.register_buffer(f"metric_{g}", torch.ones(h))
        self.extra = nn.ModuleDict({e.name: PrototypeHead(h) for e in config.extra})

    @property
    def device(self) -> torch.device:
        return self.object_mean.device

    # -- forward ------------------------------------------------------------------------
    def forward(self, points: torch.Tensor, mask: torch.Tensor) -> ConceptOutput:
        """Points ``(S, K, N, 6)`` (xyz with z above the table, rgb in [0, 1]) and their
        mask ``(S, K, N)`` -> logits of every concept for every object and pair."""
        return self.forward_features(F.object_features(points, mask), mask.any(-1))

    def forward_features(self, obj: torch.Tensor, object_mask: torch.Tensor) -> ConceptOutput:
        """The heads on precomputed object features ``(S, K, F)`` (training uses this)."""
        emb = self.embed(obj)
        unary = [self.heads[g][-1](emb[g]) for g in self.config.groups]
        unary += [self.extra[e.name](emb[e.group]) for e in self.config.extra]
        pairs = (F.pair_features(obj) - self.pair_mean) / self.pair_std
        return ConceptOutput(torch.cat(unary, -1), self.relation_head(pairs), object_mask)

    def embed(self, obj: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per group, the last hidden layer of its head on object features ``(..., F)``:
        ``(..., hidden)``, the space in which the group's concepts are told apart."""
        z = (obj - self.object_mean) / self.object_std
        return {g: self.heads[g][:-1](z[..., GROUP_INPUT[g]]) for g in self.config.groups}

    # -- set-up -------------------------------------------------------------------------
    @torch.no_grad()
    def fit_normalisation(self, obj: torch.Tensor, object_mask: torch.Tensor) -> None:
        """Standardise features with statistics of the training objects and pairs."""
        o = obj[object_mask]
        self.object_mean.copy_(o.mean(0))
        self.object_std.copy_(o.std(0).clamp_min(1e-4))
        k = obj.shape[1]
        pm = object_mask[:, :, None] & object_mask[:, None, :] & \
            ~torch.eye(k, dtype=torch.bool, device=obj.device)
        p = F.pair_features(obj)[pm]
        self.pair_mean.copy_(p.mean(0))
        self.pair_std.copy_(p.std(0).clamp_min(1e-4))

    @torch.no_grad()
    def fit_metric(self, obj: torch.Tensor, object_mask: torch.Tensor,
                   labels: dict[str, np.ndarray]) -> None:
        """Per group, the spread of its embedding (:meth:`embed`) within one concept,
        pooled over the group's concepts: the yardstick for concepts learned later from
        few examples. Call it after training. ``labels``: group -> (S, K) concept names."""
        emb = self.embed(obj)
        for g, names in self.config.groups.items():
            x = emb[g]
            lab = labels[g]
            var, n = torch.zeros(x.shape[-1], device=x.device), 0
            for c in names:
                sel = torch.from_numpy(lab == c).to(x.device) & object_mask
                if int(sel.sum()) > 1:
                    xc = x[sel]
                    var += ((xc - xc.mean(0)) ** 2).sum(0)
                    n += int(sel.sum()) - 1
            getattr(self, f"metric_{g}").copy_((var / max(n, 1)).sqrt().clamp_min(0.05))

    @torch.no_grad()
    def add_concept(self, name: str, group: str, obj: torch.Tensor,
                    labels: torch.Tensor) -> ExtraConcept:
        """Learn the unary concept ``name`` from a few labelled objects: features
        ``(M, F)`` and labels ``(M,)`` (1 = is a ``name``, 0 = is not; at least one
        positive). No existing weight changes.

        The concept is a prototype: the mean of the positives in the ``group``'s embedding
        (the last hidden layer of its head, trained to tell that group's concepts apart),
        measured with the group's within-concept spread (:meth:`fit_metric`). The
        decision radius lies between the positives' leave-one-out distances and the
        nearest negative (their geometric mean).
        """
        if name in self.config.unary_names:
            raise ValueError(f"concept '{name}' exists already")
        if group not in self.config.groups:
            raise ValueError(f"unknown group '{group}'; known: {', '.join(self.config.groups)}")
        y = labels.to(self.device).bool()
        if not y.any():
            raise ValueError(f"'{name}' needs at least one positive example")
        head = PrototypeHead(self.config.hidden).to(self.device)
        x = self.embed(obj.to(self.device))[group]
        pos, neg = x[y], x[~y]
        head.scale.copy_(getattr(self, f"metric_{group}"))
        head.centre.copy_(pos.mean(0))
        if len(pos) > 1:  # each positive's distance to the mean of the others
            loo = (pos.sum(0) - pos) / (len(pos) - 1)
            d_pos = float(head.distance2(pos, loo).max())
        else:
            d_pos = 1.0
        inner = max(2.0 * d_pos, 1.0)  # keeps every positive well inside
        radius = 4.0 * inner  # without negatives: a generous margin
        if len(neg):
            # halfway (in log distance) to the nearest negative, never beyond the margin
            radius = min(radius, float(np.sqrt(inner * float(head.distance2(neg).min()))))
        head.log_radius.fill_(float(np.log(radius)))
        extra = ExtraConcept(name, group, int(len(y)))
        self.config = ConceptConfig(self.config.groups, self.config.relations,
                                    self.config.hidden, self.config.extra + (extra,))
        self.extra[name] = head
        return extra


class PrototypeHead(nn.Module):
    """Logit of a concept learned from few examples: positive inside a radius around a
    prototype, in units of the group's within-concept spread."""

    SLOPE = 4.0  #: logit per unit of log distance: 0.5 at the radius, 0.98 at half of it

    def __init__(self, n: int):
        super().__init__()
        self.register_buffer("centre", torch.zeros(n))
        self.register_buffer("scale", torch.ones(n))
        self.register_buffer("log_radius", torch.zeros(()))

    def distance2(self, x: torch.Tensor, centre: torch.Tensor | None = None) -> torch.Tensor:
        """Mean squared distance per feature, in within-concept standard deviations."""
        c = self.centre if centre is None else centre
        return (((x - c) / self.scale) ** 2).mean(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d2 = self.distance2(x).clamp_min(1e-6)
        return (self.SLOPE * (self.log_radius - d2.log())).unsqueeze(-1)


def pack_points(clouds, table_z: list[float] | np.ndarray, device: torch.device | str = "cpu",
                max_points: int = F.MAX_POINTS, seed: int = 0
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """One scene's object clouds (``ObjectCloud``-like: ``points`` (N, 3), ``colors``
    (N, 3)) as a padded batch ``(1, K, N, 6)`` and mask ``(1, K, N)`` on ``device``, with z
    measured from the table (``table_z`` per object, m). Clouds larger than
    ``max_points`` are subsampled (seeded: the same cloud always gives the same batch)."""
    rng = np.random.default_rng(seed)
    arrays = []
    for c, tz in zip(clouds, table_z):
        a = np.concatenate([c.points - [0.0, 0.0, tz], c.colors], axis=1)
        if len(a) > max_points:
            a = a[np.sort(rng.choice(len(a), max_points, replace=False))]
        arrays.append(a)
    n = max((len(a) for a in arrays), default=1)
    pts = np.zeros((1, max(len(arrays), 1), n, 6), np.float32)
    mask = np.zeros(pts.shape[:3], bool)
    for k, a in enumerate(arrays):
        pts[0, k, :len(a)] = a
        mask[0, k, :len(a)] = True
    return torch.from_numpy(pts).to(device), torch.from_numpy(mask).to(device)
