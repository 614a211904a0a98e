"""The RGB-D sensor models: statistics of the D435-class model against its stated
formulas, and reproducibility from the episode seed."""

from __future__ import annotations

import numpy as np
import pytest

from tamp.perception.sensors import D435, IDEAL, SENSORS, sensor_model

FOCAL = 461.0  #: px, the scene camera's at 640x480 (55 degree vertical field of view)


def _plane(z: float, shape=(240, 320)) -> np.ndarray:
    return np.full(shape, z, np.float64)


def _corrupt(model, depth, seed=0):
    rng = np.random.default_rng(seed)
    return model.corrupt_depth(depth, FOCAL, rng, model.edges(depth, FOCAL))


@pytest.mark.parametrize("z", [0.6, 0.9, 1.2, 1.5, 1.8])
def test_axial_noise_follows_the_disparity_model(z):
    out = _corrupt(D435, _plane(z), seed=int(z * 10))
    valid = out > 0
    measured = float(out[valid].std())
    expected = float(D435.depth_noise().sigma(z, FOCAL))
    formula = z ** 2 * D435.subpixel / (FOCAL * D435.baseline)
    # the stated formula itself, not only the model's own function
    assert expected == pytest.approx(np.hypot(formula, 0.001 / np.sqrt(12)), rel=1e-9)
    assert measured == pytest.approx(expected, rel=0.1)
    # unbiased to well below a millimetre
    assert abs(float(out[valid].mean()) - z) < 0.2 * expected + 5e-4


def test_noise_grows_with_the_square_of_the_distance():
    near, far = _corrupt(D435, _plane(0.8)), _corrupt(D435, _plane(1.6))
    s1, s2 = float(near[near > 0].std()), float(far[far > 0].std())
    assert s2 / s1 == pytest.approx(4.0, rel=0.15)


def test_noise_is_spatially_correlated_and_quantised():
    out = _corrupt(D435, _plane(1.2)).astype(np.float64)
    valid = out > 0
    d = np.where(valid, out - 1.2, np.nan)
    a, b = d[:, :-1].ravel(), d[:, 1:].ravel()
    ok = np.isfinite(a) & np.isfinite(b)
    rho = np.corrcoef(a[ok], b[ok])[0, 1]
    # per-pixel independent noise would give 0; the model's correlated share is 0.6
    assert 0.3 < rho < 0.7
    steps = out[valid] / D435.depth_unit
    np.testing.assert_allclose(steps, np.rint(steps), atol=1e-3)


def test_about_one_percent_of_pixels_are_invalid_and_read_zero():
    out = _corrupt(D435, _plane(1.0, (480, 640)))
    share = float((out == 0).mean())
    assert share == pytest.approx(D435.invalid_fraction, rel=0.25)


def _step(z_near=1.0, z_far=1.3, shape=(120, 200), column=100) -> np.ndarray:
    depth = _plane(z_far, shape)
    depth[:, column:] = z_near  # a nearer surface on the right half
    return depth


def test_shadow_left_of_a_near_edge_has_the_stereo_width():
    depth = _step()
    shadow = D435.edges(depth, FOCAL).shadow
    # the second imager sits to the right: it cannot see the background just left of the
    # near surface, over the disparity difference
    width = FOCAL * D435.baseline * (1 / 1.0 - 1 / 1.3)
    cols = np.flatnonzero(shadow.any(axis=0))
    assert cols.max() == 99 and len(cols) == int(np.floor(width))
    assert not shadow[:, 100:].any()


def test_flying_pixels_take_depths_between_the_two_sides():
    depth = _step()
    out = _corrupt(D435, depth).astype(np.float64)
    sigma = D435.depth_noise().sigma(1.3, FOCAL)
    between = (out > 1.0 + 4 * sigma) & (out < 1.3 - 4 * sigma)
    assert between.sum() > 0.3 * depth.shape[0]  # a column of them along the edge
    cols = np.flatnonzero(between.any(axis=0))
    assert cols.min() >= 98 and cols.max() <= 101  # only at the edge


def test_nothing_hit_reads_zero():
    depth = _plane(np.inf)
    assert not _corrupt(D435, depth).any()


def test_ideal_is_exact():
    depth = _step()
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(IDEAL.corrupt_depth(depth, FOCAL, rng, IDEAL.edges(
        depth, FOCAL)), depth.astype(np.float32))
    assert IDEAL.ideal and not D435.ideal


def test_colour_gain_is_per_episode_and_noise_per_frame():
    rgb = np.full((20, 20, 3), 128, np.uint8)
    state = D435.draw_episode(np.random.default_rng(1))
    rng = np.random.default_rng(2)
    a, b = D435.corrupt_rgb(rgb, state, rng), D435.corrupt_rgb(rgb, state, rng)
    assert not np.array_equal(a, b)
    # the mean follows the episode's gains; the noise averages out
    np.testing.assert_allclose(a.reshape(-1, 3).mean(0), 128 * state.gains, atol=1.5)


def test_pose_error_has_the_stated_size():
    model = sensor_model("d435-miscalibrated")
    err = model.draw_episode(np.random.default_rng(3)).pose_error
    angle = np.degrees(np.arccos((np.trace(err[:3, :3]) - 1) / 2))
    assert angle == pytest.approx(0.5, abs=1e-6)
    assert np.linalg.norm(err[:3, 3]) == pytest.approx(0.005, abs=1e-9)
    assert np.allclose(D435.draw_episode(np.random.default_rng(3)).pose_error, np.eye(4))


def test_unknown_camera_lists_the_known_ones():
    with pytest.raises(ValueError, match="d435"):
        sensor_model("kinect")
    assert {"ideal", "d435", "d435-miscalibrated"} <= set(SENSORS)


def test_frames_are_reproducible_from_the_episode_seed():
    from scenes.env import TabletopEnv

    env = TabletopEnv("lift", camera="d435")
    try:
        env.reset(seed=4)
        a = env.capture_burst(2)
        env.reset(seed=4)
        b = env.capture_burst(2)
        env.reset(seed=5)
        c = env.capture()
    finally:
        env.close()
    assert a[0].depth.shape == (480, 640)
    np.testing.assert_array_equal(a[0].depth, b[0].depth)
    np.testing.assert_array_equal(a[1].rgb, b[1].rgb)
    assert not np.array_equal(a[0].depth, a[1].depth)  # new noise in every frame
    assert not np.array_equal(a[0].rgb, c.rgb)


def test_the_gymnasium_env_takes_the_camera_by_name():
    import gymnasium

    import scenes  # noqa: F401  (registers the environments)

    env = gymnasium.make("tamp/Lift-v0", camera="d435")
    try:
        env.reset(seed=0)
        frame = env.unwrapped.capture()
        assert frame.depth.shape == (480, 640) and (frame.depth == 0).any()
    finally:
        env.close()
    with pytest.raises(ValueError, match="unknown camera"):
        gymnasium.make("tamp/Lift-v0", camera="kinect")
