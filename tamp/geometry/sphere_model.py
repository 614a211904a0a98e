"""The robot's collision model as flat arrays, shared by every collision backend.

Built once per robot from the pinocchio model and the link spheres (stored beside the
robot's YAML, see ``robots/tools/fit_spheres.py``). Three levels: a bounding sphere per
link (culls link/obstacle pairs), clusters of at most six spheres (cull self-collision
pairs), and the spheres themselves (the exact test).

Only :meth:`SphereModel.build` needs pinocchio: a built model is saved to and loaded from
an ``.npz`` file (``robots/NAME/NAME_sphere_model.npz``, written by
``python -m robots.tools.build_sphere_model``), so that the collision tests run where
pinocchio is not installed.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tamp.geometry.spheres import LinkSpheres

if TYPE_CHECKING:
    from tamp.geometry.kinematics import Kinematics

CLUSTER_SIZE = 6


@dataclass(frozen=True)
class SphereModel:
    # joint tree; index 0 is the universe (the robot base frame)
    parents: np.ndarray  #: (J,) int
    placements: np.ndarray  #: (J, 4, 4) joint placement in its parent joint's frame
    axes: np.ndarray  #: (J, 3) unit motion axis
    prismatic: np.ndarray  #: (J,) bool
    q_index: np.ndarray  #: (J,) index of the joint's value in the full configuration
    nq: int
    arm_q_index: np.ndarray  #: (n_arm,)
    gripper_q_index: np.ndarray  #: (n_gripper_joints,) all moved by the one gripper value
    #: (n_drop,) the pads' drop joints, at ``pad_drop(gripper value, *linkage)``
    drop_q_index: np.ndarray
    linkage: np.ndarray  #: (2,) the gripper's linkage radius (m) and open angle (rad)
    # spheres, grouped by link (contiguous), centres in their joint's frame, m
    sphere_joint: np.ndarray  #: (S,)
    sphere_local: np.ndarray  #: (S, 3)
    radii: np.ndarray  #: (S,) including the padding
    link_names: tuple[str, ...]
    link_joint: np.ndarray  #: (L,)
    link_local: np.ndarray  #: (L, 3) bounding-sphere centre
    link_radius: np.ndarray  #: (L,)
    link_first: np.ndarray  #: (L,) first sphere of the link
    link_count: np.ndarray  #: (L,)
    world_link: np.ndarray  #: (L,) bool: checked against the world (not the bolted base)
    cluster_joint: np.ndarray  #: (C,)
    cluster_local: np.ndarray  #: (C, 3)
    cluster_radius: np.ndarray  #: (C,)
    # self collision: allowed cluster pairs and, flattened, their sphere pairs
    pair_a: np.ndarray  #: (P,)
    pair_b: np.ndarray  #: (P,)
    pair_first: np.ndarray  #: (P,)
    pair_count: np.ndarray  #: (P,)
    pair_sa: np.ndarray  #: (N,)
    pair_sb: np.ndarray  #: (N,)
    tcp_joint: int
    tcp_local: np.ndarray  #: (4, 4) TCP in its joint's frame
    #: spheres on joints below this id belong to the arm (a carried load is checked
    #: against them, not against the gripper that holds it)
    arm_joint_limit: int
    #: (C, CLUSTER_SIZE) each cluster's spheres, -1 where it has fewer (the sphere pairs
    #: of a cluster pair are all pairs of their members)
    cluster_members: np.ndarray

    @classmethod
    def build(cls, kin: Kinematics, spheres: dict[str, LinkSpheres], padding: float
              ) -> "SphereModel":
        """The model of ``kin``'s robot covered by ``spheres``, every radius grown by
        ``padding`` (m)."""
        import pinocchio as pin  # only here: a saved model loads without it

        model = kin.model
        robot = kin.robot
        parents, placements, axes, prismatic, q_index = [0], [np.eye(4)], [np.zeros(3)], \
            [False], [0]
        data = model.createData()
        for j in range(1, model.njoints):
            parents.append(model.parents[j])
            placements.append(model.jointPlacements[j].homogeneous)
            # read the motion axis off pinocchio: handles RZ, PY, unaligned axes alike
            q0 = pin.neutral(model)
            q1 = q0.copy()
            q1[model.joints[j].idx_q] += 1.0
            pin.forwardKinematics(model, data, q0)
            m0 = data.oMi[j].copy()
            pin.forwardKinematics(model, data, q1)
            motion = pin.log6(m0.actInv(data.oMi[j])).vector
            is_prismatic = bool(np.linalg.norm(motion[3:]) < 1e-9)
            axes.append(motion[:3] if is_prismatic else motion[3:])
            prismatic.append(is_prismatic)
            q_index.append(model.joints[j].idx_q)

        names, s_joint, s_local, s_radii, l_joint, l_local, l_radius, first, count = \
            [], [], [], [], [], [], [], [], []
        for name, s in spheres.items():
            frame = model.frames[model.getFrameId(name)]
            t = frame.placement.homogeneous
            local = s.centres @ t[:3, :3].T + t[:3, 3]
            radii = s.radii + padding
            centre = local.mean(axis=0)
            names.append(name)
            first.append(sum(count))
            count.append(len(radii))
            s_joint += [frame.parentJoint] * len(radii)
            s_local.append(local)
            s_radii.append(radii)
            l_joint.append(frame.parentJoint)
            l_local.append(centre)
            l_radius.append(float((np.linalg.norm(local - centre, axis=1) + radii).max()))
        sphere_local, radii = np.concatenate(s_local), np.concatenate(s_radii)
        sphere_joint = np.array(s_joint)

        # clusters: runs of spheres along each link's longest axis
        c_link, c_local, c_radius, c_members = [], [], [], []
        for k in range(len(names)):
            idx = np.arange(first[k], first[k] + count[k])
            axis = int(np.argmax(np.ptp(sphere_local[idx], axis=0)))
            idx = idx[np.argsort(sphere_local[idx, axis], kind="stable")]
            for chunk in np.array_split(idx, int(np.ceil(len(idx) / CLUSTER_SIZE))):
                c = sphere_local[chunk].mean(axis=0)
                c_link.append(k)
                c_local.append(c)
                c_radius.append(float((np.linalg.norm(sphere_local[chunk] - c, axis=1)
                                       + radii[chunk]).max()))
                c_members.append(chunk)

        allowed = _allowed_link_pairs(model, names, l_joint, robot.disabled_collisions)
        pa, pb, pfirst, pcount, sa, sb = [], [], [], [], [], []
        for i in range(len(c_link)):
            for k in range(len(c_link)):
                if (c_link[i], c_link[k]) not in allowed:
                    continue
                ga, gb = np.meshgrid(c_members[i], c_members[k], indexing="ij")
                pa.append(i)
                pb.append(k)
                pfirst.append(sum(pcount))
                pcount.append(ga.size)
                sa.append(ga.ravel())
                sb.append(gb.ravel())

        tcp = model.frames[kin.tcp_id]
        arm_limit = model.getJointId(robot.arm_joints[-1])
        return cls(
            np.array(parents), np.array(placements), np.array(axes), np.array(prismatic),
            np.array(q_index), model.nq, np.asarray(kin.arm_q_index),
            np.asarray(kin.gripper_q_index), np.asarray(kin.drop_q_index, int),
            np.array([robot.gripper.linkage_radius, robot.gripper.linkage_open_angle]),
            sphere_joint, sphere_local, radii, tuple(names),
            np.array(l_joint), np.array(l_local), np.array(l_radius), np.array(first),
            np.array(count), np.array([n != robot.base_link for n in names]),
            np.array([l_joint[k] for k in c_link]), np.array(c_local), np.array(c_radius),
            np.array(pa, int), np.array(pb, int), np.array(pfirst, int), np.array(pcount, int),
            np.concatenate(sa) if sa else np.zeros(0, int),
            np.concatenate(sb) if sb else np.zeros(0, int),
            int(tcp.parentJoint), tcp.placement.homogeneous.copy(), int(arm_limit),
            np.array([np.pad(c, (0, CLUSTER_SIZE - len(c)), constant_values=-1)
                      for c in c_members], int).reshape(-1, CLUSTER_SIZE))


    def save(self, path: str | Path) -> None:
        """Write the model to ``path`` (an ``.npz``: one array per field, the link names
        as a unicode array, so that :meth:`load` needs no pickle). The same model writes
        the same bytes (``np.savez`` stamps the time), so that rebuilding an unchanged
        file leaves git nothing to commit."""
        with zipfile.ZipFile(path, "w") as out:
            for f in fields(self):
                value = getattr(self, f.name)
                value = np.array(value, dtype=str) if f.name == "link_names" else \
                    np.asarray(value)
                info = zipfile.ZipInfo(f"{f.name}.npy")  # a fixed date: the same bytes
                info.compress_type = zipfile.ZIP_DEFLATED
                with out.open(info, "w") as member:
                    np.lib.format.write_array(member, value, allow_pickle=False)

    @classmethod
    def load(cls, path: str | Path) -> "SphereModel":
        """The model :meth:`save` wrote to ``path``."""
        with np.load(path, allow_pickle=False) as data:
            values = {}
            for f in fields(cls):
                value = data[f.name]
                if f.name == "link_names":
                    value = tuple(str(n) for n in value)
                elif f.type == "int":
                    value = int(value)
                values[f.name] = value
        return cls(**values)


def _allowed_link_pairs(model, names, link_joint, disabled) -> set[tuple[int, int]]:
    """Link index pairs checked for self collision: not on the same or adjacent bodies,
    not in the robot's disabled list."""
    disabled = {frozenset(p) for p in disabled}
    out = set()
    for a in range(len(names)):
        for b in range(a + 1, len(names)):
            ja, jb = int(link_joint[a]), int(link_joint[b])
            if ja == jb or model.parents[ja] == jb or model.parents[jb] == ja:
                continue
            if frozenset((names[a], names[b])) in disabled:
                continue
            out.add((a, b))
    return out
