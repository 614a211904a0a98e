"""``--device`` and ``--collision-backend`` on ``tamp run`` and ``tamp bench episodes``:
carried to the planner's collision configuration, recorded in result.json, and left out
of the settings when they are the defaults (so earlier results still resume)."""

from __future__ import annotations

import json

import pytest
import torch

from experiments.cli import main
from experiments.options import UsageError
from experiments.shared_options import DeviceOptions


def test_the_defaults_leave_the_planner_settings_as_they_were():
    assert DeviceOptions().planner_settings({}) == {}
    assert DeviceOptions(device="auto").planner_settings({"max_grasps": 3}) == \
        ({"max_grasps": 3} if not torch.cuda.is_available() else
         {"max_grasps": 3, "collision": {"device": "cuda", "backend": "torch"}})


def test_the_flags_set_the_collision_section_over_the_file():
    torch_cpu = DeviceOptions(collision_backend="torch")
    assert torch_cpu.planner_settings({"collision": {"padding": 0.01}}) == \
        {"collision": {"padding": 0.01, "backend": "torch"}}
    # an explicit kernel overrides a file's torch, and leaves no default behind
    file = {"max_grasps": 3, "collision": {"backend": "torch"}}
    assert DeviceOptions(collision_backend="kernel").planner_settings(file) == \
        {"max_grasps": 3}
    assert DeviceOptions().planner_settings(file) == file  # no flag given: the file's


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_is_refused_here_in_one_line(tmp_path, capsys):
    for args in (["run", "--task", "lift"], ["bench", "episodes", "--tasks", "lift"]):
        assert main([*args, "--out", str(tmp_path / "o"), "--device", "cuda"]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "CUDA is not available" in err, err
    assert not (tmp_path / "o").exists()  # refused before any output


def test_the_kernel_on_cuda_is_refused(monkeypatch):
    import experiments.options as options

    monkeypatch.setattr(options, "torch_device", lambda name: torch.device("cuda"))
    with pytest.raises(UsageError, match="CPU only"):
        DeviceOptions(device="cuda", collision_backend="kernel").collision()
    assert DeviceOptions(device="cuda").collision() == ("cuda", "torch")


def test_a_bad_backend_in_a_planner_file_is_one_line(tmp_path, capsys):
    f = tmp_path / "planner.yaml"
    f.write_text("collision: {backend: gpu}\n")
    assert main(["run", "--out", str(tmp_path / "o"), "--planner-config", str(f)]) == 2
    err = capsys.readouterr().err
    assert "collision backend must be one of" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_an_episode_runs_with_the_torch_backend_and_records_it(tmp_path):
    out = tmp_path / "run"
    assert main(["run", "--task", "lift", "--seed", "0", "--out", str(out),
                 "--device", "cpu", "--collision-backend", "torch"]) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["success"]
    assert (result["device"], result["collision_backend"]) == ("cpu", "torch")
    assert result["options"] == {"planner": {"collision": {"backend": "torch"}}}


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_deploy_refuses_a_missing_device_in_one_line(capsys):
    assert main(["deploy", "--task", "lift", "--ros1", "--device", "cuda"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "CUDA is not available" in err, err


def test_deploy_carries_the_flags_to_its_planner():
    from experiments.declare import read_options
    from experiments.deploy_cli import DeployOptions

    def config(*flags):
        import argparse

        from experiments.declare import add_options

        parser = argparse.ArgumentParser()
        add_options(parser, DeployOptions)
        args = read_options(parser.parse_args(["--task", "lift", "--ros1", *flags]),
                            DeployOptions)
        return args.planner_config(seed=3, domain="pick-place")

    default = config()
    assert (default.collision.backend, default.collision.device, default.seed,
            default.time_budget) == ("kernel", "cpu", 3, 60.0)
    torch_cpu = config("--collision-backend", "torch", "--time-budget", "5")
    assert (torch_cpu.collision.backend, torch_cpu.collision.device,
            torch_cpu.time_budget) == ("torch", "cpu", 5.0)
