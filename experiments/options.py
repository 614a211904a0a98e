"""The command line's shared pieces, in one module that imports no command: the usage
error and exit codes, the one-line parser, the types of its options, and the options
several commands share (``--robot``, ``--camera``, the VLM flags).

Every integer option is a whole number in a stated range and every real one finite,
checked by the parser itself, so that a value outside it is one line naming the option
and exit code 2 before any work starts (``--seed -1`` used to reach numpy and end in a
traceback). A test walks every parser and holds each option to its range.
"""

from __future__ import annotations

import argparse
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad input from the user: reported as one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line instead of usage + message
        raise UsageError(f"{self.prog}: {message} (see '{self.prog} --help')")


def finite_float(value: str) -> float:
    """The type of every real-valued option: a finite number. ``nan`` compares false
    with everything, so a range check written as ``x <= 0`` would let it through (and
    a NaN budget or limit switches its check off); ``inf`` is no budget either."""
    import math

    try:
        x = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{value}' is not a number") from None
    if not math.isfinite(x):
        raise argparse.ArgumentTypeError(f"'{value}' is not a finite number")
    return x


def torch_device(name: str):
    """The torch device ``--device`` names, checked to exist here: ``auto`` is CUDA when
    there is one, else the CPU; a device this machine lacks (``cuda`` without CUDA, a
    GPU index past the last) is a usage error, not a traceback later."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError as err:
        raise UsageError(f"--device {name}: {err}") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(f"--device {name}: CUDA is not available on this machine "
                             "(use --device cpu or auto)")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise UsageError(f"--device {name}: only {torch.cuda.device_count()} CUDA "
                             "device(s) here")
    elif dev.type not in ("cpu",):
        raise UsageError(f"--device {name}: only cpu, cuda[:N] and auto are supported")
    return dev


def camera_name(value: str) -> str:
    """``--camera``'s type: a registered sensor model's name (``tamp.perception.sensors.SENSORS``);
    anything else is a usage error naming the known ones."""
    from tamp.perception.sensors import sensor_model

    try:
        return sensor_model(value).name
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def robot_name(value: str) -> str:
    """``--robot``'s type: a robot described under ``robots/``."""
    import robots

    if value not in robots.available():
        raise argparse.ArgumentTypeError(f"unknown robot '{value}'; known: "
                                         f"{', '.join(robots.available())}")
    return value


def add_robot_argument(parser) -> None:
    """``--robot NAME``: the arm and gripper (a folder of ``robots/``)."""
    import robots

    parser.add_argument("--robot", type=robot_name, default=robots.DEFAULT_ROBOT,
                        metavar="NAME", help=f"the robot, a folder of robots/: "
                        f"{', '.join(robots.available())} (default {robots.DEFAULT_ROBOT})")


def add_camera_argument(parser, default: str | None = None, why: str = "") -> None:
    """``--camera NAME``: the scene camera's sensor model. ``default`` None: the
    episodes' own default (the realistic model for learned perception, ideal otherwise)."""
    from tamp.perception.sensors import DEFAULT_LEARNED_CAMERA, SENSORS

    names = ", ".join(SENSORS)
    if default is None:
        text = (f"default {DEFAULT_LEARNED_CAMERA} with learned perception (--perception "
                f"learned or learned-geometric, the methods tamp-learned and "
                f"tamp-learned-geometric), ideal otherwise")
    else:
        text = f"default {default}" + (f": {why}" if why else "")
    parser.add_argument("--camera", type=camera_name, default=default, metavar="NAME",
                        help=f"the scene camera's sensor model (tamp/perception/sensors.py): {names}; "
                             f"{text}")




def int_in(lo: int, hi: int):
    """The type of an option that takes a whole number in ``lo..hi``."""
    def parse(value: str) -> int:
        try:
            x = int(value, 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{value}' is not a whole number") from None
        if not lo <= x <= hi:
            raise argparse.ArgumentTypeError(f"must be {lo}..{hi}, got {x}")
        return x

    parse.__name__ = "int_in"
    parse.bounds = (lo, hi)  # for the test that walks the parsers
    return parse


SEED = int_in(0, 2 ** 32 - 1)  #: what numpy's legacy generator and PyBullet accept
COUNT = int_in(1, 1_000_000)  #: episodes, scenes, runs, samples
THREADS = int_in(1, 256)
PORT = int_in(0, 65535)  #: 0: a free port
PORT_NONZERO = int_in(1, 65535)


def writable_dir(option: str, path) -> Path:
    """``path`` as an output directory, checked before any work: made if missing; a
    usage error (one line, exit 2) if it is a file or cannot be written."""
    import os

    out = Path(path)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{option} {out} exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
        if not os.access(out, os.W_OK):
            raise PermissionError("not writable")
    except OSError as err:
        raise UsageError(f"{option} {out} cannot be written: {err.strerror or err}") from None
    return out


def existing_dir(option: str, path) -> Path:
    """``path`` as an input directory: a usage error if it is not one."""
    where = Path(path)
    if not where.is_dir():
        raise UsageError(f"{option} {where} is not a directory")
    return where


def add_vlm_arguments(parser) -> None:
    """The VLM planner's options (methods vlm, vlm-closed), for ``bench episodes`` and
    ``run``."""
    g = parser.add_argument_group(
        "VLM planner (methods vlm, vlm-closed; vlm-text, vlm-text-closed for a language "
        "model without vision: no image, the objects' positions in words)")
    g.add_argument("--vlm-base-url", default=None, metavar="URL",
                   help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1")
    g.add_argument("--vlm-model", default=None, help="model name the endpoint serves")
    g.add_argument("--vlm-api-key-env", default="OPENAI_API_KEY", metavar="VAR",
                   help="environment variable holding the API key (default "
                        "OPENAI_API_KEY; unset: no key is sent)")
    g.add_argument("--vlm-cache", default=None, metavar="DIR",
                   help="record answers in DIR and replay them when asked again")
    g.add_argument("--cache-only", action="store_true",
                   help="answer only from --vlm-cache; a miss is a failed episode, no "
                        "request is made")
    g.add_argument("--vlm-timeout", type=finite_float, default=60.0, metavar="S",
                   help="longest wait for one answer, s (default 60); all the answers of "
                        "an episode together also keep --time-budget")
    g.add_argument("--vlm-json-schema", action="store_true",
                   help="ask the server to constrain each answer to a plan over the "
                        "scene's skills and names (response_format json_schema; llama.cpp, "
                        "vLLM and Ollama servers accept it)")
    g.add_argument("--vlm-max-tokens", type=int_in(1, 1_000_000), default=1024, metavar="N",
                   help="longest answer, tokens (default 1024)")
    g.add_argument("--allow-remote", action="store_true",
                   help="allow a --vlm-base-url that is not on this machine (scene images, "
                        "the goal and the API key go there)")


def vlm_options(args, methods) -> dict:
    """Method options from the VLM flags; :class:`UsageError` for bad ones."""
    if not any(m.startswith("vlm") for m in methods):
        return {}
    if not args.vlm_model:
        raise UsageError("the VLM methods need --vlm-model")
    if args.cache_only and not args.vlm_cache:
        raise UsageError("--cache-only needs --vlm-cache DIR")
    url = args.vlm_base_url
    if not url and not args.cache_only:
        raise UsageError("the VLM methods need --vlm-base-url (an OpenAI-compatible "
                         "endpoint, e.g. http://localhost:8000/v1) or --cache-only")
    if url and not url.startswith(("http://", "https://")):
        raise UsageError(f"--vlm-base-url must start with http:// or https://, got '{url}'")
    if url:
        from urllib.parse import urlsplit

        from robots.ros.transport import is_loopback_host

        host = urlsplit(url).hostname or ""
        if not is_loopback_host(host) and not args.allow_remote:
            raise UsageError(f"--vlm-base-url {url} is not on this machine; pass "
                             "--allow-remote to send scenes (and the API key) to it")
    if args.vlm_cache:
        writable_dir("--vlm-cache", args.vlm_cache)
    if not args.vlm_timeout > 0:
        raise UsageError(f"--vlm-timeout must be > 0 s, got {args.vlm_timeout:g}")
    return {"base_url": url, "model": args.vlm_model, "api_key_env": args.vlm_api_key_env,
            "cache_dir": args.vlm_cache, "cache_only": bool(args.cache_only),
            "timeout_s": float(args.vlm_timeout), "json_schema": bool(args.vlm_json_schema),
            "max_tokens": int(args.vlm_max_tokens)}


def replace_section(text: str, name: str, body: str) -> str:
    """``text`` with the block between ``<!-- name:start -->`` and ``<!-- name:end -->``
    replaced by ``body`` (appended if there is none yet)."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{body}\n{end}"
    if start in text and end in text:
        return text[:text.index(start)] + block + text[text.index(end) + len(end):]
    return text.rstrip() + "\n\n" + block + "\n"


def add_planner_config_argument(parser) -> None:
    """``--planner-config FILE``: planner settings from a YAML file."""
    parser.add_argument(
        "--planner-config", default=None, metavar="FILE",
        help="planner settings from a YAML file: any field of tamp.planner.PlannerConfig, "
             "nested for its sections, e.g. 'max_grasps: 20' and 'motion: {time_limit: "
             "2.0}' (not seed, time_budget or domain: each episode sets those); recorded "
             "in result.json, and a benchmark resumes only episodes made with the same")


def planner_overrides(path: str | None) -> dict:
    """The settings of a ``--planner-config`` file, checked against the planner's
    configuration; a :class:`UsageError` names the file and what is wrong."""
    if path is None:
        return {}
    import yaml

    from tamp.planner import PER_EPISODE_FIELDS, PlannerConfig, with_overrides

    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as err:
        raise UsageError(f"--planner-config {path}: {err.strerror or err}") from None
    except yaml.YAMLError as err:
        raise UsageError(f"--planner-config {path}: not YAML ({str(err).splitlines()[0]})"
                         ) from None
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise UsageError(f"--planner-config {path}: needs a mapping of settings, got "
                         f"{type(data).__name__}")
    fixed = [k for k in PER_EPISODE_FIELDS if k in data]
    if fixed:
        raise UsageError(f"--planner-config {path}: '{fixed[0]}' is set by each episode "
                         "(its seed, --time-budget, the task's domain), not by the file")
    try:
        with_overrides(PlannerConfig(), data)
    except ValueError as err:
        raise UsageError(f"--planner-config {path}: {err}") from None
    return data
