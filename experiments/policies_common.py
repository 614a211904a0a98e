"""What ``tamp policies`` commands share: the task, seed and device options, finding (or
recording) the demonstration to imitate, and running a policy over evaluation seeds."""

from __future__ import annotations

import sys
import time

from experiments import options as opt
from robots import DEFAULT_ROBOT


def _say(msg: str) -> None:
    print(f"[policies] {msg}", file=sys.stderr, flush=True)


def _tasks(spec: str) -> list[str]:
    from experiments.options import UsageError
    from scenes.tasks import suite_names, task_names

    names = suite_names() if spec == "all" else [t for t in spec.split(",") if t]
    unknown = [t for t in names if t not in task_names()]
    if unknown or not names:
        raise UsageError(f"unknown task '{','.join(unknown) or spec}'; known tasks: "
                         f"{', '.join(task_names())} (or 'all')")
    return names


def _seeds(spec: str) -> list[int]:
    """``1000-1009`` or ``1000,1003``."""
    from experiments.options import UsageError

    try:
        if "-" in spec:
            a, b = (int(v) for v in spec.split("-", 1))
            seeds = list(range(a, b + 1))
        else:
            seeds = [int(v) for v in spec.split(",") if v]
    except ValueError:
        raise UsageError(f"--seeds: expected e.g. 1000-1009 or 1000,1003, got '{spec}'") \
            from None
    if not seeds or min(seeds) < 0:
        raise UsageError(f"--seeds: expected seeds >= 0, e.g. 1000-1009, got '{spec}'")
    return seeds


def _setup(args):
    import torch

    torch.set_num_threads(args.threads)
    from experiments.options import torch_device

    return torch_device(args.device)


DEVICE_HELP = "torch device: cpu, cuda[:N] or auto (default cpu)"


#: seeds tried after --demo-seed for a clean demonstration (all well below the
#: evaluation seeds, which start at 1000)
CLEAN_DEMO_TRIES = 5


def _demo_seeds(args) -> range:
    return range(args.demo_seed, args.demo_seed + CLEAN_DEMO_TRIES)


def _same_robot(demo, robot: str | None, args) -> str:
    """The demonstration's robot; a :class:`UsageError` when ``robot`` (``--robot``, or
    the robot of another seed's demonstration) is set and is another."""
    if robot is not None and demo.robot != robot:
        where = f"the demonstration of {demo.task} seed {demo.seed} in {args.demos}"
        if args.robot is None:
            raise opt.UsageError(f"{where} was recorded with {demo.robot}, an earlier "
                                 f"seed's with {robot}: give --robot NAME")
        raise opt.UsageError(f"--robot {robot}: {where} was recorded with {demo.robot}; "
                             f"leave out --robot to train for {demo.robot}, or give "
                             f"another --demos folder")
    return demo.robot


def _demo_for(task: str, args):
    """The demonstration to imitate: the first seed from ``--demo-seed`` on whose
    demonstration ran without a replan (one that recovered from a slip shows steps from
    states a clean run never reaches); recorded where missing, with ``--robot`` (or the
    robot of the seeds' other demonstrations, else the default)."""
    from policies.demos import DemoError, load_demo, record_demo, save_demo

    seen, robot = [], args.robot
    for seed in _demo_seeds(args):
        try:
            demo = load_demo(task, seed, args.demos)
        except DemoError:
            _say(f"no demonstration of {task} seed {seed} yet: recording it")
            try:
                demo = record_demo(task, seed, say=lambda m: _say(f"{task}: {m}"),
                                   robot=robot or DEFAULT_ROBOT)
            except DemoError as err:
                _say(f"{err}; trying the next seed")
                continue
            save_demo(demo, args.demos)
        robot = _same_robot(demo, robot, args)
        if not demo.info.get("replans"):
            return demo
        _say(f"the {task} demonstration of seed {seed} needed a replan; trying the next seed")
        seen.append(demo)
    if seen:
        return seen[0]
    raise ValueError(f"no demonstration of {task} could be recorded on seeds "
                     f"{args.demo_seed}-{args.demo_seed + CLEAN_DEMO_TRIES - 1}")


def evaluate_seeds(policy, env, method: str, seeds: list[int], out, resume: bool
                   ) -> list[dict]:
    """``policy`` run in ``env`` on each seed: one record per episode, each written to
    ``out``/seed<S>.json atomically; with ``resume``, records already there (of the same
    robot) are kept and not run again."""
    import json

    from experiments.files import write_json_atomic

    results = []
    task = env.task.name
    for seed in seeds:
        path = out / f"seed{seed}.json"
        if resume and path.is_file():
            record = json.loads(path.read_text())
            # an episode recorded before robots were is the default robot's
            if record.get("robot", DEFAULT_ROBOT) == env.robot.name:
                results.append(record)
                continue
        env.reset(seed=seed)
        t0 = time.perf_counter()
        outcome = policy.run(env)
        record = {"task": task, "seed": seed, "method": method, "robot": env.robot.name,
                  "checkpoint_robot": outcome.extra.get("checkpoint_robot"),
                  "success": bool(outcome.success),
                  "failure_reason": outcome.failure_reason,
                  "planning_time_s": round(outcome.planning_time_s, 3),
                  "execution_time_s": round(outcome.execution_time_s, 3),
                  "wall_time_s": round(time.perf_counter() - t0, 2),
                  "steps": outcome.extra.get("steps", [])}
        write_json_atomic(path, record)
        results.append(record)
        _say(f"{method} {task} seed {seed}: "
             f"{'success' if outcome.success else 'FAILED: ' + outcome.failure_reason}")
    return results
