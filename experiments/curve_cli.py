"""``tamp policies curve``: a learning curve of ``transporter-1demo`` — success on fixed
evaluation seeds against training iterations.

For each task, one training runs through the milestones (``--iterations 500,2000,5000``):
at each it writes a checkpoint (``OUT/<task>/it<N>/transporter-1demo/<task>.safetensors``,
loadable by ``--checkpoints OUT/<task>/it<N>``) and evaluates it on ``--seeds`` (one JSON
per episode under ``OUT/<task>/it<N>/eval/``). Everything resumes: the training's state
(network, Adam's moments, the augmentation's generator; ``OUT/<task>/training-state.
safetensors``) goes on from the last milestone exactly as if it had not stopped, a
milestone with a checkpoint is not trained again, an episode with a record is not run
again; a state saved with other settings is refused. Writes ``OUT/curve.json``,
``OUT/curve.md`` and ``OUT/curve.png``.

Beside the episodes' success, each checkpoint is probed on the expert's own states: the
TAMP planner's solution of every evaluation seed is recorded once
(``OUT/<task>/expert/``, as demonstrations are), and at each of its steps the policy
chooses as in an episode. *Pick*: the object under the chosen pick cell (the top of a
stack) is the one the expert picked. *Place*: given the expert's pick cell, the chosen
place is on what the expert put its object on or in (within the footprint of that
object, or of that marked place of the table; on the table itself: within
``PLACE_TOLERANCE`` of where the expert's object came to rest). Per step of the
solution, this says where a policy that fails its episodes goes wrong. Like an episode's success,
the probe is judged on the simulator's ground truth (the recorded worlds); the policy
itself sees only the top-down images.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

from experiments import options as opt
from experiments.declare import opt as option
from experiments.policies_common import (DEVICE_HELP, _demo_for, _say, _seeds, _setup,
                                         _tasks, evaluate_seeds)
from experiments.shared_options import robot_option
from policies.demos import DEMO_DIR, DEMO_SEED
from robots import DEFAULT_ROBOT

METHOD = "transporter-1demo"
CURVE_DIR = "runs/policies/curve"
#: m between the policy's place on the table and the expert's: the same choice
PLACE_TOLERANCE = 0.02


@dataclass(frozen=True)
class CurveOptions:
    """The options of ``tamp policies curve``."""

    task: str = option("place-in-bowl,towers-of-hanoi-3",
                       help="comma-separated tasks (default place-in-bowl,towers-of-hanoi-3)")
    iterations: str = option("500,2000,5000", help=(
        "training iterations at which to evaluate, comma-separated (default 500,2000,5000)"))
    seeds: str = option("1000-1019", help="evaluation seeds, e.g. 1000-1019 (default)")
    out: str = option(CURVE_DIR, help=f"output directory (default {CURVE_DIR})")
    demo_seed: int = option(DEMO_SEED, range=opt.SEED.bounds,
                            help=f"seed of the demonstration (default {DEMO_SEED})")
    demos: str = option(DEMO_DIR, help=f"demo directory (default {DEMO_DIR})")
    seed: int = option(0, range=opt.SEED.bounds, help="training seed (default 0)")
    width: int = option(12, range=(1, 256), help=(
        "channels of the first layer of each network (default 12)"))
    levels: int = option(2, range=(2, 5), help=(
        "halvings of each network's encoder: 2 (default) sees 22 cm either side of a "
        "cell, 3 sees 44 cm"))
    lr: float = option(1e-3, range=(1e-6, 1.0), help=(
        "Adam's learning rate (default 1e-3; the paper's is 1e-4)"))
    robot: str | None = robot_option(
        "the robot of the demonstration (recorded with it where missing) and of the "
        "evaluation episodes", default=f"the demonstration's; {DEFAULT_ROBOT} for one "
        "recorded here")
    device: str = option("cpu", help=DEVICE_HELP)
    threads: int = option(1, range=opt.THREADS.bounds, help="torch threads (default 1)")


def _milestones(spec: str) -> list[int]:
    try:
        values = sorted({int(v) for v in spec.split(",") if v.strip()})
    except ValueError:
        raise opt.UsageError(f"--iterations: expected e.g. 500,2000,5000, got '{spec}'") \
            from None
    if not values or values[0] < 1:
        raise opt.UsageError(f"--iterations: expected positive counts, got '{spec}'")
    return values


def _command(args: CurveOptions) -> str:
    cmd = f"tamp policies curve --task {args.task} --iterations {args.iterations} " \
          f"--seeds {args.seeds}"
    if args.seed:
        cmd += f" --seed {args.seed}"
    if args.width != 12:
        cmd += f" --width {args.width}"
    if args.levels != 2:
        cmd += f" --levels {args.levels}"
    if args.lr != 1e-3:
        cmd += f" --lr {args.lr:g}"
    if args.demo_seed != DEMO_SEED:
        cmd += f" --demo-seed {args.demo_seed}"
    return cmd + (f" --robot {args.robot}" if args.robot else "")


def _cmd_curve(args: CurveOptions) -> int:
    from experiments.bench_episodes import wilson
    from experiments.files import write_json_atomic

    device = _setup(args)
    tasks, seeds, milestones = _tasks(args.task), _seeds(args.seeds), \
        _milestones(args.iterations)
    out = opt.writable_dir("--out", args.out)
    opt.writable_dir("--demos", args.demos)
    rows = []
    for task in tasks:
        try:
            rows += _curve(task, args, seeds, milestones, Path(out), device)
        except ValueError as err:  # a state of other settings, a demonstration missing
            raise opt.UsageError(f"{task}: {err}") from None
    for r in rows:
        r["interval"] = [round(v, 3) for v in wilson(r["successes"], r["episodes"])]
    command = _command(args)
    write_json_atomic(Path(out) / "curve.json", {"command": command, "rows": rows})
    table = ["| task | iterations | success | 95 % interval | expert states: pick / place "
             "| training loss | training s |", "|---|---|---|---|---|---|---|"]
    table += [f"| {r['task']} | {r['iterations']} | {100 * r['successes'] / r['episodes']:.0f} % "
              f"({r['successes']}/{r['episodes']}) | {100 * r['interval'][0]:.0f}-"
              f"{100 * r['interval'][1]:.0f} % | {_share(r['expert']['pick'])} / "
              f"{_share(r['expert']['place'])} ({r['expert']['states']} states) | "
              f"{r['loss']} | {r['seconds']} |" for r in rows]
    text = "\n".join(table) + "\n"
    tmp = Path(out) / ".curve.md.tmp"
    tmp.write_text(f"`{command}`\n\n" + text)
    tmp.replace(Path(out) / "curve.md")
    _plot(rows, Path(out) / "curve.png")
    print(text, end="")
    return 0


def _share(values: list[int]) -> str:
    return f"{100 * sum(values) / max(1, len(values)):.0f} %"


def _expert_solutions(task: str, seeds: list[int], robot: str, root: Path) -> list:
    """The TAMP planner's recorded solution of each seed (recorded once, then loaded);
    seeds it does not solve are left out."""
    from policies.demos import DemoError, load_demo, record_demo, save_demo

    demos = []
    for seed in seeds:
        try:
            demos.append(load_demo(task, seed, root))
            continue
        except DemoError:
            pass
        try:
            demo = record_demo(task, seed, robot=robot)
        except DemoError as err:
            _say(f"{task} seed {seed}: no expert solution to probe ({err})")
            continue
        save_demo(demo, root)
        demos.append(demo)
    return demos


def _reach(o) -> float:
    """m from an object's centre that is surely over it (its footprint's inner radius)."""
    from tamp.geometry.shapes import bowl_inner_radius

    if o.shape.kind == "bowl":
        return bowl_inner_radius(o.shape)  # its flat bottom
    if o.shape.kind == "cylinder":
        return o.shape.size[0]
    return min(o.shape.size[:2]) / 2


def _object_at(world, xy) -> str:
    """The movable object a pick at ``xy`` takes: the highest one whose footprint holds
    it (the top of a stack, as the top-down image's instance label says in an episode),
    else the nearest."""
    import numpy as np

    movable = [o for o in world.objects.values() if o.movable]
    under = [o for o in movable if np.linalg.norm(o.position[:2] - xy) <= _reach(o)]
    if under:
        return max(under, key=lambda o: o.position[2] + o.shape.size[2]).name
    return min(movable, key=lambda o: np.linalg.norm(o.position[:2] - xy)).name


def _on_target(step, xy) -> bool:
    """Whether a place at ``xy`` puts the object where the expert's step put it (see the
    module's note)."""
    import numpy as np

    world, ref = step.world, step.reference
    if ref in world.objects:
        o = world.objects[ref]
        return bool(np.linalg.norm(o.position[:2] - xy) <= _reach(o))
    if ref in world.zones:
        return world.zones[ref].contains(np.asarray(xy))
    return bool(np.linalg.norm(np.asarray(xy) - np.array(step.place_xy)) <= PLACE_TOLERANCE)


def expert_probe(net, demos, device) -> dict:
    """The policy's choices on the expert's states (see the module's note): per state,
    whether its pick and its place agree with the expert's, and the state's step."""
    import numpy as np
    import torch

    from policies.demos import cell_of, xy_of
    from policies.transporter import best_pick, best_place, prepare

    picks, places, steps = [], [], []
    for demo in demos:
        for k, (step, image) in enumerate(zip(demo.steps, demo.images)):
            x = prepare(torch.from_numpy(np.asarray(image, np.float32)).to(device))
            name = _object_at(step.world, np.array(xy_of(best_pick(net, x))))
            expert_pick = tuple(int(round(v)) for v in cell_of(
                step.world.objects[step.pick].position[:2]))
            place = np.array(xy_of(best_place(net, x, expert_pick)[1]))
            picks.append(int(name == step.pick))
            places.append(int(_on_target(step, place)))
            steps.append(k + 1)
    return {"pick": picks, "place": places, "step": steps, "states": len(picks)}


def _curve(task: str, args, seeds: list[int], milestones: list[int], out: Path,
           device) -> list[dict]:
    """One task's training through the milestones and their evaluations: a row each."""
    import shutil

    from policies import make_policy
    from policies.bc import max_steps_for
    from policies.transporter import (TransporterConfig, TransporterTrainer,
                                      checkpoint_config, demo_samples)
    from policies.weights import checkpoint_paths, save_checkpoint
    from scenes.env import TabletopEnv

    demo = _demo_for(task, args)
    if demo.seed in seeds:
        raise ValueError(f"the demonstration's seed {demo.seed} is among the evaluation "
                         f"seeds")
    config = TransporterConfig(seed=args.seed, width=args.width, levels=args.levels,
                               lr=args.lr)
    trainer = TransporterTrainer(
        demo_samples(demo, config.rotations), config, device,
        about={"task": task, "demo_seed": demo.seed, "demo_steps": len(demo.steps),
               "robot": demo.robot})
    state = out / task / "training-state.safetensors"
    if trainer.resume(state):
        _say(f"{task}: training resumed at iteration {trainer.iteration}")
    rows = []
    experts = _expert_solutions(task, seeds, args.robot or demo.robot, out / task / "expert")
    env = TabletopEnv(task, robot=args.robot or demo.robot)
    try:
        for m in milestones:
            root = out / task / f"it{m}"
            weights, doc_path = checkpoint_paths(METHOD, task, root)
            if not weights.is_file() or not doc_path.is_file():
                if trainer.iteration > m:
                    raise ValueError(f"{state} is at iteration {trainer.iteration}, past "
                                     f"{m}, whose checkpoint is missing; use another --out")
                trainer.train(m, lambda it, loss: _say(
                    f"{METHOD} {task}: iteration {it}: loss {loss:.3f}"))
                info = {"command": _command(args), "robot": demo.robot,
                        "demo_seed": demo.seed, "demo_steps": len(demo.steps),
                        "demo_actions": [" ".join(s.action) for s in demo.steps],
                        "train": trainer.report()}
                shutil.rmtree(root / "eval", ignore_errors=True)  # another checkpoint's
                save_checkpoint(METHOD, task, trainer.net,
                                checkpoint_config(replace(config, iterations=m),
                                                  max_steps_for(demo)), info, root)
                trainer.save(state)
            report = json.loads(doc_path.read_text())["info"]["train"]
            policy = make_policy(METHOD, checkpoints=str(root), device=str(device))
            results = evaluate_seeds(policy, env, METHOD, seeds, root / "eval", resume=True)
            wins = sum(r["success"] for r in results)
            probe = expert_probe(policy.load(task)[0], experts, policy.device)
            _say(f"{task} at {m} iterations: {wins}/{len(results)}; on the expert's states "
                 f"pick {_share(probe['pick'])}, place {_share(probe['place'])}")
            rows.append({"task": task, "iterations": m, "successes": wins,
                         "episodes": len(results), "loss": report["final_loss"],
                         "seconds": report["seconds"], "demo_seed": demo.seed,
                         "expert": probe,
                         "failures": sorted({(r["failure_reason"] or "")[:80]
                                             for r in results if not r["success"]})})
    finally:
        env.close()
    return rows


def _plot(rows: list[dict], path: Path) -> None:
    """Success (with its 95 % interval) against training iterations, a line per task."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from tamp.files import atomic_path

    fig, ax = plt.subplots(figsize=(6, 4))
    for task in dict.fromkeys(r["task"] for r in rows):
        rs = [r for r in rows if r["task"] == task]
        x = [r["iterations"] for r in rs]
        y = [100 * r["successes"] / r["episodes"] for r in rs]
        err = [[y_ - 100 * r["interval"][0] for y_, r in zip(y, rs)],
               [100 * r["interval"][1] - y_ for y_, r in zip(y, rs)]]
        ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=task)
    ax.set_xscale("log")
    ax.set_ylim(-5, 105)
    ax.set_xlabel("training iterations")
    ax.set_ylabel("success (%), 95 % interval")
    ax.set_title(f"{METHOD}: success on held-out seeds")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(path, ".png") as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
