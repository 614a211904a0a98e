"""``tamp policies ...``: record demonstrations, train and evaluate the one-demonstration
imitation baselines (``bc-1demo``, ``bc-1demo-aug``, ``transporter-1demo``).

Torch runs with ``--threads`` intra-op threads (default 1: on a shared CPU more threads
spin against other processes and run slower).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from experiments import declare
from experiments import options as opt
from experiments.declare import opt as option
from experiments.policies_common import (DEVICE_HELP, _demo_for, _demo_seeds, _same_robot,
                                         _say, _seeds, _setup, _tasks, evaluate_seeds)
from experiments.shared_options import robot_option
from policies.demos import DEMO_DIR, DEMO_SEED
from robots import DEFAULT_ROBOT

METHODS = ("bc-1demo", "bc-1demo-aug", "transporter-1demo")
EVAL_DIR = "runs/policies/eval"


def _methods(spec: str) -> list[str]:
    from experiments.options import UsageError

    names = list(METHODS) if spec == "all" else [m for m in spec.split(",") if m]
    unknown = [m for m in names if m not in METHODS]
    if unknown or not names:
        raise UsageError(f"unknown method '{','.join(unknown) or spec}'; imitation methods: "
                         f"{', '.join(METHODS)} (or 'all')")
    return names


@dataclass(frozen=True)
class DemoOptions:
    """The options of ``tamp policies demo``."""

    task: str = option(required=True, help="task name (see 'tamp tasks'), or 'all'")
    seed: int = option(DEMO_SEED, range=opt.SEED.bounds,
                       help=f"scene seed (default {DEMO_SEED}; evaluation uses 1000+)")
    demos: str = option(DEMO_DIR, help=f"demo directory (default {DEMO_DIR})")
    robot: str = robot_option("the robot that performs the demonstration; the "
                              "demonstration records it")


@dataclass(frozen=True)
class TrainOptions:
    """The options of ``tamp policies train``."""

    method: str = option(required=True, help=f"{', '.join(METHODS)}, or 'all'")
    task: str = option(required=True, help="task name, comma-separated names, or 'all'")
    demo_seed: int = option(DEMO_SEED, range=opt.SEED.bounds,
                            help=f"seed of the demonstration (default {DEMO_SEED})")
    demos: str = option(DEMO_DIR, help=f"demo directory (default {DEMO_DIR})")
    out: str | None = option(None, help="checkpoint root (default: the shipped "
                                        "policies/checkpoints; needed for a robot other "
                                        f"than {DEFAULT_ROBOT})")
    iterations: int | None = option(None, range=(1, 10_000_000), help=(
        "training iterations (default: 1500 for BC, 500 for Transporter)"))
    augment_per_step: int | None = option(None, range=(1, 10_000), help=(
        "bc-1demo-aug: augmented samples per demo step (default 32)"))
    seed: int = option(0, range=opt.SEED.bounds, help="training seed (default 0)")
    robot: str | None = robot_option(
        "training uses the demonstration's robot, and the checkpoint records it; a "
        "--robot other than that of a demonstration in --demos is refused, a missing "
        "demonstration is recorded with it",
        default=f"the demonstration's; {DEFAULT_ROBOT} for one recorded here")
    device: str = option("cpu", help=DEVICE_HELP)
    threads: int = option(1, range=opt.THREADS.bounds, help="torch threads (default 1)")


@dataclass(frozen=True)
class EvalOptions:
    """The options of ``tamp policies eval``."""

    method: str = option("all", help="comma-separated methods (default all)")
    task: str = option("place-in-bowl", help="comma-separated tasks, or 'all'")
    seeds: str = option("1000-1009", help="e.g. 1000-1009 (default)")
    checkpoints: str | None = option(None, help="checkpoint root (default: the shipped "
                                                "policies/checkpoints)")
    out: str = option(EVAL_DIR, help=f"output directory (default {EVAL_DIR})")
    resume: bool = option(False, help="keep episodes already written under OUT (of the "
                                      "same --robot)")
    robot: str = robot_option(
        "the robot of every episode; a checkpoint learned from another robot's "
        "demonstration still runs (it chooses objects and places, this robot picks and "
        "places them), and each episode records checkpoint_robot beside robot")
    device: str = option("cpu", help=DEVICE_HELP)
    threads: int = option(1, range=opt.THREADS.bounds, help="torch threads (default 1)")


def add_commands(sub) -> None:
    from experiments.options import Parser

    p = sub.add_parser("policies", help="one-demonstration imitation baselines",
                       description="Record a TAMP demonstration, train the imitation "
                       "baselines (bc-1demo, bc-1demo-aug, transporter-1demo) on it, and "
                       "evaluate them on held-out seeds.")
    cmd = p.add_subparsers(dest="policies_command", metavar="ACTION", parser_class=Parser)
    cmd.required = True
    declare.command(cmd, "demo", DemoOptions, _cmd_demo,
                    help="record a demonstration with the TAMP planner",
                    description="Let the TAMP planner solve one seed of a task and record "
                    "each pick-and-place (state, images, object, where it came to rest).")
    declare.command(cmd, "train", TrainOptions, _cmd_train,
                    help="train a method on a task's demonstration",
                    description="Train METHOD on the task's demonstration (recorded first "
                    "if missing) and write <out>/<method>/<task>.safetensors + .json.")
    declare.command(cmd, "eval", EvalOptions, _cmd_eval, help="success rate over seeds",
                    description="Run each method on each task over the seeds and write "
                    "OUT/<method>/<task>/seed<S>.json per episode and OUT/summary.md.")
    from experiments.curve_cli import CurveOptions, _cmd_curve

    declare.command(cmd, "curve", CurveOptions, _cmd_curve,
                    help="transporter-1demo's success against training iterations",
                    description="Train transporter-1demo through the iteration milestones "
                    "(resumable), evaluate the checkpoint of each on the seeds, and write "
                    "OUT/curve.md, curve.json and curve.png (a learning curve).")


def _cmd_demo(args: DemoOptions) -> int:
    from policies.demos import DemoError, record_demo, save_demo

    tasks = _tasks(args.task)
    opt.writable_dir("--demos", args.demos)
    failed = 0
    for task in tasks:
        _say(f"recording {task} (seed {args.seed}, robot {args.robot})")
        try:
            demo = record_demo(task, args.seed, say=lambda m: _say(f"{task}: {m}"),
                               robot=args.robot)
        except DemoError as err:
            _say(f"FAILED: {err}")
            failed += 1
            continue
        path = save_demo(demo, args.demos)
        _say(f"{task}: {len(demo.steps)} steps in {demo.info['seconds']} s -> {path}")
        if demo.info["replans"]:
            _say(f"{task}: warning: the demonstration recovered from "
                 f"{len(demo.info['replans'])} failed step(s) ({demo.info['replans'][0]}); "
                 "its later steps start from a state no clean run reaches: consider "
                 "another --seed")
    return 1 if failed else 0


def _cmd_train(args: TrainOptions) -> int:
    device = _setup(args)
    opt.writable_dir("--demos", args.demos)
    if args.out is not None:
        opt.writable_dir("--out", args.out)
    methods, tasks = _methods(args.method), _tasks(args.task)
    _check_robots(tasks, args)
    failed = 0
    for task in tasks:
        for method in methods:
            try:
                _train_one(method, task, args, device)
            except (RuntimeError, ValueError) as err:
                _say(f"{method} on {task} FAILED: {err}")
                failed += 1
    return 1 if failed else 0


def _check_robots(tasks: list[str], args) -> None:
    """Before anything is trained: the robot of each task's demonstrations in ``--demos``
    (``_same_robot``), and no other robot than the default into the shipped checkpoints."""
    from policies.demos import DemoError, load_demo

    for task in tasks:
        robot = args.robot
        for seed in _demo_seeds(args):
            try:
                demo = load_demo(task, seed, args.demos)
            except DemoError:
                continue
            robot = _same_robot(demo, robot, args)
        if args.out is None and (robot or DEFAULT_ROBOT) != DEFAULT_ROBOT:
            raise opt.UsageError(f"{task}: training for {robot} needs --out DIR (the "
                                 f"default, the shipped checkpoints, learned from "
                                 f"{DEFAULT_ROBOT} demonstrations)")


def _train_one(method: str, task: str, args, device) -> None:
    from dataclasses import replace

    import robots
    from policies.weights import save_checkpoint

    demo = _demo_for(task, args)
    if not demo.steps:
        raise ValueError(f"the {task} demonstration has no pick-and-place step to imitate")
    command = f"tamp policies train --method {method} --task {task}"
    for flag, value in (("--iterations", args.iterations),
                        ("--augment-per-step", args.augment_per_step)):
        if value is not None:
            command += f" {flag} {value}"
    if args.seed:
        command += f" --seed {args.seed}"
    if demo.robot != DEFAULT_ROBOT:
        command += f" --robot {demo.robot}"
    info = {"command": command, "robot": demo.robot, "demo_seed": demo.seed,
            "demo_steps": len(demo.steps),
            "demo_actions": [" ".join(s.action) for s in demo.steps]}
    t0 = time.perf_counter()
    if method == "transporter-1demo":
        from policies.bc import max_steps_for
        from policies.transporter import (TransporterConfig, checkpoint_config,
                                          demo_samples, train_transporter)

        config = TransporterConfig(seed=args.seed)
        if args.iterations is not None:
            config = replace(config, iterations=args.iterations)
        net, report = train_transporter(
            demo_samples(demo, config.rotations), config, device,
            lambda it, loss: _say(f"{method} {task}: iteration {it}: loss {loss:.3f}"))
        info["train"] = report
        doc = checkpoint_config(config, max_steps_for(demo))
    else:
        from policies.bc import BCConfig, checkpoint_config, train_method

        config = BCConfig(seed=args.seed)
        if args.iterations is not None:
            config = replace(config, iterations=args.iterations)
        if args.augment_per_step is not None:
            config = replace(config, augment_per_step=args.augment_per_step)
        domain = demo_domain(task)
        net, extra = train_method(method, demo, domain, robots.load(demo.robot), config,
                                  device, lambda m: _say(f"{method} {task}: {m}"))
        info.update(extra)
        doc = checkpoint_config(config, demo)
    info["seconds"] = round(time.perf_counter() - t0, 1)
    path = save_checkpoint(method, task, net, doc, info, args.out)
    _say(f"{method} on {task}: trained in {info['seconds']} s -> {path}")


def demo_domain(task: str) -> str:
    """The PDDL domain the task's goals are stated in (from one sampled instance)."""
    import numpy as np

    from scenes.tasks import make_task

    return make_task(task).sample(np.random.default_rng(0)).domain


def _cmd_eval(args: EvalOptions) -> int:
    from experiments.files import write_json_atomic
    from policies import make_policy
    from scenes.env import TabletopEnv

    device = _setup(args)
    methods, tasks, seeds = _methods(args.method), _tasks(args.task), _seeds(args.seeds)
    out = opt.writable_dir("--out", args.out)
    if args.checkpoints is not None:
        opt.existing_dir("--checkpoints", args.checkpoints)
    rows = []
    for task in tasks:
        env = TabletopEnv(task, robot=args.robot)
        try:
            for method in methods:
                policy = make_policy(method, checkpoints=args.checkpoints, device=str(device))
                results = evaluate_seeds(policy, env, method, seeds, out / method / task,
                                         args.resume)
                wins = sum(r["success"] for r in results)
                rows.append({"method": method, "task": task, "episodes": len(results),
                             "successes": wins,
                             "success_rate": round(wins / len(results), 3)})
        finally:
            env.close()
    seeds_text = f"{seeds[0]}-{seeds[-1]}" if seeds == list(range(seeds[0], seeds[-1] + 1)) \
        else ",".join(map(str, seeds))
    command = f"tamp policies eval --method {','.join(methods)} --task {','.join(tasks)} " \
        f"--seeds {seeds_text}" + (f" --robot {args.robot}" if args.robot != DEFAULT_ROBOT
                                   else "")
    write_json_atomic(out / "summary.json", {"command": command, "rows": rows})
    table = ["| method | task | success | episodes |", "|---|---|---|---|"]
    table += [f"| {r['method']} | {r['task']} | {100 * r['success_rate']:.0f} % "
              f"({r['successes']}/{r['episodes']}) | {r['episodes']} |" for r in rows]
    text = "\n".join(table) + "\n"
    tmp = out / ".summary.md.tmp"
    tmp.write_text(f"`{command}`\n\n" + text)
    tmp.replace(out / "summary.md")
    print(text, end="")
    return 0
