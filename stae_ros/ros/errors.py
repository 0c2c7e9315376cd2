"""Named errors of the ROS layer, each saying what was wrong with the input."""

from __future__ import annotations

__all__ = [
    "RosLayerError", "ImageConversionError", "ImageEncodingError", "ImageSizeError",
    "MalformedClipError", "SourceError", "LaunchError",
]


class RosLayerError(ValueError):
    """Base class of the errors raised by stae_ros.ros."""


class ImageConversionError(RosLayerError):
    """A sensor_msgs/Image could not be turned into an array (or back)."""


class ImageEncodingError(ImageConversionError):
    """The image encoding is not one this converter handles (and cv_bridge is absent or failed)."""


class ImageSizeError(ImageConversionError):
    """width, height, step and the data length do not agree."""


class MalformedClipError(RosLayerError):
    """A SemanticClip's fields contradict each other or the model (shape, K, p, codec, payload)."""


class SourceError(RosLayerError):
    """The camera's own frame source (video file, device, synthetic, data set) cannot be opened or read."""


class LaunchError(RosLayerError):
    """The project launcher could not start a node process (missing config, bad spec)."""
