"""SA-guided region coding: a block importance map steers libx264 (stae-roi264 payload)."""

from .errors import (
    BadMagicError,
    BitstreamDecodeError,
    LimitExceededError,
    RoiError,
    RoiInputError,
    RoiPayloadError,
    TruncatedPayloadError,
    UnsupportedVersionError,
)

__all__ = [
    "RoiError",
    "RoiInputError",
    "RoiPayloadError",
    "BadMagicError",
    "UnsupportedVersionError",
    "TruncatedPayloadError",
    "LimitExceededError",
    "BitstreamDecodeError",
]
