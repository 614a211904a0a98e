"""Collision checks per second: the torch test on ``--device`` (a GPU) against the compiled
CPU kernel on this machine's CPU, in the same run on the same scene.

    python experiments/gpu_collision.py --device cuda

Needs only PyTorch, numpy, scipy, pyyaml and numba, and the repository: no pinocchio,
PyBullet or project install (the robot's sphere model is the stored
``robots/NAME/NAME_sphere_model.npz``). Prints a Markdown table.

The scene is ``tamp bench geometry``'s cluttered table (10 boxes and the table, seed 0);
the configurations are drawn uniformly within the joint limits (``--seed``), gripper
open. Torch runs :class:`tamp.geometry.torch_spheres.TorchSpheres` in float32 (exact
clearances; on CUDA synchronised before the clock is read; ``--torch-threads`` CPU
threads, default 1); the kernel runs
:func:`tamp.geometry.collision.kernel_clearances` in float64 on one CPU thread (it has no
parallel mode) with its early exit, as the planner's ``free`` does. Each rate is the
median of ``--repeats`` timed calls after one warm-up call; a row whose estimated time
would overrun ``--max-seconds`` (counted from the first timed call) is reported skipped.

Agreement: the free flags (clearance > 0) of torch and of the kernel on the first
``--agree`` configurations. Float32 moves a clearance by up to 2e-7 m (on 100 000 of
these configurations, on a CPU), so a flip where the kernel's exact clearance is within
``--tolerance`` (1e-6 m) of zero is counted apart; any other disagreement exits 1.

Arithmetic yardstick (not a bound on the culled test, which does less arithmetic and is
limited by memory traffic and kernel launches instead): the rate of the exhaustive test,
no culling, at the device's peak FP32 rate,

    peak FLOP/s / (63 J + 18 P + 40 S_w O + 12 N)   configurations/s,

with J joints (a 3x3 rotation and a translation composed, 63 flops), P points moved (each
sphere, link and cluster centre: a rigid transform, 18), S_w spheres checked against the
world times O obstacles (transform 18, box distance ~22) and N self-collision sphere pairs
(difference, norm and radii, ~12). Peak = SMs x FP32 lanes per SM x 2 x clock, from
``torch.cuda.get_device_properties``; not computed on a CPU or an unknown architecture.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

if not __package__:  # run as a file (the documented way): make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import robots  # noqa: E402
from experiments.clutter import cluttered_world  # noqa: E402
from experiments.options import UsageError, torch_device  # noqa: E402
from tamp.geometry.collision import (CollisionConfig, ObstacleArrays,  # noqa: E402
                                     kernel_clearances)
from tamp.geometry.sdf import DistanceGrid  # noqa: E402
from tamp.geometry.sphere_model import SphereModel  # noqa: E402

#: FP32 lanes per SM by compute capability (FMA units, each 2 flops a cycle)
FP32_LANES = {(7, 0): 64, (7, 5): 64, (8, 0): 64, (8, 6): 128, (8, 7): 128, (8, 9): 128,
              (9, 0): 128, (10, 0): 128, (12, 0): 128}


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda", help="torch device: cuda, cuda:N or cpu")
    p.add_argument("--batches", default="1000,10000,100000,1000000",
                   help="comma-separated batch sizes")
    p.add_argument("--repeats", type=int, default=5, help="timed calls per row")
    p.add_argument("--max-seconds", type=float, default=120.0, help="time budget, s")
    p.add_argument("--agree", type=int, default=100_000,
                   help="configurations whose free flags are compared")
    p.add_argument("--tolerance", type=float, default=1e-6,
                   help="m: flips this near contact are float32 rounding")
    p.add_argument("--torch-threads", type=int, default=1,
                   help="torch's CPU threads (default 1, as the kernel; on a busy CPU "
                        "more can be far slower)")
    p.add_argument("--robot", default=robots.DEFAULT_ROBOT)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-compile", dest="compile", action="store_false",
                   help="run the torch test eagerly (default: its stages fused by "
                        "torch.compile, compiled in the first row's warm-up)")
    args = p.parse_args(argv)
    args.batches = [int(float(b)) for b in args.batches.split(",")]
    return args


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def peak_fp32(device) -> tuple[float | None, str]:
    """The device's peak FP32 FLOP/s (CUDA cores) and how it was found, or None and why."""
    import torch

    if device.type != "cuda":
        return None, "not computed (not a GPU)"
    props = torch.cuda.get_device_properties(device)
    lanes = FP32_LANES.get((props.major, props.minor))
    clock = getattr(props, "clock_rate", None)  # kHz; absent from older torch
    if lanes is None or not clock:
        return None, f"not computed (no lane count or clock for sm_{props.major}{props.minor})"
    peak = props.multi_processor_count * lanes * 2 * clock * 1e3
    return peak, (f"{props.multi_processor_count} SMs x {lanes} FP32 lanes x 2 x "
                  f"{clock / 1e6:.2f} GHz = {peak / 1e12:.1f} TFLOP/s")


def flops_per_config(model: SphereModel, n_obstacles: int) -> int:
    """The exhaustive test's arithmetic per configuration (the docstring's formula)."""
    world_spheres = int(model.link_count[model.world_link].sum())
    points = len(model.radii) + len(model.link_radius) + len(model.cluster_radius)
    return (63 * (len(model.parents) - 1) + 18 * points + 40 * world_spheres * n_obstacles
            + 12 * len(model.pair_sa))


def timed(fn, n: int, sync, repeats: int, deadline: float) -> float:
    """Configurations per second of ``fn`` (which checks ``n``): the median of up to
    ``repeats`` timed calls (at least one) after a warm-up call."""
    fn()
    sync()
    times = []
    while len(times) < repeats and (not times or time.perf_counter() < deadline):
        t = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t)
    return n / float(np.median(times))


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        device = torch_device(args.device)
    except UsageError as err:
        print(err, file=sys.stderr)
        return 2
    import torch

    from tamp.geometry.torch_spheres import TorchSpheres

    torch.set_num_threads(args.torch_threads)

    robot = robots.load(args.robot)
    model = SphereModel.load(robots.sphere_model_path(args.robot))
    obstacles = ObstacleArrays.from_world(cluttered_world(np.random.default_rng(0)))
    mask = obstacles.mask(frozenset())
    cap = CollisionConfig().distance_cap
    n = max(max(args.batches), args.agree)
    arm = np.random.default_rng(args.seed).uniform(robot.lower, robot.upper, (n, robot.dof))
    q = np.zeros((n, model.nq))
    q[:, model.arm_q_index] = arm  # the gripper's joints stay 0: open
    engine = TorchSpheres(model, robot.lower, robot.upper, device, torch.float32,
                          compile=args.compile)
    engine.set_obstacles(obstacles)
    t_mask, grid = engine.mask(mask), engine.grid(DistanceGrid.empty())
    q_t = torch.as_tensor(q, dtype=torch.float32, device=device)

    def torch_free(b: int):
        with torch.no_grad():
            return engine.clearances(q_t[:b], cap, t_mask, grid) > 0

    def kernel(b: int, early_exit: bool = True):
        return kernel_clearances(model, robot.lower, robot.upper, obstacles, mask, q[:b],
                                 cap, early_exit=early_exit)

    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    kernel(10)  # compiles the kernel (or loads it from numba's cache)
    try:  # compiles the torch stages (with --no-compile: nothing to compile)
        torch_free(min(args.batches))
    except Exception as err:  # noqa: BLE001 (a compiler missing or failing: say so, go on)
        print(f"torch.compile failed ({type(err).__name__}: {err}); the torch rows are "
              "eager", file=sys.stderr)
        engine = TorchSpheres(model, robot.lower, robot.upper, device, torch.float32)
        engine.set_obstacles(obstacles)
        args.compile = False
    deadline = time.perf_counter() + args.max_seconds
    rows, last = [], {"torch": None, "kernel": None}
    for b in args.batches:
        row = {}
        for name, fn, sync_fn in (("torch", lambda: torch_free(b), sync),
                                  ("kernel", lambda: kernel(b), lambda: None)):
            guess = last[name]
            if guess and time.perf_counter() + (args.repeats + 1) * b / guess > deadline:
                row[name] = "skipped (over --max-seconds)"
                continue
            try:
                row[name] = last[name] = timed(fn, b, sync_fn, args.repeats, deadline)
            except torch.cuda.OutOfMemoryError:
                row[name] = "out of memory"
                torch.cuda.empty_cache()
        rows.append((b, row))

    m = min(args.agree, n)
    exact = kernel(m, early_exit=False)
    flips = torch_free(m).cpu().numpy() != (exact > 0)
    near = np.abs(exact) < args.tolerance
    disagree, rounding = int(np.sum(flips & ~near)), int(np.sum(flips & near))

    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else \
        f"the CPU, torch on {torch.get_num_threads()} thread(s)"
    peak, how = peak_fp32(device)
    flops = flops_per_config(model, len(obstacles.owner))
    print(f"## Collision checks per second: torch float32 on {device} ({gpu}) against the "
          "compiled kernel on the CPU\n")
    print(f"Command: `python experiments/gpu_collision.py {' '.join(argv or sys.argv[1:])}`"
          f"; torch {torch.__version__}; CPU: {cpu_name()}, {os.cpu_count()} logical CPUs, "
          "the kernel on 1 thread (it has no parallel mode).\n")
    print(f"Robot {args.robot}: {len(model.radii)} spheres, {len(model.pair_sa)} "
          f"self-collision sphere pairs; {len(obstacles.owner)} obstacles; configurations "
          f"uniform within the joint limits (seed {args.seed}), "
          f"{100 * np.mean(exact <= 0):.1f} % of the first {m:,} in collision.\n")
    how_torch = "torch.compile" if args.compile else "eager"
    print(f"| batch | torch on {device}, {how_torch} (cfg/s) | compiled kernel, 1 CPU thread (cfg/s) "
          "| torch / kernel |")
    print("|---:|---:|---:|---:|")
    for b, row in rows:
        cells = [f"{v:,.0f}" if isinstance(v, float) else v
                 for v in (row["torch"], row["kernel"])]
        ratio = f"{row['torch'] / row['kernel']:.2f}x" if all(
            isinstance(row[k], float) for k in ("torch", "kernel")) else "-"
        print(f"| {b:,} | {cells[0]} | {cells[1]} | {ratio} |")
    print(f"\nAgreement of the free flags on the first {m:,} configurations: "
          f"**{disagree} disagreements**; {rounding} flips within {args.tolerance:g} m of "
          "contact (float32 rounding).\n")
    yardstick = f"({how}): {peak / flops:,.0f} cfg/s" if peak else f": {how}"
    print(f"Arithmetic yardstick: the exhaustive test (no culling) is {flops:,} flops per "
          f"configuration; at peak FP32{yardstick}.")
    return 1 if disagree else 0


if __name__ == "__main__":
    sys.exit(main())
