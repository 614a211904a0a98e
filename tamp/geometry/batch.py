"""Batched forward kinematics and collision checking in torch, on any device.

B configurations in, one boolean and one signed clearance per configuration out. The robot
is the sphere model of :mod:`tamp.geometry.spheres` (spheres *cover* the URDF's collision
geometry, plus a padding), the world is boxes and cylinders (and point clouds through
:mod:`tamp.geometry.sdf`). Two-level test: one bounding sphere per link culls whole
(link, obstacle) pairs, and only the pairs that survive are tested sphere by sphere. The
tensor code is :class:`tamp.geometry.torch_spheres.TorchSpheres`, which the planner's
checker also runs with ``CollisionConfig.backend == "torch"``; this class adds tensors in
and out on one device and no carried load.

``distance`` is the exact smallest clearance of the sphere model when it is below
``CollisionConfig.distance_cap``; above it, a lower bound (at least the cap).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from tamp.geometry.collision import CollisionConfig, ObstacleArrays, robot_spheres
from tamp.geometry.kinematics import Kinematics
from tamp.geometry.sdf import DistanceGrid
from tamp.geometry.sphere_model import SphereModel
from tamp.geometry.spheres import LinkSpheres
from tamp.geometry.torch_spheres import TorchKinematics, TorchSpheres
from tamp.world import WorldModel

__all__ = ["BatchCollisionChecker", "CollisionResult", "TorchKinematics"]


@dataclass(frozen=True)
class CollisionResult:
    free: torch.Tensor  #: shape (B,), bool
    distance: torch.Tensor  #: shape (B,), m; negative = penetration


class BatchCollisionChecker:
    """Checks many configurations at once against the world and against the robot itself.

    ``backend``: "torch" runs the tensor code (:mod:`tamp.geometry.torch_spheres`) on ``device``; "kernel" runs the compiled
    CPU kernel of :class:`tamp.geometry.collision.CollisionChecker` (same sphere model,
    padding and pairs, so both agree); "auto" (default) picks the kernel on a CPU, where it
    is the faster at every batch size, and torch on any other device. ``self.backend`` says
    which one runs; nothing changes behind the caller's back.
    """

    def __init__(self, kin: Kinematics, world: WorldModel,
                 config: CollisionConfig = CollisionConfig(),
                 device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32,
                 spheres: dict[str, LinkSpheres] | None = None, backend: str = "auto",
                 compile: bool = False):
        self.device, self.dtype, self.config = torch.device(device), dtype, config
        if backend not in ("auto", "torch", "kernel"):
            raise ValueError(f"backend must be 'auto', 'torch' or 'kernel', not '{backend}'")
        if backend == "kernel" and self.device.type != "cpu":
            raise ValueError("the compiled kernel runs on the CPU only; use backend='torch' "
                             f"on {self.device}")
        self.backend = backend if backend != "auto" else \
            ("kernel" if self.device.type == "cpu" else "torch")
        self._kernel = None
        if self.backend == "kernel":
            from tamp.geometry.collision import CollisionChecker

            self._kernel = CollisionChecker(
                kin, world, replace(config, backend="kernel", device="cpu"), spheres)
        self.robot = kin.robot
        m = SphereModel.build(kin, spheres or robot_spheres(kin), config.padding)
        self.model = m
        self.engine = TorchSpheres(m, kin.robot.lower, kin.robot.upper, self.device, dtype,
                                   compile=compile)
        self.fk = self.engine.fk
        self.set_world(world)

    def set_world(self, world: WorldModel, ignore: tuple[str, ...] = ()) -> None:
        if self._kernel is not None:
            self._kernel.set_world(world)
            self._kernel.ignore(robot=ignore)
        self.grid = DistanceGrid.from_clouds([c for n, c in world.clouds.items()
                                              if n not in ignore])
        self._grid = self.engine.grid(self.grid)
        arrays = ObstacleArrays.from_world(world)
        self.obstacles = arrays
        self.engine.set_obstacles(arrays)
        self._mask = self.engine.mask(arrays.mask(frozenset(ignore)))

    # -- queries ------------------------------------------------------------------------
    def _as_tensor(self, q) -> torch.Tensor:
        q = torch.as_tensor(q, dtype=self.dtype, device=self.device)
        if q.device != self.device:
            raise ValueError(f"configurations on {q.device}, checker on {self.device}")
        return q.reshape(-1, self.robot.dof)

    def sphere_positions(self, q, gripper: float | torch.Tensor = 0.0) -> torch.Tensor:
        """World centres of the robot's spheres, shape (B, n_spheres, 3)."""
        return self.engine.positions(self.fk.full_q(self._as_tensor(q), gripper))[0]

    def check(self, q, gripper: float = 0.0) -> CollisionResult:
        """Free (and clearance) of each configuration in ``q``, shape (B, n_arm)."""
        q = self._as_tensor(q)
        if self._kernel is not None:
            self._kernel.gripper = float(gripper)
            d = torch.from_numpy(self._kernel.clearances(q.detach().numpy())).to(self.dtype)
            return CollisionResult(d > 0, d)
        dist = self.engine.clearances(self.fk.full_q(q, gripper), self.config.distance_cap,
                                      self._mask, self._grid)
        return CollisionResult(dist > 0, dist)
