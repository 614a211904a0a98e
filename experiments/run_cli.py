"""``tamp run``: plan and execute one episode (its options: :class:`RunOptions`)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from experiments import options as opt
from experiments.declare import command, opt as option, section
from experiments.options import EXIT_FAILED, EXIT_OK, UsageError
from experiments.shared_options import (DeviceOptions, VlmOptions, camera_option,
                                        planner_config_option, refuse_unusable, robot_option)


def task_names() -> list[str]:
    from scenes.tasks import task_names as names

    return names()


def method_names() -> list[str]:
    from policies import policy_names

    return policy_names()


def perception_modes() -> tuple[str, ...]:
    from policies.tamp_agent import PERCEPTION_MODES

    return PERCEPTION_MODES


UNKNOWN_TASK = "unknown task '{value}'; known tasks: {known}"
UNKNOWN_METHOD = "unknown method '{value}'; known methods: {known}"


@dataclass(frozen=True)
class RunOptions:
    """The options of ``tamp run``."""

    task: str = option("place-in-bowl", known=task_names, unknown=UNKNOWN_TASK,
                       help="task name (see 'tamp tasks')")
    seed: int = option(0, range=opt.SEED.bounds, help="randomises the scene (default 0)")
    out: str = option("runs/demo", help="output directory (default runs/demo)")
    method: str = option("tamp", known=method_names, unknown=UNKNOWN_METHOD,
                         help="policy to run (default tamp)")
    perception: str = option(
        "oracle", known=perception_modes, feeds="perception",
        help="where the state comes from: 'oracle' = simulator ground truth, 'learned' = "
             "camera + instance masks + learned concepts, 'learned-geometric' = the same "
             "without masks")
    goal: str | None = option(
        None, feeds="goal", help="the goal in words, e.g. \"put all red blocks in the "
                                 "green bowl\" (default: the task's own)")
    concepts: str | None = option(
        None, metavar="CHECKPOINT", feeds="concepts",
        help="concept checkpoint for learned perception (default: the shipped one, see "
             "'tamp concepts train')")
    #: s of planning
    time_budget: float = option(60.0, above=0, unit="s",
                                help="planning time budget in seconds (default 60)")
    camera: str | None = camera_option()
    robot: str = robot_option()
    gif: bool = option(False, help="also write OUT/episode.gif")
    overwrite: bool = option(False, help="replace a result already in OUT (without it, an "
                                         "OUT that holds one is refused: nothing written is "
                                         "lost)")
    gui: bool = option(False, help="show the PyBullet GUI (needs a display)")
    planner_config: str | None = planner_config_option()
    devices: DeviceOptions = section(DeviceOptions)
    vlm: VlmOptions = section(VlmOptions)


def add_run_command(sub) -> None:
    command(sub, "run", RunOptions, run, help="plan and execute one episode",
            description="Plan and execute one episode of a task and write OUT/result.json "
                        "(and OUT/episode.gif with --gif).")


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


def _checked_concepts(o: RunOptions):
    """The concept checkpoint given (None: the shipped one of the camera), and the
    vocabulary the goal's words are checked against."""
    from tamp.concepts.definitions import GROUPS

    from experiments.episode import uses_learned_perception

    groups, words = dict(GROUPS), tuple(c for g in GROUPS.values() for c in g)
    learned = uses_learned_perception(o.method, o.perception)
    if o.concepts is not None and not learned:
        raise UsageError(f"--concepts is for learned perception; method '{o.method}' with "
                         f"--perception {o.perception} does not use it")
    if not learned:
        return None, groups, words
    from tamp.perception.sensors import DEFAULT_LEARNED_CAMERA
    from tamp.concepts.checkpoint import CheckpointError, checkpoint_for_camera, read_config
    from tamp.concepts.model import ConceptConfig

    # unset, the agent loads the shipped checkpoint of the episode's camera: its
    # vocabulary is the one to check the goal's words against
    check = o.concepts or str(checkpoint_for_camera(o.camera or DEFAULT_LEARNED_CAMERA))
    try:
        model = ConceptConfig.from_json(read_config(check)["model"])
        if o.concepts is not None:  # the weights too, before the episode is built
            from tamp.concepts.checkpoint import load_checkpoint

            load_checkpoint(o.concepts)
    except CheckpointError as err:
        raise UsageError(str(err)) from None
    return o.concepts, model.groups, model.unary_names


def run(o: RunOptions) -> int:
    from tamp.concepts.definitions import RELATIONS
    from tamp.concepts.language import GoalError, Vocabulary, parse_goal

    refuse_unusable(o, [o.method])
    planner = o.devices.planner_settings(opt.planner_overrides(o.planner_config))
    concepts, groups, words = _checked_concepts(o)
    if o.goal is not None:
        # words and grammar are checked here; whether the scene holds what the words
        # describe is the episode's business (it fails with the reason)
        try:
            parse_goal(o.goal, Vocabulary.from_concepts(groups, words, RELATIONS))
        except GoalError as err:
            raise UsageError(f"--goal: {err}") from None
    out = opt.writable_dir("--out", o.out)  # found now, not after the whole episode
    earlier = [n for n in ("result.json", "episode.gif") if (out / n).exists()]
    if earlier and not o.overwrite:
        raise UsageError(f"--out {out} already holds {' and '.join(earlier)} of an earlier "
                         "episode; pass --overwrite to replace them, or choose another --out")
    if o.gui and not os.environ.get("DISPLAY"):
        raise UsageError("--gui needs a display, and DISPLAY is not set")

    from experiments.episode import EpisodeSpec, run_episode

    options = o.vlm.method_options([o.method])
    if planner:
        options["planner"] = planner
    if not o.gif:  # --overwrite: no GIF of the earlier episode stays beside the new result
        (out / "episode.gif").unlink(missing_ok=True)
    monitor = _progress()
    try:
        result = run_episode(EpisodeSpec(o.task, o.seed, o.method, o.perception,
                                         o.time_budget, o.goal, concepts, options,
                                         camera=o.camera, robot=o.robot),
                             out=out, gif=o.gif, gui=o.gui, monitor=monitor)
    finally:
        monitor.close()
    verdict = "success" if result["success"] else f"FAILED: {result['failure_reason']}"
    robot_time = result.get("robot_time")
    print(f"[tamp] {o.task} seed {o.seed}: {verdict} "
          f"(planning {result['planning_time_s']:.2f} s, "
          f"execution {result['execution_time_s']:.1f} s"
          + (f", robot {robot_time['total_s']:.1f} s simulated" if robot_time else "")
          + f") -> {out / 'result.json'}", file=sys.stderr)
    return EXIT_OK if result["success"] else EXIT_FAILED
