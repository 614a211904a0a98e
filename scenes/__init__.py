"""PyBullet worlds, cameras, the task suite and gymnasium environments.

Importing ``scenes`` registers every task's gymnasium id (e.g. ``tamp/PlaceInBowl-v0``).
"""

from scenes import tasks  # noqa: F401  (registers the tasks)
