"""One registry of tasks; command-line names and gymnasium ids both come from it."""

from __future__ import annotations

from typing import Callable

import gymnasium

from scenes.tasks.base import Task
from tamp.registry import Registry

#: every task, by command-line name
TASKS: Registry[type[Task]] = Registry("task")


def register_task(name: str, gym_id: str, max_episode_steps: int = 4000
                  ) -> Callable[[type[Task]], type[Task]]:
    """Class decorator: ``@register_task("place-in-bowl", "tamp/PlaceInBowl-v0")``."""

    def decorate(cls: type[Task]) -> type[Task]:
        TASKS.add(name, cls)
        cls.name, cls.gym_id = name, gym_id
        if gym_id not in gymnasium.registry:
            gymnasium.register(id=gym_id, entry_point="scenes.env:TabletopEnv",
                               max_episode_steps=max_episode_steps, kwargs={"task": name})
        return cls

    return decorate


def task_names() -> list[str]:
    return TASKS.names()


def suite_names() -> list[str]:
    """The tasks that ``all`` names: every registered task but the protocol variants."""
    return [n for n in TASKS.names() if TASKS.get(n).variant_of is None]


def make_task(name: str) -> Task:
    """A new instance of the task registered as ``name``."""
    return TASKS.get(name)()


def task_class(name: str) -> type[Task]:
    return TASKS.get(name)
