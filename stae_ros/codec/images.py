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
import zlib

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


#: PNG colour type OpenCV writes for 1, 3 and 4 channels (grey, RGB, RGBA), all at bit depth 8
_PNG_COLOUR_TYPE = {1: 0, 3: 2, 4: 6}
#: the only chunks OpenCV's PNG writer emits; anything else (text, ICC profiles, APNG frames)
#: would be work or memory the decoder does not need, so it is refused before decoding
_PNG_CHUNKS = (b"IHDR", b"IDAT", b"IEND")


def _png_dims(data: bytes) -> tuple[int, int]:
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise CorruptPayloadError("PNG image has no IHDR header")
    w, h = struct.unpack(">II", data[16:24])
    return w, h


def check_png_chunks(data: bytes, channels: int) -> None:
    """Walk every PNG chunk before libpng / OpenCV see the image.

    Why: a chunk length is a 31-bit field that decoders use to size their reads; a 500-byte
    image whose second chunk declares 2**31-1 bytes made the image decoder reserve gigabytes.
    Here each chunk must fit inside the bytes actually present, carry a valid CRC and be one of
    IHDR (first, 13 bytes), IDAT (consecutive) and IEND (last, empty, nothing after it); IHDR
    must declare 8-bit samples of the colour type for ``channels``, no interlacing.
    """
    if channels not in _PNG_COLOUR_TYPE:
        raise CorruptPayloadError(f"a PNG value section holds 1, 3 or 4 channels; the header says {channels}")
    n, pos, seen = len(data), len(_PNG_SIG), []
    while pos < n:
        if pos + 12 > n:
            raise CorruptPayloadError(f"PNG chunk header at byte {pos} is truncated")
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = bytes(data[pos + 4 : pos + 8])
        if length > n - pos - 12:
            raise CorruptPayloadError(f"PNG chunk {kind!r} at byte {pos} declares {length} bytes; {n - pos - 12} remain")
        if kind not in _PNG_CHUNKS:
            raise CorruptPayloadError(f"PNG chunk {kind!r} is not one of {[c.decode() for c in _PNG_CHUNKS]}")
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        if zlib.crc32(data[pos + 4 : pos + 8 + length]) & 0xFFFFFFFF != crc:
            raise CorruptPayloadError(f"PNG chunk {kind.decode()} at byte {pos} has a bad CRC")
        if (kind == b"IHDR") != (not seen):
            raise CorruptPayloadError("PNG IHDR must be the first chunk, and only once")
        if kind == b"IDAT" and seen[-1] != b"IDAT" and b"IDAT" in seen:
            raise CorruptPayloadError("PNG IDAT chunks are not consecutive")
        seen.append(kind)
        pos += 12 + length
        if kind == b"IEND":
            if length or pos != n:
                raise CorruptPayloadError("PNG IEND is not the empty last chunk")
            break
    if not seen or seen[-1] != b"IEND" or b"IDAT" not in seen:
        raise CorruptPayloadError("PNG image lacks IDAT or IEND")
    depth, colour, compression, filt, interlace = data[24:29]
    want = _PNG_COLOUR_TYPE.get(channels)
    if (depth, colour, compression, filt, interlace) != (8, want, 0, 0, 0):
        raise CorruptPayloadError(f"PNG IHDR declares bit depth {depth}, colour type {colour}, interlace {interlace}; "
                                  f"expected 8-bit colour type {want}, not interlaced")


def _jpeg_markers(data: bytes) -> np.ndarray:
    """Marker codes present in a JPEG (0xFF followed by a byte other than 0x00, 0xFF, RST0-7)."""
    b = np.frombuffer(data, dtype=np.uint8)
    at = np.flatnonzero(b[:-1] == 0xFF) + 1
    nxt = b[at]
    return nxt[(nxt != 0x00) & (nxt != 0xFF) & ((nxt < 0xD0) | (nxt > 0xD7))]


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
            if marker not in (0xC0, 0xC1):
                # progressive / lossless / arithmetic JPEGs can carry hundreds of scans, each a
                # pass over the whole image; OpenCV writes baseline, so nothing else is decoded
                raise CorruptPayloadError(f"JPEG frame type 0x{marker:02X} is not baseline or extended sequential")
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
    (riff_size,) = struct.unpack("<I", data[4:8])
    (chunk_size,) = struct.unpack("<I", data[16:20])
    if riff_size + 8 != len(data) or chunk_size + 20 > len(data):
        raise CorruptPayloadError(f"WebP RIFF size {riff_size} / chunk size {chunk_size} do not fit its {len(data)} bytes")
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
    if layout == "png":
        check_png_chunks(data, c)
    elif layout == "jpeg":
        scans = int(np.count_nonzero(_jpeg_markers(data) == 0xDA))
        if scans > c:
            raise CorruptPayloadError(f"JPEG has {scans} scans for {c} channel(s) (sequential: at most one per channel)")
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
