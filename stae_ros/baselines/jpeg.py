"""JPEG per frame, as image_transport's ``compressed`` plugin sends it (cv2.imencode).

The clip is the plain concatenation of the per-frame JPEG files (an MJPEG stream). The decoder
finds frame boundaries by walking the JPEG marker segments (lengths are in the headers, FF bytes in
entropy-coded data are stuffed), so no length fields are needed and the byte count is exactly what
the frames cost.
"""

from __future__ import annotations

import numpy as np

from .base import ClipCodec, check_clip
from .errors import BaselineDecodeError, ClipFormatError

__all__ = ["JpegCodec"]

_SOI = b"\xff\xd8"


class JpegCodec(ClipCodec):
    """Per-frame JPEG at a fixed quality (OpenCV's libjpeg, 4:2:0, standard tables)."""

    family = "jpeg"

    def __init__(self, quality: int = 80) -> None:
        if not isinstance(quality, int) or not 1 <= quality <= 100:
            raise ClipFormatError(f"JPEG quality must be an int in 1..100, got {quality!r}")
        super().__init__(quality=quality)
        self.quality = quality

    @property
    def name(self) -> str:
        return f"jpeg-q{self.quality}"

    def encode(self, clip: np.ndarray) -> bytes:
        import cv2

        clip = check_clip(clip)
        parts = []
        for frame in clip:
            ok, buf = cv2.imencode(".jpg", frame[:, :, ::-1], [int(cv2.IMWRITE_JPEG_QUALITY), self.quality])
            if not ok:  # pragma: no cover - cv2 only fails on impossible input
                raise ClipFormatError("cv2.imencode refused a frame")
            parts.append(buf.tobytes())
        return b"".join(parts)

    def decode(self, data: bytes) -> np.ndarray:
        import cv2

        if not data.startswith(_SOI):
            raise BaselineDecodeError(f"JPEG clip: does not start with the SOI marker FF D8 (got {data[:2].hex()})")
        frames = []
        start = 0
        while start < len(data):
            end = _frame_end(data, start, len(frames))
            chunk = np.frombuffer(data, np.uint8, count=end - start, offset=start)
            img = cv2.imdecode(chunk, cv2.IMREAD_COLOR)
            if img is None:
                raise BaselineDecodeError(f"JPEG clip: frame {len(frames)} (bytes {start}..{end}) is not a valid JPEG")
            if frames and img.shape != frames[0].shape:
                raise BaselineDecodeError(f"JPEG clip: frame {len(frames)} is {img.shape}, frame 0 is {frames[0].shape}")
            frames.append(img[:, :, ::-1])
            start = end
        return np.ascontiguousarray(np.stack(frames))


def _frame_end(data: bytes, pos: int, index: int) -> int:
    """Byte offset just past the EOI of the JPEG file starting at ``pos``."""
    n = len(data)

    def fail(why: str) -> BaselineDecodeError:
        return BaselineDecodeError(f"JPEG clip: frame {index} (from byte {pos}): {why}")

    if data[pos : pos + 2] != _SOI:
        raise fail(f"expected SOI marker FF D8, got {data[pos:pos + 2].hex()}")
    i = pos + 2
    while True:
        if i + 2 > n:
            raise fail("truncated before EOI")
        if data[i] != 0xFF:
            raise fail(f"expected a marker at byte {i}, got {data[i]:02x}")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0xD9:
            return i + 2
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            i += 2
            continue
        if i + 4 > n:
            raise fail("truncated segment header")
        length = (data[i + 2] << 8) | data[i + 3]
        if length < 2:
            raise fail(f"segment FF {marker:02x} has impossible length {length}")
        i += 2 + length
        if marker == 0xDA:  # start of scan: skip entropy-coded data up to the next real marker
            while True:
                j = data.find(b"\xff", i)
                if j < 0 or j + 1 >= n:
                    raise fail("entropy-coded data runs off the end (truncated?)")
                nxt = data[j + 1]
                if nxt == 0x00 or 0xD0 <= nxt <= 0xD7:
                    i = j + 2
                    continue
                i = j
                break
