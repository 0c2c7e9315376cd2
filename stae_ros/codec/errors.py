"""Named exceptions of the semantic codec.

Everything the decoder can raise on bad input derives from :class:`CodecError`, so a receiver
(edge node, bag replayer) can drop one malformed message with a single ``except CodecError``
and keep running. Errors about the caller's own arguments on the *encode* side also derive from
``ValueError`` so that ordinary argument checking idioms keep working.
"""

from __future__ import annotations

__all__ = [
    "CodecError",
    "BadMagicError",
    "UnsupportedVersionError",
    "TruncatedPayloadError",
    "SizeMismatchError",
    "LimitExceededError",
    "IndexOutOfRangeError",
    "UnknownLayoutError",
    "ChecksumError",
    "CorruptPayloadError",
    "InvalidPayloadError",
    "LayoutUnavailableError",
]


class CodecError(Exception):
    """Base class of every error the codec raises on malformed input or bad arguments."""


class BadMagicError(CodecError):
    """The bytes do not start with the codec's magic number (not a stae-px payload)."""


class UnsupportedVersionError(CodecError):
    """The payload was written by a format version this decoder does not know."""


class TruncatedPayloadError(CodecError):
    """The payload is shorter than its header (or the header itself) says it must be."""


class SizeMismatchError(CodecError):
    """Two sizes that must agree do not (section lengths, value counts, image dimensions...)."""


class LimitExceededError(CodecError):
    """A declared size is over the receiver's :class:`~stae_ros.codec.DecodeLimits`."""


class IndexOutOfRangeError(CodecError):
    """Frame indices are out of range or not strictly increasing, or mask positions overflow."""


class UnknownLayoutError(CodecError, ValueError):
    """A layout id (in a payload) or layout name (given to ``encode``) is not known."""


class ChecksumError(CodecError):
    """The CRC32 stored in the header does not match the payload bytes."""


class CorruptPayloadError(CodecError):
    """A section's contents do not parse (bad varint, zstd frame, or embedded image)."""


class InvalidPayloadError(CodecError, ValueError):
    """A :class:`~stae_ros.codec.SemanticPayload` was built from inconsistent arrays."""


class LayoutUnavailableError(CodecError, ValueError):
    """The requested layout cannot represent this payload (e.g. JPEG of a 2-channel clip)."""
