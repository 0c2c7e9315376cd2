"""stae_ros.ros.images: sensor_msgs/Image <-> numpy for the 8-bit encodings, padding and errors."""

import numpy as np
import pytest

pytest.importorskip("sensor_msgs.msg", reason="ROS 2 sensor_msgs not installed (pip install -r requirements-ros.txt)")

from stae_ros.ros.errors import ImageEncodingError, ImageSizeError  # noqa: E402
from stae_ros.ros.images import ENCODINGS, array_to_image, image_to_array, image_to_rgb  # noqa: E402


def _rand(h, w, c, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, c), dtype=np.uint8)


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
@pytest.mark.parametrize("pad", [0, 3, 16])
def test_round_trip_with_padded_step(encoding, pad):
    c = ENCODINGS[encoding]
    arr = _rand(5, 7, c, seed=pad)
    msg = array_to_image(arr, encoding, step=7 * c + pad)
    assert msg.step == 7 * c + pad
    assert len(msg.data) == msg.step * 5
    back, enc = image_to_array(msg)
    assert enc == encoding
    np.testing.assert_array_equal(back, arr)


def test_to_rgb_converts_channel_orders():
    rgb = _rand(4, 6, 3, seed=1)
    np.testing.assert_array_equal(image_to_rgb(array_to_image(rgb, "rgb8")), rgb)
    np.testing.assert_array_equal(image_to_rgb(array_to_image(rgb[:, :, ::-1].copy(), "bgr8")), rgb)
    rgba = np.concatenate([rgb, np.full((4, 6, 1), 9, np.uint8)], axis=2)
    np.testing.assert_array_equal(image_to_rgb(array_to_image(rgba, "rgba8")), rgb)
    bgra = np.concatenate([rgb[:, :, ::-1], np.full((4, 6, 1), 9, np.uint8)], axis=2)
    np.testing.assert_array_equal(image_to_rgb(array_to_image(bgra, "bgra8", step=6 * 4 + 8)), rgb)
    mono = rgb[:, :, 0]
    out = image_to_rgb(array_to_image(mono, "mono8"))
    assert out.shape == (4, 6, 3)
    for ch in range(3):
        np.testing.assert_array_equal(out[:, :, ch], mono)


def test_big_endian_flag_is_irrelevant_for_8_bit():
    arr = _rand(3, 3, 3, seed=2)
    msg = array_to_image(arr, "rgb8")
    msg.is_bigendian = 1
    np.testing.assert_array_equal(image_to_rgb(msg), arr)


def test_last_row_without_padding_is_accepted():
    arr = _rand(3, 4, 3, seed=3)
    msg = array_to_image(arr, "rgb8", step=16)
    msg.data = msg.data[: 16 * 2 + 12]  # senders may omit the padding of the last row
    np.testing.assert_array_equal(image_to_rgb(msg), arr)


def test_unknown_encoding_is_a_clear_error():
    msg = array_to_image(_rand(2, 2, 3), "rgb8")
    msg.encoding = "yuv422_weird"
    with pytest.raises(ImageEncodingError, match="yuv422_weird"):
        image_to_array(msg)
    with pytest.raises(ImageEncodingError, match="16UC1"):
        array_to_image(np.zeros((2, 2), np.uint8), "16UC1")


def test_bad_sizes_are_clear_errors():
    msg = array_to_image(_rand(4, 4, 3), "rgb8")
    msg.data = msg.data[:-13]
    with pytest.raises(ImageSizeError, match="needs at least"):
        image_to_array(msg)
    msg = array_to_image(_rand(4, 4, 3), "rgb8")
    msg.step = 5
    with pytest.raises(ImageSizeError, match="step 5"):
        image_to_array(msg)
    msg = array_to_image(_rand(4, 4, 3), "rgb8")
    msg.width = 0
    with pytest.raises(ImageSizeError, match="width=0"):
        image_to_array(msg)
    with pytest.raises(ImageSizeError, match="uint8"):
        array_to_image(np.zeros((2, 2, 3), np.float32), "rgb8")
    with pytest.raises(ImageSizeError, match="does not fit"):
        array_to_image(np.zeros((2, 2, 3), np.uint8), "mono8")
    with pytest.raises(ImageSizeError, match="smaller"):
        array_to_image(np.zeros((2, 2, 3), np.uint8), "rgb8", step=4)
