"""``tamp bench ...``: benchmarks that write their tables next to the exact command."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from experiments import options as opt
from tamp.files import write_text_atomic

DOCS = Path(__file__).resolve().parents[1] / "docs" / "BENCHMARKS.md"


def add_commands(sub) -> None:
    from experiments.options import Parser, add_camera_argument, add_robot_argument, finite_float

    p = sub.add_parser("bench", help="run a benchmark", description="Run a benchmark; "
                       "results go to OUT and, with --update-docs, into docs/BENCHMARKS.md.")
    bench = p.add_subparsers(dest="bench", metavar="BENCHMARK", parser_class=Parser)
    bench.required = True
    g = bench.add_parser("geometry", help="collision checking, IK and motion planning "
                         "against PyBullet baselines")
    g.add_argument("--out", default="runs/bench-geometry", help="output directory")
    g.add_argument("--quick", action="store_true",
                   help="small sizes (a smoke run, not for publishing)")
    g.add_argument("--seed", type=opt.SEED, default=0)
    g.add_argument("--update-docs", action="store_true",
                   help="replace the geometry section of docs/BENCHMARKS.md")
    g.set_defaults(func=_cmd_geometry)

    e = bench.add_parser("episodes", help="seeded episodes per task and method: success "
                         "with 95 %% intervals, planning time, plan length, replans")
    e.add_argument("--methods", default="tamp", help="comma-separated (default tamp)")
    e.add_argument("--tasks", default="all", help="comma-separated task names, or all")
    e.add_argument("--episodes", type=opt.COUNT, default=100, help="seeds per task (default 100)")
    e.add_argument("--seed-start", type=opt.SEED, default=1000,
                   help="first evaluation seed (default 1000, away from development seeds)")
    e.add_argument("--workers", type=opt.THREADS, default=1, help="parallel processes, or the CPUs of a "
                   "local Ray (default 1)")
    e.add_argument("--time-budget", type=finite_float, default=60.0, help="planning budget, s")
    e.add_argument("--out", default="runs/bench-episodes", help="output directory; a "
                   "rerun skips the episodes already there")
    e.add_argument("--backend", default="process", help="where episodes run: 'process' "
                   "(this machine, --workers processes) or 'ray' (a Ray cluster)")
    e.add_argument("--ray-address", default=None, help="with --backend ray: the cluster "
                   "to join (default: a local Ray with --workers CPUs)")
    e.add_argument("--gif-seeds", default="", metavar="SEEDS",
                   help="comma-separated seeds whose episodes also write episode.gif")
    e.add_argument("--checkpoints", default=None, metavar="DIR",
                   help="checkpoint folder of the learned baselines (default: the shipped "
                        "ones); passed to every method that takes 'checkpoints'")
    add_camera_argument(e)
    add_robot_argument(e)
    opt.add_planner_config_argument(e)
    opt.add_vlm_arguments(e)
    e.add_argument("--update-docs", action="store_true",
                   help="replace a section of docs/BENCHMARKS.md with the report (its plots "
                        "copied to docs/bench/)")
    e.add_argument("--docs-section", default="episodes", metavar="NAME",
                   help="with --update-docs: the section to replace, between "
                        "'<!-- NAME:start -->' and '<!-- NAME:end -->' (default episodes; "
                        "added at the end when missing)")
    e.set_defaults(func=_cmd_episodes)
    _add_perception_command(bench)
    _add_twin_command(bench)
    c = bench.add_parser("cli", help="start-up time and memory of the command line",
                         description="Run 'tamp --help', 'tamp tasks' and 'tamp deploy "
                                     "--help' in fresh interpreters, beside building the whole "
                                     "parser (what every command paid before), and report "
                                     "median time and peak memory.")
    c.add_argument("--runs", type=opt.COUNT, default=10, help="runs per command (default 10)")
    c.add_argument("--update-docs", action="store_true",
                   help="replace the 'cli' section of docs/BENCHMARKS.md")
    c.set_defaults(func=_cmd_cli)


def _cmd_cli(args) -> int:
    from experiments import bench_cli_startup as bc
    from experiments.options import UsageError

    if not 1 <= args.runs <= 1000:
        raise UsageError(f"--runs must be 1..1000, got {args.runs}")
    text = bc.report(args.runs, lambda m: print(f"[bench] {m}", file=sys.stderr, flush=True))
    print(text)
    if args.update_docs:
        update_docs("cli", text)
    return 0


def _add_twin_command(bench) -> None:
    from experiments.options import add_camera_argument, finite_float

    w = bench.add_parser(
        "twin", help="episodes through the twin: tamp twin + tamp deploy --goal over ROS 1",
        description="Per task and seed: a fresh roscore, 'tamp twin' serving the scene, and "
                    "'tamp deploy --goal <the task's words> --execute' in another process; "
                    "success is the twin's ground truth. Reported beside 'tamp bench "
                    "episodes' results of the same seeds when --episodes-dir is given.")
    w.add_argument("--tasks", default="place-in-bowl,sort-by-colour,rebuild-tower,"
                   "clear-then-place", help="comma-separated task names, or all")
    w.add_argument("--episodes", type=opt.COUNT, default=5, help="seeds per task (default 5)")
    w.add_argument("--seed-start", type=opt.SEED, default=1000, help="first seed (default 1000)")
    w.add_argument("--time-scale", type=finite_float, default=1.0,
                   help="the twin's simulated seconds per wall-clock second (default 1)")
    w.add_argument("--out", default="runs/bench-twin", help="output directory; a rerun "
                   "skips the episodes already there")
    w.add_argument("--episodes-dir", metavar="DIR",
                   help="a 'tamp bench episodes' output directory with the same seeds, "
                        "for the side-by-side columns")
    w.add_argument("--no-run", action="store_true",
                   help="run nothing: report the episodes already in --out")
    w.add_argument("--update-docs", action="store_true",
                   help="replace the 'twin' section of docs/BENCHMARKS.md with the report")
    add_camera_argument(w, "d435", "as the robot's camera")
    w.set_defaults(func=_cmd_twin)


def _cmd_twin(args) -> int:
    from experiments import bench_twin as bt
    from experiments.options import UsageError

    tasks = _tasks(args.tasks)
    if not 0 < args.time_scale <= 20:
        raise UsageError(f"--time-scale must be in (0, 20], got {args.time_scale}")
    out = opt.writable_dir("--out", args.out)
    if args.episodes_dir is not None:
        opt.existing_dir("--episodes-dir", args.episodes_dir)
    from robots.ros.rospath import check

    ros = check()
    if not ros.ok and not args.no_run:
        print(f"[bench] error: {ros.message}", file=sys.stderr)
        return 1
    cfg = bt.TwinBenchConfig(tasks, args.episodes, args.seed_start, args.camera,
                             args.time_scale)
    results = bt.run(cfg, out, lambda m: print(m, file=sys.stderr, flush=True),
                     run_missing=not args.no_run)
    if not results:
        print(f"[bench] no episodes in {out}", file=sys.stderr)
        return 1
    episodes = _episodes_by_method(Path(args.episodes_dir)) if args.episodes_dir else None
    command = (f"tamp bench twin --tasks {','.join(tasks)} --episodes {args.episodes} "
               f"--seed-start {args.seed_start} --camera {args.camera} --time-scale "
               f"{args.time_scale:g}" + (f" --episodes-dir {args.episodes_dir}"
                                         if args.episodes_dir else ""))
    text = bt.report(results, command, episodes)
    write_text_atomic(out / "report.md", text)
    print(text)
    if args.update_docs:
        update_docs("twin", text)
    return 0


def _episodes_by_method(root: Path) -> dict:
    """method -> task -> results, from a 'tamp bench episodes' output directory."""
    out: dict = {}
    for path in root.glob("episodes/*/*/*/result.json"):
        try:
            r = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        out.setdefault(r["method"], {}).setdefault(r["task"], []).append(r)
    return out


def _add_perception_command(bench) -> None:
    q = bench.add_parser("perception", help="one look per scene through each camera model: "
                         "time, objects found, footprint error, concept accuracy")
    q.add_argument("--tasks", default="all", help="comma-separated task names, or all")
    q.add_argument("--cameras", default="ideal,d435", metavar="NAMES",
                   help="comma-separated camera models (tamp/perception/sensors.py); the first is the "
                        "baseline (default ideal,d435)")
    q.add_argument("--scenes", type=opt.COUNT, default=10, help="seeds per task (default 10)")
    q.add_argument("--seed-start", type=opt.SEED, default=3000, help="first seed (default 3000)")
    q.add_argument("--out", default="runs/bench-perception", help="output directory")
    q.add_argument("--update-docs", action="store_true",
                   help="replace the perception section of docs/BENCHMARKS.md")
    q.set_defaults(func=_cmd_perception)


def _tasks(text: str) -> tuple[str, ...]:
    """``--tasks``: comma-separated registered task names, or ``all``."""
    from experiments.options import UsageError
    from scenes.tasks import task_names

    tasks = tuple(task_names()) if text == "all" else \
        tuple(t.strip() for t in text.split(",") if t.strip())
    if not tasks:
        raise UsageError("--tasks must name at least one task")
    unknown = [t for t in tasks if t not in task_names()]
    if unknown:
        raise UsageError(f"unknown task '{unknown[0]}'; known tasks: {', '.join(task_names())}")
    return tasks


def _cmd_perception(args) -> int:
    import argparse

    from experiments import bench_perception as bp
    from experiments.options import UsageError, camera_name
    from experiments.files import write_json_atomic

    tasks = _tasks(args.tasks)
    try:
        cameras = tuple(camera_name(c.strip()) for c in args.cameras.split(","))
    except argparse.ArgumentTypeError as err:
        raise UsageError(f"--cameras: {err}") from None
    out = opt.writable_dir("--out", args.out)
    cfg = bp.PerceptionBenchConfig(tasks, cameras, args.scenes, args.seed_start)
    rows = bp.run(cfg, lambda m: print(f"[bench] {m}", file=sys.stderr, flush=True))
    command = (f"tamp bench perception --tasks {args.tasks} --cameras {','.join(cameras)} "
               f"--scenes {args.scenes} --seed-start {args.seed_start}")
    text = bp.report(rows, command)
    write_json_atomic(out / "perception.json", rows)
    write_text_atomic(out / "perception.md", text)
    print(text)
    if args.update_docs:
        update_docs("perception", text)
    return 0


def update_docs(section: str, text: str) -> None:
    """Replace ``section`` of docs/BENCHMARKS.md with ``text`` (added when missing)."""
    old = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    write_text_atomic(DOCS, opt.replace_section(old, section, text))
    print(f"[bench] updated {DOCS}", file=sys.stderr)


def _vlm_flags(args, methods) -> str:
    """The VLM flags of the command as run (never the key itself)."""
    if not any(m.startswith("vlm") for m in methods):
        return ""
    flags = f" --vlm-model {args.vlm_model}"
    if args.vlm_base_url:
        flags += f" --vlm-base-url {args.vlm_base_url}"
    if args.vlm_cache:
        flags += f" --vlm-cache {args.vlm_cache}"
    if args.vlm_timeout != 60.0:
        flags += f" --vlm-timeout {args.vlm_timeout:g}"
    if args.vlm_json_schema:
        flags += " --vlm-json-schema"
    if args.allow_remote:
        flags += " --allow-remote"
    if args.vlm_max_tokens != 1024:
        flags += f" --vlm-max-tokens {args.vlm_max_tokens}"
    return flags + (" --cache-only" if args.cache_only else "")


def _cmd_geometry(args) -> int:
    import robots
    from experiments import bench_geometry as bg
    from experiments.files import write_json_atomic

    opt.writable_dir("--out", args.out)
    cfg = bg.GeometryBenchConfig(seed=args.seed)
    if args.quick:
        cfg = bg.GeometryBenchConfig(n_configs=500, batch_sizes=(1, 64, 1024), n_ik=50,
                                     n_motion=3, n_grasp_trials=1, seed=args.seed)

    def progress(msg: str) -> None:
        print(f"[bench] {msg}", file=sys.stderr, flush=True)

    robot = robots.load()
    results = {"collision": bg.bench_collision(robot, cfg, progress),
               "ik": bg.bench_ik(robot, cfg, progress),
               "motion": bg.bench_motion(robot, cfg, progress),
               "grasps": bg.bench_grasps(robot, cfg, progress)}
    command = "tamp bench geometry" + (" --quick" if args.quick else "") + \
        (f" --seed {args.seed}" if args.seed else "")
    text = bg.report(results, command)
    out = Path(args.out)
    write_json_atomic(out / "geometry.json", results)
    (out / "geometry.md").write_text(text)
    print(text)
    if args.update_docs:
        update_docs("geometry", text)
    return 0


def _cmd_episodes(args) -> int:
    from tqdm import tqdm

    from experiments import bench_episodes as be
    from experiments.options import UsageError
    from robots import DEFAULT_ROBOT
    from policies import policy_names

    tasks = _tasks(args.tasks)
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    if not methods:
        raise UsageError("--tasks and --methods must name at least one task and method")
    bad = [m for m in methods if m not in policy_names()]
    if bad:
        raise UsageError(f"unknown method '{bad[0]}'; known methods: "
                         f"{', '.join(policy_names())}")
    if args.time_budget <= 0:
        raise UsageError(f"--time-budget must be > 0 s, got {args.time_budget}")
    if args.backend not in be.BACKENDS:
        raise UsageError(f"unknown backend '{args.backend}'; known: {', '.join(be.BACKENDS)}")
    if args.ray_address and args.backend != "ray":
        raise UsageError("--ray-address needs --backend ray")
    if args.backend == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise UsageError("--backend ray needs Ray: pip install 'tamp[ray]'") from None
    try:
        gif_seeds = tuple(int(s) for s in args.gif_seeds.split(",") if s.strip())
    except ValueError:
        raise UsageError(f"--gif-seeds must be comma-separated integers, got "
                         f"'{args.gif_seeds}'") from None
    options = opt.vlm_options(args, methods)
    planner = opt.planner_overrides(args.planner_config)
    if planner:
        options["planner"] = planner
    if args.checkpoints is not None:
        from experiments.episode import unusable_options

        opt.existing_dir("--checkpoints", args.checkpoints)
        if all(unusable_options(m, ["checkpoints"]) for m in methods):
            raise UsageError(f"--checkpoints: none of the methods {', '.join(methods)} uses "
                             "a checkpoint folder (the imitation baselines do)")
        options["checkpoints"] = args.checkpoints
    out = opt.writable_dir("--out", args.out)
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", args.docs_section):
        raise UsageError(f"--docs-section must be lower-case letters, digits and '-', got "
                         f"'{args.docs_section}'")
    cfg = be.EpisodesConfig(tasks, methods, args.episodes, args.seed_start, args.workers,
                            args.time_budget, options, args.backend, args.ray_address,
                            gif_seeds, args.camera, args.robot)
    with tqdm(desc="episodes", unit="ep", file=sys.stderr, dynamic_ncols=True) as bar:
        results = be.run(cfg, out, bar)
    table = be.rows(results)
    be.write_csv(out / "results.csv", table)
    command = (f"tamp bench episodes --methods {','.join(methods)} --tasks {args.tasks} "
               f"--episodes {args.episodes} --seed-start {args.seed_start} "
               f"--workers {args.workers}"
               + (f" --time-budget {args.time_budget:g}" if args.time_budget != 60.0 else "")
               + (f" --backend {args.backend}" if args.backend != "process" else "")
               + (f" --gif-seeds {','.join(map(str, gif_seeds))}" if gif_seeds else "")
               + (f" --checkpoints {args.checkpoints}" if args.checkpoints else "")
               + (f" --camera {args.camera}" if args.camera else "")
               + (f" --robot {args.robot}" if args.robot != DEFAULT_ROBOT else "")
               + (f" --planner-config {args.planner_config}" if args.planner_config else "")
               + _vlm_flags(args, methods))
    plots = be.write_plots(table, out, tasks, methods)
    text = be.report(table, command, tasks, methods, tuple(plots))
    tmp = out / ".report.md.tmp"
    tmp.write_text(text)
    tmp.replace(out / "report.md")
    print(text)
    if args.update_docs:
        import shutil

        # the plots go beside the docs (OUT is usually under the ignored runs/)
        section = args.docs_section
        (DOCS.parent / "bench").mkdir(parents=True, exist_ok=True)
        linked = []
        for p in plots:
            name = Path(p).name if section == "episodes" else f"{section}-{Path(p).name}"
            shutil.copyfile(out / p, DOCS.parent / "bench" / name)
            linked.append(f"bench/{name}")
        if section != "episodes":
            command += f" --update-docs --docs-section {section}"
        title = "Episodes" if section == "episodes" else f"Episodes: {section}"
        text = be.report(table, command, tasks, methods, tuple(linked), title)
        update_docs(section, text)
    return 0
