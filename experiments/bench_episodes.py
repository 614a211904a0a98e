"""``tamp bench episodes``: many seeded episodes per task and method, resumable.

Each episode writes ``OUT/episodes/TASK/METHOD/seed_S/result.json`` (atomically); a rerun
skips every episode whose result exists (and whose GIF exists, where one was asked for)
and was made with the camera asked for now (``camera``; a result that names none was
made with ``ideal``); one made with another camera is run again and replaced.
``OUT/results.csv``, ``OUT/report.md`` and the plots ``OUT/success.png`` and
``OUT/planning_time.png`` are rebuilt from all results on disk at the end.

Episodes run in this process (``workers=1``), in a pool of processes, or as tasks of a Ray
cluster (``backend="ray"``: a local Ray, or the cluster at ``ray_address``); with Ray the
result and the GIF come back to this process, which writes them, so that the workers need
no shared file system. An episode that raises is a counted failure with the reason; the
benchmark goes on.
"""

from __future__ import annotations

import csv
import json
import math
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from robots import DEFAULT_ROBOT

FIELDS = ("task", "method", "camera", "seed", "success", "planning_time_s", "planning_cpu_s",
          "execution_time_s",
          "plan_length", "replans", "measured", "failure_reason")
BACKENDS = ("process", "ray")


@dataclass(frozen=True)
class EpisodesConfig:
    tasks: tuple[str, ...]
    methods: tuple[str, ...]
    episodes: int
    seed_start: int = 1000  #: evaluation seeds start here, away from development seeds
    workers: int = 1
    time_budget: float = 60.0
    options: dict[str, Any] = field(default_factory=dict)  #: method options (VLM endpoint)
    backend: str = "process"
    ray_address: str | None = None  #: None: a local Ray with ``workers`` CPUs
    gif_seeds: tuple[int, ...] = ()  #: write episode.gif for these seeds
    #: the scene camera's sensor model for every episode; None: each method's default
    #: (see :func:`experiments.episode.resolve_camera`)
    camera: str | None = None
    robot: str = DEFAULT_ROBOT  #: the robot of every episode

    def seeds(self) -> range:
        return range(self.seed_start, self.seed_start + self.episodes)

    def settings(self) -> dict[str, Any]:
        """What shapes an episode's result besides its task, method, seed and camera, as
        results record it (see :func:`experiments.episode.settings_of`)."""
        from experiments.episode import settings_of

        return settings_of(self.time_budget, self.options, self.robot)

    def camera_for(self, method: str) -> str:
        """The camera the episodes of ``method`` run with."""
        from experiments.episode import EpisodeSpec, resolve_camera

        return resolve_camera(EpisodeSpec("", 0, method, camera=self.camera))


def recorded_camera(result: dict) -> str:
    """The camera an episode's result was made with (results from before the camera was
    recorded were made with the ideal one)."""
    return result.get("camera") or "ideal"


def episode_dir(out: Path, task: str, method: str, seed: int) -> Path:
    return out / "episodes" / task / method / f"seed_{seed}"


def _crashed(task: str, method: str, seed: int, err: BaseException,
             camera: str | None = None, settings: dict | None = None) -> dict:
    return {"task": task, "seed": seed, "method": method,
            **({"camera": camera} if camera else {}), **(settings or {}),
            "success": False, "plan": [],
            "planning_time_s": 0.0, "execution_time_s": 0.0,
            "failure_reason": f"crashed: {type(err).__name__}: {err}"}


def _run_one(task: str, method: str, seed: int, out: str, time_budget: float,
             options: dict | None = None, gif: bool = False, camera: str | None = None,
             robot: str = DEFAULT_ROBOT) -> dict:
    """One episode, its result written under ``out`` (a crash is written as a failure)."""
    from experiments.episode import EpisodeSpec, resolve_camera, run_episode

    where = episode_dir(Path(out), task, method, seed)
    spec = EpisodeSpec(task, seed, method, time_budget=time_budget,
                       options=dict(options or {}), camera=camera, robot=robot)
    try:
        return run_episode(spec, out=where, gif=gif)
    except Exception as err:  # a crash is a counted failure, never the end of the run
        from experiments.files import write_json_atomic

        from experiments.episode import settings_of

        result = _crashed(task, method, seed, err, resolve_camera(spec),
                          settings_of(time_budget, dict(options or {}), robot))
        write_json_atomic(where / "result.json", result)
        return result


def _run_detached(task: str, method: str, seed: int, time_budget: float, options: dict,
                  gif: bool, camera: str | None = None, robot: str = DEFAULT_ROBOT
                  ) -> tuple[dict, bytes | None]:
    """One episode on a (possibly remote) worker: the result and the GIF's bytes."""
    with tempfile.TemporaryDirectory(prefix="tamp-episode-") as tmp:
        result = _run_one(task, method, seed, tmp, time_budget, options, gif, camera, robot)
        path = episode_dir(Path(tmp), task, method, seed) / "episode.gif"
        return result, (path.read_bytes() if path.exists() else None)


def _store(out: Path, result: dict, gif: bytes | None) -> None:
    from tamp.files import write_bytes_atomic, write_json_atomic

    where = episode_dir(out, result["task"], result["method"], result["seed"])
    if gif is not None:
        write_bytes_atomic(where / "episode.gif", gif)
    write_json_atomic(where / "result.json", result)


#: settings a result from before they were recorded was made with (any other missing one
#: counts as the same as asked)
_UNRECORDED = {"robot": DEFAULT_ROBOT}


def _result(path: Path, camera: str, settings: dict | None = None) -> dict | None:
    """The result at ``path`` if it exists and was made with ``camera`` and, when given,
    the same ``settings`` (a result from before settings were recorded counts as made
    with them)."""
    if not path.exists():
        return None
    try:
        result = json.loads(path.read_text())
        if not isinstance(result, dict):
            raise ValueError("not a JSON object")
    except (ValueError, UnicodeDecodeError) as err:
        # unreadable (a run killed mid-write on a file system without atomic rename, a
        # hand edit): set aside under a name that says so, and run the episode again
        aside = path.with_name(path.name + ".corrupt")
        path.replace(aside)
        print(f"[bench] {path} is not a readable result ({err}); moved to {aside.name} "
              "and the episode runs again", file=sys.stderr)
        return None
    if recorded_camera(result) != camera:
        return None
    if settings is not None and any(result.get(k, _UNRECORDED.get(k, v)) != v
                                    for k, v in settings.items()):
        return None
    return result


def pending(config: EpisodesConfig, out: Path) -> list[tuple[str, str, int, bool]]:
    """(task, method, seed, gif) of each episode still to run: no result, no GIF where
    one was asked for, or a result made with another camera or other settings (those
    run again, and are counted on stderr)."""
    todo, other = [], 0
    settings = config.settings()
    for t in config.tasks:
        for m in config.methods:
            camera = config.camera_for(m)
            for s in config.seeds():
                where = episode_dir(out, t, m, s)
                gif = s in config.gif_seeds
                path = where / "result.json"
                if _result(path, camera, settings) is None or \
                        (gif and not (where / "episode.gif").exists()):
                    todo.append((t, m, s, gif))
                    other += _result(path, camera) is not None and \
                        _result(path, camera, settings) is None
    if other:
        print(f"[bench] {other} result(s) in {out} were made with other settings than "
              f"{settings}; they run again", file=sys.stderr)
    return todo


def run(config: EpisodesConfig, out: Path, progress=None) -> list[dict]:
    """Run what is missing, then return every result on disk for the configuration."""
    out = Path(out)
    todo = pending(config, out)
    for t, m, s, gif in todo:
        if not gif:  # a GIF of a result about to be replaced (made with another camera)
            (episode_dir(out, t, m, s) / "episode.gif").unlink(missing_ok=True)
    if progress is not None:
        progress.reset(total=len(todo))

    def done(_=None) -> None:
        if progress is not None:
            progress.update(1)

    if config.backend == "ray":
        _run_ray(config, out, todo, done)
    elif config.workers <= 1:
        for t, m, s, gif in todo:
            _run_one(t, m, s, str(out), config.time_budget, config.options, gif,
                     config.camera, config.robot)
            done()
    else:
        with ProcessPoolExecutor(config.workers) as pool:
            futures = [pool.submit(_run_one, t, m, s, str(out), config.time_budget,
                                   config.options, gif, config.camera, config.robot)
                       for t, m, s, gif in todo]
            for f in as_completed(futures):
                f.result()
                done()
    return load(config, out)


def load(config: EpisodesConfig, out: Path) -> list[dict]:
    """Every result on disk for the configuration (made with the camera it asks for)."""
    results = []
    for t in config.tasks:
        for m in config.methods:
            camera = config.camera_for(m)
            for s in config.seeds():
                result = _result(episode_dir(out, t, m, s) / "result.json", camera,
                                 config.settings())
                if result is not None:
                    results.append(result)
    return results


def _run_ray(config: EpisodesConfig, out: Path, todo, done) -> None:
    import ray

    started = not ray.is_initialized()
    if started:
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if config.ray_address:
            kwargs["address"] = config.ray_address
        else:
            kwargs["num_cpus"] = config.workers
        ray.init(**kwargs)
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(_run_detached)
        refs = {remote.remote(t, m, s, config.time_budget, config.options, gif,
                              config.camera, config.robot): (t, m, s)
                for t, m, s, gif in todo}
        waiting = list(refs)
        while waiting:
            ready, waiting = ray.wait(waiting, num_returns=1)
            ref = ready[0]
            try:
                result, gif = ray.get(ref)
            except Exception as err:  # the worker died: a counted failure
                t, m, s = refs[ref]
                result, gif = _crashed(t, m, s, err, config.camera_for(m)), None
            _store(out, result, gif)
            done()
    finally:
        if started:
            ray.shutdown()


# -- tables, report and plots ------------------------------------------------------------
def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a success rate."""
    if n == 0:
        return 0.0, 0.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def rows(results: list[dict]) -> list[dict]:
    return [{"task": r["task"], "method": r["method"], "camera": recorded_camera(r),
             "seed": r["seed"],
             "success": bool(r["success"]), "planning_time_s": r.get("planning_time_s", 0.0),
             # CPU seconds of planning (the planners that record it): what a quiet machine
             # would show as planning time, where the wall clock counts the neighbours' load
             "planning_cpu_s": r.get("planning_cpu_s", ""),
             "execution_time_s": r.get("execution_time_s", 0.0),
             "plan_length": len(r.get("plan", [])), "replans": r.get("replans", 0),
             "measured": not r.get("not_measured"),
             "failure_reason": r.get("failure_reason") or ""} for r in results]


def write_csv(path: Path, table: list[dict]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(table)
    tmp.replace(path)


@dataclass(frozen=True)
class Cell:
    """One task x method: success with its 95 % interval, and whether it was measured."""

    n: int
    ok: int
    lo: float
    hi: float
    measured: bool  #: False: some episode got no answer from a real model (VLM)

    @property
    def rate(self) -> float:
        return self.ok / self.n if self.n else 0.0

    def text(self) -> str:
        if not self.n:
            return "—"
        value = f"{100 * self.rate:.0f} % ({100 * self.lo:.0f}–{100 * self.hi:.0f})"
        return value if self.measured else "not measured"


def cells(table: list[dict]) -> dict[tuple[str, str], Cell]:
    out = {}
    for key in sorted({(r["task"], r["method"]) for r in table}):
        sel = [r for r in table if (r["task"], r["method"]) == key]
        ok = sum(r["success"] for r in sel)
        out[key] = Cell(len(sel), ok, *wilson(ok, len(sel)), all(r["measured"] for r in sel))
    return out


def _order(table: list[dict], key: str, given: tuple[str, ...] | None) -> list[str]:
    seen = {r[key] for r in table}
    return [x for x in given if x in seen] if given else sorted(seen)


def cameras(table: list[dict], methods: list[str]) -> str:
    """The camera each method's episodes were made with, in words: one name when all
    share it, else per method (``tamp: ideal; tamp-learned: d435``)."""
    def of(sel):
        return ", ".join(sorted({r.get("camera") or "ideal" for r in sel}))

    if not table:
        return "—"
    per = {m: of([r for r in table if r["method"] == m]) for m in methods}
    per = {m: c for m, c in per.items() if c}
    if len(set(per.values())) <= 1:
        return f"`{of(table)}`"
    return "; ".join(f"{m}: `{c}`" for m, c in per.items())


def report(table: list[dict], command: str, tasks: tuple[str, ...] | None = None,
           methods: tuple[str, ...] | None = None, plots: tuple[str, ...] = (),
           title: str = "Episodes") -> str:
    tasks_, methods_ = _order(table, "task", tasks), _order(table, "method", methods)
    by = cells(table)
    lines = [f"## {title}", "", f"Command: `{command}`", "",
             f"Camera (sensor model, `tamp/perception/sensors.py`): {cameras(table, methods_)}.", "",
             "Success rate (95 % Wilson interval), tasks × methods:", "",
             "| task | " + " | ".join(methods_) + " |",
             "|---|" + "---|" * len(methods_)]
    for t in tasks_:
        lines.append(f"| {t} | " + " | ".join(
            by[(t, m)].text() if (t, m) in by else "—" for m in methods_) + " |")
    unmeasured = sorted({m for (t, m), c in by.items() if not c.measured})
    if unmeasured:
        lines += ["", f"*not measured*: {', '.join(unmeasured)} got no answer from a real "
                  "model in some episodes (the VLM test double, or an endpoint that did not "
                  "answer); their numbers below test the pipeline, not a model."]
    if plots:
        lines += [""] + [f"![{Path(p).stem}]({p})" for p in plots]
    lines += ["", "| task | method | success (95 % CI) | n | planning time median / p95 (s) "
              "| planning CPU median / p95 (s) | plan length (median) | replans (mean) |",
              "|---|---|---|---:|---|---|---:|---:|"]
    failures: dict[tuple[str, str], list[str]] = {}
    for task in tasks_:
        for method in methods_:
            sel = [r for r in table if r["task"] == task and r["method"] == method]
            if not sel:
                continue
            c = by[(task, method)]
            pt = np.array([r["planning_time_s"] for r in sel])
            cpu = np.array([r["planning_cpu_s"] for r in sel
                            if r.get("planning_cpu_s") not in (None, "")], float)
            cpu_text = f"{np.median(cpu):.2f} / {np.percentile(cpu, 95):.2f}" if len(cpu) \
                else "—"
            note = "" if c.measured else " (not measured)"
            lines.append(f"| {task} | {method} | {100 * c.rate:.0f} % "
                         f"({100 * c.lo:.0f}-{100 * c.hi:.0f}){note} | {c.n} | "
                         f"{np.median(pt):.2f} / {np.percentile(pt, 95):.2f} | {cpu_text} | "
                         f"{np.median([r['plan_length'] for r in sel]):.0f} | "
                         f"{np.mean([r['replans'] for r in sel]):.2f} |")
            failures[(task, method)] = [f"seed {r['seed']}: {r['failure_reason'][:160]}"
                                        for r in sel if not r["success"]]
    if any(failures.values()):
        lines += ["", "Failures:", ""]
        for (task, method), items in failures.items():
            lines += [f"- {task} / {method}: {item}" for item in items]
    return "\n".join(lines) + "\n"


def _save_figure(fig, path: Path) -> None:
    from tamp.files import atomic_path

    with atomic_path(path, suffix=path.suffix) as tmp:
        fig.savefig(tmp, dpi=120, metadata={"Software": None})  # no timestamps: reproducible


def write_plots(table: list[dict], out: Path, tasks: tuple[str, ...] | None = None,
                methods: tuple[str, ...] | None = None) -> list[str]:
    """``success.png`` (success with 95 % intervals) and ``planning_time.png`` (median and
    interquartile range), grouped by task with one bar per method; a method with a
    cell that was not measured is left out (and named in the title). Returns the file
    names written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks_, methods_ = _order(table, "task", tasks), _order(table, "method", methods)
    by = cells(table)
    if not tasks_ or not methods_:
        return []
    shown = [m for m in methods_ if all(by.get((t, m)) is None or by[(t, m)].measured
                                        for t in tasks_)]
    hidden = [m for m in methods_ if m not in shown]
    colours = {m: plt.get_cmap("tab10")(i % 10) for i, m in enumerate(methods_)}
    x = np.arange(len(tasks_))
    width = 0.8 / max(1, len(shown))
    names = []
    for kind in ("success", "planning_time"):
        fig, ax = plt.subplots(figsize=(min(16.0, max(6.0, 1.5 + 0.28 * len(tasks_)
                                                      * max(1, len(shown)))), 4.5))
        for j, m in enumerate(shown):
            xs, ys, err = [], [], [[], []]
            for i, t in enumerate(tasks_):
                c = by.get((t, m))
                if c is None:
                    continue
                if kind == "success":
                    ys.append(100 * c.rate)
                    # (rounding can put a bound a hair past the rate)
                    err[0].append(max(0.0, 100 * (c.rate - c.lo)))
                    err[1].append(max(0.0, 100 * (c.hi - c.rate)))
                else:
                    pt = [r["planning_time_s"] for r in table
                          if r["task"] == t and r["method"] == m]
                    q1, med, q3 = np.percentile(pt, [25, 50, 75])
                    ys.append(med)
                    err[0].append(med - q1)
                    err[1].append(q3 - med)
                xs.append(x[i] - 0.4 + width * (j + 0.5))
            ax.bar(xs, ys, width, yerr=err if xs else None, capsize=2, label=m,
                   color=colours[m], error_kw={"elinewidth": 0.8})
        if hidden:
            ax.set_title(f"not measured, left out: {', '.join(hidden)}", fontsize=8)
        ax.set_xticks(x, tasks_, rotation=20, ha="right")
        if kind == "success":
            ax.set_ylabel("success (%), 95 % Wilson interval")
            ax.set_ylim(0, 105)
        else:
            ax.set_ylabel("planning time (s), median and IQR")
        if shown:
            ax.legend(fontsize=8, ncol=min(len(shown), 6), loc="lower center",
                      bbox_to_anchor=(0.5, 1.0 if not hidden else 1.06), frameon=False)
        fig.tight_layout()
        _save_figure(fig, out / f"{kind}.png")
        plt.close(fig)
        names.append(f"{kind}.png")
    return names
