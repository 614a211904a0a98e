"""``tamp bench twin``: episodes run as a robot cell would run them — ``tamp twin`` serving
the scene over ROS 1 and Modbus, ``tamp deploy --goal <the task's words> --execute`` in
another process — judged on the twin's ground truth, beside ``tamp bench episodes``
results of the same tasks, seeds and camera.

Each episode gets a fresh ``roscore`` on a free loopback port, so that nothing carries
over from one to the next. Results go to ``OUT/TASK/SEED/result.json`` (atomically); a
rerun skips the episodes already there with the same camera and time scale.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import xmlrpc.client
from dataclasses import dataclass
from pathlib import Path

from tamp.files import write_json_atomic

REPO = Path(__file__).resolve().parents[1]
CONTROLLER = "/position_joint_trajectory_controller"


@dataclass(frozen=True)
class TwinBenchConfig:
    tasks: tuple[str, ...]
    episodes: int = 5
    seed_start: int = 1000
    camera: str = "d435"
    time_scale: float = 1.0  #: the twin's simulated seconds per wall-clock second, at most
    timeout: float = 900.0  #: s of wall clock per episode

    def seeds(self) -> range:
        return range(self.seed_start, self.seed_start + self.episodes)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen, timeout: float = 30.0) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
    except ProcessLookupError:
        pass


def _wait(predicate, timeout: float, what: str, proc: subprocess.Popen) -> None:
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        if proc.poll() is not None:
            raise RuntimeError(f"{what}: exited with {proc.returncode}")
        try:
            if predicate():
                return
        except (OSError, xmlrpc.client.Error):
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{what}: not ready within {timeout:.0f} s")


def run_one(config: TwinBenchConfig, task: str, seed: int, where: Path) -> dict:
    """One episode: roscore, twin, deploy; the result record (also written)."""
    from robots.ros.rospath import ros_subprocess_env

    where.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    uri = f"http://127.0.0.1:{port}"
    logs = Path(tempfile.mkdtemp(prefix="tamp-twin-bench-"))
    env = ros_subprocess_env(os.environ, uri, log_dir=logs)
    procs = []
    result = {"task": task, "seed": seed, "camera": config.camera,
              "time_scale": config.time_scale, "success": False}
    t0 = time.monotonic()
    try:
        core = subprocess.Popen(["roscore", "-p", str(port)], env=env, cwd=logs,
                                stdout=open(logs / "roscore.log", "w"),
                                stderr=subprocess.STDOUT, start_new_session=True)
        procs.append(core)
        master = xmlrpc.client.ServerProxy(uri)
        _wait(lambda: master.getUri("/bench")[0] == 1, 60, "roscore", core)
        twin_dir = where / "twin"
        twin = subprocess.Popen(
            [sys.executable, "-m", "experiments.cli", "twin", "--task", task, "--seed",
             str(seed), "--ros1", "--master", uri, "--out", str(twin_dir), "--camera",
             config.camera, "--time-scale", str(config.time_scale)],
            cwd=REPO, env=env, stdout=open(where / "twin.log", "w"),
            stderr=subprocess.STDOUT, start_new_session=True)
        procs.append(twin)
        _wait(lambda: master.getParam("/bench", f"{CONTROLLER}/sim/ready")[0] == 1, 180,
              "twin", twin)
        goal = json.loads((twin_dir / "result.json").read_text())["goal"]
        report = where / "deploy.json"
        report.unlink(missing_ok=True)
        with open(where / "deploy.log", "w") as log:
            deploy = subprocess.run(
                [sys.executable, "-m", "experiments.cli", "deploy", "--ros1", "--master",
                 uri, "--goal", goal, "--workcell", str(twin_dir / "workcell.yaml"),
                 "--execute", "--timeout", "10", "--report", str(report)],
                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                timeout=config.timeout)
        _stop(twin)
        truth = json.loads((twin_dir / "result.json").read_text())
        summary = json.loads(report.read_text()) if report.exists() else {}
        result.update(
            goal=goal, success=bool(truth["success"]),
            deploy_exit=deploy.returncode, deploy_success=bool(summary.get("success")),
            failure_reason=None if truth["success"] else (
                summary.get("reason") or _last_line(where / "deploy.log")
                or "goal not reached in ground truth"),
            robot_time_s=truth["robot_time_s"], motions=truth["motions"],
            goals=truth["goals"], looks=summary.get("looks"), replans=summary.get("replans"),
            perception_s=summary.get("perception_s", []),
            planning_s=summary.get("planning_s"),
            motion_latency_s=summary.get("motion_latency_s", []),
            commanded_robot_time_s=summary.get("robot_time_s"))
    except (subprocess.TimeoutExpired, RuntimeError, TimeoutError, OSError, ValueError) as err:
        result["failure_reason"] = f"harness: {type(err).__name__}: {err}"
    finally:
        for proc in reversed(procs):
            _stop(proc)
    result["wall_s"] = round(time.monotonic() - t0, 2)
    write_json_atomic(where / "result.json", result)
    return result


def _last_line(path: Path) -> str:
    lines = [l for l in path.read_text().splitlines() if l.startswith("[deploy]")] \
        if path.exists() else []
    return lines[-1][len("[deploy] "):] if lines else ""


def _done(path: Path, config: TwinBenchConfig) -> dict | None:
    try:
        r = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if r.get("camera") != config.camera or r.get("time_scale") != config.time_scale or \
            str(r.get("failure_reason", "")).startswith("harness:"):
        return None
    return r


def run(config: TwinBenchConfig, out: Path, log=print, run_missing: bool = True
        ) -> list[dict]:
    """Every episode's result, running those not yet in ``out`` (unless
    ``run_missing`` is False: then the report covers what is there)."""
    results = []
    todo = [(t, s) for t in config.tasks for s in config.seeds()]
    for k, (task, seed) in enumerate(todo):
        where = out / task / str(seed)
        r = _done(where / "result.json", config)
        if r is None:
            if not run_missing:
                continue
            r = run_one(config, task, seed, where)
            log(f"[bench] {k + 1}/{len(todo)} {task} seed {seed}: "
                f"{'success' if r['success'] else 'FAILED: ' + str(r.get('failure_reason'))}"
                f" ({r['wall_s']:.0f} s)")
        results.append(r)
    return results


def _median(values) -> str:
    values = [v for v in values if v is not None]
    return f"{statistics.median(values):.2f}" if values else "-"


def _p95(values) -> str:
    values = sorted(v for v in values if v is not None)
    if not values:
        return "-"
    return f"{values[min(len(values) - 1, int(round(0.95 * (len(values) - 1))))]:.2f}"


def report(results: list[dict], command: str, episodes: dict | None = None) -> str:
    """Markdown: per task, the twin's success beside ``tamp bench episodes`` results of
    the same seeds (``episodes``: method -> task -> list of results), robot time and
    latencies."""
    from experiments.bench_episodes import wilson

    methods = sorted(episodes or {})
    lines = [f"Command: `{command}`", ""]
    counts = {t: sum(r["task"] == t for r in results) for t in
              dict.fromkeys(r["task"] for r in results)}
    if len(set(counts.values())) > 1:
        lines += ["Episodes per task differ (a run in progress): "
                  + ", ".join(f"{t} {n}" for t, n in counts.items()) + ".", ""]
    head = "| task | twin + deploy (ROS, Modbus) | " + "".join(
        f"`tamp run` {m} | " for m in methods) + \
        "robot time median / p95 (s) | perception per look median / p95 (s) | " \
        "planning median (s) | latency per motion median (s) |"
    lines += [head, "|" + "---|" * (head.count("|") - 1)]
    tasks = list(dict.fromkeys(r["task"] for r in results))
    for task in tasks:
        rs = [r for r in results if r["task"] == task]
        ok = sum(r["success"] for r in rs)
        lo, hi = wilson(ok, len(rs))
        cells = [f"{ok}/{len(rs)} ({100 * ok / len(rs):.0f} %, {100 * lo:.0f}-{100 * hi:.0f})"]
        seeds = {r["seed"] for r in rs}
        for m in methods:
            same = [e for e in (episodes or {}).get(m, {}).get(task, []) if e["seed"] in seeds]
            good = sum(e["success"] for e in same)
            cells.append(f"{good}/{len(same)}" if same else "-")
        perception = [v for r in rs for v in r.get("perception_s", [])]
        latency = [v for r in rs for v in r.get("motion_latency_s", [])]
        robot = [r.get("robot_time_s") for r in rs if r["success"]]
        cells += [f"{_median(robot)} / {_p95(robot)}",
                  f"{_median(perception)} / {_p95(perception)}",
                  _median([r.get("planning_s") for r in rs]), _median(latency)]
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    failed = [r for r in results if not r["success"]]
    if failed:
        lines += ["", "Failures:", ""]
        lines += [f"- {r['task']} seed {r['seed']}: {r.get('failure_reason')}" for r in failed]
    lines += ["", "Robot time: simulated seconds from the first goal the twin accepted to "
              "the end of the last motion (the deploy's motions re-timed to its default "
              "speed scale, gripper, and the time the robot waits while the deploying "
              "process looks and plans). "
              "Perception: each look of the deploying process (a burst of frames from the "
              "ROS topics, filtered, segmented without masks, concepts). Latency: per "
              "motion, the time from sending a goal to the controller's result beyond the "
              "trajectory's duration (messaging, the twin's settling within the goal "
              "tolerance, any slowdown of the physics)."]
    return "\n".join(lines) + "\n"
