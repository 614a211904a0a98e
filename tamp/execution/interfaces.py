"""The two seams of the closed loop (observe -> plan -> execute a step -> look -> compare
-> replan): a :class:`Perceiver` that turns what a robot's camera sees into the planner's
:class:`~tamp.world.WorldModel`, and an :class:`Actuator` that executes plan steps and
reports the arm's and the gripper's state.

The agent (``policies.tamp_agent``) talks only to these. The simulator implements both
(``scenes.agent_io``), and so does a robot reached over ROS and a gripper driver
(``robots.ros``): the same loop runs in a PyBullet episode, against the twin and on a
real arm.
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence

import numpy as np

from tamp.execution.plan import Action
from tamp.world import WorldModel


class FrameSource(Protocol):
    """A calibrated RGB-D camera: frames as :mod:`tamp.perception` reads them (``rgb``
    (H, W, 3) uint8, ``depth`` (H, W) float32 m with 0 for invalid, ``intrinsics`` 3x3,
    ``extrinsics`` the camera pose in the robot's base frame with OpenCV axes, and
    optionally ``instance``/``labels`` masks, which only a simulator has)."""

    #: the sensor model's name (``ideal``, ``d435``, ...): picks the concept checkpoint
    name: str
    #: exact depth: one frame is enough and no filtering is needed
    ideal: bool

    def depth_noise(self):
        """The depth datasheet (:class:`tamp.perception.depth.DepthNoise`)."""

    def frames(self, n: int) -> Sequence[Any]:
        """``n`` frames of the still scene (new sensor noise in each)."""


class Perceiver(Protocol):
    """RGB-D frames + the robot's joint state -> the world the planner plans in, with
    objects keeping their names from one look to the next."""

    #: the camera's position in the world (m), once something was seen; else None
    camera_position: np.ndarray | None
    #: the concept facts of the first observation (for grounding the goal's words);
    #: None for a perceiver that names nothing (the oracle)
    facts: Any
    #: what the first observation saw, for the result file
    record: dict

    def observe(self) -> WorldModel:
        """Look at the table now."""

    def expect(self, step: Sequence[Action]) -> None:
        """The objects ``step`` put somewhere are expected there from now on."""

    def remember(self) -> Any:
        """A snapshot of what was seen so far (see :meth:`forget_since`)."""

    def forget_since(self, snapshot: Any) -> None:
        """Forget every view since ``snapshot`` (a view half hidden by the arm)."""


class Actuator(Protocol):
    """Executes plan steps on an arm and a gripper, and reports their state."""

    def arm_positions(self) -> np.ndarray:
        """Measured arm joint positions, rad."""

    def gripper_width(self) -> float:
        """Measured opening between the pads, m."""

    def run_actions(self, actions: Sequence[Action]) -> str:
        """Execute ``actions`` in order; the reason execution stopped early (a failed
        grasp, an object that slipped, a rejected goal), or "" if all ran."""

    def recover(self) -> None:
        """After a failed step: let go of whatever is held and let the world settle."""
