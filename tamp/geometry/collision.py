"""Collision checking of the robot's sphere model against box and cylinder obstacles.

Spheres cover the URDF's collision geometry (see :mod:`tamp.geometry.spheres`) and are
inflated by ``padding``, so a configuration reported free is free for the real geometry.
This checker serves the planner's one-configuration and one-edge queries as well as
batches. By default it runs a compiled CPU kernel (:mod:`tamp.geometry._kernels`); with
``CollisionConfig.backend == "torch"`` the same test runs in torch
(:mod:`tamp.geometry.torch_spheres`, float64) on ``CollisionConfig.device``, giving the
same clearances. :mod:`tamp.geometry.batch` runs the torch test on big batches of tensors.

The module imports no pinocchio (only :meth:`CollisionChecker.sphere_positions` and the
:class:`~tamp.geometry.sphere_model.SphereModel` it builds use it): a saved sphere model,
:class:`ObstacleArrays` and :func:`kernel_clearances` run the kernel without it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from tamp.geometry import _kernels
from tamp.geometry.linkage import pad_drop
from tamp.geometry.sdf import DistanceGrid
from tamp.geometry.shapes import Primitive, primitives
from tamp.geometry.sphere_model import SphereModel
from tamp.geometry.spheres import LinkSpheres, box_spheres, spheres_from_urdf
from tamp.world import Shape, WorldModel

if TYPE_CHECKING:
    from tamp.geometry.kinematics import Kinematics


@dataclass(frozen=True)
class CollisionConfig:
    padding: float = 0.005  #: m added to every robot sphere
    resolution: float = 0.02  #: rad, largest joint step between checked edge states
    #: m; clearances are computed exactly below this and reported as this above it
    distance_cap: float = 0.05
    #: "kernel" (the compiled CPU kernel), "torch" (the same test in torch, on ``device``)
    #: or "auto" (the kernel on the CPU, torch on any other device)
    backend: str = "kernel"
    #: torch device of the torch backend: "cpu", "cuda", "cuda:N", or "auto" (CUDA when
    #: there is one, else the CPU); the kernel runs on the CPU only
    device: str = "cpu"
    #: rad: a carried object's up axis stays within this angle of the world's up (None:
    #: no limit). The pads hold what they carry by friction; a path that turns it over
    #: (a wrist flipping between two postures on the way) shakes it loose or spills it.
    #: 30 deg: well above what the arms' carries tilt by themselves (the Panda's at most
    #: 6 deg), well below a turned-over load (150 deg and more)
    carry_tilt: float | None = 0.5236
    #: m, the largest grid step of the spheres that cover a carried object (see
    #: :func:`~tamp.geometry.spheres.box_spheres`). Spheres on a grid of step s
    #: reach (sqrt(3) - 1) / 2 s = 0.37 s beyond a box's faces: the default box covering
    #: (3 cm cells, 2 per side of a 48 mm block) reaches 9 mm out, nearly all of the
    #: 10-14 mm between a pyramid's blocks, so that a perceived size 1.5 mm over left
    #: no way down; 12 mm reaches 4.4 mm out
    load_cell: float = 0.012

    def resolved(self) -> "CollisionConfig":
        """This configuration with a concrete device and backend ("auto" decided); a
        ValueError for an unknown backend or the kernel on a device other than the CPU."""
        if self.backend not in BACKENDS:
            raise ValueError(f"collision backend must be one of {', '.join(BACKENDS)}, "
                             f"not '{self.backend}'")
        device = self.device
        if device == "auto":
            import torch  # only here: `import tamp` stays light

            device = "cuda" if torch.cuda.is_available() else "cpu"
        kind, _, index = device.partition(":")
        if kind not in ("cpu", "cuda") or (index and not index.isdigit()) \
                or (kind == "cpu" and index):
            raise ValueError(f"collision device must be cpu, cuda, cuda:N or auto, not "
                             f"'{self.device}'")
        backend = self.backend
        if backend == "auto":
            backend = "kernel" if device == "cpu" else "torch"
        if backend == "kernel" and device != "cpu":
            raise ValueError(f"the compiled collision kernel runs on the CPU only; use "
                             f"backend 'torch' on {device}")
        return replace(self, backend=backend, device=device)


BACKENDS = ("kernel", "torch", "auto")  #: the values of ``CollisionConfig.backend``


@dataclass
class Attachment:
    """An object held by the gripper: spheres in the TCP frame."""

    name: str
    centres: np.ndarray  #: shape (k, 3), m
    radii: np.ndarray  #: shape (k,), m
    up: np.ndarray | None = None  #: the object's up axis in the TCP frame, shape (3,)


@dataclass(frozen=True)
class ObstacleArrays:
    """Boxes and cylinders in the world frame as flat arrays (world -> local transforms)."""

    owner: tuple[str, ...]
    rot: np.ndarray  #: (O, 3, 3)
    trans: np.ndarray  #: (O, 3)
    half: np.ndarray  #: (O, 3) box half extents, or (radius, radius, half height)
    is_box: np.ndarray  #: (O,) bool
    centre: np.ndarray  #: (O, 3) bounding-sphere centre
    radius: np.ndarray  #: (O,) bounding-sphere radius

    @classmethod
    def from_world(cls, world: WorldModel) -> "ObstacleArrays":
        prims = world_primitives(world)
        inv = np.array([np.linalg.inv(p.local) for _, p in prims]).reshape(-1, 4, 4)
        return cls(tuple(n for n, _ in prims), inv[:, :3, :3].copy(), inv[:, :3, 3].copy(),
                   np.array([p.half for _, p in prims], float).reshape(-1, 3),
                   np.array([p.kind == "box" for _, p in prims], bool),
                   np.array([p.local[:3, 3] for _, p in prims], float).reshape(-1, 3),
                   np.array([np.linalg.norm(p.half) if p.kind == "box"
                             else np.hypot(p.half[0], p.half[2]) for _, p in prims], float))

    def mask(self, ignore: frozenset[str]) -> np.ndarray:
        """Which obstacles count: an owner "obj/part" is ignored with "obj" or itself."""
        return np.array([o not in ignore and o.split("/")[0] not in ignore
                         for o in self.owner], bool)


def world_primitives(world: WorldModel, table_thickness: float = 0.05,
                     ignore: tuple[str, ...] = ()) -> list[tuple[str, Primitive]]:
    """The table and every object of ``world`` as (owner name, primitive) pairs."""
    x0, x1, y0, y1 = world.table_extent
    table_centre = np.eye(4)
    table_centre[:3, 3] = ((x0 + x1) / 2, (y0 + y1) / 2, world.table_height - table_thickness / 2)
    prims: list[tuple[str, Primitive]] = [
        ("table", Primitive("box", ((x1 - x0) / 2, (y1 - y0) / 2, table_thickness / 2),
                            table_centre))]
    for obj in world.objects.values():
        if obj.name in ignore:
            continue
        prims += [(f"{obj.name}/{p.part}" if p.part else obj.name, p.placed(obj.pose))
                  for p in primitives(obj.shape)]
    return prims


_NO_LOAD = (np.zeros((0, 3)), np.zeros(0))
_NO_PAIRS = tuple(np.zeros(0, int) for _ in range(6))


def kernel_clearances(model: SphereModel, lower: np.ndarray, upper: np.ndarray,
                      obstacles: ObstacleArrays, mask: np.ndarray, q_full: np.ndarray,
                      cap: float, grid: DistanceGrid | None = None,
                      load: tuple[np.ndarray, np.ndarray] | None = None,
                      load_mask: np.ndarray | None = None, self_collision: bool = True,
                      early_exit: bool = False, stop_batch: bool = False) -> np.ndarray:
    """Clearances (B,), m, of full configurations ``q_full`` (B, nq) by the compiled CPU
    kernel (the one place that calls it): ``model``'s spheres against the ``obstacles``
    where ``mask`` (O,) is set, the point clouds of ``grid`` and (unless not
    ``self_collision``) each other, and a carried ``load`` (centres (k, 3) in the TCP
    frame, radii (k,), m) against the obstacles of ``load_mask`` (default ``mask``), the
    grid and the arm. Exact below ``cap`` (m), ``cap`` above; -1 where an arm joint is
    outside ``lower``/``upper`` (n_arm,). ``early_exit`` and ``stop_batch`` as in
    :func:`tamp.geometry._kernels.check_batch`."""
    m, o = model, obstacles
    grid = grid if grid is not None else DistanceGrid.empty()
    load = load if load is not None else _NO_LOAD
    pairs = (m.pair_a, m.pair_b, m.pair_first, m.pair_count, m.pair_sa, m.pair_sb) \
        if self_collision else _NO_PAIRS
    return _kernels.check_batch(
        np.asarray(q_full, float), lower, upper, m.parents, m.placements, m.axes,
        m.prismatic, m.q_index, m.sphere_joint, m.sphere_local, m.radii, m.link_joint,
        m.link_local, m.link_radius, m.link_first, m.link_count, m.world_link, o.rot,
        o.trans, o.half, o.is_box, o.centre, o.radius, mask, m.cluster_joint,
        m.cluster_local, m.cluster_radius, *pairs, load[0], load[1],
        mask if load_mask is None else load_mask, m.tcp_joint, m.tcp_local,
        m.arm_joint_limit, grid.values, grid.origin, grid.spacing, grid.slack,
        grid.outside if np.isfinite(grid.outside) else 1e308, cap, early_exit, stop_batch)


def robot_spheres(kin: Kinematics) -> dict[str, LinkSpheres]:
    """The robot's stored sphere model, or one fitted from its URDF if none is stored."""
    return kin.robot.collision_spheres or spheres_from_urdf(kin.robot.urdf)


class CollisionChecker:
    """Is the robot (and what it holds) free of the world and of itself?"""

    def __init__(self, kin: Kinematics, world: WorldModel,
                 config: CollisionConfig = CollisionConfig(),
                 spheres: dict[str, LinkSpheres] | None = None):
        self.kin = kin
        self.config = config = config.resolved()
        self.model = SphereModel.build(kin, spheres or robot_spheres(kin), config.padding)
        self._torch = None  #: the torch test (backend "torch"), float64 on every device
        if config.backend == "torch":
            from tamp.geometry.torch_spheres import TorchSpheres

            self._torch = TorchSpheres(self.model, kin.robot.lower, kin.robot.upper,
                                       config.device)
        self._template = np.zeros((1, self.model.nq))
        idx = self.model.arm_q_index
        contiguous = np.array_equal(idx, np.arange(idx[0], idx[0] + len(idx)))
        self._arm = slice(int(idx[0]), int(idx[0]) + len(idx)) if contiguous else idx
        self.gripper = 0.0  #: actuated gripper joint value used for the finger spheres, m
        self.attachment: Attachment | None = None
        self.set_world(world)

    # -- set-up -------------------------------------------------------------------------
    def set_world(self, world: WorldModel) -> None:
        self.world = world
        self.obstacles = ObstacleArrays.from_world(world)
        self._grids: dict[frozenset[str], DistanceGrid] = {}
        self._torch_grids: dict[frozenset[str], object] = {}
        if self._torch is not None:
            self._torch.set_obstacles(self.obstacles)
        self.ignore()

    def _grid_key(self, ignore: frozenset[str]) -> frozenset[str]:
        return frozenset(n for n in self.world.clouds if n in ignore)

    def _grid(self, ignore: frozenset[str]) -> DistanceGrid:
        """The distance grid of the world's point clouds, less the ignored ones (cached)."""
        key = self._grid_key(ignore)
        if key not in self._grids:
            self._grids[key] = DistanceGrid.from_clouds(
                [c for n, c in self.world.clouds.items() if n not in key])
            if self._torch is not None:
                self._torch_grids[key] = self._torch.grid(self._grids[key])
        return self._grids[key]

    def ignore(self, robot: tuple[str, ...] = (), load: tuple[str, ...] = ()) -> None:
        """Obstacles (names or "name/part") whose contact is allowed: ``robot`` for the
        robot, and also ``load`` for the carried object (e.g. the bowl it is set into)."""
        ignore = frozenset(robot)
        self._mask = self.obstacles.mask(ignore)
        self.grid = self._grid(ignore)
        held = {self.attachment.name} if self.attachment is not None else set()
        self._load_mask = self.obstacles.mask(ignore | frozenset(load) | held)
        if self._torch is not None:
            self._torch_state = (
                self._torch.mask(self._mask), self._torch_grids[self._grid_key(ignore)],
                self._torch.mask(self._load_mask),
                self._torch.load(self.attachment.centres, self.attachment.radii)
                if self.attachment is not None else None)

    def attach(self, obj_name: str, shape: Shape, tcp_T_obj: np.ndarray) -> None:
        """Carry the object: its spheres move with the TCP from now on."""
        centres, radii = [], []
        for prim in primitives(shape):
            # (a cylinder lies inside the box of its extents)
            c, r = box_spheres(prim.half, max_cell=self.config.load_cell)
            t = tcp_T_obj @ prim.local
            centres.append(c @ t[:3, :3].T + t[:3, 3])
            radii.append(np.full(len(c), r))
        self.attachment = Attachment(obj_name, np.concatenate(centres), np.concatenate(radii),
                                     np.asarray(tcp_T_obj, float)[:3, 2].copy())
        self.ignore()

    def detach(self) -> None:
        self.attachment = None
        self.ignore()

    # -- queries ------------------------------------------------------------------------
    @property
    def gripper(self) -> float:
        """Actuated gripper joint value (m) that places the finger spheres."""
        return self._gripper

    @gripper.setter
    def gripper(self, value: float) -> None:
        self._gripper = float(value)
        self._template[0, self.model.gripper_q_index] = self._gripper
        self._template[0, self.model.drop_q_index] = pad_drop(self._gripper,
                                                              *self.model.linkage)

    def _full(self, qs: np.ndarray) -> np.ndarray:
        """Full pinocchio configurations (B, nq) for arm configurations (B, n_arm)."""
        qs = np.asarray(qs, float)
        if qs.ndim == 1:
            full = self._template.copy()
            full[0, self._arm] = qs
            return full
        full = np.repeat(self._template, len(qs), axis=0)
        full[:, self._arm] = qs
        return full

    def clearances(self, qs: np.ndarray, early_exit: bool = False, stop_batch: bool = False,
                   self_collision: bool = True) -> np.ndarray:
        """Clearance (m) of each configuration (B, n_arm): exact below the distance cap,
        the cap above it, negative when in collision (only the sign is exact with
        ``early_exit``). Outside the joint limits, or carrying the load tilted past
        ``carry_tilt``: -1."""
        qs = np.asarray(qs, float)
        tilted = self.tilted(qs)
        if tilted is None or not tilted.any():
            return self._clearances(qs, early_exit, stop_batch, self_collision)
        out = np.full(len(tilted), -1.0)
        if not tilted.all() and not (stop_batch and early_exit):
            out[~tilted] = self._clearances(qs.reshape(-1, qs.shape[-1])[~tilted],
                                            early_exit, stop_batch, self_collision)
        return out

    def _clearances(self, qs: np.ndarray, early_exit: bool, stop_batch: bool,
                    self_collision: bool) -> np.ndarray:
        """:meth:`clearances` of the sphere test alone (no tilt limit)."""
        if self._torch is not None:
            return self._torch_clearances(qs, self_collision)
        load = (self.attachment.centres, self.attachment.radii) if self.attachment \
            else None
        robot = self.kin.robot
        return kernel_clearances(self.model, robot.lower, robot.upper, self.obstacles,
                                 self._mask, self._full(qs), self.config.distance_cap,
                                 grid=self.grid, load=load, load_mask=self._load_mask,
                                 self_collision=self_collision, early_exit=early_exit,
                                 stop_batch=stop_batch)

    def tilted(self, qs: np.ndarray, up: np.ndarray | None = None) -> np.ndarray | None:
        """Per configuration (B, n_arm) (or one): is the carried object (or one whose up
        axis is ``up`` in the TCP frame) tilted past ``carry_tilt`` from upright? None
        when nothing is carried or there is no limit."""
        limit = self.config.carry_tilt
        if up is None and self.attachment is not None:
            up = self.attachment.up
        if limit is None or up is None:
            return None
        m = self.model
        rots = _kernels.tcp_rotations(self._full(qs), m.parents, m.placements, m.axes,
                                      m.prismatic, m.q_index, m.tcp_joint, m.tcp_local)
        return rots[:, 2, :] @ up < np.cos(limit)

    def _torch_clearances(self, qs: np.ndarray, self_collision: bool) -> np.ndarray:
        """:meth:`clearances` by the torch backend: exact values (no early exit)."""
        import torch

        mask, grid, load_mask, load = self._torch_state
        q = torch.as_tensor(self._full(qs), dtype=self._torch.dtype, device=self._torch.device)
        with torch.no_grad():
            d = self._torch.clearances(q, self.config.distance_cap, mask, grid, load,
                                       load_mask, self_collision)
        return d.cpu().numpy()

    def distance(self, q_arm: np.ndarray) -> float:
        """Smallest signed clearance (m) of robot and load to the world and to itself."""
        return float(self.clearances(q_arm)[0])

    def is_free(self, q_arm: np.ndarray) -> bool:
        return bool(self.clearances(q_arm, early_exit=True)[0] > 0.0)

    def free(self, qs: np.ndarray) -> np.ndarray:
        """Free flags of a batch of configurations (B, n_arm) -> (B,) bool."""
        return self.clearances(qs, early_exit=True) > 0.0

    def edge_free(self, q0: np.ndarray, q1: np.ndarray) -> bool:
        """The straight joint-space segment from ``q0`` to ``q1`` (end included) is free,
        checked at the configured resolution in one call that stops at the first hit."""
        d = self.clearances(self._segment(q0, q1)[1:], early_exit=True, stop_batch=True)
        return bool(np.all(d > 0.0))

    def _segment(self, q0: np.ndarray, q1: np.ndarray) -> np.ndarray:
        """The straight joint-space segment from ``q0`` to ``q1`` as states at the
        configured resolution, both ends included."""
        q0, q1 = np.asarray(q0, float), np.asarray(q1, float)
        n = max(1, int(np.ceil(np.abs(q1 - q0).max() / self.config.resolution)))
        return q0 + np.linspace(0.0, 1.0, n + 1)[:, None] * (q1 - q0)

    def edge_upright(self, q0: np.ndarray, q1: np.ndarray, up: np.ndarray | None = None
                     ) -> bool:
        """The carried object (or one with ``up``, as in :meth:`tilted`) stays within
        ``carry_tilt`` of upright along the straight joint-space segment (at the
        configured resolution); True if nothing is carried.
        Two postures this joins are ones a carry can go between (a wrist flipped over
        between them turns the load over on any path)."""
        tilted = self.tilted(self._segment(q0, q1), up)
        return tilted is None or not tilted.any()

    def sphere_positions(self, q_arm: np.ndarray) -> np.ndarray:
        """World centres of the robot's spheres at ``q_arm``, shape (n_spheres, 3)."""
        m = self.model
        import pinocchio as pin

        full = self._full(q_arm)[0]
        pin.forwardKinematics(self.kin.model, self.kin.data, full)
        out = np.empty_like(m.sphere_local)
        for j in np.unique(m.sphere_joint):
            sel = m.sphere_joint == j
            t = self.kin.data.oMi[int(j)]
            out[sel] = m.sphere_local[sel] @ t.rotation.T + t.translation
        return out
