"""The task suite. Importing this package registers every task (and its gymnasium id)."""

from scenes.tasks import (  # noqa: F401  (each registers itself)
    clear_then_place, lift, packing_boxes, place_in_bowl, rebuild_tower, sort_by_colour,
    stack_pyramid, towers_of_hanoi)
from scenes.tasks.base import SuccessReport, Task, TaskInstance
from scenes.tasks.registry import (make_task, register_task, suite_names, task_class,
                                   task_names)

__all__ = ["SuccessReport", "Task", "TaskInstance", "make_task", "register_task",
           "suite_names", "task_class", "task_names"]
