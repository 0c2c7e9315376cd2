"""The fixed header of a stae-px payload, and the receiver's decode limits.

Byte format (all integers little-endian), documented field by field in docs/wire_format.md::

    header (HEADER_SIZE bytes) | frame indices (2*K bytes) | mask section | value section

The header is fixed-size and self-describing: it names the clip geometry, budgets, quantisation,
layouts and the length of every section, so each clip decodes on its own, and a receiver can
check every size against its limits before it allocates or decompresses anything.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

__all__ = [
    "MAGIC",
    "CODEC_NAME",
    "CODEC_VERSION",
    "HEADER_FORMAT",
    "HEADER_SIZE",
    "SECTION_RAW",
    "SECTION_ZSTD",
    "Header",
    "DecodeLimits",
    "pack_header",
    "unpack_header",
    "payload_crc",
    "with_crc",
]

MAGIC = b"STPX"
CODEC_NAME = "stae-px"
CODEC_VERSION = 1

# magic, version, flags, T, H, W, C, K, p, bits, mask_layout, value_layout, quality,
# mask_codec, value_codec, n_values, mask_len, mask_raw_len, value_len, value_raw_len, crc32
HEADER_FORMAT = "<4sBBHHHBHdBBBBBBIIIIII"
HEADER_SIZE = struct.calcsize(HEADER_FORMAT)
_CRC_OFFSET = HEADER_SIZE - 4

SECTION_RAW = 0  # section stored as is
SECTION_ZSTD = 1  # section is one zstd frame that declares its content size


@dataclass(frozen=True)
class Header:
    """Decoded header fields (see docs/wire_format.md for each one's meaning)."""

    version: int
    flags: int
    frames: int
    height: int
    width: int
    channels: int
    k: int
    p: float
    bits: int
    mask_layout: int
    value_layout: int
    quality: int
    mask_codec: int
    value_codec: int
    n_values: int
    mask_len: int
    mask_raw_len: int
    value_len: int
    value_raw_len: int
    crc32: int

    @property
    def total_size(self) -> int:
        """Bytes the whole payload must have according to this header."""
        return HEADER_SIZE + 2 * self.k + self.mask_len + self.value_len


@dataclass(frozen=True)
class DecodeLimits:
    """Receiver-side caps checked against the header before anything is allocated.

    ``max_decoded_bytes`` bounds the sum of the decompressed sections plus the decoded mask and
    values, so neither a zstd bomb nor an image bomb can make the decoder allocate more.
    """

    max_frames: int = 1024
    max_height: int = 2160
    max_width: int = 4096
    max_channels: int = 4
    max_encoded_bytes: int = 64 << 20
    max_decoded_bytes: int = 256 << 20

    def __post_init__(self) -> None:
        for name in ("max_frames", "max_height", "max_width", "max_channels", "max_encoded_bytes", "max_decoded_bytes"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"DecodeLimits.{name} must be a positive int, got {v!r}")


def pack_header(h: Header) -> bytes:
    """Header bytes with the given crc32 field (use payload_crc to compute it)."""
    return struct.pack(
        HEADER_FORMAT,
        MAGIC,
        h.version,
        h.flags,
        h.frames,
        h.height,
        h.width,
        h.channels,
        h.k,
        h.p,
        h.bits,
        h.mask_layout,
        h.value_layout,
        h.quality,
        h.mask_codec,
        h.value_codec,
        h.n_values,
        h.mask_len,
        h.mask_raw_len,
        h.value_len,
        h.value_raw_len,
        h.crc32,
    )


def unpack_header(data: bytes) -> Header:
    """Parse the first HEADER_SIZE bytes (caller has checked the length and magic)."""
    f = struct.unpack_from(HEADER_FORMAT, data, 0)
    return Header(*f[1:])


def payload_crc(data: bytes | memoryview) -> int:
    """CRC32 of a whole payload except the header's own crc32 field (the last 4 header bytes)."""
    mv = memoryview(data)
    crc = zlib.crc32(mv[:_CRC_OFFSET])
    return zlib.crc32(mv[HEADER_SIZE:], crc) & 0xFFFFFFFF


def with_crc(data: bytes) -> bytes:
    """Return ``data`` with the header's crc32 field set to the payload's CRC."""
    return data[:_CRC_OFFSET] + struct.pack("<I", payload_crc(data)) + data[HEADER_SIZE:]
