"""Named exceptions of stae_ros.roi: each message says what was wrong with the payload or input."""

from __future__ import annotations

__all__ = [
    "RoiError",
    "RoiInputError",
    "RoiConfigError",
    "RoiPayloadError",
    "BadMagicError",
    "UnsupportedVersionError",
    "TruncatedPayloadError",
    "LimitExceededError",
    "BitstreamDecodeError",
    "ChecksumError",
]


class RoiError(Exception):
    """Base of all errors raised by stae_ros.roi."""


class RoiInputError(RoiError, ValueError):
    """A clip or importance map given to the encoder has the wrong shape, dtype or range."""


class RoiConfigError(RoiError, ValueError):
    """A ROI study or map-training configuration lacks a setting or has a bad value."""


class RoiPayloadError(RoiError, ValueError):
    """Base of the errors for a malformed stae-roi264 payload (edge side)."""


class BadMagicError(RoiPayloadError):
    """The payload does not start with the stae-roi264 magic bytes."""


class UnsupportedVersionError(RoiPayloadError):
    """The payload was written by a newer / unknown version of the container."""


class TruncatedPayloadError(RoiPayloadError):
    """The payload ends inside its header or inside a NAL unit."""


class LimitExceededError(RoiPayloadError):
    """The header announces a clip or bitstream larger than the decoder's limits allow."""


class BitstreamDecodeError(RoiPayloadError):
    """libavcodec could not decode the H.264 bitstream, or it held the wrong number of frames."""


class ChecksumError(RoiPayloadError):
    """The payload's CRC-32 does not match its bytes: it was corrupted on the way."""
