"""Masked-frame image layouts: the kept frames, non-kept pixels zeroed, as one image file.

The K kept frames are stacked vertically into one (K*H, W, C) image and coded with OpenCV
(PNG, WebP lossless, or lossy JPEG/WebP at a quality). The mask is still sent separately, so
the decoder reads back only the kept pixels; zeroed pixels cost little in the image codecs'
predictors. Three-channel clips are flipped RGB->BGR for OpenCV, so JPEG/WebP's chroma
handling sees the channels in the order they expect.

Before handing bytes to ``cv2.imdecode`` the decoder parses the image header itself and
requires the declared width/height to be exactly (W, K*H): an image "bomb" declaring huge
dimensions is rejected without decoding.
"""

from __future__ import annotations

import struct

import cv2
import numpy as np

from .errors import CorruptPayloadError, LayoutUnavailableError, SizeMismatchError

__all__ = ["IMAGE_LAYOUTS", "LOSSY_IMAGE_LAYOUTS", "image_dimensions", "encode_image", "decode_image"]

# wire id -> name (ids continue the byte value layouts' numbering; never reuse an id).
IMAGE_LAYOUTS: dict[int, str] = {16: "png", 17: "webp_lossless", 18: "jpeg", 19: "webp"}
LOSSY_IMAGE_LAYOUTS = frozenset({"jpeg", "webp"})

_CHANNELS = {"png": (1, 3, 4), "webp_lossless": (1, 3), "jpeg": (1, 3), "webp": (1, 3)}
_MAX_SIDE = {"png": 1 << 24, "webp_lossless": 16383, "jpeg": 65535, "webp": 16383}
_EXT = {"png": ".png", "webp_lossless": ".webp", "jpeg": ".jpg", "webp": ".webp"}
_PNG_SIG = b"\x89PNG\r\n\x1a\n"


def _png_dims(data: bytes) -> tuple[int, int]:
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise CorruptPayloadError("PNG image has no IHDR header")
    w, h = struct.unpack(">II", data[16:24])
    return w, h


def _jpeg_dims(data: bytes) -> tuple[int, int]:
    i = 2
    n = len(data)
    while i < n:
        if data[i] != 0xFF:
            raise CorruptPayloadError(f"JPEG marker expected at byte {i}")
        while i < n and data[i] == 0xFF:  # fill bytes
            i += 1
        if i >= n:
            break
        marker = data[i]
        i += 1
        if marker in (0x01, *range(0xD0, 0xD8)):  # standalone markers, no length
            continue
        if marker in (0xD9, 0xDA):
            break  # end of image / start of scan before any frame header
        if i + 2 > n:
            break
        (seg_len,) = struct.unpack(">H", data[i : i + 2])
        if seg_len < 2:
            raise CorruptPayloadError("JPEG segment length < 2")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if i + 7 > n:
                break
            h, w = struct.unpack(">HH", data[i + 3 : i + 7])
            return w, h
        i += seg_len
    raise CorruptPayloadError("JPEG image has no frame header")


def _webp_dims(data: bytes) -> tuple[int, int]:
    if len(data) < 30 or data[8:12] != b"WEBP":
        raise CorruptPayloadError("WebP image header is truncated")
    chunk = data[12:16]
    if chunk == b"VP8L":
        if data[20] != 0x2F:
            raise CorruptPayloadError("WebP lossless signature missing")
        (bits,) = struct.unpack("<I", data[21:25])
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 ":
        if data[23:26] != b"\x9d\x01\x2a":
            raise CorruptPayloadError("WebP VP8 start code missing")
        w, h = struct.unpack("<HH", data[26:30])
        return w & 0x3FFF, h & 0x3FFF
    raise CorruptPayloadError(f"unsupported WebP chunk {chunk!r} (only simple VP8/VP8L images)")


def image_dimensions(data: bytes, layout: str) -> tuple[int, int]:
    """(width, height) declared by an image's header, without decoding it."""
    if layout == "png":
        if not data.startswith(_PNG_SIG):
            raise CorruptPayloadError("value section is not a PNG image")
        return _png_dims(data)
    if layout == "jpeg":
        if not data.startswith(b"\xff\xd8"):
            raise CorruptPayloadError("value section is not a JPEG image")
        return _jpeg_dims(data)
    if layout in ("webp", "webp_lossless"):
        if not data.startswith(b"RIFF"):
            raise CorruptPayloadError("value section is not a WebP image")
        return _webp_dims(data)
    raise ValueError(f"unknown image layout {layout!r}")  # pragma: no cover


def check_image_layout(layout: str, k: int, h: int, w: int, c: int, bits: int) -> None:
    """Raise LayoutUnavailableError if ``layout`` cannot carry this clip geometry."""
    if c not in _CHANNELS[layout]:
        raise LayoutUnavailableError(f"{layout} layout supports {_CHANNELS[layout]} channels, not {c}")
    if max(k * h, w) > _MAX_SIDE[layout]:
        raise LayoutUnavailableError(f"{layout} layout supports sides up to {_MAX_SIDE[layout]} pixels")
    if layout in LOSSY_IMAGE_LAYOUTS and bits != 8:
        raise LayoutUnavailableError(f"lossy {layout} layout needs 8-bit values, not {bits}")


def encode_image(kept: np.ndarray, layout: str, quality: int) -> bytes:
    """Code kept frames (K,H,W,C uint8, non-kept pixels zero) as one stacked image."""
    k, h, w, c = kept.shape
    img = kept.reshape(k * h, w, c)
    img = img[..., ::-1] if c == 3 else img  # RGB -> BGR for OpenCV
    img = np.ascontiguousarray(img[..., 0] if c == 1 else img)
    if layout == "png":
        params = [cv2.IMWRITE_PNG_COMPRESSION, 9]
    elif layout == "webp_lossless":
        params = [cv2.IMWRITE_WEBP_LOSSLESS_MODE, cv2.IMWRITE_WEBP_LOSSLESS_ON]
    elif layout == "jpeg":
        params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    elif layout == "webp":
        params = [cv2.IMWRITE_WEBP_QUALITY, int(quality)]
    else:  # pragma: no cover
        raise ValueError(f"unknown image layout {layout!r}")
    ok, buf = cv2.imencode(_EXT[layout], img, params)
    if not ok:
        raise LayoutUnavailableError(f"OpenCV could not encode a {img.shape} image as {layout}")
    return buf.tobytes()


def decode_image(data: bytes, layout: str, k: int, h: int, w: int, c: int) -> np.ndarray:
    """Inverse of :func:`encode_image`: returns the (K,H,W,C) uint8 frames."""
    dims = image_dimensions(data, layout)
    if dims != (w, k * h):
        raise SizeMismatchError(f"{layout} image is {dims[0]}x{dims[1]}, expected {w}x{k * h}")
    flag = cv2.IMREAD_GRAYSCALE if c == 1 else (cv2.IMREAD_COLOR if c == 3 else cv2.IMREAD_UNCHANGED)
    try:
        img = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flag)
    except cv2.error as exc:
        raise CorruptPayloadError(f"{layout} image does not decode: {exc}") from exc
    if img is None:
        raise CorruptPayloadError(f"{layout} image does not decode")
    if img.dtype != np.uint8:
        raise CorruptPayloadError(f"{layout} image has dtype {img.dtype}, expected uint8")
    if img.ndim == 2:
        img = img[..., None]
    if img.shape != (k * h, w, c):
        raise SizeMismatchError(f"{layout} image decoded to {img.shape}, expected {(k * h, w, c)}")
    if c == 3:
        img = img[..., ::-1]
    return np.ascontiguousarray(img).reshape(k, h, w, c)
