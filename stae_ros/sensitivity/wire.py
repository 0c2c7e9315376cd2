"""The sensitivity map on the wire: small, versioned, bounded, CRC32-checked bytes.

Layout (little endian)::

    b"SM" | version u8 (=1) | flags u8 (=0) | seq u32 | stamp_ns u64 | gh u8 | gw u8 | sig u8 |
    id_len u8 | mode_len u8 | model_id (id_len) | mode (mode_len) | signature (sig*sig*3) |
    values (gh*gw, uint8: value*255) | crc32 u32 of everything before it

An 8x8 map with a 4x4 signature and a 30-byte model id is ~160 bytes. Why bytes and not a message
of named fields: the same map can ride any topic or link (a uint8 array on ROS, a side channel
elsewhere), and a decoder that checks length, bounds and CRC before reading refuses garbage in
one line instead of guiding the camera with it.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

from .errors import SensitivityError
from .map import MAX_GRID, MAX_SIGNATURE, SensitivityMap

__all__ = ["MAGIC", "VERSION", "MAX_BYTES", "encode_map", "decode_map"]

MAGIC = b"SM"
VERSION = 1
_HEAD = struct.Struct("<2sBBIQBBBBB")
MAX_TEXT = 200
MAX_BYTES = _HEAD.size + 2 * MAX_TEXT + MAX_SIGNATURE * MAX_SIGNATURE * 3 + MAX_GRID * MAX_GRID + 4


def encode_map(m: SensitivityMap) -> bytes:
    """A map -> wire bytes (values quantised to 1/255)."""
    mid, mode = m.model_id.encode("utf-8"), m.mode.encode("utf-8")
    if len(mid) > MAX_TEXT or len(mode) > MAX_TEXT:
        raise SensitivityError(f"model id / mode longer than {MAX_TEXT} bytes")
    gh, gw = m.grid
    sig = np.ascontiguousarray(m.signature, np.uint8)
    if sig.shape[0] != sig.shape[1]:
        raise SensitivityError(f"scene signature must be square; got {sig.shape}")
    head = _HEAD.pack(MAGIC, VERSION, 0, m.seq & 0xFFFFFFFF, m.stamp_ns & 0xFFFFFFFFFFFFFFFF, gh, gw, sig.shape[0],
                      len(mid), len(mode))
    vals = np.rint(np.clip(np.asarray(m.values, np.float32), 0, 1) * 255).astype(np.uint8)
    body = head + mid + mode + sig.tobytes() + vals.tobytes()
    return body + struct.pack("<I", zlib.crc32(body))


def decode_map(data: bytes | bytearray | memoryview) -> SensitivityMap:
    """Wire bytes -> a map; anything malformed raises SensitivityError naming what."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise SensitivityError(f"sensitivity map must be bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) > MAX_BYTES:
        raise SensitivityError(f"sensitivity map is {len(data)} bytes; limit {MAX_BYTES}")
    if len(data) < _HEAD.size + 4:
        raise SensitivityError(f"sensitivity map is {len(data)} bytes; shorter than its {_HEAD.size + 4}-byte frame")
    magic, version, flags, seq, stamp, gh, gw, sig, id_len, mode_len = _HEAD.unpack_from(data)
    if magic != MAGIC:
        raise SensitivityError(f"sensitivity map starts with {magic!r}; expected {MAGIC!r}")
    if version != VERSION:
        raise SensitivityError(f"sensitivity map version {version}; this camera reads {VERSION}")
    if flags != 0:
        raise SensitivityError(f"sensitivity map flags {flags}; known: 0")
    if not (1 <= gh <= MAX_GRID and 1 <= gw <= MAX_GRID):
        raise SensitivityError(f"sensitivity map grid {gh}x{gw} outside 1..{MAX_GRID}")
    if not 1 <= sig <= MAX_SIGNATURE:
        raise SensitivityError(f"scene signature size {sig} outside 1..{MAX_SIGNATURE}")
    if id_len > MAX_TEXT or mode_len > MAX_TEXT:
        raise SensitivityError(f"model id / mode longer than {MAX_TEXT} bytes")
    want = _HEAD.size + id_len + mode_len + sig * sig * 3 + gh * gw + 4
    if len(data) != want:
        raise SensitivityError(f"sensitivity map is {len(data)} bytes; its header says {want}")
    (crc,) = struct.unpack_from("<I", data, len(data) - 4)
    if zlib.crc32(data[:-4]) != crc:
        raise SensitivityError("sensitivity map CRC32 mismatch (corrupted bytes)")
    pos = _HEAD.size
    try:
        model_id = data[pos: pos + id_len].decode("utf-8")
        mode = data[pos + id_len: pos + id_len + mode_len].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SensitivityError(f"sensitivity map model id / mode is not UTF-8: {exc}") from exc
    pos += id_len + mode_len
    signature = np.frombuffer(data, np.uint8, sig * sig * 3, pos).reshape(sig, sig, 3).copy()
    pos += sig * sig * 3
    values = np.frombuffer(data, np.uint8, gh * gw, pos).reshape(gh, gw).astype(np.float32) / 255.0
    return SensitivityMap(values, int(seq), int(stamp), model_id, signature, mode)
