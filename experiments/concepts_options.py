"""The options of ``tamp concepts ...`` (:mod:`experiments.concepts_cli`), declared
(:mod:`experiments.declare`). The commands that render scenes share :class:`DataOptions`;
those that read a checkpoint add :class:`CheckpointOption` (listed first in their help).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from experiments.declare import opt
from experiments.options import COUNT, SEED, THREADS, UsageError
from experiments.shared_options import camera_option, robot_option

DATA_DIR = "runs/concepts/data"


def perception_modes() -> tuple[str, ...]:
    from policies.tamp_agent import PERCEPTION_MODES

    return PERCEPTION_MODES


def task_names() -> list[str]:
    from scenes.tasks import task_names as names

    return names()


@dataclass(frozen=True, kw_only=True)
class CheckpointOption:
    checkpoint: str | None = opt(None, help="checkpoint directory (default: the shipped one "
                                            "of --camera)")


@dataclass(frozen=True, kw_only=True)
class DataOptions:
    """The rendered scenes (camera, seed, cache) and how torch runs."""

    camera: str = camera_option("ideal", "the shipped checkpoint was trained on it")
    robot: str = robot_option("the arm stands in the camera's view of every rendered "
                              "scene; the data records it, and so does a checkpoint "
                              "trained on it")
    seed: int = opt(0, range=SEED.bounds, help="data and training seed")
    data_dir: str = opt(DATA_DIR, help=f"scene cache (default {DATA_DIR})")
    device: str = opt("cpu", help="torch device: cpu, cuda[:N] or auto (default cpu)")
    threads: int = opt(1, range=THREADS.bounds, help="torch threads (default 1)")


@dataclass(frozen=True, kw_only=True)
class TrainOptions(DataOptions):
    """``tamp concepts train``."""

    out: str | None = opt(None, help="checkpoint directory to write (default: the shipped one "
                                     "of --camera, tamp/concepts/checkpoints/base for ideal, "
                                     ".../NAME for another; needed with a --robot other "
                                     "than the default: the shipped ones learned from "
                                     "scenes with the default in view)")
    scenes: int = opt(1200, range=COUNT.bounds, help="training scenes (default 1200)")
    epochs: int = opt(200, range=(1, 100_000), help="epochs (default 200)")
    hidden: int = opt(128, range=(1, 4096), help="units per hidden layer (default 128)")


@dataclass(frozen=True, kw_only=True)
class EvalOptions(DataOptions, CheckpointOption):
    """``tamp concepts eval``."""

    scenes: int = opt(200, range=COUNT.bounds, help="scenes per split (default 200)")
    out: str = opt("runs/concepts/eval", help="output directory")


@dataclass(frozen=True, kw_only=True)
class LearnOptions(DataOptions, CheckpointOption):
    """``tamp concepts learn``."""

    name: str = opt(positional=True, metavar="NAME", help="the new concept's name: one "
                    "lower-case word")
    where: str = opt(required=True, metavar="ATTR=VALUE", help=(
        "which objects are positives, e.g. color=pink (palette: the model's colours plus "
        "pink, brown)"))
    shots: int = opt(10, range=(1, 10_000), help="labelled objects (default 10)")
    positives: int = opt(5, range=(1, 10_000), help="of which positive (default 5)")
    eval_scenes: int = opt(80, range=COUNT.bounds, help="held-out scenes (default 80)")
    out: str | None = opt(None, help="checkpoint to write (default: --checkpoint)")

    def check(self) -> None:
        from tamp.concepts.definitions import GROUPS

        if not re.fullmatch(r"[a-z][a-z0-9_-]{0,39}", self.name):
            raise UsageError(f"concept name '{self.name}' must be one lower-case word "
                             "(letters, digits, '-' or '_', starting with a letter, at most "
                             "40 characters): goals name concepts in words")
        attr, _, value = self.where.partition("=")
        if attr not in GROUPS or not value:
            raise UsageError(f"--where must be ATTR=VALUE with ATTR one of "
                             f"{', '.join(GROUPS)}, got '{self.where}'")
        if not 1 <= self.positives < self.shots or self.shots > 10:
            raise UsageError("need 1 <= --positives < --shots <= 10")


@dataclass(frozen=True, kw_only=True)
class BenchOptions(DataOptions, CheckpointOption):
    """``tamp concepts bench``."""

    objects: int = opt(10, range=(1, 1000), help="objects in the scene (default 10)")
    repeats: int = opt(200, range=COUNT.bounds, help="timed batched passes")
    eval: str = opt("runs/concepts/eval/eval.json", help="accuracy tables to include (from "
                                                         "'tamp concepts eval')")
    out: str = opt("runs/concepts/bench", help="output directory")
    update_docs: bool = opt(False, help="rewrite docs/CONCEPTS.md")

    def check(self) -> None:
        if not 2 <= self.objects <= 10:
            raise UsageError(f"--objects must be 2..10, got {self.objects}")


@dataclass(frozen=True, kw_only=True)
class EpisodesOptions:
    """``tamp concepts episodes``."""

    task: str = opt("place-in-bowl", known=task_names,
                    unknown="unknown task '{value}'; known tasks: {known}",
                    help="task name (default place-in-bowl)")
    seeds: int = opt(20, range=COUNT.bounds, help="seeds 0..N-1 (default 20)")
    perception: tuple[str, ...] = opt(("oracle", "learned", "learned-geometric"),
                                      known=perception_modes,
                                      help="comma-separated perception modes")
    checkpoint: str | None = opt(None, help="checkpoint directory (default: the shipped one "
                                            "of the camera)")
    camera: str | None = camera_option()
    robot: str = robot_option()
    out: str = opt("runs/concepts/episodes", help="output directory")
    update_docs: bool = opt(False, help="rewrite docs/CONCEPTS.md")

    def check(self) -> None:
        if not self.perception:
            raise UsageError(f"--perception must name at least one mode; known: "
                             f"{', '.join(perception_modes())}")
