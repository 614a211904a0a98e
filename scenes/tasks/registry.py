"""One registry of tasks; command-line names and gymnasium ids both come from it."""

from __future__ import annotations

from typing import Callable

import gymnasium

from scenes.tasks.base import Task

_TASKS: dict[str, type[Task]] = {}


def register_task(name: str, gym_id: str, max_episode_steps: int = 4000
                  ) -> Callable[[type[Task]], type[Task]]:
    """Class decorator: ``@register_task("place-in-bowl", "tamp/PlaceInBowl-v0")``."""

    def decorate(cls: type[Task]) -> type[Task]:
        if name in _TASKS:
            raise ValueError(f"task '{name}' is registered twice")
        cls.name, cls.gym_id = name, gym_id
        _TASKS[name] = cls
        if gym_id not in gymnasium.registry:
            gymnasium.register(id=gym_id, entry_point="scenes.env:TabletopEnv",
                               max_episode_steps=max_episode_steps, kwargs={"task": name})
        return cls

    return decorate


def task_names() -> list[str]:
    return sorted(_TASKS)


def make_task(name: str) -> Task:
    """A new instance of the task registered as ``name``."""
    if name not in _TASKS:
        raise KeyError(f"unknown task '{name}'; known tasks: {', '.join(task_names())}")
    return _TASKS[name]()


def task_class(name: str) -> type[Task]:
    make_task(name)  # raises with the list of known tasks
    return _TASKS[name]
