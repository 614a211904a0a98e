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
