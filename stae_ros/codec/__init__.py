"""stae-px: the semantic codec for what the camera keeps (numpy + zstd + OpenCV, no torch).

``encode(SemanticPayload) -> bytes`` and ``decode(bytes) -> SemanticPayload``; the byte format
is specified in docs/wire_format.md.
"""

from .codec import (
    AUTO_VALUE_LAYOUTS,
    DEFAULT_LEVEL,
    DEFAULT_QUALITY,
    FAST_LAYOUT,
    LOSSLESS_VALUE_LAYOUTS,
    MASK_LAYOUT_NAMES,
    VALUE_LAYOUT_NAMES,
    decode,
    decode_header,
    encode,
    layout_sizes,
)
from .errors import (
    BadMagicError,
    ChecksumError,
    CodecError,
    CorruptPayloadError,
    IndexOutOfRangeError,
    InvalidPayloadError,
    LayoutUnavailableError,
    LimitExceededError,
    SizeMismatchError,
    TruncatedPayloadError,
    UnknownLayoutError,
    UnsupportedVersionError,
)
from .payload import SemanticPayload
from .values import max_quantisation_error
from .wire import CODEC_NAME, CODEC_VERSION, HEADER_SIZE, DecodeLimits, Header

__all__ = [
    "CODEC_NAME",
    "CODEC_VERSION",
    "HEADER_SIZE",
    "DEFAULT_LEVEL",
    "DEFAULT_QUALITY",
    "FAST_LAYOUT",
    "LOSSLESS_VALUE_LAYOUTS",
    "AUTO_VALUE_LAYOUTS",
    "MASK_LAYOUT_NAMES",
    "VALUE_LAYOUT_NAMES",
    "SemanticPayload",
    "DecodeLimits",
    "Header",
    "encode",
    "decode",
    "decode_header",
    "layout_sizes",
    "max_quantisation_error",
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
