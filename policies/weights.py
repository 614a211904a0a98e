"""Checkpoints of the imitation policies: ``<root>/<method>/<task>.safetensors`` (tensors
only) beside ``<task>.json`` (the model's configuration and how it was trained).

Loading parses JSON and raw tensors: no pickle, no code runs. The shipped checkpoints
live in ``policies/checkpoints`` (package data); ``tamp policies train`` rewrites them.

A checkpoint records the robot whose demonstration it learned from (``info.robot``).
An episode with another robot still runs it, and says so (:func:`checkpoint_robot`):
the policy chooses objects and places, and the episode's robot carries them out with
its own grasps and motions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from policies.base import option
from tamp.files import atomic_path, write_json_atomic

FORMAT = "tamp-imitation"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class ImitationOptions:
    """What an imitation baseline (bc-1demo, bc-1demo-aug, transporter-1demo) takes."""

    checkpoints: str | Path | None = option(
        None, "checkpoint folder (--checkpoints); None: the shipped ones")
    device: str = option("cpu", "torch device of the network")
    max_steps: int | None = option(None, "steps it may take; None: from the checkpoint")
    config: Any = option(None, "the primitives' PlannerConfig (seed, --time-budget, "
                               "--planner-config)")


class CheckpointMissing(FileNotFoundError):
    """No checkpoint of this method for this task."""


class CheckpointInvalid(ValueError):
    """A checkpoint that this code cannot use."""


def default_root() -> Path:
    return Path(__file__).resolve().parent / "checkpoints"


def checkpoint_paths(method: str, task: str, root: str | Path | None = None
                     ) -> tuple[Path, Path]:
    d = Path(root or default_root()) / method
    return d / f"{task}.safetensors", d / f"{task}.json"


def save_checkpoint(method: str, task: str, model: torch.nn.Module, config: dict,
                    info: dict, root: str | Path | None = None) -> Path:
    """Write the weights (CPU; floating point ones as float16, which halves the shipped
    files and changes no decision of these small networks) and the JSON document, each
    atomically."""
    from safetensors.torch import save_file

    weights, doc_path = checkpoint_paths(method, task, root)
    tensors = {k: v.detach().to("cpu", torch.float16 if v.is_floating_point() else v.dtype)
               .contiguous() for k, v in model.state_dict().items()}
    with atomic_path(weights) as tmp:
        save_file(tensors, str(tmp), metadata={"format": FORMAT})
    write_json_atomic(doc_path, {"format": FORMAT, "format_version": FORMAT_VERSION,
                                 "method": method, "task": task, "config": config,
                                 "info": info})
    return weights


def load_checkpoint(method: str, task: str, root: str | Path | None = None
                    ) -> tuple[dict, dict[str, torch.Tensor]]:
    """The JSON document and the tensors of ``method``'s checkpoint for ``task``."""
    from safetensors.torch import load_file

    weights, doc_path = checkpoint_paths(method, task, root)
    if not weights.is_file() or not doc_path.is_file():
        raise CheckpointMissing(
            f"no {method} checkpoint for task {task} (train with: tamp policies train "
            f"--method {method} --task {task})")
    try:
        doc = json.loads(doc_path.read_text())
    except json.JSONDecodeError as err:
        raise CheckpointInvalid(f"{doc_path} is not valid JSON: {err}") from None
    if doc.get("format") != FORMAT or doc.get("format_version") != FORMAT_VERSION or \
            doc.get("method") != method:
        raise CheckpointInvalid(f"{doc_path} is not a {method} checkpoint of this version "
                                f"(train it again)")
    try:
        tensors = load_file(str(weights), device="cpu")
    except Exception as err:  # safetensors' own error types: not a safetensors file
        raise CheckpointInvalid(f"{weights}: not a readable safetensors file "
                                f"({type(err).__name__}: {str(err).splitlines()[0]})") from None
    return doc, {k: v.float() if v.is_floating_point() else v for k, v in tensors.items()}


def checkpoint_robot(doc: dict, episode_robot: str, say) -> dict[str, str]:
    """``{"checkpoint_robot": NAME}`` for the episode's record: the robot of the
    demonstration that the checkpoint ``doc`` learned from (one trained before robots were
    recorded: the default's). When that is not ``episode_robot``, ``say`` (a monitor's
    ``stage``) is told: the episode runs, its record shows both names."""
    from robots import DEFAULT_ROBOT

    robot = doc.get("info", {}).get("robot", DEFAULT_ROBOT)
    if robot != episode_robot:
        say(f"{doc['method']} checkpoint for {doc['task']} learned from a {robot} "
            f"demonstration; {episode_robot} carries out its choices")
    return {"checkpoint_robot": robot}


def load_weights(net: torch.nn.Module, tensors: dict, method: str, task: str
                 ) -> torch.nn.Module:
    """``net`` with the checkpoint's tensors (every one, no more), or CheckpointInvalid
    naming the first mismatch."""
    try:
        net.load_state_dict(tensors, strict=True)
    except RuntimeError as err:
        raise CheckpointInvalid(f"{method} checkpoint for {task}: "
                                f"{str(err).splitlines()[0]}") from None
    return net
