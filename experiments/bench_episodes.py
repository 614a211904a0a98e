"""``tamp bench episodes``: many seeded episodes per task and method, resumable.

Each episode writes ``OUT/episodes/TASK/METHOD/seed_S/result.json`` (atomically); a rerun
skips every episode whose result exists. ``OUT/results.csv`` and ``OUT/report.md`` are
rebuilt from all results on disk at the end.
"""

from __future__ import annotations

import csv
import json
import math
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FIELDS = ("task", "method", "seed", "success", "planning_time_s", "execution_time_s",
          "plan_length", "replans", "failure_reason")


@dataclass(frozen=True)
class EpisodesConfig:
    tasks: tuple[str, ...]
    methods: tuple[str, ...]
    episodes: int
    seed_start: int = 1000  #: evaluation seeds start here, away from development seeds
    workers: int = 1
    time_budget: float = 60.0


def episode_dir(out: Path, task: str, method: str, seed: int) -> Path:
    return out / "episodes" / task / method / f"seed_{seed}"


def _run_one(task: str, method: str, seed: int, out: str, time_budget: float) -> dict:
    from experiments.episode import EpisodeSpec, run_episode

    try:
        return run_episode(EpisodeSpec(task, seed, method, time_budget=time_budget),
                           out=episode_dir(Path(out), task, method, seed))
    except Exception as err:  # a crash is a counted failure, never the end of the run
        from experiments.files import write_json_atomic

        result = {"task": task, "seed": seed, "method": method, "success": False,
                  "plan": [], "planning_time_s": 0.0, "execution_time_s": 0.0,
                  "failure_reason": f"crashed: {type(err).__name__}: {err}"}
        write_json_atomic(episode_dir(Path(out), task, method, seed) / "result.json", result)
        return result


def run(config: EpisodesConfig, out: Path, progress=None) -> list[dict]:
    """Run what is missing, then return every result on disk for the configuration."""
    todo = [(t, m, s) for t in config.tasks for m in config.methods
            for s in range(config.seed_start, config.seed_start + config.episodes)
            if not (episode_dir(out, t, m, s) / "result.json").exists()]
    if progress is not None:
        progress.reset(total=len(todo))
    if config.workers <= 1:
        for t, m, s in todo:
            _run_one(t, m, s, str(out), config.time_budget)
            if progress is not None:
                progress.update(1)
    else:
        with ProcessPoolExecutor(config.workers) as pool:
            futures = [pool.submit(_run_one, t, m, s, str(out), config.time_budget)
                       for t, m, s in todo]
            for f in as_completed(futures):
                f.result()
                if progress is not None:
                    progress.update(1)
    results = []
    for t in config.tasks:
        for m in config.methods:
            for s in range(config.seed_start, config.seed_start + config.episodes):
                path = episode_dir(out, t, m, s) / "result.json"
                if path.exists():
                    results.append(json.loads(path.read_text()))
    return results


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a success rate."""
    if n == 0:
        return 0.0, 0.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def rows(results: list[dict]) -> list[dict]:
    return [{"task": r["task"], "method": r["method"], "seed": r["seed"],
             "success": bool(r["success"]), "planning_time_s": r.get("planning_time_s", 0.0),
             "execution_time_s": r.get("execution_time_s", 0.0),
             "plan_length": len(r.get("plan", [])), "replans": r.get("replans", 0),
             "failure_reason": r.get("failure_reason") or ""} for r in results]


def write_csv(path: Path, table: list[dict]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(table)
    tmp.replace(path)


def report(table: list[dict], command: str) -> str:
    lines = ["## Episodes", "", f"Command: `{command}`", "",
             "| task | method | success (95 % CI) | n | planning time median / p95 (s) "
             "| plan length (median) | replans (mean) |",
             "|---|---|---|---:|---|---:|---:|"]
    failures: dict[tuple[str, str], list[str]] = {}
    keys = sorted({(r["task"], r["method"]) for r in table})
    for task, method in keys:
        sel = [r for r in table if r["task"] == task and r["method"] == method]
        ok = sum(r["success"] for r in sel)
        lo, hi = wilson(ok, len(sel))
        pt = np.array([r["planning_time_s"] for r in sel])
        lines.append(f"| {task} | {method} | {100 * ok / len(sel):.0f} % "
                     f"({100 * lo:.0f}-{100 * hi:.0f}) | {len(sel)} | "
                     f"{np.median(pt):.2f} / {np.percentile(pt, 95):.2f} | "
                     f"{np.median([r['plan_length'] for r in sel]):.0f} | "
                     f"{np.mean([r['replans'] for r in sel]):.2f} |")
        failures[(task, method)] = [f"seed {r['seed']}: {r['failure_reason'][:160]}"
                                    for r in sel if not r["success"]]
    if any(failures.values()):
        lines += ["", "Failures:", ""]
        for (task, method), items in failures.items():
            lines += [f"- {task} / {method}: {item}" for item in items]
    return "\n".join(lines) + "\n"
