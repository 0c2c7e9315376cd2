"""Vectorised unsigned LEB128 varints (7 bits per byte, high bit = "more bytes follow").

Run lengths and index gaps are mostly small, so varints make them byte-sized while still
allowing any value up to 2**32-1. Both directions are pure numpy (no per-value Python loop),
which keeps the decoder fast and bounded on adversarial input.
"""

from __future__ import annotations

import numpy as np

from .errors import CorruptPayloadError

__all__ = ["encode_varints", "decode_varints", "MAX_VARINT_BYTES"]

MAX_VARINT_BYTES = 5  # enough for 32-bit values; longer encodings are rejected as corrupt


def encode_varints(values: np.ndarray) -> bytes:
    """Encode non-negative integers (< 2**32) as concatenated LEB128 varints."""
    v = np.asarray(values, dtype=np.uint64).reshape(-1)
    if v.size == 0:
        return b""
    if int(v.max()) >= 1 << 32:
        raise ValueError("varint values must be < 2**32")
    nbytes = np.ones(v.shape, dtype=np.int64)
    for j in range(1, MAX_VARINT_BYTES):
        nbytes += (v >> np.uint64(7 * j)) > 0
    width = int(nbytes.max())
    cols = np.arange(width, dtype=np.uint64)
    digits = ((v[:, None] >> (np.uint64(7) * cols[None, :])) & np.uint64(0x7F)).astype(np.uint8)
    more = cols[None, :].astype(np.int64) < (nbytes[:, None] - 1)
    digits |= (more * 0x80).astype(np.uint8)
    valid = cols[None, :].astype(np.int64) < nbytes[:, None]
    return digits[valid].tobytes()


def decode_varints(data: bytes | np.ndarray, *, max_count: int | None = None) -> np.ndarray:
    """Decode concatenated LEB128 varints into a uint64 array.

    Raises:
        CorruptPayloadError: the data ends mid-varint, a varint is longer than 5 bytes or
            its value is >= 2**32, or there are more than ``max_count`` values.
    """
    b = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data
    if b.size == 0:
        return np.zeros(0, dtype=np.uint64)
    is_end = b < 0x80
    if not is_end[-1]:
        raise CorruptPayloadError("varint stream ends in the middle of a value")
    ends = np.flatnonzero(is_end)
    if max_count is not None and ends.size > max_count:
        raise CorruptPayloadError(f"varint stream holds {ends.size} values, expected at most {max_count}")
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    lengths = ends - starts + 1
    if int(lengths.max()) > MAX_VARINT_BYTES:
        raise CorruptPayloadError(f"varint longer than {MAX_VARINT_BYTES} bytes")
    group = np.repeat(np.arange(ends.size), lengths)
    pos = np.arange(b.size) - starts[group]
    parts = (b & 0x7F).astype(np.uint64) << (np.uint64(7) * pos.astype(np.uint64))
    out = np.add.reduceat(parts, starts)
    if int(out.max()) >= 1 << 32:
        raise CorruptPayloadError("varint value does not fit in 32 bits")
    return out
