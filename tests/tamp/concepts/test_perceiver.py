"""The learned perceiver's concept model on the device it is given (the planner's)."""

from __future__ import annotations

import numpy as np
import torch

from scenes.agent_io import SimCamera
from scenes.sim import TABLE_TOP
from tamp.concepts.checkpoint import checkpoint_for_camera, load_checkpoint
from tamp.concepts.perceiver import LearnedPerceiver
from tamp.planner import symbolic_state


def _perceiver(env, **kw) -> LearnedPerceiver:
    return LearnedPerceiver(SimCamera(env), env.robot, "learned", table_height=TABLE_TOP,
                            zones={z.name: z for z in env.instance.zones}, **kw)


def test_on_the_cpu_given_explicitly_it_sees_what_it_saw_before(env):
    """``device="cpu"`` loads the shipped model on the CPU, and the view gives the same
    probabilities and predicates as the model loaded as before devices were carried
    (``load_checkpoint(path)``, given to the perceiver); the ideal camera's frames are the
    same for both."""
    env.reset(seed=3)
    before = _perceiver(env, model=load_checkpoint(checkpoint_for_camera(SimCamera(env).name)))
    seen_before = before.observe()
    cpu = _perceiver(env, device="cpu")
    seen = cpu.observe()
    assert cpu.model.device == torch.device("cpu")
    assert cpu.facts.names == before.facts.names and cpu.facts.names
    np.testing.assert_array_equal(cpu.facts.unary, before.facts.unary)
    np.testing.assert_array_equal(cpu.facts.pairs, before.facts.pairs)
    assert symbolic_state(seen) == symbolic_state(seen_before)
    assert cpu.record["perceived_facts"] == before.record["perceived_facts"]
