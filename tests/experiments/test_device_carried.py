"""``--device`` reaches every batched torch computation, not only the collision checks:
the concept model of learned perception (``tamp run`` / ``tamp bench episodes`` through
the agent, ``tamp deploy --goal`` through its perceiver) and the antipodal grasp search;
result.json's ``device`` is where they ran.

This machine has no CUDA: ``torch_device`` is made to accept "cuda" and the model loader,
the perceiver and the grasp search record the device they are given (and stop the run
before anything would need CUDA)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import tamp.concepts.checkpoint as checkpoint
from experiments.cli import main
from tamp.concepts.checkpoint import shipped_checkpoint


class Stop(Exception):
    """Raised by a recorder once it has seen the device: nothing runs on the fake CUDA."""


@pytest.fixture
def fake_cuda(monkeypatch) -> list[str]:
    """``--device cuda`` accepted as if this machine had CUDA; the planner's batched IK
    (``IKConfig.batch`` "auto" picks it on CUDA) replaced by a test double that records
    its device and solves with pinocchio. The devices it was asked for are returned."""
    import experiments.options as options
    import tamp.geometry.batch_ik as batch_ik
    from tamp.geometry.kinematics import Kinematics

    monkeypatch.setattr(options, "torch_device", lambda name: torch.device(name))
    asked = []

    class RecordingBatchedKinematics(Kinematics):  # a test double: no CUDA here
        def __init__(self, robot, device="cpu"):
            asked.append(str(device))
            super().__init__(robot)

    monkeypatch.setattr(batch_ik, "BatchedKinematics", RecordingBatchedKinematics)
    return asked


@pytest.fixture
def loads(monkeypatch) -> list[str]:
    """The devices the concept model is loaded on; a load for a device other than the CPU
    fails (as a broken checkpoint would: the episode records why) instead of loading."""
    devices, real = [], checkpoint.load_checkpoint

    def load(path, device=None):
        devices.append(None if device is None else str(device))
        if devices[-1] not in (None, "cpu"):
            raise OSError(f"recorded the load on {device}")
        return real(path)

    monkeypatch.setattr(checkpoint, "load_checkpoint", load)
    return devices


def test_run_loads_the_concept_model_on_the_device_and_records_it(tmp_path, fake_cuda,
                                                                   loads):
    out = tmp_path / "run"
    code = main(["run", "--task", "lift", "--method", "tamp-learned", "--concepts",
                 str(shipped_checkpoint()), "--device", "cuda", "--out", str(out)])
    result = json.loads((out / "result.json").read_text())
    # the command checks the checkpoint on the CPU first; the agent loads it on the device
    assert code == 1 and loads == [None, "cuda"], (loads, result["failure_reason"])
    assert "recorded the load on cuda" in result["failure_reason"]
    assert (result["device"], result["collision_backend"]) == ("cuda", "torch")


def test_the_agent_s_perceiver_loads_the_shipped_model_on_the_planner_s_device(env, loads):
    """Without --concepts the perceiver loads the camera's shipped model at the first look,
    on the device of the agent's planner configuration (a name passed through as given)."""
    from policies.tamp_agent import TampPolicy
    from tamp.geometry.collision import CollisionConfig
    from tamp.planner import PlannerConfig

    env.reset(seed=3)
    on = PlannerConfig(collision=CollisionConfig(device="cuda:1", backend="torch"))
    with pytest.raises(OSError, match="cuda:1"):
        TampPolicy(on, perception="learned").observe(env)
    assert loads == ["cuda:1"]
    loads.clear()
    TampPolicy(PlannerConfig(), perception="learned").observe(env)
    assert loads == ["cpu"]


def test_deploy_makes_its_perceiver_on_the_planner_s_device(monkeypatch, fake_cuda):
    import argparse
    from types import SimpleNamespace

    import robots
    import robots.ros.camera as camera
    import tamp.concepts.perceiver as perceiver
    from experiments.declare import add_options, read_options
    from experiments.deploy_cli import DeployOptions
    from experiments.deploy_goal import _loop
    from robots.workcell import Workcell

    given = {}

    def made(*args, **kw):
        given.update(kw)
        raise Stop

    monkeypatch.setattr(perceiver, "LearnedPerceiver", made)
    monkeypatch.setattr(camera, "RosCamera", lambda *a, **k: None)
    parser = argparse.ArgumentParser()
    add_options(parser, DeployOptions)
    args = read_options(parser.parse_args(
        ["--goal", "put the red block in the bowl", "--workcell",
         "robots/workcells/example.yaml", "--ros1", "--device", "cuda"]), DeployOptions)
    report: dict = {}
    with pytest.raises(Stop):
        _loop(args, Workcell(), robots.load(robots.DEFAULT_ROBOT),
              SimpleNamespace(name="d435", depth_noise=lambda: None),
              SimpleNamespace(position_margin=0.0), None, None, report)
    assert given["device"] == "cuda" and report["device"] == "cuda"
    assert fake_cuda == ["cuda"]  # the planner's IK starts go to the device too


def test_the_grasp_search_runs_on_the_device_of_the_flags(robot, monkeypatch, fake_cuda):
    """The flags' planner settings -> the episode's planner configuration (as ``tamp run``
    and ``tamp bench episodes`` build it) -> the grasp search of a bowl's pick."""
    import tamp.geometry.antipodal as antipodal
    from experiments.episode import EpisodeSpec, policy_kwargs
    from experiments.shared_options import DeviceOptions
    from policies.base import policy_class
    from tamp.candidates import pick_grasps
    from tamp.world import Shape, WorldObject

    given = []

    def search(*args, device=None, **kw):
        given.append(device)
        raise Stop

    monkeypatch.setattr(antipodal, "antipodal_grasps", search)
    settings = DeviceOptions(device="cuda").planner_settings({})
    spec = EpisodeSpec("lift", 0, "tamp", options={"planner": settings})
    config = policy_kwargs(spec, policy_class("tamp"))["config"]
    bowl = WorldObject("green_bowl", "bowl", "green", Shape("bowl", (0.13, 0.09, 0.05)),
                       np.eye(4))
    with pytest.raises(Stop):
        pick_grasps(bowl, robot, config, np.random.default_rng(0))
    assert given == ["cuda"]
