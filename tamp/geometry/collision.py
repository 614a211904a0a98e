"""Collision checking of the robot's sphere model against box and cylinder obstacles.

Spheres cover the URDF's collision geometry (see :mod:`tamp.geometry.spheres`) and are
inflated by ``padding``, so a configuration reported free is free for the real geometry.
One call checks one configuration in a few tens of microseconds; an edge is checked by
sampling it at ``resolution``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pinocchio as pin

from tamp.geometry.kinematics import Kinematics
from tamp.geometry.shapes import Primitive, primitives
from tamp.geometry.spheres import box_spheres, spheres_from_urdf
from tamp.world import Shape, WorldModel


@dataclass(frozen=True)
class CollisionConfig:
    padding: float = 0.005  #: m added to every robot sphere
    resolution: float = 0.02  #: rad, largest joint step between checked edge states


@dataclass
class Attachment:
    """An object held by the gripper: spheres in the TCP frame."""

    name: str
    centres: np.ndarray  #: shape (k, 3), m
    radii: np.ndarray  #: shape (k,), m


class ObstacleSet:
    """Boxes and cylinders in the world frame, stored as arrays for vectorised tests."""

    def __init__(self, prims: list[tuple[str, Primitive]]):
        boxes = [(n, p) for n, p in prims if p.kind == "box"]
        cyls = [(n, p) for n, p in prims if p.kind == "cylinder"]
        self.box_owner = [n for n, _ in boxes]
        self.box_inv = np.array([np.linalg.inv(p.local) for _, p in boxes]).reshape(-1, 4, 4)
        self.box_half = np.array([p.half for _, p in boxes]).reshape(-1, 3)
        self.cyl_owner = [n for n, _ in cyls]
        self.cyl_inv = np.array([np.linalg.inv(p.local) for _, p in cyls]).reshape(-1, 4, 4)
        self.cyl_half = np.array([p.half for _, p in cyls]).reshape(-1, 3)

    def masks(self, ignore: frozenset[str]) -> tuple[np.ndarray, np.ndarray]:
        """Which obstacles count: an owner "obj/part" is ignored with "obj" or itself."""
        def keep(owner: str) -> bool:
            return owner not in ignore and owner.split("/")[0] not in ignore
        return (np.array([keep(o) for o in self.box_owner], bool),
                np.array([keep(o) for o in self.cyl_owner], bool))

    def signed_distance(self, centres: np.ndarray, radii: np.ndarray,
                        masks: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """Distance (m) from each sphere to its nearest obstacle; negative = penetration."""
        out = np.full(len(centres), np.inf)
        bmask, cmask = masks if masks is not None else (None, None)
        if len(self.box_half):
            inv, half = self.box_inv, self.box_half
            if bmask is not None:
                inv, half = inv[bmask], half[bmask]
            if len(half):
                local = np.einsum("bij,sj->bsi", inv[:, :3, :3], centres) + inv[:, None, :3, 3]
                q = np.abs(local) - half[:, None, :]
                outside = np.linalg.norm(np.maximum(q, 0.0), axis=-1)
                inside = np.minimum(q.max(axis=-1), 0.0)
                out = np.minimum(out, (outside + inside).min(axis=0))
        if len(self.cyl_half):
            inv, half = self.cyl_inv, self.cyl_half
            if cmask is not None:
                inv, half = inv[cmask], half[cmask]
            if len(half):
                local = np.einsum("bij,sj->bsi", inv[:, :3, :3], centres) + inv[:, None, :3, 3]
                radial = np.linalg.norm(local[..., :2], axis=-1) - half[:, None, 0]
                axial = np.abs(local[..., 2]) - half[:, None, 2]
                d = np.stack([radial, axial], axis=-1)
                outside = np.linalg.norm(np.maximum(d, 0.0), axis=-1)
                inside = np.minimum(d.max(axis=-1), 0.0)
                out = np.minimum(out, (outside + inside).min(axis=0))
        return out - radii


def world_primitives(world: WorldModel, table_thickness: float = 0.05,
                     ignore: tuple[str, ...] = ()) -> list[tuple[str, Primitive]]:
    """The table and every object of ``world`` as (owner name, primitive) pairs."""
    x0, x1, y0, y1 = world.table_extent
    table = Primitive("box", ((x1 - x0) / 2, (y1 - y0) / 2, table_thickness / 2),
                      _translation(((x0 + x1) / 2, (y0 + y1) / 2,
                                    world.table_height - table_thickness / 2)))
    prims: list[tuple[str, Primitive]] = [("table", table)]
    for obj in world.objects.values():
        if obj.name in ignore:
            continue
        prims += [(f"{obj.name}/{p.part}" if p.part else obj.name, p.placed(obj.pose))
                  for p in primitives(obj.shape)]
    return prims


def _translation(xyz) -> np.ndarray:
    t = np.eye(4)
    t[:3, 3] = xyz
    return t


class CollisionChecker:
    """Is the robot (and what it holds) free of the world and of itself?"""

    def __init__(self, kin: Kinematics, world: WorldModel,
                 config: CollisionConfig = CollisionConfig()):
        self.kin = kin
        self.config = config
        model = kin.model
        spheres = spheres_from_urdf(kin.robot.urdf)
        frame_ids, centres, radii, joint_of = [], [], [], []
        for link, s in spheres.items():
            fid = model.getFrameId(link)
            frame_ids.append(fid)
            centres.append(s.centres)
            radii.append(s.radii)
            joint_of += [model.frames[fid].parentJoint] * len(s.radii)
        self._frame_ids = frame_ids
        self._counts = [len(c) for c in centres]
        self._local = np.concatenate(centres)
        self.radii = np.concatenate(radii) + config.padding
        self._joint_of = np.array(joint_of)
        self._sphere_link = np.repeat(np.arange(len(frame_ids)), self._counts)
        self._link_names = list(spheres)
        # The base is bolted to the table: its spheres are not checked against the world.
        base = kin.robot.base_link
        self._world_mask = np.array([self._link_names[i] != base for i in self._sphere_link])
        # One bounding sphere per link culls whole link pairs before sphere pairs are tested.
        starts = np.cumsum([0] + self._counts)
        self._link_slices = [slice(a, b) for a, b in zip(starts[:-1], starts[1:])]
        self._link_centre = np.array([self._local[s].mean(axis=0) for s in self._link_slices])
        self._link_radius = np.array([
            (np.linalg.norm(self._local[s] - c, axis=1) + self.radii[s]).max()
            for s, c in zip(self._link_slices, self._link_centre)])
        self._self_pairs = self._self_collision_pairs()
        self.gripper = 0.0  #: actuated gripper joint value used for the finger spheres, m
        self.attachment: Attachment | None = None
        self.set_world(world)

    # -- set-up -------------------------------------------------------------------------
    def _self_collision_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """Link index pairs on bodies that are neither the same, adjacent nor disabled."""
        model = self.kin.model
        disabled = {frozenset(p) for p in self.kin.robot.disabled_collisions}
        names = self._link_names
        joint = [model.frames[f].parentJoint for f in self._frame_ids]
        pairs = []
        for a in range(len(names)):
            for b in range(a + 1, len(names)):
                ja, jb = joint[a], joint[b]
                if ja == jb or model.parents[ja] == jb or model.parents[jb] == ja:
                    continue
                if frozenset((names[a], names[b])) in disabled:
                    continue
                pairs.append((a, b))
        pairs_arr = np.array(pairs, int).reshape(-1, 2)
        return pairs_arr[:, 0], pairs_arr[:, 1]

    def set_world(self, world: WorldModel) -> None:
        self.world = world
        self.obstacles = ObstacleSet(world_primitives(world))
        self.ignore()

    def ignore(self, robot: tuple[str, ...] = (), load: tuple[str, ...] = ()) -> None:
        """Obstacles (names or "name/part") whose contact is allowed: ``robot`` for the
        robot, and also ``load`` for the carried object (e.g. the bowl it is set into)."""
        self._ignore = frozenset(robot)
        self._masks = self.obstacles.masks(self._ignore)
        held = {self.attachment.name} if self.attachment is not None else set()
        self._load_masks = self.obstacles.masks(self._ignore | frozenset(load) | held)

    def attach(self, obj_name: str, shape: Shape, tcp_T_obj: np.ndarray) -> None:
        """Carry the object: its spheres move with the TCP from now on."""
        centres, radii = [], []
        for prim in primitives(shape):
            # a cylinder lies inside the box of the same half extents
            c, r = box_spheres(prim.half)
            t = tcp_T_obj @ prim.local
            centres.append(c @ t[:3, :3].T + t[:3, 3])
            radii.append(np.full(len(c), r))
        self.attachment = Attachment(obj_name, np.concatenate(centres), np.concatenate(radii))
        self.ignore()

    def detach(self) -> None:
        self.attachment = None
        self.ignore()

    # -- queries ------------------------------------------------------------------------
    def sphere_positions(self, q_arm: np.ndarray) -> np.ndarray:
        """World centres of the robot's spheres at ``q_arm``, shape (n_spheres, 3)."""
        return self._positions(q_arm)[0]

    def _positions(self, q_arm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        model, data = self.kin.model, self.kin.data
        pin.framesForwardKinematics(model, data, self.kin.full_q(q_arm, self.gripper))
        frames = np.array([data.oMf[f].homogeneous for f in self._frame_ids])  # (L, 4, 4)
        per_sphere = frames[self._sphere_link]
        pts = np.einsum("sij,sj->si", per_sphere[:, :3, :3], self._local) + per_sphere[:, :3, 3]
        link_centres = (np.einsum("lij,lj->li", frames[:, :3, :3], self._link_centre)
                        + frames[:, :3, 3])
        return pts, link_centres

    def distance(self, q_arm: np.ndarray) -> float:
        """Smallest signed clearance (m) of robot and load to the world and to itself."""
        pts, link_centres = self._positions(q_arm)
        d_world = self.obstacles.signed_distance(pts[self._world_mask],
                                                 self.radii[self._world_mask], self._masks)
        best = float(d_world.min()) if len(d_world) else np.inf
        la, lb = self._self_pairs
        gap = (np.linalg.norm(link_centres[la] - link_centres[lb], axis=1)
               - self._link_radius[la] - self._link_radius[lb])
        for a, b in zip(la[gap < 0], lb[gap < 0]):
            sa, sb = self._link_slices[a], self._link_slices[b]
            d = (np.linalg.norm(pts[sa, None] - pts[None, sb], axis=-1)
                 - self.radii[sa, None] - self.radii[None, sb])
            best = min(best, float(d.min()))
        if self.attachment is not None:
            tcp = self.kin.data.oMf[self.kin.tcp_id]
            a = self.attachment
            load = a.centres @ tcp.rotation.T + tcp.translation
            d_load = self.obstacles.signed_distance(load, a.radii, self._load_masks)
            best = min(best, float(d_load.min()))
            # the load against the arm (not the gripper that holds it)
            arm = self._joint_of < self.kin.model.getJointId(self.kin.robot.arm_joints[-1])
            d_arm = np.linalg.norm(load[:, None] - pts[arm][None], axis=-1)
            best = min(best, float((d_arm - a.radii[:, None] - self.radii[arm][None]).min()))
        return best

    def is_free(self, q_arm: np.ndarray) -> bool:
        q_arm = np.asarray(q_arm, float)
        robot = self.kin.robot
        if np.any(q_arm < robot.lower - 1e-9) or np.any(q_arm > robot.upper + 1e-9):
            return False
        return self.distance(q_arm) > 0.0

    def edge_free(self, q0: np.ndarray, q1: np.ndarray) -> bool:
        """Both ends and the straight joint-space segment between them are free."""
        n = max(1, int(np.ceil(np.abs(q1 - q0).max() / self.config.resolution)))
        for s in np.linspace(0.0, 1.0, n + 1)[1:]:
            if not self.is_free(q0 + s * (q1 - q0)):
                return False
        return True
