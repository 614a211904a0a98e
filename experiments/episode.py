"""Run one episode of a task with a method and write ``result.json`` (and a GIF).

The scene camera's sensor model (:mod:`tamp.perception.sensors`) is ``spec.camera``; unset, it is
``DEFAULT_LEARNED_CAMERA`` (a D435-class depth camera) for an episode that perceives
with the camera and ``ideal`` for one that reads the simulator (see
:func:`resolve_camera`). ``result.json`` records it as ``camera``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from experiments.files import write_gif_atomic, write_json_atomic
from robots import DEFAULT_ROBOT
from policies import EpisodeOutcome, Monitor, make_policy
from scenes.env import TabletopEnv

GIF_FPS = 10.0


@dataclass(frozen=True)
class EpisodeSpec:
    task: str
    seed: int
    method: str = "tamp"
    perception: str = "oracle"
    time_budget: float = 60.0  #: s of planning
    goal: str | None = None  #: the goal in words (default: the task's own description)
    concepts: str | None = None  #: concept checkpoint for learned perception
    #: method options (e.g. the VLM's base_url, model, cache_dir, cache_only): passed to
    #: every method whose ``Options`` declare them (see :func:`policy_kwargs`)
    options: dict[str, Any] = field(default_factory=dict)
    #: the scene camera's sensor model (a name in ``tamp.perception.sensors.SENSORS``); None: see
    #: :func:`resolve_camera`
    camera: str | None = None
    robot: str = DEFAULT_ROBOT  #: a robot of ``robots/`` (``robots.available()``)


def uses_learned_perception(method: str, perception: str = "oracle") -> bool:
    """Whether an episode of ``method`` with ``perception`` sees the scene through the
    camera: a perception mode other than ``oracle``, or a method whose class fixes one
    (``tamp-learned``, ``tamp-learned-geometric``)."""
    from policies.base import POLICIES

    if perception != "oracle":
        return True
    if method not in POLICIES:
        return False
    mode = getattr(POLICIES.get(method), "perception_mode", None)
    return mode is not None and mode != "oracle"


def resolve_camera(spec: EpisodeSpec) -> str:
    """The camera model an episode runs with: ``spec.camera``, or by default
    ``DEFAULT_LEARNED_CAMERA`` with learned perception and ``ideal`` otherwise."""
    from tamp.perception.sensors import DEFAULT_LEARNED_CAMERA

    if spec.camera is not None:
        return spec.camera
    return DEFAULT_LEARNED_CAMERA if uses_learned_perception(spec.method, spec.perception) \
        else "ideal"


def settings_of(time_budget: float, options: dict, robot: str = DEFAULT_ROBOT
                ) -> dict[str, Any]:
    """The settings besides task, method, seed and camera that shape an episode, as its
    result records them: a benchmark resumes only episodes made with the same ones."""
    import json

    return {"time_budget_s": float(time_budget),
            "options": json.loads(json.dumps(dict(options), sort_keys=True, default=str)),
            "robot": robot}


def collision_of(options: dict) -> dict[str, str]:
    """Where the planner's collision checks run, as a result records it (outside the
    settings, so that results made before it was recorded still resume): ``device`` and
    ``collision_backend`` of the planner's configuration in ``options``. ``device`` is
    also where the antipodal grasp search and learned perception's concept model ran
    (:attr:`tamp.planner.PlannerConfig.device`, the one the method was given)."""
    from tamp.planner import PlannerConfig, with_overrides

    config = with_overrides(PlannerConfig(), options.get("planner", {})).collision.resolved()
    return {"device": config.device, "collision_backend": config.backend}


def unusable_options(method: str, options: list[str]) -> list[str]:
    """Those of ``options`` (method options, e.g. ``goal``, ``perception``) that the class
    of ``method`` does not declare in its ``Options``: given on the command line they
    would be dropped without a word (an imitation policy has no use for a goal in words, a
    VLM none for a perception mode), so the command refuses them instead."""
    from policies.base import option_names, policy_class

    accepted = option_names(policy_class(method))
    return [o for o in options if o not in accepted]


def policy_kwargs(spec: EpisodeSpec, cls) -> dict[str, Any]:
    """The keyword arguments for the method's class ``cls``: of the planner config
    (budget, seed, ``--planner-config``), goal, perception, concepts and ``spec.options``,
    those that ``cls.Options`` declares, so that one set of options can serve several
    methods (a command has refused those that no method of its run declares)."""
    from policies.base import option_names
    from tamp.planner import PlannerConfig, with_overrides

    options = dict(spec.options)
    # the planner's settings from --planner-config (checked when the command read them)
    config = with_overrides(PlannerConfig(time_budget=spec.time_budget, seed=spec.seed),
                            options.pop("planner", {}))
    offered = {**options, "config": config, "perception": spec.perception,
               "goal": spec.goal, "concepts": spec.concepts}
    declared = option_names(cls)
    return {k: v for k, v in offered.items() if k in declared}


class _Recorder(Monitor):
    """Forwards progress to ``inner`` and keeps camera frames for the GIF."""

    def __init__(self, inner: Monitor, every: int | None):
        self.inner, self.every, self.frames, self.n = inner, every, [], 0

    def stage(self, message: str) -> None:
        self.inner.stage(message)

    def expect_steps(self, n: int) -> None:
        self.inner.expect_steps(n)

    def step(self, env: TabletopEnv) -> None:
        self.inner.step(env)
        if self.every and self.n % self.every == 0:
            self.frames.append(env.capture().rgb)
        self.n += 1


def run_episode(spec: EpisodeSpec, out: str | Path | None = None, gif: bool = False,
                gui: bool = False, monitor: Monitor | None = None) -> dict[str, Any]:
    """Reset the task's environment with ``spec.seed``, let the method solve it, and
    return (and write to ``out/result.json``) the result record."""
    from policies.base import policy_class

    monitor = monitor or Monitor()
    camera = resolve_camera(spec)
    env = TabletopEnv(spec.task, gui=gui, camera=camera, robot=spec.robot)
    try:
        monitor.stage(f"building {spec.task} (seed {spec.seed}, camera {camera}"
                      + (f", robot {spec.robot})" if spec.robot != DEFAULT_ROBOT else ")"))
        env.reset(seed=spec.seed)
        every = max(1, round(1.0 / (GIF_FPS * env.control_dt))) if gif else None
        recorder = _Recorder(monitor, every)
        if gif:
            recorder.frames.append(env.capture().rgb)
        try:
            cls = policy_class(spec.method)
            policy = make_policy(spec.method, **policy_kwargs(spec, cls))
        except (KeyError, ValueError, TypeError, OSError) as err:
            # e.g. a missing checkpoint or endpoint: this episode fails with the reason
            msg = err.args[0] if isinstance(err, KeyError) and err.args else err
            policy, outcome = None, EpisodeOutcome(
                False, failure_reason=f"method '{spec.method}' could not be set up: "
                                      f"{type(err).__name__}: {msg}")
        t0 = time.perf_counter()
        if policy is not None:
            outcome = policy.run(env, recorder)
        result = {
            "task": spec.task,
            "seed": spec.seed,
            "method": spec.method,
            "perception": spec.perception,
            "camera": camera,
            **settings_of(spec.time_budget, spec.options, spec.robot),
            **collision_of(spec.options),
            "goal": spec.goal or env.instance.description,
            "task_goal": env.instance.description,
            "goal_facts": [" ".join(f) for f in sorted(env.instance.goal)],
            "success": bool(outcome.success),
            "plan": outcome.plan,
            "planning_time_s": round(outcome.planning_time_s, 4),
            "execution_time_s": round(outcome.execution_time_s, 4),
            "episode_wall_time_s": round(time.perf_counter() - t0, 4),
            "failure_reason": outcome.failure_reason or None,
            **{k: v for k, v in outcome.extra.items()},
        }
        if out is not None:
            out = Path(out)
            if gif:
                monitor.stage(f"writing {out / 'episode.gif'} ({len(recorder.frames)} frames)")
                write_gif_atomic(out / "episode.gif", recorder.frames, GIF_FPS)
                result["gif"] = "episode.gif"
            write_json_atomic(out / "result.json", result)
        return result
    finally:
        env.close()
