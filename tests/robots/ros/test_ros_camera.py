"""sensor_msgs images and camera_info -> frames for perception (Debian's real message
classes; no master needed), and the workcell file."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.ros


def _image(array: np.ndarray, encoding: str, pad: int = 0, big_endian: bool = False):
    from sensor_msgs.msg import Image

    h, w = array.shape[:2]
    rows = array.astype(array.dtype.newbyteorder(">" if big_endian else "<")).reshape(h, -1)
    raw = rows.view(np.uint8).reshape(h, -1)
    data = np.hstack([raw, np.full((h, pad), 0xAB, np.uint8)]) if pad else raw
    return Image(height=h, width=w, encoding=encoding, is_bigendian=int(big_endian),
                 step=raw.shape[1] + pad, data=data.tobytes())


def _info(w=4, h=3, d=(0.0,) * 5):
    from sensor_msgs.msg import CameraInfo

    return CameraInfo(width=w, height=h, distortion_model="plumb_bob", D=list(d),
                      K=[500.0, 0, w / 2, 0, 500.0, h / 2, 0, 0, 1.0])


RGB = np.arange(3 * 4 * 3, dtype=np.uint8).reshape(3, 4, 3)


@pytest.mark.parametrize("encoding, pixels", [
    ("rgb8", RGB), ("bgr8", RGB[..., ::-1]),
    ("rgba8", np.dstack([RGB, np.full((3, 4), 255, np.uint8)])),
    ("bgra8", np.dstack([RGB[..., ::-1], np.full((3, 4), 7, np.uint8)]))])
@pytest.mark.parametrize("pad", [0, 5])
def test_colour_encodings_come_out_as_rgb(encoding, pixels, pad):
    from robots.ros.camera import image_array

    out = image_array(_image(np.ascontiguousarray(pixels), encoding, pad=pad))
    assert out.dtype == np.uint8 and out.shape == (3, 4, 3)
    np.testing.assert_array_equal(out, RGB)


@pytest.mark.parametrize("big_endian", [False, True])
def test_16uc1_depth_is_millimetres_and_0_is_invalid(big_endian):
    from robots.ros.camera import depth_metres

    mm = np.array([[0, 1000, 1234, 65535]] * 3, np.uint16)
    out = depth_metres(_image(mm, "16UC1", pad=2, big_endian=big_endian))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[0], [0.0, 1.0, 1.234, 65.535], rtol=1e-6)


def test_32fc1_depth_is_metres_and_nan_or_negative_is_invalid():
    from robots.ros.camera import depth_metres

    m = np.array([[np.nan, 0.75, -1.0, np.inf]] * 3, np.float32)
    np.testing.assert_allclose(depth_metres(_image(m, "32FC1"))[1], [0.0, 0.75, 0.0, 0.0])


@pytest.mark.parametrize("encoding", ["mono8", "yuv422", "8UC3"])
def test_an_unsupported_encoding_is_named(encoding):
    from robots.ros.camera import CameraError, depth_metres, image_array

    msg = _image(RGB, encoding)
    with pytest.raises(CameraError, match=encoding):
        image_array(msg)
    with pytest.raises(CameraError, match=encoding):
        depth_metres(msg)


def test_truncated_data_is_refused():
    from robots.ros.camera import CameraError, image_array

    msg = _image(RGB, "rgb8")
    msg.data = msg.data[:-1]
    with pytest.raises(CameraError, match="bytes of data"):
        image_array(msg)


def test_intrinsics_and_distortion():
    from robots.ros.camera import CameraError, intrinsics

    k = intrinsics(_info())
    assert k[0, 0] == 500.0 and k[1, 2] == 1.5
    with pytest.raises(CameraError, match="image_rect"):
        intrinsics(_info(d=(0.1, 0, 0, 0, 0)))
    bad = _info()
    bad.K = [0.0] * 9
    with pytest.raises(CameraError, match="no usable intrinsics"):
        intrinsics(bad)


def test_depth_not_registered_to_colour_is_refused():
    import rospy

    from robots.ros.camera import CameraError, frame_from

    depth = _image(np.zeros((2, 4), np.uint16), "16UC1")
    depth.header.stamp = rospy.Time(1.0)
    with pytest.raises(CameraError, match="aligned_depth_to_color"):
        frame_from(_image(RGB, "rgb8"), depth, _info(), np.eye(4))


def test_a_frame_from_messages_is_what_perception_reads():
    import rospy

    from robots.ros.camera import frame_from

    depth = _image(np.full((3, 4), 1100, np.uint16), "16UC1")
    depth.header.stamp = rospy.Time(12.5)
    pose = np.eye(4)
    pose[:3, 3] = (1.0, 0.0, 0.7)
    f = frame_from(_image(RGB, "bgr8"), depth, _info(), pose)
    assert f.stamp == 12.5 and f.instance is None and f.labels == ()
    np.testing.assert_allclose(f.depth, 1.1, rtol=1e-6)
    np.testing.assert_array_equal(f.rgb, RGB[..., ::-1])
    np.testing.assert_array_equal(f.extrinsics, pose)
