"""``--planner-config FILE``: any planner setting from YAML, checked, carried to the
method, recorded, and matched when a benchmark resumes."""

from __future__ import annotations

import json

import pytest

from experiments.cli import main


def test_settings_are_applied_nested_and_typed():
    from tamp.planner import PlannerConfig, with_overrides

    cfg = with_overrides(PlannerConfig(), {"max_grasps": 20, "speed_scale": 1,
                                           "motion": {"time_limit": 2, "planner": "RRT"}})
    assert cfg.max_grasps == 20 and cfg.speed_scale == 1.0 and isinstance(cfg.speed_scale, float)
    assert cfg.motion.time_limit == 2.0 and cfg.motion.planner == "RRT"
    assert cfg.motion.shortcut_attempts == PlannerConfig().motion.shortcut_attempts
    with pytest.raises(ValueError, match="unknown planner setting 'motion.limit'; known: "):
        with_overrides(PlannerConfig(), {"motion": {"limit": 1}})
    with pytest.raises(ValueError, match="'max_grasps' must be int, got str"):
        with_overrides(PlannerConfig(), {"max_grasps": "many"})
    with pytest.raises(ValueError, match="'estimate_normals' must be bool, got int"):
        with_overrides(PlannerConfig(), {"estimate_normals": 1})


def test_the_episode_runner_hands_the_settings_to_every_method():
    from experiments.episode import EpisodeSpec, policy_kwargs
    from policies.base import policy_class

    for method in ("tamp", "tamp-learned", "transporter-1demo", "vlm"):
        spec = EpisodeSpec("lift", 3, method, time_budget=9.0,
                           options={"planner": {"max_grasps": 5}})
        config = policy_kwargs(spec, policy_class(method))["config"]
        assert (config.max_grasps, config.seed, config.time_budget) == (5, 3, 9.0), method


@pytest.mark.parametrize("text, expected", [
    ("max_grasp: 3\n", "unknown planner setting 'max_grasp'; known: "),
    ("seed: 3\n", "'seed' is set by each episode"),
    ("[1, 2]\n", "needs a mapping of settings, got list"),
    ("max_grasps: [\n", "not YAML"),
    ("motion: 3\n", "'motion' is a section: give a mapping"),
])
def test_a_bad_file_is_one_line_and_exit_code_2(text, expected, tmp_path, capsys):
    f = tmp_path / "planner.yaml"
    f.write_text(text)
    for args in (["run", "--out", str(tmp_path / "o")],
                 ["bench", "episodes", "--out", str(tmp_path / "b")]):
        assert main([*args, "--planner-config", str(f)]) == 2
        err = capsys.readouterr().err
        assert expected in err and len(err.strip().splitlines()) == 1, err


def test_a_missing_file_is_refused(tmp_path, capsys):
    assert main(["run", "--planner-config", str(tmp_path / "none.yaml")]) == 2
    assert "--planner-config" in capsys.readouterr().err


@pytest.mark.slow
def test_an_episode_records_the_settings_and_a_resume_matches_them(tmp_path):
    f = tmp_path / "planner.yaml"
    f.write_text("max_grasps: 6\nmotion:\n  time_limit: 3.0\n")
    out = tmp_path / "bench"
    args = ["bench", "episodes", "--methods", "tamp", "--tasks", "lift", "--episodes", "1",
            "--seed-start", "2", "--out", str(out)]
    assert main([*args, "--planner-config", str(f)]) == 0
    path = out / "episodes" / "lift" / "tamp" / "seed_2" / "result.json"
    first = json.loads(path.read_text())
    assert first["options"] == {"planner": {"max_grasps": 6, "motion": {"time_limit": 3.0}}}
    assert f"--planner-config {f}" in (out / "report.md").read_text()
    mtime = path.stat().st_mtime_ns
    assert main([*args, "--planner-config", str(f)]) == 0  # same settings: kept
    assert path.stat().st_mtime_ns == mtime
    assert main(args) == 0  # without the file: other settings, so it runs again
    assert json.loads(path.read_text())["options"] == {}
