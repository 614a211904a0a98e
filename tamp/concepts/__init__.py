"""Learned concept predicates: what the objects on the table are and how they relate.

* :mod:`~tamp.concepts.definitions` — the vocabulary and what each concept means on a
  known world (labels training data, judges goals);
* :mod:`~tamp.concepts.features`, :mod:`~tamp.concepts.model` — the torch model: unary
  concepts per object, relations per ordered pair, one batched pass per scene;
* :mod:`~tamp.concepts.train`, :mod:`~tamp.concepts.checkpoint` — training, evaluation,
  safetensors + JSON checkpoints (``checkpoints/base`` is the shipped one);
* :mod:`~tamp.concepts.facts`, :mod:`~tamp.concepts.language`,
  :mod:`~tamp.concepts.goal_grounding` — the symbolic state with confidences, goals in
  words, and their grounding in that state;
* :mod:`~tamp.concepts.runtime` — a camera frame to a world model and facts.

Nothing is imported here, so that ``import tamp.concepts`` loads neither torch nor open3d.
"""
