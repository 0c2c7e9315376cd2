"""sensor_msgs/Image <-> numpy, without cv_bridge (which PyPI does not have).

Handles the 8-bit encodings cameras and rviz use (rgb8, bgr8, mono8, rgba8, bgra8), honouring
`step` (rows may be padded) and copying out of the message buffer so the array outlives it.
`is_bigendian` does not matter for 8-bit channels and is accepted either way. Other encodings
(16-bit depth, Bayer, YUV) go to ROS's cv_bridge when it is importable, else fail with a clear
`ImageEncodingError`.
"""

from __future__ import annotations

import array
from typing import Any

import numpy as np

from .errors import ImageEncodingError, ImageSizeError

try:  # pragma: no cover - cv_bridge is not on PyPI; present on ROS hosts
    from cv_bridge import CvBridge as _CvBridge  # type: ignore
except Exception:  # noqa: BLE001 - any import failure means "no cv_bridge"
    _CvBridge = None

__all__ = ["ENCODINGS", "image_to_array", "image_to_rgb", "array_to_image", "HAVE_CV_BRIDGE"]

#: encodings converted here: name -> channels
ENCODINGS: dict[str, int] = {"rgb8": 3, "bgr8": 3, "mono8": 1, "rgba8": 4, "bgra8": 4}
HAVE_CV_BRIDGE = _CvBridge is not None
_bridge = None


def _cv_bridge_convert(msg: Any) -> tuple[np.ndarray, str]:
    global _bridge
    if _CvBridge is None:
        raise ImageEncodingError(
            f"image encoding {msg.encoding!r} is not supported; use one of {sorted(ENCODINGS)} "
            "(or install ROS cv_bridge for other encodings)")
    if _bridge is None:
        _bridge = _CvBridge()
    try:
        return np.asarray(_bridge.imgmsg_to_cv2(msg, desired_encoding="rgb8")), "rgb8"
    except Exception as exc:  # noqa: BLE001 - cv_bridge raises its own error types
        raise ImageEncodingError(f"cv_bridge could not convert encoding {msg.encoding!r}: {exc}") from exc


def image_to_array(msg: Any) -> tuple[np.ndarray, str]:
    """The image as an H x W x C uint8 array in the message's own channel order, and its encoding.

    Raises ImageEncodingError for an unknown encoding, ImageSizeError when width/height/step
    and the data length disagree (a truncated or padded-wrong message).
    """
    enc = str(msg.encoding).lower()
    if enc not in ENCODINGS:
        return _cv_bridge_convert(msg)
    channels = ENCODINGS[enc]
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    if h <= 0 or w <= 0:
        raise ImageSizeError(f"image has height={h} width={w}; both must be > 0")
    row_bytes = w * channels
    if step < row_bytes:
        raise ImageSizeError(f"image step {step} is smaller than width*channels = {w}*{channels} = {row_bytes} for {enc}")
    data = msg.data
    buf = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data.view(np.uint8).reshape(-1)
    # the last row needs only row_bytes, but senders normally include its padding too
    need = step * (h - 1) + row_bytes
    if buf.size < need:
        raise ImageSizeError(f"image data has {buf.size} bytes; {enc} {w}x{h} with step {step} needs at least {need}")
    if buf.size < step * h:
        buf = np.concatenate([buf, np.zeros(step * h - buf.size, np.uint8)])
    rows = buf[: step * h].reshape(h, step)[:, :row_bytes]
    return np.ascontiguousarray(rows).reshape(h, w, channels), enc


def image_to_rgb(msg: Any) -> np.ndarray:
    """The image as an H x W x 3 uint8 RGB array (what the clip cutter and the model want)."""
    arr, enc = image_to_array(msg)
    if enc == "rgb8":
        return arr
    if enc == "bgr8":
        return np.ascontiguousarray(arr[:, :, ::-1])
    if enc == "mono8":
        return np.repeat(arr, 3, axis=2)
    if enc == "rgba8":
        return np.ascontiguousarray(arr[:, :, :3])
    if enc == "bgra8":
        return np.ascontiguousarray(arr[:, :, 2::-1])
    raise ImageEncodingError(f"cannot convert encoding {enc!r} to rgb8")  # pragma: no cover


def array_to_image(pixels: np.ndarray, encoding: str = "rgb8", stamp: Any = None, frame_id: str = "",
                   step: int | None = None) -> Any:
    """A sensor_msgs/Image holding `pixels` (H x W x C or H x W for mono8) with the given encoding.

    `step` > width*channels pads each row (used by tests and by senders that align rows).
    """
    from sensor_msgs.msg import Image  # imported here so the converters above need no ROS

    enc = encoding.lower()
    if enc not in ENCODINGS:
        raise ImageEncodingError(f"cannot write encoding {encoding!r}; use one of {sorted(ENCODINGS)}")
    channels = ENCODINGS[enc]
    arr = np.asarray(pixels)
    if arr.dtype != np.uint8:
        raise ImageSizeError(f"image array must be uint8; got {arr.dtype}")
    if arr.ndim == 2 and channels == 1:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] != channels:
        raise ImageSizeError(f"array of shape {arr.shape} does not fit {enc} ({channels} channel(s))")
    h, w = arr.shape[:2]
    row_bytes = w * channels
    step = row_bytes if step is None else int(step)
    if step < row_bytes:
        raise ImageSizeError(f"step {step} is smaller than width*channels = {row_bytes}")
    if step == row_bytes:
        data = np.ascontiguousarray(arr).tobytes()
    else:
        padded = np.zeros((h, step), np.uint8)
        padded[:, :row_bytes] = arr.reshape(h, row_bytes)
        data = padded.tobytes()
    msg = Image()
    if stamp is not None:
        msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.height, msg.width, msg.encoding, msg.is_bigendian, msg.step = h, w, enc, 0, step
    msg.data = array.array("B", data)  # array.array is what rclpy stores; bytes would be copied item by item
    return msg
