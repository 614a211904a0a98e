"""The hand-written quaternion conversions agree with scipy's Rotation."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from tamp.geometry.transforms import matrix_quat, pose, quat_matrix, to_pos_quat


def _rotations(n: int, seed: int = 0) -> Rotation:
    rng = np.random.default_rng(seed)
    random = Rotation.random(n, random_state=rng)
    # near and at 180 degrees about each axis and about diagonals: the branches that
    # differ from the trace formula
    axes = np.vstack([np.eye(3), [[1, 1, 0], [0, 1, 1], [1, 0, 1], [1, 1, 1], [-1, 2, 0.5]]])
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    angles = np.array([np.pi, np.pi - 1e-9, np.pi - 1e-3, 1e-9, 0.0])
    special = Rotation.from_rotvec((axes[:, None, :] * angles[None, :, None]).reshape(-1, 3))
    return Rotation.concatenate([random, special])


def test_quat_matrix_matches_scipy_for_unnormalised_quaternions():
    rng = np.random.default_rng(1)
    for q in rng.normal(size=(500, 4)) * rng.uniform(0.1, 10.0, size=(500, 1)):
        np.testing.assert_allclose(quat_matrix(q), Rotation.from_quat(q).as_matrix(),
                                   atol=1e-12)


def test_matrix_quat_matches_scipy_including_the_sign():
    rotations = _rotations(2000)
    for r, q_scipy in zip(rotations.as_matrix(), rotations.as_quat()):
        q = matrix_quat(r)
        expected = Rotation.from_matrix(r).as_quat()
        np.testing.assert_allclose(q, expected, atol=1e-9)
        # and it is the same rotation as the one we started from
        assert abs(abs(q @ q_scipy) - 1.0) < 1e-9


def test_pose_round_trip():
    rng = np.random.default_rng(2)
    for r in _rotations(200, seed=3).as_quat():
        p = rng.uniform(-1, 1, 3)
        pos, q = to_pos_quat(pose(p, r))
        np.testing.assert_allclose(pos, p)
        np.testing.assert_allclose(quat_matrix(q), quat_matrix(r), atol=1e-12)


@pytest.mark.parametrize("bad", [(0, 0, 0, 0), (np.nan, 0, 0, 1)])
def test_quat_matrix_refuses_what_is_not_a_rotation(bad):
    with pytest.raises(ValueError, match="not a rotation quaternion"):
        quat_matrix(bad)
