"""The planner with the torch collision backend on the CPU device plans what it plans with
the compiled kernel: same actions, same arguments, same trajectories."""

from __future__ import annotations

import numpy as np
import pytest

from scenes.tasks import make_task
from tamp.geometry.collision import CollisionConfig
from tamp.planner import Planner, PlannerConfig
from tamp.world import WorldModel


def _plan(robot, task: str, backend: str):
    instance = make_task(task).sample(np.random.default_rng(0))
    world = WorldModel({o.name: o for o in instance.objects},
                       zones={z.name: z for z in instance.zones})
    config = PlannerConfig(seed=0, time_budget=120.0, domain=instance.domain,
                           collision=CollisionConfig(backend=backend, device="cpu"))
    planner = Planner(robot, config)
    return planner.plan(world, instance.goal, robot.home)


@pytest.mark.slow
@pytest.mark.parametrize("task", ["lift", "place-in-bowl", "clear-then-place"])
def test_torch_backend_plans_as_the_kernel_does(robot, task, monkeypatch):
    from tamp.geometry.torch_spheres import TorchSpheres

    kernel = _plan(robot, task, "kernel")
    calls = []
    run = TorchSpheres.clearances
    monkeypatch.setattr(TorchSpheres, "clearances",
                        lambda self, q, *a, **k: calls.append(len(q)) or run(self, q, *a, **k))
    torch_plan = _plan(robot, task, "torch")
    assert len(calls) > 10  # the torch backend did the checking
    assert kernel.success, kernel.reason
    assert torch_plan.success, torch_plan.reason
    assert [(a.name, a.args) for a in torch_plan.actions] == \
        [(a.name, a.args) for a in kernel.actions]
    segments = [(s, t) for a, b in zip(kernel.actions, torch_plan.actions)
                for s, t in zip(a.segments, b.segments)]
    for s, t in segments:
        assert s.label == t.label
        if s.trajectory is not None:
            np.testing.assert_allclose(t.trajectory.positions, s.trajectory.positions,
                                       atol=1e-9)
