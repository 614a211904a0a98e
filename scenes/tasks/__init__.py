"""The task suite. Importing this package registers every task (and its gymnasium id)."""

from scenes.tasks import lift, place_in_bowl  # noqa: F401  (each registers itself)
from scenes.tasks.base import SuccessReport, Task, TaskInstance
from scenes.tasks.registry import make_task, register_task, task_class, task_names

__all__ = ["SuccessReport", "Task", "TaskInstance", "make_task", "register_task",
           "task_class", "task_names"]
