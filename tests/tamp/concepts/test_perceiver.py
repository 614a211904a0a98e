"""The learned perceiver's concept model on the device it is given (the planner's)."""

from __future__ import annotations

import numpy as np
import pytest
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


def test_looks_average_per_object_and_pair_over_the_looks_that_saw_them():
    from tamp.concepts.facts import SceneFacts, mean_facts

    groups = {"shape": ("block", "box")}

    def look(names, unary, pairs):
        return SceneFacts(tuple(names), ("block", "box"), groups, np.array(unary, float),
                          ("near",), np.array(pairs, float)[..., None])

    a = look(["o0", "o1"], [[0.001, 0.999], [1, 0]], [[0, 1], [1, 0]])
    b = look(["o1", "o0"], [[1, 0], [1, 0]], [[0, 0], [0, 0]])
    c = look(["o0", "o2"], [[1, 0], [0, 1]], [[0, 1], [1, 0]])
    mean = mean_facts([a, b, c])
    assert mean.names == ("o0", "o1", "o2")
    # o0: a box to one look, a block to two: a block
    assert mean.attribute("o0", "shape")[0] == "block"
    assert mean.prob("box", "o0") == pytest.approx(0.999 / 3)
    assert mean.prob("block", "o2") == 0.0 and mean.prob("box", "o2") == 1.0  # one look
    assert mean.relation("near", "o0", "o1") == pytest.approx(0.5)  # seen together twice
    assert mean.relation("near", "o0", "o2") == 1.0
    assert mean.relation("near", "o1", "o2") == 0.0  # never seen together
    # o1 and o2 were each seen by one look of three: left out of a majority
    majority = mean_facts([a, b, c], min_looks=2)
    assert majority.names == ("o0", "o1")
    assert mean_facts([a, c], min_looks=2).names == ("o0",)
    assert mean_facts([a, c], min_looks=2).prob("box", "o0") == pytest.approx(0.999 / 2)
    with pytest.raises(ValueError):
        mean_facts([])


def test_what_only_one_of_the_first_looks_saw_is_forgotten(env):
    """A phantom (a stray cluster of one look's noise) is not an object: seen by fewer
    than half of the first looks, it is in neither the facts, nor the world, nor later
    looks' memory."""
    from dataclasses import replace

    from tamp.world import Shape, WorldObject

    env.reset(seed=3)
    perceiver = _perceiver(env, first_looks=3)
    perceiver.source.ideal = False  # TEST DOUBLE: three looks of the ideal frames
    looks = iter(range(3))
    look = perceiver._look

    def with_phantom():
        world, scene, rename = look()
        if next(looks) == 1:  # the second look sees a block that is not there
            ghost = WorldObject("ghost", "block", "red", Shape("box", (0.04,) * 3),
                                np.eye(4))
            perceiver._last["ghost"] = ghost
            world = replace(world, objects={**world.objects, "ghost": ghost})
            facts = scene.facts
            scene = replace(scene, facts=replace(
                facts, names=(*facts.names, "ghost"),
                unary=np.vstack([facts.unary, facts.unary[:1]]),
                pairs=np.pad(facts.pairs, ((0, 1), (0, 1), (0, 0)))))
            rename = {**rename, "ghost": "ghost"}
        return world, scene, rename

    perceiver._look = with_phantom
    world = perceiver.observe()
    assert "ghost" not in world.objects and "ghost" not in perceiver.facts.names
    assert world.objects and set(perceiver.facts.names) == set(world.objects)
    perceiver._look = look
    assert "ghost" not in perceiver.observe().objects


def test_the_first_observation_of_a_noisy_camera_is_three_looks(env):
    from scenes.env import TabletopEnv

    env.reset(seed=3)
    ideal = _perceiver(env)
    ideal.observe()
    assert ideal.record["first_looks"] == 1  # its frames would all be the same
    noisy = TabletopEnv("sort-by-colour", camera="d435")
    try:
        noisy.reset(seed=3)
        camera = SimCamera(noisy)
        calls = []
        frames = camera.frames
        camera.frames = lambda n: calls.append(n) or frames(n)
        perceiver = LearnedPerceiver(camera, noisy.robot, "learned", table_height=TABLE_TOP,
                                     zones={z.name: z for z in noisy.instance.zones})
        world = perceiver.observe()
        assert len(calls) == 3 and perceiver.record["first_looks"] == 3
        assert set(perceiver.facts.names) == set(world.objects)
        assert all(perceiver.sizes.looks(n) == 3 for n in world.objects)
        perceiver.observe()
        assert len(calls) == 4  # later looks are one each
    finally:
        noisy.close()
