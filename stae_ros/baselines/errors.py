"""Named exceptions of stae_ros.baselines: each message says what was wrong with the input."""

from __future__ import annotations

__all__ = ["BaselineError", "ClipFormatError", "BaselineDecodeError", "UnknownCodecError"]


class BaselineError(Exception):
    """Base of all errors raised by stae_ros.baselines."""


class ClipFormatError(BaselineError, ValueError):
    """A clip handed to an encoder is not uint8 T,H,W,3 (or has a size the codec cannot take)."""


class BaselineDecodeError(BaselineError, ValueError):
    """A byte string is not a valid stream of the codec that was asked to decode it."""


class UnknownCodecError(BaselineError, KeyError):
    """A codec spec names a codec family this package does not know."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else "unknown codec"
