"""Mask layouts: three ways to serialise the (K,H,W) keep-mask before zstd.

Which one is smallest depends on the spatial budget p: a bitmap costs K*H*W/8 bytes whatever p
is, while run lengths and index gaps cost roughly one byte per run / kept pixel, so they win when
few pixels are kept or when kept pixels form blobs. The codec tries them and keeps the smallest.

Every decoder here validates its input completely and raises only CodecError subclasses.
"""

from __future__ import annotations

import numpy as np

from .errors import CorruptPayloadError, IndexOutOfRangeError, SizeMismatchError
from .varint import decode_varints, encode_varints

__all__ = ["MASK_LAYOUTS", "encode_mask", "decode_mask"]

# wire id -> name; ids are part of the byte format and must never be reused.
MASK_LAYOUTS: dict[int, str] = {0: "bitmap", 1: "rle", 2: "delta"}


def encode_mask(mask: np.ndarray, layout: str) -> bytes:
    """Serialise a bool mask (any shape; flattened in C order) with the named layout."""
    flat = np.ascontiguousarray(mask, dtype=bool).reshape(-1)
    if layout == "bitmap":
        return np.packbits(flat).tobytes()
    if layout == "rle":
        # Alternating run lengths, starting with a run of False (possibly of length 0).
        if flat.size == 0:
            return b""
        change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
        bounds = np.concatenate(([0], change, [flat.size]))
        runs = np.diff(bounds)
        if flat[0]:
            runs = np.concatenate(([0], runs))
        return encode_varints(runs)
    if layout == "delta":
        # Gaps between successive kept positions: pos[0], then pos[i] - pos[i-1] - 1.
        pos = np.flatnonzero(flat).astype(np.int64)
        if pos.size == 0:
            return b""
        gaps = np.diff(pos, prepend=-1) - 1
        return encode_varints(gaps)
    raise ValueError(f"unknown mask layout {layout!r}")


def decode_mask(data: bytes, layout: str, shape: tuple[int, ...], n_values: int) -> np.ndarray:
    """Inverse of :func:`encode_mask`; checks the mask holds exactly ``n_values`` True pixels."""
    total = int(np.prod(shape, dtype=np.int64))
    if layout == "bitmap":
        need = (total + 7) // 8
        if len(data) != need:
            raise SizeMismatchError(f"bitmap mask has {len(data)} bytes, expected {need}")
        bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8), count=total)
        if total % 8 and np.unpackbits(np.frombuffer(data[-1:], dtype=np.uint8))[total % 8 :].any():
            raise CorruptPayloadError("bitmap mask has non-zero padding bits")
        flat = bits.astype(bool)
    elif layout == "rle":
        runs = decode_varints(data, max_count=total + 1)
        if runs.size == 0 and total:
            raise SizeMismatchError("run-length mask is empty")
        covered = int(runs.sum(dtype=np.uint64)) if runs.size else 0
        if covered != total:
            raise SizeMismatchError(f"run-length mask covers {covered} pixels, expected {total}")
        if runs.size > 1 and np.any(runs[1:] == 0):
            raise CorruptPayloadError("run-length mask has an empty run after the first")
        vals = (np.arange(runs.size) % 2).astype(bool)
        flat = np.repeat(vals, runs.astype(np.int64))
    elif layout == "delta":
        gaps = decode_varints(data, max_count=n_values)
        if gaps.size != n_values:
            raise SizeMismatchError(f"index-delta mask lists {gaps.size} pixels, header says {n_values}")
        pos = np.cumsum(gaps.astype(np.int64) + 1) - 1
        if pos.size and pos[-1] >= total:
            raise IndexOutOfRangeError(f"index-delta mask position {int(pos[-1])} >= {total} pixels")
        flat = np.zeros(total, dtype=bool)
        flat[pos] = True
    else:  # pragma: no cover - caller maps ids to names first
        raise ValueError(f"unknown mask layout {layout!r}")
    count = int(np.count_nonzero(flat))
    if count != n_values:
        raise SizeMismatchError(f"mask keeps {count} pixels but the payload carries {n_values} values")
    return flat.reshape(shape)
