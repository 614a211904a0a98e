"""``tamp``: the command line.

Exit codes: 0 success, 1 the task failed, 2 bad input (one line on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import sys

from experiments.options import EXIT_OK, EXIT_USAGE, Parser, UsageError
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


def _cmd_tasks(args) -> int:
    from scenes.tasks import task_class, task_names

    for name in task_names():
        cls = task_class(name)
        doc = (sys.modules[cls.__module__].__doc__ or "").strip().splitlines()
        summary = doc[0].split(":", 1)[-1].strip() if doc else ""
        print(f"{name:<20} {cls.gym_id:<28} {summary}")
    return EXIT_OK


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line. ``command`` None: all of it. A command's name: only that
    command (from the module of :data:`COMMANDS` that adds it, or the built-in ``run`` and
    ``tasks``), so that a command imports only what it needs (``tamp deploy`` runs without
    PyBullet, as on a robot's computer). :data:`OVERVIEW`: every command listed with its
    summary and none built (``tamp --help`` imports nothing heavy)."""
    parser = Parser(prog="tamp", description=(
        "Task-and-motion planning for tabletop manipulation with a robot arm and gripper "
        "described under robots/ (--robot NAME), simulated in PyBullet."),
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

    from experiments.run_cli import add_run_command

    add_run_command(sub)
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
