"""``tamp``: the command line.

Exit codes: 0 success, 1 the task failed, 2 bad input (one line on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import os
import sys

from experiments import options as opt
from experiments.options import (EXIT_FAILED, EXIT_OK, EXIT_USAGE, Parser, UsageError,
                                 add_camera_argument, add_robot_argument, add_vlm_arguments,
                                 finite_float, vlm_options)
from tamp.registry import Registry


#: command -> the module that adds it: each defines ``add_commands(subparsers)`` and keeps
#: its heavy imports inside the command functions. ``tamp COMMAND ...`` builds only that
#: module's parser, so that a command imports only what it needs (``tamp deploy`` runs
#: without PyBullet, as on a robot's computer); a test checks this map against what the
#: modules add.
COMMANDS: Registry[str] = Registry("command")
for _name, _module in (
        ("bench", "experiments.bench_cli"), ("pddl", "experiments.pddl_cli"),
        ("gripper", "experiments.gripper_cli"), ("deploy", "experiments.deploy_cli"),
        ("twin", "experiments.deploy_cli"), ("concepts", "experiments.concepts_cli"),
        ("policies", "experiments.policies_cli"), ("model-server", "experiments.model_server")):
    COMMANDS.add(_name, _module)
COMMAND_MODULES: list[str] = list(dict.fromkeys(
    "experiments." + m for m in ("bench_cli", "pddl_cli", "gripper_cli", "deploy_cli",
                                 "concepts_cli", "policies_cli", "model_server")))
#: what ``tamp --help`` says of each command, without importing its module (a test
#: checks these against the commands' own help)
SUMMARIES: dict[str, str] = {
    "run": "plan and execute one episode",
    "tasks": "list the registered tasks",
    "bench": "run a benchmark",
    "pddl": "solve a symbolic PDDL problem and print the plan",
    "gripper": "activate, open, close or read a Robotiq 2F-85 (or its simulator)",
    "deploy": "look, plan and act on a robot through ROS (dry run unless --execute)",
    "twin": "serve a simulated scene as a robot cell over ROS 1 and Modbus",
    "concepts": "train, evaluate and extend the concept model",
    "policies": "one-demonstration imitation baselines",
    "model-server": "serve a local language model (OpenAI-compatible endpoint)",
}
#: ``build_parser(OVERVIEW)``: every command listed with its summary, none built
OVERVIEW = "--overview"


def _progress():
    """A monitor that prints stages and an execution progress bar on stderr."""
    from tqdm import tqdm

    from policies import Monitor

    class TqdmMonitor(Monitor):
        def __init__(self):
            self.bar = None

        def stage(self, message: str) -> None:
            self.close()
            print(f"[tamp] {message}", file=sys.stderr, flush=True)

        def expect_steps(self, n: int) -> None:
            self.close()
            self.bar = tqdm(total=n, unit="step", desc="executing", file=sys.stderr,
                            leave=False, dynamic_ncols=True)

        def step(self, env) -> None:
            if self.bar is not None and self.bar.n < self.bar.total:
                self.bar.update(1)

        def close(self) -> None:
            if self.bar is not None:
                self.bar.close()
                self.bar = None

    return TqdmMonitor()


def _cmd_tasks(args) -> int:
    from scenes.tasks import task_class, task_names

    for name in task_names():
        cls = task_class(name)
        doc = (sys.modules[cls.__module__].__doc__ or "").strip().splitlines()
        summary = doc[0].split(":", 1)[-1].strip() if doc else ""
        print(f"{name:<20} {cls.gym_id:<28} {summary}")
    return EXIT_OK


def _cmd_run(args) -> int:
    from policies import policy_names
    from scenes.tasks import task_names

    if args.task not in task_names():
        raise UsageError(f"unknown task '{args.task}'; known tasks: {', '.join(task_names())}")
    if args.method not in policy_names():
        raise UsageError(f"unknown method '{args.method}'; known methods: "
                         f"{', '.join(policy_names())}")
    from policies.tamp_agent import PERCEPTION_MODES

    if args.perception not in PERCEPTION_MODES:
        raise UsageError(f"unknown perception '{args.perception}'; known: "
                         f"{', '.join(PERCEPTION_MODES)}")
    from tamp.concepts.definitions import GROUPS, RELATIONS
    from tamp.concepts.language import GoalError, Vocabulary, parse_goal

    from experiments.episode import unusable_options, uses_learned_perception

    given = {"goal": args.goal is not None, "perception": args.perception != "oracle"}
    for option in unusable_options(args.method, [k for k, v in given.items() if v]):
        raise UsageError(f"--{option}: method '{args.method}' cannot use it (it would be "
                         "ignored); leave it out")

    groups, concepts = dict(GROUPS), None
    words = tuple(c for g in GROUPS.values() for c in g)
    learned = uses_learned_perception(args.method, args.perception)
    if args.concepts is not None and not learned:
        raise UsageError(f"--concepts is for learned perception; method '{args.method}' with "
                         f"--perception {args.perception} does not use it")
    if learned:
        from tamp.perception.sensors import DEFAULT_LEARNED_CAMERA
        from tamp.concepts.checkpoint import (CheckpointError, checkpoint_for_camera,
                                              read_config)
        from tamp.concepts.model import ConceptConfig

        # unset, the agent loads the shipped checkpoint of the episode's camera: its
        # vocabulary is the one to check the goal's words against
        concepts = args.concepts
        check = concepts or str(checkpoint_for_camera(args.camera or DEFAULT_LEARNED_CAMERA))
        try:
            model = ConceptConfig.from_json(read_config(check)["model"])
            if concepts is not None:  # the weights too, before the episode is built
                from tamp.concepts.checkpoint import load_checkpoint

                load_checkpoint(concepts)
        except CheckpointError as err:
            raise UsageError(str(err)) from None
        groups, words = model.groups, model.unary_names
    if args.goal is not None:
        # words and grammar are checked here; whether the scene holds what the words
        # describe is the episode's business (it fails with the reason)
        try:
            parse_goal(args.goal, Vocabulary.from_concepts(groups, words, RELATIONS))
        except GoalError as err:
            raise UsageError(f"--goal: {err}") from None
    if args.time_budget <= 0:
        raise UsageError(f"--time-budget must be > 0 s, got {args.time_budget}")
    out = opt.writable_dir("--out", args.out)  # found now, not after the whole episode
    earlier = [n for n in ("result.json", "episode.gif") if (out / n).exists()]
    if earlier and not args.overwrite:
        raise UsageError(f"--out {out} already holds {' and '.join(earlier)} of an earlier "
                         "episode; pass --overwrite to replace them, or choose another --out")
    if args.gui and not os.environ.get("DISPLAY"):
        raise UsageError("--gui needs a display, and DISPLAY is not set")

    from experiments.episode import EpisodeSpec, run_episode

    options = vlm_options(args, [args.method])
    planner = opt.planner_overrides(args.planner_config)
    if planner:
        options["planner"] = planner
    if not args.gif:  # --overwrite: no GIF of the earlier episode stays beside the new result
        (out / "episode.gif").unlink(missing_ok=True)
    monitor = _progress()
    try:
        result = run_episode(EpisodeSpec(args.task, args.seed, args.method, args.perception,
                                         args.time_budget, args.goal, concepts, options,
                                         camera=args.camera, robot=args.robot),
                             out=out, gif=args.gif, gui=args.gui, monitor=monitor)
    finally:
        monitor.close()
    verdict = "success" if result["success"] else f"FAILED: {result['failure_reason']}"
    print(f"[tamp] {args.task} seed {args.seed}: {verdict} "
          f"(planning {result['planning_time_s']:.2f} s, "
          f"execution {result['execution_time_s']:.1f} s) -> {out / 'result.json'}",
          file=sys.stderr)
    return EXIT_OK if result["success"] else EXIT_FAILED


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line. ``command`` None: all of it. A command's name: only that
    command (from the module of :data:`COMMANDS` that adds it, or the built-in ``run`` and
    ``tasks``), so that a command imports only what it needs (``tamp deploy`` runs without
    PyBullet, as on a robot's computer). :data:`OVERVIEW`: every command listed with its
    summary and none built (``tamp --help`` imports nothing heavy)."""
    parser = Parser(prog="tamp", description=(
        "Task-and-motion planning for tabletop manipulation with a Franka Panda and a "
        "Robotiq 2F-85, simulated in PyBullet."),
        epilog="Exit codes: 0 success, 1 the task failed, 2 bad input. "
               "'tamp COMMAND --help' explains each command.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    if command == OVERVIEW:
        for name, summary in SUMMARIES.items():
            sub.add_parser(name, help=summary, add_help=False)
        return parser
    if command not in (None, "run", "tasks"):
        import importlib

        importlib.import_module(COMMANDS.get(command)).add_commands(sub)
        return parser

    p_run = sub.add_parser("run", help="plan and execute one episode",
                           description="Plan and execute one episode of a task and write "
                                       "OUT/result.json (and OUT/episode.gif with --gif).")
    p_run.add_argument("--task", default="place-in-bowl", help="task name (see 'tamp tasks')")
    p_run.add_argument("--seed", type=opt.SEED, default=0, help="randomises the scene (default 0)")
    p_run.add_argument("--out", default="runs/demo", help="output directory (default runs/demo)")
    p_run.add_argument("--method", default="tamp", help="policy to run (default tamp)")
    p_run.add_argument("--perception", default="oracle",
                       help="where the state comes from: 'oracle' = simulator ground truth, "
                            "'learned' = camera + instance masks + learned concepts, "
                            "'learned-geometric' = the same without masks")
    p_run.add_argument("--goal", default=None,
                       help="the goal in words, e.g. \"put all red blocks in the green bowl\" "
                            "(default: the task's own)")
    p_run.add_argument("--concepts", default=None, metavar="CHECKPOINT",
                       help="concept checkpoint for learned perception (default: the "
                            "shipped one, see 'tamp concepts train')")
    p_run.add_argument("--time-budget", type=finite_float, default=60.0,
                       help="planning time budget in seconds (default 60)")
    add_camera_argument(p_run)
    add_robot_argument(p_run)
    p_run.add_argument("--gif", action="store_true", help="also write OUT/episode.gif")
    p_run.add_argument("--overwrite", action="store_true",
                       help="replace a result already in OUT (without it, an OUT that holds "
                            "one is refused: nothing written is lost)")
    p_run.add_argument("--gui", action="store_true", help="show the PyBullet GUI (needs a display)")

    opt.add_planner_config_argument(p_run)
    add_vlm_arguments(p_run)
    p_run.set_defaults(func=_cmd_run)

    p_tasks = sub.add_parser("tasks", help="list the registered tasks",
                             description="List the registered tasks and their gymnasium ids.")
    p_tasks.set_defaults(func=_cmd_tasks)
    if command is not None:
        return parser

    import importlib

    for module in COMMAND_MODULES:
        importlib.import_module(module).add_commands(sub)
    return parser


def _command(argv: list[str]) -> str:
    """The command ``argv`` names (its first word), or :data:`OVERVIEW` when it names
    none (``tamp --help``, or a mistyped command: argparse lists them)."""
    return argv[0] if argv and argv[0] in SUMMARIES else OVERVIEW


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(_command(argv))
    try:
        args = parser.parse_args(argv)
        return args.func(args)
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    # run through the package module so that command modules share its UsageError class
    from experiments.cli import main as _main

    sys.exit(_main())
