"""``tamp bench episodes``: resumable episodes, the report with 95 % intervals side by side,
plots, GIFs, the Ray backend, method options, and failures that are counted, not fatal.
The VLM rows run against the TEST DOUBLE endpoint (tests/vlm_double.py) and must be
reported as "not measured"."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from experiments import bench_episodes as be
from experiments.cli import main
from vlm_double import VLMTestDouble


@pytest.fixture
def double():
    with VLMTestDouble() as d:
        yield d


def _row(task, method, seed, success, measured=True, pt=1.0, n_plan=2, cpu=""):
    return {"task": task, "method": method, "seed": seed, "success": success,
            "planning_time_s": pt, "planning_cpu_s": cpu, "execution_time_s": 2.0,
            "plan_length": n_plan,
            "replans": 0, "measured": measured, "failure_reason": "" if success else "nope"}


def _csv(path: Path) -> list[dict]:
    with path.open() as f:
        return list(csv.DictReader(f))


def test_wilson_interval_values():
    assert be.wilson(0, 0) == (0.0, 0.0)
    lo, hi = be.wilson(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-4)
    lo, hi = be.wilson(10, 10)
    assert lo == pytest.approx(0.7225, abs=1e-4) and hi == 1.0
    lo, hi = be.wilson(50, 100)
    assert lo == pytest.approx(0.4038, abs=1e-4) and hi == pytest.approx(0.5962, abs=1e-4)


def _table():
    table = [_row("lift", "tamp", s, s < 1009) for s in range(1000, 1010)]        # 9/10
    table += [_row("lift", "vlm", s, True, measured=False) for s in range(1000, 1010)]
    table += [_row("place-in-bowl", "tamp", s, True, cpu=1.5 if s == 1009 else 0.5)
              for s in range(1000, 1010)]                                        # 10/10
    table += [_row("place-in-bowl", "bc-1demo", s, s % 2 == 0, pt=0.1, n_plan=1)
              for s in range(1000, 1010)]                                        # 5/10
    return table


def test_report_puts_methods_side_by_side_with_intervals():
    text = be.report(_table(), "tamp bench episodes ...", ("place-in-bowl", "lift"),
                     ("tamp", "bc-1demo", "vlm"), ("success.png",))
    lines = text.splitlines()
    header = lines.index("| task | tamp | bc-1demo | vlm |")
    assert lines[header + 2] == "| place-in-bowl | 100 % (72–100) | 50 % (24–76) | — |"
    assert lines[header + 3] == "| lift | 90 % (60–98) | — | not measured |"
    assert "*not measured*: vlm got no answer from a real model" in text
    assert "![success](success.png)" in text
    assert "| lift | vlm | 100 % (72-100) (not measured) | 10 |" in text
    assert "| place-in-bowl | bc-1demo | 50 % (24-76) | 10 | 0.10 / 0.10 | — | 1 |" in text
    # CPU seconds where the planner records them: median and 95th percentile
    assert "| place-in-bowl | tamp | 100 % (72-100) | 10 | 1.00 / 1.00 | 0.50 / 1.05 | 2 |" \
        in text
    assert "- lift / tamp: seed 1009: nope" in text
    # the same results give the same report
    assert text == be.report(_table(), "tamp bench episodes ...", ("place-in-bowl", "lift"),
                             ("tamp", "bc-1demo", "vlm"), ("success.png",))


def test_plots_are_pngs_and_reproducible(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    assert be.write_plots(_table(), a) == ["success.png", "planning_time.png"]
    be.write_plots(_table(), b)
    for name in ("success.png", "planning_time.png"):
        data = (a / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
        assert data == (b / name).read_bytes()
    assert not list(a.glob(".*tmp*"))


def _bench(out, double, *extra, methods="vlm", tasks="lift,place-in-bowl", episodes="2"):
    # the VLM flags only with a VLM method: a flag no method of the run uses is refused
    vlm = ["--vlm-base-url", double.base_url, "--vlm-model", "double"] \
        if "vlm" in methods else []
    return main(["bench", "episodes", "--methods", methods, "--tasks", tasks,
                 "--episodes", episodes, "--out", str(out), *vlm, *extra])


def test_episodes_are_resumable_and_counted(tmp_path, double, capsys):
    double.mode = "empty"  # the model says there is nothing to do: fast, and a failure
    assert _bench(tmp_path, double) == 0
    assert len(double.requests) == 4  # 2 tasks x 2 seeds, one request each
    for task in ("lift", "place-in-bowl"):
        for seed in (1000, 1001):
            result = json.loads((be.episode_dir(tmp_path, task, "vlm", seed)
                                 / "result.json").read_text())
            assert result["success"] is False and result["vlm_model"] == "double"
            assert result["vlm_endpoint"] == double.base_url
            assert result["failure_reason"].startswith("goal not reached")
    rows = _csv(tmp_path / "results.csv")
    assert [(r["task"], r["seed"], r["success"], r["measured"]) for r in rows] == [
        ("lift", "1000", "False", "False"), ("lift", "1001", "False", "False"),
        ("place-in-bowl", "1000", "False", "False"), ("place-in-bowl", "1001", "False", "False")]
    report = (tmp_path / "report.md").read_text()
    assert "| lift | not measured |" in report and "| place-in-bowl | not measured |" in report
    assert f"--vlm-model double --vlm-base-url {double.base_url}" in report
    assert (tmp_path / "success.png").exists() and (tmp_path / "planning_time.png").exists()
    # a rerun skips what is done: no request, the same rows
    assert _bench(tmp_path, double) == 0
    assert len(double.requests) == 4
    assert _csv(tmp_path / "results.csv") == rows
    # one more seed runs only that one
    assert _bench(tmp_path, double, episodes="3") == 0
    assert len(double.requests) == 6
    # a truncated result is named, set aside and run again: it blocks nothing
    broken = be.episode_dir(tmp_path, "lift", "vlm", 1001) / "result.json"
    broken.write_text(broken.read_text()[:40])
    capsys.readouterr()
    assert _bench(tmp_path, double, episodes="3") == 0
    assert len(double.requests) == 7
    assert str(broken) in capsys.readouterr().err
    assert broken.with_name("result.json.corrupt").exists()
    assert json.loads(broken.read_text())["seed"] == 1001


def test_resume_reruns_an_episode_made_with_another_camera(tmp_path, double):
    double.mode = "empty"
    path = be.episode_dir(tmp_path, "lift", "vlm", 1000) / "result.json"

    def recorded():
        return json.loads(path.read_text())["camera"]

    assert _bench(tmp_path, double, tasks="lift", episodes="1") == 0
    assert len(double.requests) == 1 and recorded() == "ideal"  # vlm: ideal by default
    assert _bench(tmp_path, double, "--camera", "d435", tasks="lift", episodes="1") == 0
    assert len(double.requests) == 2 and recorded() == "d435"  # not reused: run again
    assert _bench(tmp_path, double, "--camera", "d435", tasks="lift", episodes="1") == 0
    assert len(double.requests) == 2  # same camera: reused
    assert [r["camera"] for r in _csv(tmp_path / "results.csv")] == ["d435"]
    report = (tmp_path / "report.md").read_text()
    assert "--camera d435" in report and "Camera (sensor model" in report
    assert "`d435`" in report
    # a result from before cameras were recorded was made with the ideal one
    result = json.loads(path.read_text())
    del result["camera"]
    path.write_text(json.dumps(result))
    assert _bench(tmp_path, double, "--camera", "ideal", tasks="lift", episodes="1") == 0
    assert len(double.requests) == 2
    assert "--camera ideal" in (tmp_path / "report.md").read_text()


def test_resume_reruns_an_episode_made_with_other_settings(tmp_path, double, capsys):
    """A result records the settings that shaped it (time budget, method options); a
    resumed benchmark reuses only those made with the same ones (it reused them all)."""
    double.mode = "empty"
    path = be.episode_dir(tmp_path, "lift", "vlm", 1000) / "result.json"
    assert _bench(tmp_path, double, tasks="lift", episodes="1") == 0
    first = json.loads(path.read_text())
    assert first["time_budget_s"] == 60.0 and first["options"]["model"] == "double"
    assert _bench(tmp_path, double, "--time-budget", "30", tasks="lift", episodes="1") == 0
    assert len(double.requests) == 2  # another budget: run again
    assert json.loads(path.read_text())["time_budget_s"] == 30.0
    assert "were made with other settings" in capsys.readouterr().err
    assert _bench(tmp_path, double, "--time-budget", "30", tasks="lift", episodes="1") == 0
    assert len(double.requests) == 2  # the same settings: reused
    assert "--time-budget 30" in (tmp_path / "report.md").read_text()


def test_learned_perception_methods_default_to_the_realistic_camera(tmp_path):
    cfg = be.EpisodesConfig(("lift",), ("tamp", "tamp-learned"), 1)
    assert (cfg.camera_for("tamp"), cfg.camera_for("tamp-learned")) == ("ideal", "d435")
    for method in cfg.methods:  # results on disk without a camera: made with ideal
        be._store(tmp_path, {"task": "lift", "method": method, "seed": 1000,
                             "success": True}, None)
    assert be.pending(cfg, tmp_path) == [("lift", "tamp-learned", 1000, False)]
    assert [r["method"] for r in be.load(cfg, tmp_path)] == ["tamp"]
    ideal = be.EpisodesConfig(("lift",), ("tamp", "tamp-learned"), 1, camera="ideal")
    assert be.pending(ideal, tmp_path) == []
    table = [{**_row("lift", "tamp", 1000, True), "camera": "ideal"},
             {**_row("lift", "tamp-learned", 1000, True), "camera": "d435"}]
    assert "Camera (sensor model, `tamp/perception/sensors.py`): tamp: `ideal`; tamp-learned: " \
        "`d435`." in be.report(table, "tamp bench episodes ...")


def test_a_crash_or_a_method_that_cannot_be_set_up_is_a_counted_failure(tmp_path,
                                                                        monkeypatch):
    cfg = be.EpisodesConfig(("lift",), ("vlm",), 1, options={})  # no model, no endpoint
    (result,) = be.run(cfg, tmp_path)
    assert result["success"] is False
    assert result["failure_reason"].startswith(
        "method 'vlm' could not be set up: ValueError: the VLM planner needs a model name")

    import experiments.episode as episode

    def boom(spec, out=None, gif=False):
        raise RuntimeError(f"simulated crash on seed {spec.seed}")

    monkeypatch.setattr(episode, "run_episode", boom)
    cfg = be.EpisodesConfig(("lift",), ("tamp",), 2)
    results = be.run(cfg, tmp_path)
    assert [r["failure_reason"] for r in results] == [
        "crashed: RuntimeError: simulated crash on seed 1000",
        "crashed: RuntimeError: simulated crash on seed 1001"]


def test_bad_endpoint_is_counted_not_fatal(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = be.EpisodesConfig(("lift",), ("vlm",), 1, options={
        "base_url": f"http://127.0.0.1:{port}/v1", "model": "m", "retries": 0})
    (result,) = be.run(cfg, tmp_path)
    assert result["success"] is False and "unreachable" in result["failure_reason"]
    assert result["not_measured"] == "no answer from a model"


@pytest.mark.parametrize("args, expected", [
    (["--methods", "tamp,magic"], "unknown method 'magic'; known methods: "),
    (["--methods", ","], "must name at least one task and method"),
    (["--backend", "slurm"], "unknown backend 'slurm'; known: process, ray"),
    (["--ray-address", "auto"], "--ray-address needs --backend ray"),
    (["--gif-seeds", "1,x"], "--gif-seeds must be comma-separated integers"),
    (["--methods", "vlm"], "the VLM methods need --vlm-model"),
    (["--methods", "vlm-closed", "--vlm-model", "m"], "need --vlm-base-url"),
    (["--methods", "vlm", "--vlm-model", "m", "--cache-only"], "--cache-only needs --vlm-cache"),
    (["--methods", "vlm", "--vlm-model", "m", "--vlm-base-url", "localhost:8000"],
     "--vlm-base-url must start with http:// or https://"),
    (["--methods", "vlm", "--vlm-model", "m", "--vlm-base-url", "https://api.example.com/v1"],
     "is not on this machine; pass --allow-remote"),
    (["--methods", "vlm-text", "--vlm-model", "m", "--vlm-base-url", "http://127.0.0.1:1/v1",
      "--vlm-timeout", "0"], "--vlm-timeout must be > 0 s"),
    (["--methods", "vlm-text", "--vlm-model", "m", "--vlm-base-url", "http://127.0.0.1:1/v1",
      "--vlm-max-tokens", "0"], "--vlm-max-tokens: must be 1..1000000"),
    (["--checkpoints", "/nonexistent/ckpt"], "--checkpoints /nonexistent/ckpt is not a directory"),
    (["--methods", "tamp,vlm-text", "--vlm-model", "m", "--vlm-base-url",
      "http://127.0.0.1:1/v1", "--checkpoints", "."],
     "--checkpoints: none of the methods tamp, vlm-text uses a checkpoint folder"),
    (["--camera", "nope"],
     "unknown camera 'nope'; known cameras: d435, d435-miscalibrated, ideal"),
])
def test_bad_input_is_one_line_and_exit_code_2(args, expected, capsys, tmp_path):
    assert main(["bench", "episodes", "--out", str(tmp_path / "o"), *args]) == 2
    err = capsys.readouterr().err
    assert expected in err and len(err.strip().splitlines()) == 1
    if "magic" in args[1]:
        assert "vlm" in err and "tamp" in err  # the known methods are listed


def test_run_command_takes_the_vlm_flags(tmp_path, double):
    assert main(["run", "--method", "vlm", "--task", "lift", "--seed", "1000", "--out",
                 str(tmp_path), "--vlm-base-url", double.base_url, "--vlm-model", "m"]) == 0
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["success"] is True and result["method"] == "vlm"
    assert result["vlm_plan"] == [{"name": "pick_up", "args": ["red_box"]}]
    assert result["plan"] == [{"name": "pick", "args": ["red_box"]}]
    assert main(["run", "--method", "vlm", "--out", str(tmp_path)]) == 2


@pytest.mark.slow
def test_same_seeds_same_report_and_gifs(tmp_path, double):
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        assert _bench(out, double, "--gif-seeds", "1001", methods="tamp,vlm",
                      tasks="lift") == 0
    gif = (be.episode_dir(a, "lift", "vlm", 1001) / "episode.gif").read_bytes()
    assert gif[:6] == b"GIF89a"
    assert not (be.episode_dir(a, "lift", "vlm", 1000) / "episode.gif").exists()
    keep = ("task", "method", "seed", "success", "plan_length", "replans", "measured",
            "failure_reason")
    ra, rb = _csv(a / "results.csv"), _csv(b / "results.csv")
    assert [{k: r[k] for k in keep} for r in ra] == [{k: r[k] for k in keep} for r in rb]
    assert sum(r["success"] == "True" for r in ra) >= 2  # tamp and the double lift seed 1000

    def side_by_side(path):
        lines = path.read_text().splitlines()
        start = lines.index("| task | tamp | vlm |")
        return lines[start:start + 3]

    assert side_by_side(a / "report.md") == side_by_side(b / "report.md")
    assert side_by_side(a / "report.md")[2].endswith("| not measured |")


@pytest.mark.slow
def test_ray_backend_runs_episodes_on_a_local_cluster(tmp_path, double):
    import ray

    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        double.mode = "empty"
        cfg = be.EpisodesConfig(("lift",), ("vlm",), 2, backend="ray", gif_seeds=(1000,),
                                options={"base_url": double.base_url, "model": "m"})
        results = be.run(cfg, tmp_path)
    finally:
        ray.shutdown()
    assert [(r["seed"], r["success"], r["vlm_calls"]) for r in results] == [
        (1000, False, 1), (1001, False, 1)]
    assert len(double.requests) == 2  # the Ray workers asked the endpoint
    # the results and the GIF came back through Ray and were written here
    assert (be.episode_dir(tmp_path, "lift", "vlm", 1000) / "episode.gif").read_bytes()[:6] \
        == b"GIF89a"
    assert be.pending(cfg, tmp_path) == []


def test_a_recorded_cache_replays_the_benchmark_offline(tmp_path, double):
    cache = tmp_path / "cache"
    assert _bench(tmp_path / "a", double, "--vlm-cache", str(cache), tasks="lift",
                  episodes="1") == 0
    assert len(double.requests) == 1
    url = double.base_url
    double.stop()
    assert main(["bench", "episodes", "--methods", "vlm", "--tasks", "lift", "--episodes",
                 "1", "--out", str(tmp_path / "b"), "--vlm-model", "double", "--vlm-cache",
                 str(cache), "--cache-only"]) == 0
    a = json.loads((be.episode_dir(tmp_path / "a", "lift", "vlm", 1000) / "result.json")
                   .read_text())
    b = json.loads((be.episode_dir(tmp_path / "b", "lift", "vlm", 1000) / "result.json")
                   .read_text())
    assert a["success"] is b["success"] is True and a["plan"] == b["plan"]
    assert (a["vlm_requests_sent"], a["vlm_cache_hits"]) == (1, 0)
    assert (b["vlm_requests_sent"], b["vlm_cache_hits"]) == (0, 1)
    assert b["vlm_endpoint"] is None and a["vlm_endpoint"] == url
    # replayed answers of the double are still not a model's
    assert b["not_measured"] == "answers came from the test double, not a model"


def test_update_docs_writes_its_own_section_with_the_plots_beside_the_docs(
        tmp_path, double, monkeypatch):
    from experiments import bench_cli

    docs = tmp_path / "docs" / "BENCHMARKS.md"
    docs.parent.mkdir()
    docs.write_text("# Benchmarks\n\n<!-- episodes:start -->\nkept\n<!-- episodes:end -->\n")
    monkeypatch.setattr(bench_cli, "DOCS", docs)
    double.mode = "empty"
    assert _bench(tmp_path / "out", double, "--update-docs", "--docs-section", "suite",
                  methods="tamp", tasks="lift", episodes="1") == 0
    text = docs.read_text()
    assert "<!-- episodes:start -->\nkept\n<!-- episodes:end -->" in text  # untouched
    section = text[text.index("<!-- suite:start -->"):text.index("<!-- suite:end -->")]
    assert "--update-docs --docs-section suite" in section
    assert "## Episodes: suite\n" in section
    assert "![suite-success](bench/suite-success.png)" in section
    png = (docs.parent / "bench" / "suite-success.png").read_bytes()
    assert png == (tmp_path / "out" / "success.png").read_bytes()
    # a section name that cannot be a marker is refused before anything runs
    assert _bench(tmp_path / "o2", double, "--update-docs", "--docs-section", "a b") == 2
