"""Named exceptions of stae_ros.latent: each message says what was wrong with the payload or input."""

from __future__ import annotations

__all__ = [
    "LatentError",
    "LatentInputError",
    "LatentPayloadError",
    "BadMagicError",
    "UnsupportedVersionError",
    "ModelMismatchError",
    "TruncatedPayloadError",
    "LimitExceededError",
    "ChecksumError",
]


class LatentError(Exception):
    """Base of all errors raised by stae_ros.latent."""


class LatentInputError(LatentError, ValueError):
    """A clip given to the encoder has the wrong shape or dtype."""


class LatentPayloadError(LatentError, ValueError):
    """Base of the errors for a malformed stae-latent payload (edge side)."""


class BadMagicError(LatentPayloadError):
    """The payload does not start with the stae-latent magic bytes."""


class UnsupportedVersionError(LatentPayloadError):
    """The payload was written by an unknown version of the stae-latent format."""


class ModelMismatchError(LatentPayloadError):
    """The payload was coded with a different entropy model / latent shape than the decoder holds."""


class TruncatedPayloadError(LatentPayloadError):
    """The payload is shorter than its header, or its range-coded body ran out before all symbols."""


class LimitExceededError(LatentPayloadError):
    """The payload is larger than the decoder's limits allow."""


class ChecksumError(LatentPayloadError):
    """The payload's CRC-32 does not match its bytes: it was corrupted on the way."""
