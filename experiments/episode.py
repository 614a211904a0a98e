"""Run one episode of a task with a method and write ``result.json`` (and a GIF)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from experiments.files import write_gif_atomic, write_json_atomic
from policies import Monitor, make_policy
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
    from tamp.planner import PlannerConfig

    monitor = monitor or Monitor()
    env = TabletopEnv(spec.task, gui=gui)
    try:
        monitor.stage(f"building {spec.task} (seed {spec.seed})")
        env.reset(seed=spec.seed)
        every = max(1, round(1.0 / (GIF_FPS * env.control_dt))) if gif else None
        recorder = _Recorder(monitor, every)
        if gif:
            recorder.frames.append(env.capture().rgb)
        kwargs = {}
        if spec.method == "tamp":
            kwargs = {"config": PlannerConfig(time_budget=spec.time_budget, seed=spec.seed),
                      "perception": spec.perception, "goal": spec.goal,
                      "concepts": spec.concepts}
        policy = make_policy(spec.method, **kwargs)
        t0 = time.perf_counter()
        outcome = policy.run(env, recorder)
        result = {
            "task": spec.task,
            "seed": spec.seed,
            "method": spec.method,
            "perception": spec.perception,
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
