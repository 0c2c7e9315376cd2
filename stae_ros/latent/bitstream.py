"""The stae-latent wire format: a 5-byte header and the range-coded latent symbols.

Layout (all clips decodable on their own, no side channel):

  ====== ===== ====================================================================
  offset bytes field
  ====== ===== ====================================================================
  0      2     magic ``b"SL"``
  2      1     format version (1)
  3      2     model fingerprint, little-endian: crc32 of the latent shape + coding tables, low 16 bits
  5      ...   constriction queue.RangeEncoder words (uint32 LE), trailing zero bytes dropped
  ====== ===== ====================================================================

Symbols are coded channel by channel (raster order inside a channel), each channel with its
own categorical table over -R..R. Why no length field: the latent shape is fixed by the model
(checked through the fingerprint) and the range decoder reads missing trailing bytes as zeros.
"""

from __future__ import annotations

import zlib

import constriction
import numpy as np

from .errors import BadMagicError, LimitExceededError, ModelMismatchError, TruncatedPayloadError, UnsupportedVersionError

__all__ = ["MAGIC", "VERSION", "HEADER_BYTES", "fingerprint", "encode_symbols", "decode_symbols"]

MAGIC = b"SL"
VERSION = 1
HEADER_BYTES = 5


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
    return MAGIC + bytes([VERSION]) + fp.to_bytes(2, "little") + body


def decode_symbols(data: bytes, shape: tuple[int, ...], tables: np.ndarray, support: int, max_bytes: int) -> np.ndarray:
    """Inverse of `encode_symbols`; raises a named LatentPayloadError for malformed data."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TruncatedPayloadError(f"payload must be bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) > max_bytes:
        raise LimitExceededError(f"payload is {len(data)} bytes; the decoder's limit is {max_bytes}")
    if len(data) < HEADER_BYTES:
        raise TruncatedPayloadError(f"payload is {len(data)} bytes; the header alone is {HEADER_BYTES}")
    if data[:2] != MAGIC:
        raise BadMagicError(f"payload starts with {data[:2]!r}; expected {MAGIC!r} (stae-latent)")
    if data[2] != VERSION:
        raise UnsupportedVersionError(f"stae-latent version {data[2]}; this decoder reads version {VERSION}")
    fp = int.from_bytes(data[3:5], "little")
    want = fingerprint(shape, tables)
    if fp != want:
        raise ModelMismatchError(f"payload model fingerprint {fp:#06x}; this decoder's model is {want:#06x}")
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
    except (ValueError, RuntimeError, AssertionError) as exc:
        raise TruncatedPayloadError(f"range-coded body is malformed: {exc}") from exc
    return (out - support).reshape(shape)
