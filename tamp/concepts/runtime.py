"""Learned perception of one frame: objects from the camera, named by the concept model.

``perceive_scene`` segments the frame, runs the concept model once over all objects and
pairs, refits each object with the primitive its shape concept implies (a bowl is
modelled as a bowl even where its cues alone were unclear), and returns the planner's
world model together with the facts and their probabilities.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from tamp.concepts.definitions import SHAPE_KIND
from tamp.concepts.facts import SceneFacts
from tamp.concepts.model import ConceptModel, pack_points
from tamp.perception.scene import Percept, PerceptionConfig, perceive, refit, world_model
from tamp.world import WorldModel


@dataclass(frozen=True)
class LearnedScene:
    percept: Percept
    facts: SceneFacts
    world: WorldModel
    perception_s: float  #: s segmenting and fitting
    concepts_s: float  #: s packing the points and running the concept model


@torch.no_grad()
def describe(model: ConceptModel, percept: Percept) -> SceneFacts:
    """Probabilities of every concept of ``model`` for the objects of ``percept``: one
    forward pass over all objects and ordered pairs, on the model's device."""
    clouds = percept.clouds
    names = tuple(c.name for c in clouds)
    cfg = model.config
    if not clouds:
        import numpy as np

        return SceneFacts((), cfg.unary_names, cfg.groups, np.zeros((0, len(cfg.unary_names))),
                          cfg.relations, np.zeros((0, 0, len(cfg.relations))))
    pts, mask = pack_points(clouds, [percept.table.z_at(c.centroid[:2]) for c in clouds],
                            model.device)
    out = model(pts, mask)
    unary = torch.sigmoid(out.unary[0]).cpu().numpy()
    pairs = torch.sigmoid(out.relations[0]).cpu().numpy()
    return SceneFacts(names, cfg.unary_names, dict(cfg.groups), unary, cfg.relations, pairs)


def perceive_scene(frame, model: ConceptModel, config: PerceptionConfig = PerceptionConfig(),
                   exclude=None) -> LearnedScene:
    """World model and facts from one RGB-D frame (see the module docstring); ``exclude``
    marks points that are no object (see :func:`tamp.perception.scene.perceive`)."""
    percept = perceive(frame, config, exclude=exclude)
    t0 = time.perf_counter()
    facts = describe(model, percept)
    t_concepts = time.perf_counter() - t0
    shape = {n: facts.attribute(n, "shape")[0] for n in facts.names}
    percept = refit(percept, {n: SHAPE_KIND[s] for n, s in shape.items()})
    world = world_model(percept, {n: (shape[n], facts.attribute(n, "color")[0])
                                  for n in facts.names})
    return LearnedScene(percept, facts, world, percept.time_s, t_concepts)
