"""The options several commands declare alike (:mod:`experiments.declare`): ``--robot``,
``--camera``, ``--planner-config`` and the VLM planner's section; and the refusal of a
flag that no method of a run can use.

Building these fields imports ``robots`` and the sensor models, so only the modules of
the commands that take them import this one (``tamp --help`` stays light).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from experiments.declare import fed, flat, opt
from experiments.options import UsageError, camera_name, robot_name, writable_dir


def robot_option(why: str = "", default: str = ""):
    """``--robot NAME``: the arm and gripper (a folder of ``robots/``). ``why``: what the
    robot is for in this command; ``default``: the default in words, when it is not
    ``robots.DEFAULT_ROBOT`` (the option is then unset by default)."""
    import robots

    return opt(None if default else robots.DEFAULT_ROBOT, type=robot_name, metavar="NAME",
               help=f"the robot, a folder of robots/: {', '.join(robots.available())} "
                    f"(default {default or robots.DEFAULT_ROBOT})" + (f"; {why}" if why else ""))


def camera_option(default: str | None = None, why: str = ""):
    """``--camera NAME``: the scene camera's sensor model. ``default`` None: the
    episodes' own default (the realistic model for learned perception, ideal otherwise)."""
    from tamp.perception.sensors import DEFAULT_LEARNED_CAMERA, SENSORS

    if default is None:
        text = (f"default {DEFAULT_LEARNED_CAMERA} with learned perception (--perception "
                f"learned or learned-geometric, the methods tamp-learned and "
                f"tamp-learned-geometric), ideal otherwise")
    else:
        text = f"default {default}" + (f": {why}" if why else "")
    return opt(default, type=camera_name, metavar="NAME",
               help=f"the scene camera's sensor model (tamp/perception/sensors.py): "
                    f"{', '.join(SENSORS)}; {text}")


def planner_config_option():
    """``--planner-config FILE``: planner settings from a YAML file (read by
    :func:`experiments.options.planner_overrides`)."""
    return opt(None, metavar="FILE", feeds="config", help=(
        "planner settings from a YAML file: any field of tamp.planner.PlannerConfig, "
        "nested for its sections, e.g. 'max_grasps: 20' and 'motion: {time_limit: "
        "2.0}' (not seed, time_budget or domain: each episode sets those); recorded "
        "in result.json, and a benchmark resumes only episodes made with the same"))


@dataclass(frozen=True)
class VlmOptions:
    """The VLM planner's flags (``run``, ``bench episodes``); each feeds the option of
    :class:`policies.vlm.VLMOptions` its ``feeds`` names."""

    SECTION: ClassVar[str] = (
        "VLM planner (methods vlm, vlm-closed; vlm-text, vlm-text-closed for a language "
        "model without vision: no image, the objects' positions in words)")

    vlm_base_url: str | None = opt(None, metavar="URL", feeds="base_url",
                                   help="OpenAI-compatible endpoint, e.g. "
                                        "http://localhost:8000/v1")
    vlm_model: str | None = opt(None, feeds="model", help="model name the endpoint serves")
    vlm_api_key_env: str = opt("OPENAI_API_KEY", metavar="VAR", feeds="api_key_env",
                               help="environment variable holding the API key (default "
                                    "OPENAI_API_KEY; unset: no key is sent)")
    vlm_cache: str | None = opt(None, metavar="DIR", feeds="cache_dir",
                                help="record answers in DIR and replay them when asked "
                                     "again")
    cache_only: bool = opt(False, feeds="cache_only",
                           help="answer only from --vlm-cache; a miss is a failed episode, "
                                "no request is made")
    #: s
    vlm_timeout: float = opt(60.0, metavar="S", above=0, unit="s", feeds="timeout_s",
                             help="longest wait for one answer, s (default 60); all the "
                                  "answers of an episode together also keep --time-budget")
    vlm_json_schema: bool = opt(False, feeds="json_schema",
                                help="ask the server to constrain each answer to a plan over "
                                     "the scene's skills and names (response_format "
                                     "json_schema; llama.cpp, vLLM and Ollama servers "
                                     "accept it)")
    #: tokens
    vlm_max_tokens: int = opt(1024, range=(1, 1_000_000), metavar="N", feeds="max_tokens",
                              help="longest answer, tokens (default 1024)")
    allow_remote: bool = opt(False, feeds="base_url",
                             help="allow a --vlm-base-url that is not on this machine (scene "
                                  "images, the goal and the API key go there)")

    def method_options(self, methods) -> dict:
        """The VLM methods' options from these flags ({} when ``methods`` has no VLM
        method); :class:`UsageError` for what the VLM methods cannot run with."""
        if not any(m.startswith("vlm") for m in methods):
            return {}
        if not self.vlm_model:
            raise UsageError("the VLM methods need --vlm-model")
        if self.cache_only and not self.vlm_cache:
            raise UsageError("--cache-only needs --vlm-cache DIR")
        url = self.vlm_base_url
        if not url and not self.cache_only:
            raise UsageError("the VLM methods need --vlm-base-url (an OpenAI-compatible "
                             "endpoint, e.g. http://localhost:8000/v1) or --cache-only")
        if url and not url.startswith(("http://", "https://")):
            raise UsageError(f"--vlm-base-url must start with http:// or https://, got "
                             f"'{url}'")
        if url:
            from urllib.parse import urlsplit

            from robots.ros.transport import is_loopback_host

            host = urlsplit(url).hostname or ""
            if not is_loopback_host(host) and not self.allow_remote:
                raise UsageError(f"--vlm-base-url {url} is not on this machine; pass "
                                 "--allow-remote to send scenes (and the API key) to it")
        if self.vlm_cache:
            writable_dir("--vlm-cache", self.vlm_cache)
        return {"base_url": url, "model": self.vlm_model, "api_key_env": self.vlm_api_key_env,
                "cache_dir": self.vlm_cache, "cache_only": bool(self.cache_only),
                "timeout_s": float(self.vlm_timeout), "json_schema": bool(self.vlm_json_schema),
                "max_tokens": int(self.vlm_max_tokens)}

    def flags(self, methods) -> str:
        """These flags as the command was run (never the key itself), for a report."""
        if not any(m.startswith("vlm") for m in methods):
            return ""
        flags = f" --vlm-model {self.vlm_model}"
        if self.vlm_base_url:
            flags += f" --vlm-base-url {self.vlm_base_url}"
        if self.vlm_cache:
            flags += f" --vlm-cache {self.vlm_cache}"
        if self.vlm_timeout != 60.0:
            flags += f" --vlm-timeout {self.vlm_timeout:g}"
        if self.vlm_json_schema:
            flags += " --vlm-json-schema"
        if self.allow_remote:
            flags += " --allow-remote"
        if self.vlm_max_tokens != 1024:
            flags += f" --vlm-max-tokens {self.vlm_max_tokens}"
        return flags + (" --cache-only" if self.cache_only else "")


def refuse_unusable(options, methods) -> None:
    """A :class:`UsageError` for the first flag of ``options`` that was given and feeds a
    method option (its ``feeds``) that none of ``methods`` declares: it would be dropped
    without a word otherwise."""
    from policies import policy_names
    from experiments.episode import unusable_options

    for flag, name in fed(options).items():
        if not all(unusable_options(m, [name]) for m in methods):
            continue
        if len(methods) == 1:
            raise UsageError(f"{flag}: method '{methods[0]}' cannot use it (it would be "
                             "ignored); leave it out")
        users = [m for m in policy_names() if not unusable_options(m, [name])]
        what = next(o.spec.what for o in flat(type(options)) if o.flag == flag)
        raise UsageError(f"{flag}: none of the methods {', '.join(methods)} uses {what} "
                         f"(it would be ignored; methods that do: {', '.join(users)})")


@dataclass(frozen=True)
class DeviceOptions:
    """Where batched torch work runs (``run``, ``bench episodes``, ``deploy``): the
    planner's collision checks, its antipodal grasp search and the concept model of
    learned perception, all on the planner's collision device
    (:attr:`tamp.planner.PlannerConfig.device`); the rule is in :meth:`planner_settings`.
    Both feed the planner's configuration."""

    SECTION: ClassVar[str] = (
        "Device (the planner's collision checks: the compiled CPU kernel, or the same "
        "test in torch on a device, both giving the same plans; the antipodal grasp search "
        "and learned perception's concept model run on the same device)")

    device: str = opt("cpu", metavar="NAME", feeds="config", what="a device",
                      help="torch device for batched work: cpu, cuda, cuda:N, or auto (CUDA "
                           "when there is one, else the CPU); default cpu. A device other "
                           "than the CPU runs the collision checks in torch there, and the "
                           "antipodal grasp search and the concept model (learned "
                           "perception) run there too")
    collision_backend: str | None = opt(
        None, choices=("kernel", "torch"), feeds="config", what="a collision backend",
        help="'kernel' (the compiled CPU kernel) or 'torch' (the same test in torch, float64, "
             "on --device); default kernel on the CPU, torch on CUDA. The kernel runs on the "
             "CPU only")

    def collision(self) -> tuple[str, str]:
        """The (device, backend) these flags choose; a :class:`UsageError` for a device
        this machine lacks or the kernel on CUDA."""
        from experiments.options import torch_device

        device = str(torch_device(self.device))
        backend = self.collision_backend or ("kernel" if device == "cpu" else "torch")
        if backend == "kernel" and device != "cpu":
            raise UsageError(f"--collision-backend kernel runs on the CPU only, not on "
                             f"--device {self.device}; use --collision-backend torch")
        return device, backend

    def planner_settings(self, planner: dict) -> dict:
        """``planner`` (the ``--planner-config`` settings) with the collision section's
        ``device`` and ``backend`` from these flags, when any was given (over the file's);
        a value equal to the default (cpu, kernel) is left out, so that the settings of a
        default run, which results record, stay what they were."""
        if self.device == "cpu" and self.collision_backend is None:
            return planner
        from tamp.geometry.collision import CollisionConfig

        device, backend = self.collision()
        section = dict(planner.get("collision", {}))
        default = CollisionConfig()
        for key, value in (("device", device), ("backend", backend)):
            section.pop(key, None)
            if value != getattr(default, key):
                section[key] = value
        out = {k: v for k, v in planner.items() if k != "collision"}
        return {**out, "collision": section} if section else out
