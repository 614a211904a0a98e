"""``tamp concepts ...``: train, evaluate, extend and benchmark the concept model.

Data comes from :mod:`scenes.concept_data` (rendered, labelled scenes), cached under
``--data-dir`` by split, seed, size, feature version, camera (``--camera``: the sensor
model the scenes are seen through, ``ideal`` by default, on which the shipped checkpoint
was trained) and robot (``--robot``: the arm in the camera's view, ``robots.DEFAULT_ROBOT``
by default, with which the shipped checkpoints' scenes were rendered; a checkpoint records
both in its data settings). Every command runs torch with
``--threads`` intra-op threads (default 1: on a shared CPU, more threads spin against
other processes and run slower).
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, replace
from pathlib import Path

from experiments import options as opt

DOCS = Path(__file__).resolve().parents[1] / "docs" / "CONCEPTS.md"
#: seed offsets of the splits, so that no two splits share a scene
SPLIT_SEED = {"train": 0, "test": 10_000, "compositional": 20_000, "support": 30_000,
              "query": 40_000, "bench": 50_000}


def default_checkpoint() -> Path:
    """The checkpoint shipped in the repository (``tamp concepts train`` rewrites it)."""
    from tamp.concepts.checkpoint import shipped_checkpoint

    return shipped_checkpoint()


def _say(msg: str) -> None:
    print(f"[concepts] {msg}", file=sys.stderr, flush=True)


def _setup(args):
    import torch

    torch.set_num_threads(args.threads)
    from experiments.options import torch_device

    return torch_device(args.device)


def _load(path: str, device):
    from experiments.options import UsageError
    from tamp.concepts.checkpoint import CheckpointError, load_checkpoint

    try:
        return load_checkpoint(path, device)
    except CheckpointError as err:
        raise UsageError(str(err)) from None


def dataset(split: str, scenes: int, seed: int, data_dir: str, **config):
    """Rendered scenes of ``split`` (cached), see :mod:`scenes.concept_data`."""
    from robots import DEFAULT_ROBOT
    from scenes.concept_data import GENERATOR_VERSION, ConceptSceneConfig, generate
    from tamp.concepts.dataset import ConceptDataset
    from tamp.concepts.features import FEATURE_VERSION

    def fmt(v) -> str:
        return "+".join(f"{a}{b:g}" for a, b in sorted(v.items())) if isinstance(v, dict) \
            else str(v)

    # the ideal camera and the default robot leave the name as it was before cameras and
    # robots had names
    usual = {"camera": "ideal", "robot": DEFAULT_ROBOT}
    tag = "-".join(f"{k}-{fmt(v)}" for k, v in sorted(config.items())
                   if k != "colors" and usual.get(k) != v)
    name = f"{split}-s{seed}-n{scenes}-v{FEATURE_VERSION}g{GENERATOR_VERSION}" \
        f"{'-' + tag if tag else ''}.npz"
    path = Path(data_dir) / name
    if path.exists():
        try:
            data = ConceptDataset.load(path)
            for key, value in usual.items():  # cached before cameras and robots had names
                data.meta.setdefault(key, value)
            return data
        except ValueError:
            pass
    kind = "test" if split in ("support", "query", "bench") else split
    step = max(1, scenes // 10)

    def progress(i: int, n: int) -> None:
        if i % step == 0 or i == n:
            _say(f"rendering {split} scenes: {i}/{n}")

    data = generate(scenes, SPLIT_SEED[split] + seed,
                    ConceptSceneConfig(split=kind, **config), progress)
    data.save(path)
    return data


def add_commands(sub) -> None:
    from experiments import concepts_options as co
    from experiments.declare import command
    from experiments.options import Parser

    p = sub.add_parser("concepts", help="train, evaluate and extend the concept model",
                       description="Learned concept predicates: train the model on rendered "
                       "scenes, evaluate it, add a concept from a few examples, benchmark "
                       "batched inference.")
    cmd = p.add_subparsers(dest="concepts_command", metavar="ACTION", parser_class=Parser)
    cmd.required = True
    command(cmd, "train", co.TrainOptions, _camera_defaults(_cmd_train),
            help="render scenes and train a model",
            description="Render labelled scenes and train the concept model; writes a "
                        "safetensors + JSON checkpoint.")
    command(cmd, "eval", co.EvalOptions, _camera_defaults(_cmd_eval),
            help="accuracy and F1 on held-out and compositional scenes",
            description="Per-concept accuracy and F1 on held-out scenes and on the "
                        "compositional split; writes OUT/eval.json and OUT/eval.md.")
    command(cmd, "learn", co.LearnOptions, _camera_defaults(_cmd_learn),
            help="add a concept from a few labelled objects",
            description="Add the unary concept NAME from at most --shots labelled objects of "
                        "rendered scenes (those with ATTR=VALUE are positives), without "
                        "changing the other concepts; then score it on held-out objects.")
    command(cmd, "bench", co.BenchOptions, _camera_defaults(_cmd_bench),
            help="batched vs per-object/per-pair inference time",
            description="Time one batched forward pass over a rendered scene against one "
                        "call per object and per ordered pair; with --update-docs, write the "
                        "tables into docs/CONCEPTS.md.")
    command(cmd, "episodes", co.EpisodesOptions, _camera_defaults(_cmd_episodes),
            help="task success with learned perception vs oracle",
            description="Run a task over seeds with each perception mode (same seeds, same "
                        "planner) and tabulate success; with --update-docs, write the table "
                        "into docs/CONCEPTS.md.")


def _check_dirs(args) -> None:
    """The output and data directories, before any scene is rendered."""
    for option in ("out", "data_dir"):
        value = getattr(args, option, None)
        if value is not None:
            opt.writable_dir("--" + option.replace("_", "-"), value)


def _camera_defaults(command):
    """``command`` with ``--checkpoint`` (and train's ``--out``) defaulting to the shipped
    checkpoint of the camera model (``checkpoint_for_camera``; train writes a new
    camera's to ``checkpoints/NAME``)."""
    def run(args) -> int:
        from tamp.concepts.checkpoint import checkpoint_for_camera

        from robots import DEFAULT_ROBOT

        camera = getattr(args, "camera", None)
        if command is _cmd_train and args.out is None and args.robot != DEFAULT_ROBOT:
            raise opt.UsageError(f"--robot {args.robot}: give --out DIR (the default, the "
                                 f"shipped checkpoint, holds a model of scenes with "
                                 f"{DEFAULT_ROBOT} in view)")
        if command is _cmd_episodes and camera is None:
            _check_dirs(args)
            return command(args)  # each episode's camera picks its own checkpoint
        camera = camera or "ideal"
        if getattr(args, "checkpoint", "") is None:
            args = replace(args, checkpoint=str(checkpoint_for_camera(camera)))
        if command is _cmd_train and args.out is None:
            args = replace(args, out=str(default_checkpoint() if camera == "ideal" else
                                         default_checkpoint().parent / camera.split("-")[0]))
        _check_dirs(args)
        return command(args)

    return run


def _robot_flag(args) -> str:
    """`` --robot NAME`` for a command line that a report records, when not the default."""
    from robots import DEFAULT_ROBOT

    return f" --robot {args.robot}" if args.robot != DEFAULT_ROBOT else ""


def _cmd_train(args) -> int:
    from tamp.concepts.checkpoint import save_checkpoint
    from tamp.concepts.model import ConceptConfig
    from tamp.concepts.train import TrainConfig, train

    device = _setup(args)
    data = dataset("train", args.scenes, args.seed, args.data_dir, camera=args.camera,
                   robot=args.robot)
    _say(f"training on {data.n_objects} objects in {data.n_scenes} scenes")

    def progress(epoch: int, loss: float) -> None:
        if epoch % 25 == 0 or epoch == args.epochs:
            _say(f"epoch {epoch}/{args.epochs}: loss {loss:.4f}")

    model, report = train(data, TrainConfig(epochs=args.epochs, seed=args.seed),
                          ConceptConfig(hidden=args.hidden), device=device, progress=progress)
    command = f"tamp concepts train --scenes {args.scenes} --epochs {args.epochs} " \
        f"--hidden {args.hidden}" + (f" --seed {args.seed}" if args.seed else "") + \
        (f" --camera {args.camera}" if args.camera != "ideal" else "") + _robot_flag(args)
    out = save_checkpoint(model, args.out, {"command": command, "train": asdict(report),
                                            "data": data.meta})
    _say(f"trained in {report.seconds:.0f} s (loss {report.final_loss:.4f}) -> {out}")
    return 0


def _cmd_eval(args) -> int:
    from experiments.files import write_json_atomic
    from tamp.concepts.train import evaluate

    device = _setup(args)
    model = _load(args.checkpoint, device)
    reports = [evaluate(model, dataset(split, args.scenes, args.seed, args.data_dir,
                                       camera=args.camera, robot=args.robot), split, device)
               for split in ("test", "compositional")]
    out = Path(args.out)
    write_json_atomic(out / "eval.json", {"checkpoint": str(args.checkpoint),
                                          "scenes_per_split": args.scenes, "seed": args.seed,
                                          "camera": args.camera, "robot": args.robot,
                                          "reports": [asdict(r) for r in reports]})
    text = eval_markdown([asdict(r) for r in reports])
    (out / "eval.md").write_text(text)
    print(text, end="")
    return 0


def eval_markdown(reports: list[dict]) -> str:
    """Tables of ``EvalReport``s (as dicts): per group, then per concept and relation."""
    groups = list(reports[0]["group_accuracy"])
    lines = ["| split | objects | " + " | ".join(groups) + " | novel objects | " +
             " | ".join(f"novel {g}" for g in groups) + " | pairs | relations (mean) |",
             "|---" * (2 * len(groups) + 5) + "|"]
    for r in reports:
        rel = sum(s["accuracy"] for s in r["relations"]) / max(len(r["relations"]), 1)
        lines.append(f"| {r['split']} | {r['objects']} | " +
                     " | ".join(f"{100 * r['group_accuracy'][g]:.2f} %" for g in groups) +
                     f" | {r['novel_objects']} | " +
                     " | ".join("-" if r["novel_objects"] == 0 else
                                f"{100 * r['novel_group_accuracy'][g]:.2f} %" for g in groups) +
                     f" | {r['pairs']} | {100 * rel:.2f} % |")
    head = "| concept | group | " + " | ".join(
        f"{r['split']} accuracy | {r['split']} F1 | {r['split']} positives" for r in reports)
    lines += ["", head + " |", "|---" * (2 + 3 * len(reports)) + "|"]
    for k, s in enumerate(reports[0]["unary"] + reports[0]["relations"]):
        cells = []
        for r in reports:
            t = (r["unary"] + r["relations"])[k]
            cells.append(f"{100 * t['accuracy']:.2f} % | {t['f1']:.3f} | {t['positives']}")
        lines.append(f"| {s['name']} | {s['group']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _cmd_learn(args) -> int:
    import numpy as np
    import torch

    from experiments.options import UsageError
    from scenes.concept_data import EXTRA_COLORS
    from tamp.concepts.checkpoint import save_checkpoint
    from tamp.concepts.definitions import GROUPS
    from tamp.concepts.train import evaluate

    device = _setup(args)  # the name, --where and the counts are checked (LearnOptions)
    attr, _, value = args.where.partition("=")
    model = _load(args.checkpoint, device)
    if args.name in model.config.unary_names:
        raise UsageError(f"concept '{args.name}' exists already in {args.checkpoint}")
    config = {"camera": args.camera, "robot": args.robot}
    if attr == "color":
        if value not in GROUPS["color"] and value not in EXTRA_COLORS:
            raise UsageError(f"no colour '{value}' to render; known: "
                             f"{', '.join(GROUPS['color'] + tuple(EXTRA_COLORS))}")
        config.update(colors=GROUPS["color"] + tuple(EXTRA_COLORS),
                      color_weights={value: 3.0})
    support = dataset("support", 30, args.seed, args.data_dir, **config)
    lab = support.labels[attr][support.object_mask]
    feats = support.objects()
    rng = np.random.default_rng(args.seed)
    pos_idx, neg_idx = np.flatnonzero(lab == value), np.flatnonzero(lab != value)
    n_pos, n_neg = args.positives, args.shots - args.positives
    if len(pos_idx) < n_pos or len(neg_idx) < n_neg:
        raise UsageError(f"the rendered scenes hold too few objects with {args.where}")
    idx = np.r_[rng.choice(pos_idx, n_pos, replace=False),
                rng.choice(neg_idx, n_neg, replace=False)]
    model.add_concept(args.name, attr, torch.from_numpy(feats[idx]),
                      torch.from_numpy((lab[idx] == value).astype(np.float32)))
    query = dataset("query", args.eval_scenes, args.seed, args.data_dir, **config)
    query.labels[attr] = np.where(query.labels[attr] == value, args.name, query.labels[attr])
    report = evaluate(model, query, "query", device)
    score = next(s for s in report.unary if s.name == args.name)
    out = save_checkpoint(model, args.out or args.checkpoint, _learn_info(args, score))
    print(f"{args.name}: learned from {args.shots} objects ({n_pos} positive); on "
          f"{score.n} held-out objects ({score.positives} positive): accuracy "
          f"{100 * score.accuracy:.2f} %, F1 {score.f1:.3f} -> {out}")
    return 0


def _learn_info(args, score) -> dict:
    from tamp.concepts.checkpoint import read_config

    info = read_config(args.checkpoint).get("info", {})
    learned = info.get("learned", []) + [{
        "name": args.name, "where": args.where, "shots": args.shots,
        "positives": args.positives, "seed": args.seed, "camera": args.camera,
        "robot": args.robot,
        "heldout_objects": score.n,
        "heldout_accuracy": score.accuracy, "heldout_f1": score.f1}]
    return {**info, "learned": learned}


def _cmd_bench(args) -> int:
    from experiments.options import UsageError
    from experiments.files import write_json_atomic
    from scenes.concept_data import ConceptSceneConfig, ConceptSceneGenerator
    from tamp.concepts.model import pack_points
    from tamp.concepts.timing import time_inference
    from tamp.perception.segment import segment_instances

    device = _setup(args)
    model = _load(args.checkpoint, device)
    import numpy as np

    # a scene with exactly --objects visible objects, rendered like the training data
    cfg = ConceptSceneConfig(split="test", min_objects=args.objects, max_objects=args.objects,
                             camera=args.camera, robot=args.robot)
    rng = np.random.default_rng(SPLIT_SEED["bench"] + args.seed)
    with ConceptSceneGenerator(cfg) as gen:
        for _ in range(50):
            _, frame, _ = gen.scene(rng)
            seg = segment_instances(frame, frame.labels, frame.instance)
            if len(seg.objects) == args.objects:
                break
        else:
            raise UsageError(f"no rendered scene showed all {args.objects} objects")
    pts, mask = pack_points(seg.objects, [seg.table.z_at(c.centroid[:2]) for c in seg.objects],
                            device)
    timing = time_inference(model, pts, mask, args.repeats)
    command = f"tamp concepts bench --objects {args.objects} --threads {args.threads}" + \
        (f" --device {args.device}" if args.device != "cpu" else "") + \
        (f" --camera {args.camera}" if args.camera != "ideal" else "") + _robot_flag(args)
    evald = json.loads(Path(args.eval).read_text()) if Path(args.eval).exists() else None
    text = bench_markdown(asdict(timing), timing.speedup, command, evald)
    out = Path(args.out)
    write_json_atomic(out / "bench.json", {"timing": asdict(timing), "command": command})
    (out / "bench.md").write_text(text)
    print(text, end="")
    if args.update_docs:
        from experiments.options import replace_section

        old = DOCS.read_text() if DOCS.exists() else "# Concepts\n"
        DOCS.write_text(replace_section(old, "concepts-bench", text.rstrip()))
        _say(f"updated {DOCS}")
    return 0


def bench_markdown(t: dict, speedup: float, command: str, evald: dict | None) -> str:
    lines = [f"Command: `{command}`" + (" (accuracy from `tamp concepts eval`)" if evald else ""),
             "", "| scene | device | threads | batched (median / p90) | one call per object "
             "and per pair (median / p90) | speed-up | max logit difference |",
             "|---|---|---|---|---|---|---|",
             f"| {t['objects']} objects, {t['pairs']} ordered pairs | {t['device']} | "
             f"{t['threads']} | {t['batched_ms']:.2f} / {t['batched_p90_ms']:.2f} ms | "
             f"{t['looped_ms']:.1f} / {t['looped_p90_ms']:.1f} ms | {speedup:.0f}x | "
             f"{t['max_abs_difference']:.1e} |"]
    if evald:
        lines += ["", eval_markdown(evald["reports"]).rstrip()]
    return "\n".join(lines) + "\n"


def _cmd_episodes(args) -> int:
    import time

    from experiments.episode import EpisodeSpec, run_episode
    from experiments.files import write_json_atomic

    modes = list(args.perception)  # known modes, at least one (EpisodesOptions)
    if any(m != "oracle" for m in modes) and args.checkpoint is not None:
        _load(args.checkpoint, "cpu")  # a clear error before any episode runs
    rows = []
    for seed in range(args.seeds):
        for mode in modes:
            t0 = time.perf_counter()
            r = run_episode(EpisodeSpec(args.task, seed, perception=mode,
                                        concepts=None if mode == "oracle" else args.checkpoint,
                                        camera=args.camera, robot=args.robot))
            rows.append({"seed": seed, "perception": mode, "camera": r["camera"],
                         "robot": r["robot"],
                         "success": r["success"],
                         "failure_reason": r["failure_reason"],
                         "perception_time_s": r.get("perception_time_s", 0.0),
                         "concepts_time_s": r.get("concepts_time_s", 0.0),
                         "planning_time_s": r["planning_time_s"],
                         "wall_time_s": round(time.perf_counter() - t0, 2)})
            _say(f"{args.task} seed {seed} {mode} ({r['camera']}): "
                 f"{'success' if r['success'] else r['failure_reason']}")
    command = f"tamp concepts episodes --task {args.task} --seeds {args.seeds} " \
        f"--perception {','.join(modes)}" + (f" --camera {args.camera}" if args.camera else "") \
        + _robot_flag(args)
    text = episodes_markdown(rows, modes, command)
    out = Path(args.out)
    write_json_atomic(out / f"{args.task}.json", {"command": command, "episodes": rows})
    (out / f"{args.task}.md").write_text(text)
    print(text, end="")
    if args.update_docs:
        from experiments.options import replace_section

        old = DOCS.read_text() if DOCS.exists() else "# Concepts\n"
        DOCS.write_text(replace_section(old, f"concepts-episodes-{args.task}", text.rstrip()))
        _say(f"updated {DOCS}")
    return 0


def episodes_markdown(rows: list[dict], modes: list[str], command: str) -> str:
    lines = [f"Command: `{command}`", "",
             "| perception | camera | success | failed seeds | perception (mean) | "
             "concepts (mean) | planning (mean) |", "|---|---|---|---|---|---|---|"]
    for m in modes:
        rs = [r for r in rows if r["perception"] == m]
        camera = ", ".join(sorted({r.get("camera") or "ideal" for r in rs}))
        ok = sum(r["success"] for r in rs)
        failed = ", ".join(str(r["seed"]) for r in rs if not r["success"]) or "-"

        def mean(key: str) -> float:
            return sum(r[key] for r in rs) / len(rs)

        lines.append(f"| {m} | {camera} | {ok}/{len(rs)} ({100 * ok / len(rs):.0f} %) | "
                     f"{failed} | "
                     f"{mean('perception_time_s'):.2f} s | {1e3 * mean('concepts_time_s'):.1f} ms "
                     f"| {mean('planning_time_s'):.2f} s |")
    return "\n".join(lines) + "\n"
