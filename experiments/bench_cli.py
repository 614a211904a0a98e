"""``tamp bench ...``: benchmarks that write their tables next to the exact command."""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from experiments import options as opt
from experiments import declare
from experiments.declare import opt as option, section
from experiments.options import COUNT, SEED, THREADS, UsageError, camera_name
from experiments.run_cli import UNKNOWN_METHOD, method_names
from experiments.shared_options import (DeviceOptions, VlmOptions, camera_option,
                                        planner_config_option, refuse_unusable, robot_option)
from tamp.files import write_text_atomic

DOCS = Path(__file__).resolve().parents[1] / "docs" / "BENCHMARKS.md"


def backends() -> tuple[str, ...]:
    from experiments.bench_episodes import BACKENDS

    return tuple(BACKENDS)


@dataclass(frozen=True)
class GeometryOptions:
    """The options of ``tamp bench geometry``."""

    out: str = option("runs/bench-geometry", help="output directory")
    quick: bool = option(False, help="small sizes (a smoke run, not for publishing)")
    seed: int = option(0, range=SEED.bounds, help="seed of the sampled configurations "
                                                  "(default 0)")
    update_docs: bool = option(False, help="replace the geometry section of "
                                           "docs/BENCHMARKS.md")
    device: str = option("cpu", metavar="NAME", help=(
        "torch device of the collision table's torch column: cpu, cuda, cuda:N or auto "
        "(default cpu); the kernel and PyBullet run on the CPU. Needing neither pinocchio "
        "nor PyBullet: python experiments/gpu_collision.py --device cuda"))

    def check(self) -> None:
        opt.torch_device(self.device)  # a device this machine lacks: one line, exit 2


@dataclass(frozen=True)
class EpisodesOptions:
    """The options of ``tamp bench episodes``."""

    methods: tuple[str, ...] = option(("tamp",), known=method_names, unknown=UNKNOWN_METHOD,
                                      help="comma-separated (default tamp)")
    tasks: str = option("all", help="comma-separated task names, or all")
    episodes: int = option(100, range=COUNT.bounds, help="seeds per task (default 100)")
    seed_start: int = option(1000, range=SEED.bounds, help="first evaluation seed (default "
                                                           "1000, away from development seeds)")
    workers: int = option(1, range=THREADS.bounds, help="parallel processes, or the CPUs of "
                                                        "a local Ray (default 1)")
    #: s of planning per episode
    time_budget: float = option(60.0, above=0, unit="s", help="planning budget, s")
    out: str = option("runs/bench-episodes", help="output directory; a rerun skips the "
                                                  "episodes already there")
    backend: str = option("process", known=backends, help="where episodes run: 'process' "
                          "(this machine, --workers processes) or 'ray' (a Ray cluster)")
    ray_address: str | None = option(None, help="with --backend ray: the cluster to join "
                                                "(default: a local Ray with --workers CPUs)")
    gif_seeds: tuple[int, ...] = option((), metavar="SEEDS", list_error="comma-separated "
                                        "integers", help="comma-separated seeds whose "
                                        "episodes also write episode.gif")
    checkpoints: str | None = option(
        None, metavar="DIR", feeds="checkpoints", what="a checkpoint folder",
        help="checkpoint folder of the learned baselines (default: the shipped ones); "
             "passed to every method that takes 'checkpoints'")
    camera: str | None = camera_option()
    robot: str = robot_option()
    planner_config: str | None = planner_config_option()
    devices: DeviceOptions = section(DeviceOptions)
    vlm: VlmOptions = section(VlmOptions)
    update_docs: bool = option(False, help="replace a section of docs/BENCHMARKS.md with the "
                                           "report (its plots copied to docs/bench/)")
    docs_section: str = option("episodes", metavar="NAME", help=(
        "with --update-docs: the section to replace, between '<!-- NAME:start -->' and "
        "'<!-- NAME:end -->' (default episodes; added at the end when missing)"))

    def check(self) -> None:
        if self.ray_address and self.backend != "ray":
            raise UsageError("--ray-address needs --backend ray")
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", self.docs_section):
            raise UsageError(f"--docs-section must be lower-case letters, digits and '-', "
                             f"got '{self.docs_section}'")


@dataclass(frozen=True)
class RobotTimeOptions:
    """The options of ``tamp bench robot-time``."""

    tasks: str = option("all", help="comma-separated task names, or all")
    methods: tuple[str, ...] = option(("tamp",), known=method_names, unknown=UNKNOWN_METHOD,
                                      help="comma-separated TAMP methods (default tamp; "
                                           "tamp-learned for the looks of a camera)")
    episodes: int = option(100, range=COUNT.bounds, help="seeds per task (default 100)")
    seed_start: int = option(1000, range=SEED.bounds, help="first seed (default 1000)")
    workers: int = option(1, range=THREADS.bounds, help="parallel processes (default 1)")
    out: str = option("runs/bench-robot-time", help="output directory; a rerun skips the "
                                                    "episodes already there")
    camera: str | None = camera_option()
    robot: str = robot_option()
    no_run: bool = option(False, help="run nothing: report the episodes already in --out")
    update_docs: bool = option(False, help="replace a section of docs/BENCHMARKS.md with "
                                           "the report (its plot copied to docs/bench/)")
    docs_section: str = option("robot-time", metavar="NAME", help=(
        "with --update-docs: the section to replace (default robot-time)"))

    def check(self) -> None:
        from policies.base import policy_class
        from policies.tamp_agent import TampPolicy

        for m in self.methods:
            if not issubclass(policy_class(m), TampPolicy):
                raise UsageError(f"--methods: '{m}' does not plan with the TAMP planner, "
                                 "whose timing this compares")
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", self.docs_section):
            raise UsageError(f"--docs-section must be lower-case letters, digits and '-', "
                             f"got '{self.docs_section}'")


@dataclass(frozen=True)
class CliOptions:
    """The options of ``tamp bench cli``."""

    runs: int = option(10, range=(1, 1000), help="runs per command (default 10)")
    update_docs: bool = option(False, help="replace the 'cli' section of docs/BENCHMARKS.md")


@dataclass(frozen=True)
class TwinOptions:
    """The options of ``tamp bench twin``."""

    tasks: str = option("place-in-bowl,sort-by-colour,rebuild-tower,clear-then-place",
                        help="comma-separated task names, or all")
    episodes: int = option(5, range=COUNT.bounds, help="seeds per task (default 5)")
    seed_start: int = option(1000, range=SEED.bounds, help="first seed (default 1000)")
    #: simulated s per wall-clock s
    time_scale: float = option(1.0, above=0, at_most=20, help="the twin's simulated seconds "
                               "per wall-clock second (default 1)")
    out: str = option("runs/bench-twin", help="output directory; a rerun skips the episodes "
                                              "already there")
    episodes_dir: str | None = option(None, metavar="DIR", help=(
        "a 'tamp bench episodes' output directory with the same seeds, for the "
        "side-by-side columns"))
    no_run: bool = option(False, help="run nothing: report the episodes already in --out")
    update_docs: bool = option(False, help="replace the 'twin' section of docs/BENCHMARKS.md "
                                           "with the report")
    camera: str = camera_option("d435", "as the robot's camera")


@dataclass(frozen=True)
class PerceptionOptions:
    """The options of ``tamp bench perception``."""

    tasks: str = option("all", help="comma-separated task names, or all")
    cameras: tuple[str, ...] = option(("ideal", "d435"), metavar="NAMES", type=camera_name,
                                      help="comma-separated camera models "
                                           "(tamp/perception/sensors.py); the first is the "
                                           "baseline (default ideal,d435)")
    scenes: int = option(10, range=COUNT.bounds, help="seeds per task (default 10)")
    seed_start: int = option(3000, range=SEED.bounds, help="first seed (default 3000)")
    out: str = option("runs/bench-perception", help="output directory")
    update_docs: bool = option(False, help="replace the perception section of "
                                           "docs/BENCHMARKS.md")


def add_commands(sub) -> None:
    from experiments.options import Parser

    p = sub.add_parser("bench", help="run a benchmark", description="Run a benchmark; "
                       "results go to OUT and, with --update-docs, into docs/BENCHMARKS.md.")
    bench = p.add_subparsers(dest="bench", metavar="BENCHMARK", parser_class=Parser)
    bench.required = True
    declare.command(bench, "geometry", GeometryOptions, _cmd_geometry,
            help="collision checking, IK and motion planning against PyBullet baselines")
    declare.command(bench, "episodes", EpisodesOptions, _cmd_episodes,
            help="seeded episodes per task and method: success with 95 %% intervals, "
                 "planning time, plan length, replans")
    declare.command(bench, "perception", PerceptionOptions, _cmd_perception,
            help="one look per scene through each camera model: time, objects found, "
                 "footprint error, concept accuracy")
    declare.command(bench, "twin", TwinOptions, _cmd_twin,
            help="episodes through the twin: tamp twin + tamp deploy --goal over ROS 1",
            description="Per task and seed: a fresh roscore, 'tamp twin' serving the scene, "
                        "and 'tamp deploy --goal <the task's words> --execute' in another "
                        "process; success is the twin's ground truth. Reported beside 'tamp "
                        "bench episodes' results of the same seeds when --episodes-dir is "
                        "given.")
    declare.command(bench, "robot-time", RobotTimeOptions, _cmd_robot_time,
            help="the robot's simulated time per task: the flow timing beside the "
                 "original stop timing on the same seeds",
            description="Per task and seed, an episode with each timing of the planner "
                        "('stop': every move on its own, held 0.25 s at its end; 'flow': "
                        "moves that pass their joins, jerk-limited, waits only until the "
                        "arm arrives) and the robot's simulated time split into moving, "
                        "looking, waiting and gripping, with a lower bound from the "
                        "motions' ends. Success with both, and the time on the seeds both "
                        "got right.")
    declare.command(bench, "cli", CliOptions, _cmd_cli,
            help="start-up time and memory of the command line",
            description="Run 'tamp --help', 'tamp tasks' and 'tamp deploy --help' in fresh "
                        "interpreters, beside building the whole parser (what every command "
                        "paid before), and report median time and peak memory.")


def _cmd_robot_time(args: RobotTimeOptions) -> int:
    import shutil

    from tqdm import tqdm

    from experiments import bench_robot_time as br
    from robots import DEFAULT_ROBOT

    tasks = _tasks(args.tasks)
    out = opt.writable_dir("--out", args.out)
    cfg = br.RobotTimeConfig(tasks, args.episodes, args.seed_start, args.workers,
                             tuple(args.methods), args.camera, args.robot)
    with tqdm(desc="episodes", unit="ep", file=sys.stderr, dynamic_ncols=True) as bar:
        results = br.run(cfg, out, bar, run_missing=not args.no_run)
    if not any(results.values()):
        print(f"[bench] no episodes in {out}", file=sys.stderr)
        return 1
    command = (f"tamp bench robot-time --tasks {args.tasks} --methods "
               f"{','.join(args.methods)} --episodes {args.episodes} --seed-start "
               f"{args.seed_start} --workers {args.workers}"
               + (f" --camera {args.camera}" if args.camera else "")
               + (f" --robot {args.robot}" if args.robot != DEFAULT_ROBOT else ""))
    table = br.rows(results)
    plot = "robot_time.png" if br.write_plot(results, out / "robot_time.png") else None
    text = br.report(table, command, plot)
    write_text_atomic(out / "report.md", text)
    print(text)
    if args.update_docs:
        linked = None
        if plot:
            (DOCS.parent / "bench").mkdir(parents=True, exist_ok=True)
            name = f"{args.docs_section}.png"
            shutil.copyfile(out / plot, DOCS.parent / "bench" / name)
            linked = f"bench/{name}"
        section = args.docs_section
        if section != "robot-time":
            command += f" --docs-section {section}"
        update_docs(section, br.report(table, command + " --update-docs", linked,
                                       "Robot time" if section == "robot-time"
                                       else f"Robot time: {section}"))
    return 0


def _cmd_cli(args: CliOptions) -> int:
    from experiments import bench_cli_startup as bc

    text = bc.report(args.runs, lambda m: print(f"[bench] {m}", file=sys.stderr, flush=True))
    print(text)
    if args.update_docs:
        update_docs("cli", text)
    return 0


def _cmd_twin(args: TwinOptions) -> int:
    from experiments import bench_twin as bt

    tasks = _tasks(args.tasks)
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


def _tasks(text: str) -> tuple[str, ...]:
    """``--tasks``: comma-separated registered task names, or ``all``."""
    from scenes.tasks import suite_names, task_names

    tasks = tuple(suite_names()) if text == "all" else \
        tuple(t.strip() for t in text.split(",") if t.strip())
    if not tasks:
        raise UsageError("--tasks must name at least one task")
    unknown = [t for t in tasks if t not in task_names()]
    if unknown:
        raise UsageError(f"unknown task '{unknown[0]}'; known tasks: {', '.join(task_names())}")
    return tasks


def _cmd_perception(args: PerceptionOptions) -> int:
    from experiments import bench_perception as bp
    from experiments.files import write_json_atomic

    tasks, cameras = _tasks(args.tasks), args.cameras
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


def _cmd_geometry(args: GeometryOptions) -> int:
    import robots
    from experiments import bench_geometry as bg
    from experiments.files import write_json_atomic

    opt.writable_dir("--out", args.out)
    device = str(opt.torch_device(args.device))
    cfg = bg.GeometryBenchConfig(seed=args.seed, device=device)
    if args.quick:
        cfg = bg.GeometryBenchConfig(n_configs=500, batch_sizes=(1, 64, 1024), n_ik=50,
                                     n_motion=3, n_grasp_trials=1, seed=args.seed,
                                     device=device)

    def progress(msg: str) -> None:
        print(f"[bench] {msg}", file=sys.stderr, flush=True)

    robot = robots.load()
    results = {"collision": bg.bench_collision(robot, cfg, progress),
               "ik": bg.bench_ik(robot, cfg, progress),
               "motion": bg.bench_motion(robot, cfg, progress),
               "grasps": bg.bench_grasps(robot, cfg, progress)}
    command = "tamp bench geometry" + (" --quick" if args.quick else "") + \
        (f" --seed {args.seed}" if args.seed else "") + \
        (f" --device {args.device}" if args.device != "cpu" else "")
    text = bg.report(results, command)
    out = Path(args.out)
    write_json_atomic(out / "geometry.json", results)
    (out / "geometry.md").write_text(text)
    print(text)
    if args.update_docs:
        update_docs("geometry", text)
    return 0


def _cmd_episodes(args: EpisodesOptions) -> int:
    from tqdm import tqdm

    from experiments import bench_episodes as be
    from robots import DEFAULT_ROBOT

    tasks, methods, gif_seeds = _tasks(args.tasks), args.methods, args.gif_seeds
    if not methods:
        raise UsageError("--tasks and --methods must name at least one task and method")
    if args.backend == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise UsageError("--backend ray needs Ray: pip install 'tamp[ray]'") from None
    if args.checkpoints is not None:
        opt.existing_dir("--checkpoints", args.checkpoints)
    refuse_unusable(args, methods)
    options = args.vlm.method_options(methods)
    planner = args.devices.planner_settings(opt.planner_overrides(args.planner_config))
    if planner:
        options["planner"] = planner
    if args.checkpoints is not None:
        options["checkpoints"] = args.checkpoints
    out = opt.writable_dir("--out", args.out)
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
               + (f" --device {args.devices.device}" if args.devices.device != "cpu" else "")
               + (f" --collision-backend {args.devices.collision_backend}"
                  if args.devices.collision_backend else "")
               + args.vlm.flags(methods))
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
