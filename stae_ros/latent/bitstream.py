"""The stae-latent wire format: a 9-byte header and the range-coded latent symbols.

Layout (version 2; all clips decodable on their own, no side channel):

  ====== ===== ====================================================================
  offset bytes field
  ====== ===== ====================================================================
  0      2     magic ``b"SL"``
  2      1     format version (2; version 1 had no checksum and is refused by name)
  3      2     model fingerprint, little-endian: crc32 of the latent shape + coding tables, low 16 bits
  5      4     crc32, little-endian: zlib CRC-32 of bytes 0-4 and the body (every byte but these 4)
  9      ...   constriction queue.RangeEncoder words (uint32 LE), trailing zero bytes dropped
  ====== ===== ====================================================================

Symbols are coded channel by channel (raster order inside a channel), each channel with its
own categorical table over -R..R. Why no length field: the latent shape is fixed by the model
(checked through the fingerprint) and the range decoder reads missing trailing bytes as zeros.
Why a checksum: a range decoder turns any body into some symbols, so without one a corrupted
payload would be classified (914 of 1,000 single bit flips gave a label); with it, a corrupted
payload is refused before the range decoder runs.
"""

from __future__ import annotations

import zlib

import constriction
import numpy as np

from .errors import (
    BadMagicError,
    ChecksumError,
    LimitExceededError,
    ModelMismatchError,
    TruncatedPayloadError,
    UnsupportedVersionError,
)

__all__ = ["MAGIC", "VERSION", "HEADER_BYTES", "fingerprint", "payload_crc", "max_body_bytes", "encode_symbols",
           "decode_symbols"]

MAGIC = b"SL"
VERSION = 2
#: versions this decoder knows of but no longer accepts, with the reason (named in the error)
RETIRED_VERSIONS = {1: "it carries no checksum"}
HEADER_BYTES = 9
_CRC_AT = 5


def payload_crc(data: bytes | memoryview) -> int:
    """CRC-32 of a payload except its own crc32 field (bytes 5-8)."""
    mv = memoryview(data)
    return zlib.crc32(mv[HEADER_BYTES:], zlib.crc32(mv[:_CRC_AT])) & 0xFFFFFFFF


def max_body_bytes(shape: tuple[int, ...]) -> int:
    """Most body bytes a latent of this shape can take: the tables' smallest probability is
    about 2**-40 (1e-12 floor), so no symbol costs more than 6 bytes; plus a word of flush."""
    return 6 * int(np.prod(shape)) + 16


def fingerprint(shape: tuple[int, ...], tables: np.ndarray) -> int:
    """16-bit id of (latent shape, coding tables): a payload from another model is refused."""
    blob = np.asarray(shape, np.int32).tobytes() + np.ascontiguousarray(tables, np.float64).tobytes()
    return zlib.crc32(blob) & 0xFFFF


def _categorical(probs: np.ndarray) -> "constriction.stream.model.Categorical":
    return constriction.stream.model.Categorical(probs, perfect=False)


def encode_symbols(symbols: np.ndarray, tables: np.ndarray, support: int) -> bytes:
    """Integer symbols C,... in [-R, R] -> header + range-coded body."""
    c = symbols.shape[0]
    if tables.shape != (c, 2 * support + 1):
        raise ValueError(f"tables are {tables.shape}; expected {(c, 2 * support + 1)}")
    flat = symbols.reshape(c, -1).astype(np.int64)
    if flat.min(initial=0) < -support or flat.max(initial=0) > support:
        raise ValueError(f"symbols outside [-{support}, {support}]")
    enc = constriction.stream.queue.RangeEncoder()
    for ch in range(c):
        enc.encode((flat[ch] + support).astype(np.int32), _categorical(tables[ch]))
    body = enc.get_compressed().astype("<u4").tobytes().rstrip(b"\x00")
    fp = fingerprint(symbols.shape, tables)
    head = MAGIC + bytes([VERSION]) + fp.to_bytes(2, "little")
    return head + payload_crc(head + b"\x00" * 4 + body).to_bytes(4, "little") + body


def decode_symbols(data: bytes, shape: tuple[int, ...], tables: np.ndarray, support: int, max_bytes: int) -> np.ndarray:
    """Inverse of `encode_symbols`; raises a named LatentPayloadError for malformed data."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TruncatedPayloadError(f"payload must be bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) > max_bytes:
        raise LimitExceededError(f"payload is {len(data)} bytes; the decoder's limit is {max_bytes}")
    if len(data) < 3:
        raise TruncatedPayloadError(f"payload is {len(data)} bytes; shorter than the 3-byte magic+version")
    if data[:2] != MAGIC:
        raise BadMagicError(f"payload starts with {data[:2]!r}; expected {MAGIC!r} (stae-latent)")
    if data[2] in RETIRED_VERSIONS:
        raise UnsupportedVersionError(f"stae-latent format version {data[2]} is no longer accepted "
                                      f"({RETIRED_VERSIONS[data[2]]}); this edge reads version {VERSION}")
    if data[2] != VERSION:
        raise UnsupportedVersionError(f"stae-latent version {data[2]}; this decoder reads version {VERSION}")
    if len(data) < HEADER_BYTES:
        raise TruncatedPayloadError(f"payload is {len(data)} bytes; the version {VERSION} header alone is {HEADER_BYTES}")
    fp = int.from_bytes(data[3:5], "little")
    want = fingerprint(shape, tables)
    if fp != want:
        raise ModelMismatchError(f"payload model fingerprint {fp:#06x}; this decoder's model is {want:#06x}")
    if len(data) - HEADER_BYTES > max_body_bytes(shape):
        raise LimitExceededError(f"payload body is {len(data) - HEADER_BYTES} bytes; a latent of shape {tuple(shape)} "
                                 f"takes at most {max_body_bytes(shape)}")
    crc = int.from_bytes(data[_CRC_AT:HEADER_BYTES], "little")
    if payload_crc(data) != crc:
        raise ChecksumError(f"CRC-32 mismatch: header 0x{crc:08x}, payload 0x{payload_crc(data):08x}")
    body = data[HEADER_BYTES:]
    body += b"\x00" * ((-len(body)) % 4)
    words = np.frombuffer(body, dtype="<u4").astype(np.uint32)
    c = shape[0]
    n = int(np.prod(shape[1:]))
    dec = constriction.stream.queue.RangeDecoder(words)
    out = np.empty((c, n), np.int32)
    try:
        for ch in range(c):
            out[ch] = dec.decode(_categorical(tables[ch]), n)
    except Exception as exc:  # noqa: BLE001 - constriction raises ValueError / RuntimeError / AssertionError
        raise TruncatedPayloadError(f"range-coded body is malformed: {type(exc).__name__}: {exc}") from exc
    return (out - support).reshape(shape)
