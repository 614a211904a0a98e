"""``tamp bench robot-time``: the robot's simulated time per task with the "flow" timing,
beside the original "stop" timing on the same seeds, in one run.

Each timing's episodes are a ``tamp bench episodes`` run of their own
(``OUT/<timing>/episodes/...``, resumable: an episode whose result exists with the same
settings is not run again), made with the planner setting ``timing`` (see
:class:`tamp.planner.PlannerConfig`). The robot's time of an episode is the simulated
time from its first motion to its last (``result.json``: ``robot_time``; the wait for the
world to settle before it is judged is not the robot's and is left out); it is split into
moving, looking (moves made only for the camera), waiting for the arm to arrive and
driving the gripper. Its lower bound adds, for every motion from rest to rest, the least
time any path between its ends could take within the same limits, each joint on its own
(:func:`tamp.geometry.timing.rest_to_rest_time`): no timing of any path does better.

Times are compared on the seeds that succeed with both timings (a failed episode stops
early); success is counted on all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from robots import DEFAULT_ROBOT

#: the timings compared, the baseline first
TIMINGS = ("stop", "flow")


@dataclass(frozen=True)
class RobotTimeConfig:
    tasks: tuple[str, ...]
    episodes: int
    seed_start: int = 1000
    workers: int = 1
    methods: tuple[str, ...] = ("tamp",)
    camera: str | None = None
    robot: str = DEFAULT_ROBOT
    time_budget: float = 60.0

    def episodes_config(self, timing: str):
        from experiments.bench_episodes import EpisodesConfig

        return EpisodesConfig(self.tasks, self.methods, self.episodes, self.seed_start,
                              self.workers, self.time_budget,
                              {"planner": {"timing": timing}}, camera=self.camera,
                              robot=self.robot)


def run(config: RobotTimeConfig, out: Path, progress=None,
        run_missing: bool = True) -> dict[str, list[dict]]:
    """timing -> every result on disk for it (the missing ones run first)."""
    from experiments import bench_episodes as be

    results = {}
    for timing in TIMINGS:
        cfg = config.episodes_config(timing)
        results[timing] = be.run(cfg, Path(out) / timing, progress) if run_missing \
            else be.load(cfg, Path(out) / timing)
    return results


def _median(values) -> float:
    return float(np.median(values)) if len(values) else math.nan


def _p95(values) -> float:
    return float(np.percentile(values, 95)) if len(values) else math.nan


def rows(results: dict[str, list[dict]]) -> list[dict]:
    """One row per method and task: success per timing, and over the seeds that both
    timings got right, the robot's time (median, p95), its parts and the bound."""
    by = {t: {(r["method"], r["task"], r["seed"]): r for r in rs} for t, rs in results.items()}
    keys = sorted({(m, t) for rs in by.values() for m, t, _ in rs})
    table = []
    for method, task in keys:
        row: dict = {"method": method, "task": task}
        runs = {t: [r for (m, k, _), r in by[t].items() if (m, k) == (method, task)]
                for t in TIMINGS}
        for t in TIMINGS:
            row[f"n_{t}"] = len(runs[t])
            row[f"ok_{t}"] = sum(bool(r["success"]) for r in runs[t])
        seeds = sorted({s for (m, k, s), r in by[TIMINGS[0]].items()
                        if (m, k) == (method, task) and r["success"]
                        and (by[TIMINGS[1]].get((m, k, s)) or {}).get("success")
                        and "robot_time" in r and "robot_time" in by[TIMINGS[1]][(m, k, s)]})
        row["paired"] = len(seeds)
        for t in TIMINGS:
            rt = [by[t][(method, task, s)]["robot_time"] for s in seeds]
            total = [x["total_s"] for x in rt]
            row[f"median_{t}"] = _median(total)
            row[f"p95_{t}"] = _p95(total)
            row[f"moving_{t}"] = _median([(x["move_s"] + x["look_s"]) / x["total_s"]
                                          for x in rt if x["total_s"] > 0])
            row[f"look_{t}"] = _median([x["look_s"] for x in rt])
            extra = [by[t][(method, task, s)].get("look_extra_s") for s in seeds]
            row[f"look_extra_{t}"] = _median([x for x in extra if x is not None])
            row[f"bound_ratio_{t}"] = _median([(x["move_s"] + x["look_s"]) / x["lower_bound_s"]
                                               for x in rt if x["lower_bound_s"] > 0])
            timed = [x.get("moves_timed", {}) for x in rt]
            moves = sum(sum(d.values()) for d in timed)
            row[f"toppra_{t}"] = sum(d.get("toppra", 0) for d in timed) / moves if moves \
                else math.nan
        a, b = row[f"median_{TIMINGS[0]}"], row[f"median_{TIMINGS[1]}"]
        row["change"] = (b / a - 1.0) if a and a == a and b == b else math.nan
        table.append(row)
    return table


def _s(x: float) -> str:
    return "–" if x != x else f"{x:.2f}"


def _pct(x: float) -> str:
    return "–" if x != x else f"{100 * x:+.0f} %"


def _share(x: float) -> str:
    return "–" if x != x else f"{100 * x:.0f} %"


def report(table: list[dict], command: str, plot: str | None = None,
           title: str = "Robot time") -> str:
    """Markdown: the table per method and task, with the command that made it."""
    lines = [f"## {title}", "", "```", command, "```", "",
             "Simulated robot time per episode (first motion to last, s), the original "
             "`stop` timing beside `flow` on the same seeds; times over the seeds both "
             "got right (\"paired\"). Moving share: time following trajectories (looks "
             "included) over the robot's time. Bound ratio: moving time over the lower "
             "bound (each motion from rest to rest timed at the limits as if nothing were "
             "in the way); each timing's own plans. Medians over episodes. TOPP-RA: the "
             "share of moves timed along a spline (the rest stop at every waypoint). Look s: "
             "time in the moves made only to let the camera see; look extra: what looking "
             "added to the planned motion (those moves, and the next step's first move "
             "from the viewing pose less the one it replaced).", "",
             "| method | task | success stop | success flow | paired | median stop → flow "
             "(change) | p95 stop → flow | moving share stop / flow | look s stop → flow | "
             "look extra s stop → flow | "
             "bound ratio stop / flow | TOPP-RA stop / flow |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in table:
        lines.append(
            f"| {r['method']} | {r['task']} | {r['ok_stop']}/{r['n_stop']} | "
            f"{r['ok_flow']}/{r['n_flow']} | {r['paired']} | {_s(r['median_stop'])} → "
            f"{_s(r['median_flow'])} ({_pct(r['change'])}) | {_s(r['p95_stop'])} → "
            f"{_s(r['p95_flow'])} | {_share(r['moving_stop'])} / "
            f"{_share(r['moving_flow'])} | {_s(r['look_stop'])} → {_s(r['look_flow'])} | "
            f"{_s(r['look_extra_stop'])} → {_s(r['look_extra_flow'])} | "
            f"{_s(r['bound_ratio_stop'])} / {_s(r['bound_ratio_flow'])} | "
            f"{_share(r['toppra_stop'])} / {_share(r['toppra_flow'])} |")
    if plot:
        lines += ["", f"![robot time per task]({plot})"]
    return "\n".join(lines) + "\n"


def write_plot(results: dict[str, list[dict]], path: Path) -> bool:
    """Box plots of the robot's time per task, the two timings side by side."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    tasks = sorted({r["task"] for rs in results.values() for r in rs})
    if not tasks:
        return False
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(tasks)), 4.0))
    for k, timing in enumerate(TIMINGS):
        data = [[r["robot_time"]["total_s"] for r in results[timing]
                 if r["task"] == t and r["success"] and "robot_time" in r] or [math.nan]
                for t in tasks]
        pos = np.arange(len(tasks)) * 3.0 + k
        box = ax.boxplot(data, positions=pos, widths=0.8, patch_artist=True,
                         showfliers=False)
        for patch in box["boxes"]:
            patch.set_facecolor(("#bbbbbb", "#4c8bd6")[k])
    ax.set_xticks(np.arange(len(tasks)) * 3.0 + 0.5, tasks, rotation=30, ha="right")
    ax.set_ylabel("robot time per episode (s)")
    ax.legend([plt.Rectangle((0, 0), 1, 1, fc=c) for c in ("#bbbbbb", "#4c8bd6")],
              [f"{t} timing" for t in TIMINGS])
    fig.tight_layout()
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
    return True
