"""Named errors of bag reading/writing: each message says which bag, topic or field was wrong."""

from __future__ import annotations

__all__ = ["BagError", "BagNotFoundError", "BagFormatError", "MissingTopicError", "MessageDefinitionError", "ImageEncodingError"]


class BagError(Exception):
    """Base class of every error raised by stae_ros.bagio."""


class BagNotFoundError(BagError, FileNotFoundError):
    """The bag path does not exist."""


class BagFormatError(BagError, ValueError):
    """The path exists but is not a readable rosbag2 (no/bad metadata.yaml, corrupt storage file)."""


class MissingTopicError(BagError, KeyError):
    """A topic the operation needs is not in the bag (the message lists the topics it has)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class MessageDefinitionError(BagError, ValueError):
    """Our .msg files could not be found or parsed into the typestore."""


class ImageEncodingError(BagError, ValueError):
    """A sensor_msgs/Image has an encoding or size we cannot turn into an RGB array."""
