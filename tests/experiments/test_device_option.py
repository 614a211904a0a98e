"""``--device`` on every subcommand that has it: a device this machine lacks is one line
and exit code 2, before any work; ``auto`` picks what there is."""

from __future__ import annotations

import argparse

import pytest
import torch

from experiments.cli import build_parser, main
from experiments.options import EXIT_USAGE, torch_device


def _device_commands(parser, path=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _device_commands(sub, (*path, name))
        elif "--device" in action.option_strings:
            yield path


COMMANDS = sorted(set(_device_commands(build_parser())))
#: what a command needs before its options are read
REQUIRED = {("concepts", "learn"): ["pink", "--where", "color=pink"],
            ("policies", "train"): ["--method", "bc-1demo", "--task", "place-in-bowl"],
            ("deploy",): ["--task", "lift", "--ros1"], ("twin",): ["--ros1"]}


def test_the_walk_finds_the_torch_commands():
    assert ("concepts", "eval") in COMMANDS and ("policies", "train") in COMMANDS
    assert {("run",), ("bench", "episodes"), ("deploy",), ("twin",)} <= set(COMMANDS)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) for p in COMMANDS])
@pytest.mark.parametrize("device", ["cuda", "cuda:1", "tpu", "gpu!"])
def test_a_device_this_machine_lacks_is_one_line_and_exit_2(capsys, path, device):
    assert main([*path, *REQUIRED.get(path, []), "--device", device]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--device {device}" in err and "Traceback" not in err


def test_auto_is_cuda_when_there_is_one_else_the_cpu():
    assert torch_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert torch_device("cpu") == torch.device("cpu")
