"""``tamp bench ...``: benchmarks that write their tables next to the exact command."""

from __future__ import annotations

import json
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs" / "BENCHMARKS.md"


def add_commands(sub) -> None:
    from experiments.cli import _Parser

    p = sub.add_parser("bench", help="run a benchmark", description="Run a benchmark; "
                       "results go to OUT and, with --update-docs, into docs/BENCHMARKS.md.")
    bench = p.add_subparsers(dest="bench", metavar="BENCHMARK", parser_class=_Parser)
    bench.required = True
    g = bench.add_parser("geometry", help="collision checking, IK and motion planning "
                         "against PyBullet baselines")
    g.add_argument("--out", default="runs/bench-geometry", help="output directory")
    g.add_argument("--quick", action="store_true",
                   help="small sizes (a smoke run, not for publishing)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--update-docs", action="store_true",
                   help="replace the geometry section of docs/BENCHMARKS.md")
    g.set_defaults(func=_cmd_geometry)

    e = bench.add_parser("episodes", help="seeded episodes per task and method: success "
                         "with 95 %% intervals, planning time, plan length, replans")
    e.add_argument("--methods", default="tamp", help="comma-separated (default tamp)")
    e.add_argument("--tasks", default="all", help="comma-separated task names, or all")
    e.add_argument("--episodes", type=int, default=100, help="seeds per task (default 100)")
    e.add_argument("--seed-start", type=int, default=1000,
                   help="first evaluation seed (default 1000, away from development seeds)")
    e.add_argument("--workers", type=int, default=1, help="parallel processes (default 1)")
    e.add_argument("--time-budget", type=float, default=60.0, help="planning budget, s")
    e.add_argument("--out", default="runs/bench-episodes", help="output directory; a "
                   "rerun skips the episodes already there")
    e.add_argument("--update-docs", action="store_true",
                   help="replace the episodes section of docs/BENCHMARKS.md")
    e.set_defaults(func=_cmd_episodes)


def _replace_section(text: str, name: str, body: str) -> str:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{body}\n{end}"
    if start in text and end in text:
        return text[:text.index(start)] + block + text[text.index(end) + len(end):]
    return text.rstrip() + "\n\n" + block + "\n"


def _cmd_geometry(args) -> int:
    import robots
    from experiments import bench_geometry as bg
    from experiments.cli import UsageError
    from experiments.files import write_json_atomic

    if args.seed < 0:
        raise UsageError(f"--seed must be >= 0, got {args.seed}")
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
        DOCS.parent.mkdir(parents=True, exist_ok=True)
        old = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
        DOCS.write_text(_replace_section(old, "geometry", text))
        print(f"[bench] updated {DOCS}", file=sys.stderr)
    return 0


def _cmd_episodes(args) -> int:
    from tqdm import tqdm

    from experiments import bench_episodes as be
    from experiments.cli import UsageError
    from policies import policy_names
    from scenes.tasks import task_names

    tasks = tuple(task_names()) if args.tasks == "all" else \
        tuple(t.strip() for t in args.tasks.split(",") if t.strip())
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    unknown = [t for t in tasks if t not in task_names()]
    if unknown:
        raise UsageError(f"unknown task '{unknown[0]}'; known tasks: {', '.join(task_names())}")
    bad = [m for m in methods if m not in policy_names()]
    if bad:
        raise UsageError(f"unknown method '{bad[0]}'; known methods: "
                         f"{', '.join(policy_names())}")
    if args.episodes < 1 or args.workers < 1 or args.seed_start < 0:
        raise UsageError("--episodes and --workers must be >= 1 and --seed-start >= 0")
    if args.time_budget <= 0:
        raise UsageError(f"--time-budget must be > 0 s, got {args.time_budget}")
    out = Path(args.out)
    cfg = be.EpisodesConfig(tasks, methods, args.episodes, args.seed_start, args.workers,
                            args.time_budget)
    with tqdm(desc="episodes", unit="ep", file=sys.stderr, dynamic_ncols=True) as bar:
        results = be.run(cfg, out, bar)
    table = be.rows(results)
    be.write_csv(out / "results.csv", table)
    command = (f"tamp bench episodes --methods {','.join(methods)} --tasks {args.tasks} "
               f"--episodes {args.episodes} --seed-start {args.seed_start} "
               f"--workers {args.workers}")
    text = be.report(table, command)
    (out / "report.md").write_text(text)
    print(text)
    if args.update_docs:
        old = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
        DOCS.write_text(_replace_section(old, "episodes", text))
    return 0
