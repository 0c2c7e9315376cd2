"""The uncompressed reference: the uint8 clip as it is, behind an 8-byte shape header."""

from __future__ import annotations

import struct

import numpy as np

from .base import ClipCodec, check_clip
from .errors import BaselineDecodeError

__all__ = ["RawCodec", "RAW_MAGIC"]

RAW_MAGIC = b"RW"
_HEADER = struct.Struct("<2sHHH")  # magic, T, H, W


class RawCodec(ClipCodec):
    """uint8 RGB, exact. The ratio baseline ("what a raw sensor_msgs/Image stream costs")."""

    family = "raw"

    @property
    def name(self) -> str:
        return "raw-uint8"

    def encode(self, clip: np.ndarray) -> bytes:
        clip = check_clip(clip)
        t, h, w, _ = clip.shape
        return _HEADER.pack(RAW_MAGIC, t, h, w) + clip.tobytes()

    def decode(self, data: bytes) -> np.ndarray:
        if len(data) < _HEADER.size:
            raise BaselineDecodeError(f"raw clip: {len(data)} bytes is shorter than the {_HEADER.size}-byte header")
        magic, t, h, w = _HEADER.unpack_from(data)
        if magic != RAW_MAGIC:
            raise BaselineDecodeError(f"raw clip: bad magic {magic!r}, expected {RAW_MAGIC!r}")
        want = t * h * w * 3
        if len(data) - _HEADER.size != want or want == 0:
            raise BaselineDecodeError(
                f"raw clip: header says {t}x{h}x{w}x3 = {want} bytes, body has {len(data) - _HEADER.size}"
            )
        return np.frombuffer(data, np.uint8, offset=_HEADER.size).reshape(t, h, w, 3).copy()
