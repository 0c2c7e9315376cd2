"""numpy <-> sensor_msgs/Image as rosbags message objects (no cv_bridge, no rclpy)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import ImageEncodingError

__all__ = ["image_to_rgb", "rgb_to_image", "stamp_from_ns", "ns_from_stamp"]


def stamp_from_ns(store: Any, ns: int) -> Any:
    Time = store.types["builtin_interfaces/msg/Time"]
    return Time(sec=int(ns // 1_000_000_000), nanosec=int(ns % 1_000_000_000))


def ns_from_stamp(stamp: Any) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def rgb_to_image(store: Any, frame: np.ndarray, stamp_ns: int, frame_id: str = "camera") -> Any:
    """uint8 H,W,3 RGB -> sensor_msgs/msg/Image (rgb8)."""
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ImageEncodingError(f"frame must be uint8 H,W,3 RGB; got {frame.dtype} {frame.shape}")
    Image = store.types["sensor_msgs/msg/Image"]
    Header = store.types["std_msgs/msg/Header"]
    h, w, _ = frame.shape
    return Image(
        header=Header(stamp=stamp_from_ns(store, stamp_ns), frame_id=frame_id),
        height=h,
        width=w,
        encoding="rgb8",
        is_bigendian=0,
        step=w * 3,
        data=np.ascontiguousarray(frame).reshape(-1),
    )


def image_to_rgb(msg: Any) -> np.ndarray:
    """sensor_msgs/Image (rgb8, bgr8, rgba8, bgra8, mono8) -> uint8 H,W,3 RGB."""
    enc = str(msg.encoding).lower()
    channels = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1, "8uc1": 1, "8uc3": 3}.get(enc)
    if channels is None:
        raise ImageEncodingError(f"image encoding {msg.encoding!r} is not supported (use rgb8, bgr8, rgba8, bgra8 or mono8)")
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    data = np.asarray(msg.data, dtype=np.uint8)
    if step < w * channels or data.size < h * step:
        raise ImageEncodingError(f"image {w}x{h} {enc} with step {step} needs {h * step} bytes, has {data.size}")
    arr = data[: h * step].reshape(h, step)[:, : w * channels].reshape(h, w, channels)
    if enc in ("bgr8", "bgra8"):
        arr = arr[:, :, [2, 1, 0]]
    elif enc == "rgba8":
        arr = arr[:, :, :3]
    elif channels == 1:
        arr = np.repeat(arr, 3, axis=2)
    return np.ascontiguousarray(arr)
