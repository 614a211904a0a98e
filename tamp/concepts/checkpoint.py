"""Concept model checkpoints: weights in safetensors, everything else in JSON.

A checkpoint is a directory with ``concepts.safetensors`` (tensors only) and
``concepts.json`` (vocabulary, sizes, feature names, how it was trained). Loading parses
JSON and raw tensors: no pickle, no code runs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from tamp.concepts import features as F
from tamp.concepts.model import ConceptConfig, ConceptModel

FORMAT = "tamp-concepts"
FORMAT_VERSION = 1
WEIGHTS = "concepts.safetensors"
CONFIG = "concepts.json"


class CheckpointError(ValueError):
    """A checkpoint is missing, incomplete or was written for other code."""


def _directory(path: str | Path) -> Path:
    p = Path(path)
    return p.parent if p.suffix in (".safetensors", ".json") else p


def save_checkpoint(model: ConceptModel, path: str | Path, info: dict | None = None) -> Path:
    """Write ``model`` to the directory ``path``; ``info`` (JSON-able) records how it was
    made. Returns the directory."""
    from safetensors.torch import save_file

    d = _directory(path)
    d.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    tmp = d / (WEIGHTS + ".tmp")
    save_file(tensors, str(tmp), metadata={"format": FORMAT})
    os.chmod(tmp, 0o644)  # checkpoints are shared files, whatever the umask of the writer
    tmp.replace(d / WEIGHTS)
    doc = {"format": FORMAT, "format_version": FORMAT_VERSION,
           "feature_version": F.FEATURE_VERSION, "max_points": F.MAX_POINTS,
           "object_features": list(F.OBJECT_FEATURES), "pair_features": list(F.PAIR_FEATURES),
           "model": model.config.to_json(), "info": info or {}}
    tmp = d / (CONFIG + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    tmp.replace(d / CONFIG)
    return d


def read_config(path: str | Path) -> dict:
    """The checkpoint's JSON document, checked against this code."""
    d = _directory(path)
    for name in (CONFIG, WEIGHTS):
        if not (d / name).is_file():
            raise CheckpointError(f"no concept checkpoint at {d}: {name} is missing "
                                  "(train one with 'tamp concepts train')")
    try:
        doc = json.loads((d / CONFIG).read_text())
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{d / CONFIG} is not valid JSON: {err}") from None
    if doc.get("format") != FORMAT:
        raise CheckpointError(f"{d / CONFIG} is not a concept checkpoint")
    if doc.get("feature_version") != F.FEATURE_VERSION or \
            doc.get("object_features") != list(F.OBJECT_FEATURES) or \
            doc.get("pair_features") != list(F.PAIR_FEATURES):
        raise CheckpointError(f"{d} was trained on other features (version "
                              f"{doc.get('feature_version')}, this code computes "
                              f"{F.FEATURE_VERSION}): train it again")
    return doc


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> ConceptModel:
    """The model stored at ``path`` (a checkpoint directory or one of its two files)."""
    from safetensors.torch import load_file

    doc = read_config(path)
    model = ConceptModel(ConceptConfig.from_json(doc["model"]))
    weights = _directory(path) / WEIGHTS
    try:
        tensors = load_file(str(weights), device="cpu")
    except FileNotFoundError:
        raise CheckpointError(f"{weights}: no such file (a checkpoint is a folder with "
                              f"concepts.json and {WEIGHTS})") from None
    except Exception as err:  # safetensors' own error types: not a safetensors file
        raise CheckpointError(f"{weights}: not a readable safetensors file "
                              f"({type(err).__name__}: {str(err).splitlines()[0]})") from None
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as err:
        raise CheckpointError(f"{path}: weights do not match its config: "
                              f"{str(err).splitlines()[0]}") from None
    return model.to(device).eval()


def shipped_checkpoint() -> Path:
    """The checkpoint that ships with the package (``tamp concepts train`` rewrites it)."""
    return Path(__file__).resolve().parent / "checkpoints" / "base"


def checkpoint_for_camera(camera: str) -> Path:
    """The shipped checkpoint trained on data from the camera model ``camera``: the
    folder of that name (or of its family, the name before the first '-': ``d435`` for
    ``d435-miscalibrated``, a calibration error being no other sensor), else the base
    one (trained on the ideal camera)."""
    root = shipped_checkpoint().parent
    for name in (camera, camera.split("-")[0]):
        if name and name != "ideal" and (root / name / WEIGHTS).exists():
            return root / name
    return shipped_checkpoint()
