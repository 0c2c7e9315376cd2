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
    v = np.asarray(values).reshape(-1)
    if v.size == 0:
        return b""
    if v.dtype.kind not in "ui":
        v = v.astype(np.uint64)
    top = int(v.max())
    if top >= 1 << 32 or int(v.min()) < 0:
        raise ValueError("varint values must be in [0, 2**32)")
    if top < 0x80:  # every value one byte (the common case for index gaps at moderate p)
        return v.astype(np.uint8).tobytes()
    v = v.astype(np.uint32)
    # Digit by digit over the values that still have one (each pass touches fewer values):
    # ~3x faster than building a (N, width) digit matrix for mask runs of a few thousand pixels.
    nbytes = np.ones(v.size, dtype=np.int64)
    for j in range(1, (top.bit_length() + 6) // 7):
        nbytes += v >= (1 << (7 * j))
    ends = np.cumsum(nbytes)
    out = np.empty(int(ends[-1]), dtype=np.uint8)
    at, rest, left = ends - nbytes, v, nbytes
    while at.size:
        more = left > 1
        out[at] = (rest & 0x7F).astype(np.uint8) | (more.astype(np.uint8) << 7)
        at, rest, left = at[more] + 1, rest[more] >> 7, left[more] - 1
    return out.tobytes()


def decode_varints(data: bytes | np.ndarray, *, max_count: int | None = None) -> np.ndarray:
    """Decode concatenated LEB128 varints into a uint64 array.

    Memory is bounded by the number of values, which is checked against ``max_count`` before
    any per-value array is built: only a bool array of the input's length is made first (no
    int64 array per input byte), then one pass per byte position of a varint (at most 5).

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
    count = int(np.count_nonzero(is_end))
    if max_count is not None and count > max_count:
        raise CorruptPayloadError(f"varint stream holds {count} values, expected at most {max_count}")
    if count == b.size:  # every value one byte
        return b.astype(np.uint64)
    ends = np.flatnonzero(is_end)
    del is_end
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    lengths = ends - starts + 1
    if int(lengths.max()) > MAX_VARINT_BYTES:
        raise CorruptPayloadError(f"varint longer than {MAX_VARINT_BYTES} bytes")
    out = (b[starts] & 0x7F).astype(np.uint64)
    for j in range(1, int(lengths.max())):
        sel = np.flatnonzero(lengths > j)
        out[sel] |= (b[starts[sel] + j] & 0x7F).astype(np.uint64) << np.uint64(7 * j)
    if int(out.max()) >= 1 << 32:
        raise CorruptPayloadError("varint value does not fit in 32 bits")
    return out
