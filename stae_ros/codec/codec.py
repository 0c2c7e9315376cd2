"""encode / decode of :class:`SemanticPayload` to the versioned stae-px byte format.

Encoding picks one mask layout and one value layout (or tries several and keeps the smallest),
zstd-compresses each section when that helps, and writes a fixed header naming everything the
decoder needs. Decoding is defensive: every size is checked against the header and the
receiver's :class:`DecodeLimits` before anything is allocated or decompressed, and only
:class:`CodecError` subclasses ever escape :func:`decode`.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass

import numpy as np
import zstandard

from .errors import (
    BadMagicError,
    CodecError,
    CorruptPayloadError,
    IndexOutOfRangeError,
    LayoutUnavailableError,
    LimitExceededError,
    SizeMismatchError,
    TruncatedPayloadError,
    UnknownLayoutError,
    UnsupportedVersionError,
    ChecksumError,
)
from .images import IMAGE_LAYOUTS, LOSSY_IMAGE_LAYOUTS, check_image_layout, decode_image, encode_image
from .masks import MASK_LAYOUTS, decode_mask, encode_mask
from .payload import SemanticPayload
from .values import BYTE_VALUE_LAYOUTS, COLOUR_LAYOUTS, decode_values, dequantise, encode_values, quantise
from .wire import (
    CODEC_VERSION,
    HEADER_SIZE,
    MAGIC,
    SECTION_RAW,
    SECTION_ZSTD,
    DecodeLimits,
    Header,
    pack_header,
    payload_crc,
    unpack_header,
)

__all__ = [
    "DEFAULT_LEVEL",
    "DEFAULT_QUALITY",
    "FAST_LAYOUT",
    "MASK_LAYOUT_NAMES",
    "VALUE_LAYOUT_NAMES",
    "LOSSLESS_VALUE_LAYOUTS",
    "AUTO_VALUE_LAYOUTS",
    "encode",
    "decode",
    "decode_header",
    "layout_sizes",
    "EncodeStats",
]

log = logging.getLogger(__name__)

DEFAULT_LEVEL = 3  # zstd's own default; 19 saves 2-8% more bytes at 2-30x the time (docs/wire_format.md)
DEFAULT_QUALITY = 90
FAST_LAYOUT = "rle+planar_temporal_sg"
FAST_LAYOUT_FEW_CHANNELS = "rle+planar_temporal"  # what "fast" means when C < 3

_VALUE_LAYOUTS: dict[int, str] = {**BYTE_VALUE_LAYOUTS, **IMAGE_LAYOUTS}
_MASK_IDS = {v: k for k, v in MASK_LAYOUTS.items()}
_VALUE_IDS = {v: k for k, v in _VALUE_LAYOUTS.items()}
MASK_LAYOUT_NAMES: tuple[str, ...] = tuple(MASK_LAYOUTS.values())
VALUE_LAYOUT_NAMES: tuple[str, ...] = tuple(_VALUE_LAYOUTS.values())
LOSSLESS_VALUE_LAYOUTS: tuple[str, ...] = tuple(n for n in VALUE_LAYOUT_NAMES if n not in LOSSY_IMAGE_LAYOUTS)
# What layout="auto" tries for the values: the byte layouts (a zstd pass each, milliseconds).
# layout="best" also tries the lossless image codecs, which were rarely smaller on real footage
# and cost 10-400 ms per clip to try (docs/wire_format.md).
AUTO_VALUE_LAYOUTS: tuple[str, ...] = tuple(BYTE_VALUE_LAYOUTS.values())

_tls = threading.local()


def _compressor(level: int) -> zstandard.ZstdCompressor:
    cache = getattr(_tls, "cctx", None)
    if cache is None:
        cache = _tls.cctx = {}
    if level not in cache:
        cache[level] = zstandard.ZstdCompressor(level=level, write_content_size=True, write_checksum=False)
    return cache[level]


def _decompressor() -> zstandard.ZstdDecompressor:
    d = getattr(_tls, "dctx", None)
    if d is None:
        d = _tls.dctx = zstandard.ZstdDecompressor()
    return d


@dataclass(frozen=True)
class _Section:
    data: bytes
    raw_len: int
    codec: int


def _pack_section(raw: bytes, level: int) -> _Section:
    """zstd the section when that makes it smaller; otherwise store it raw."""
    if raw:
        z = _compressor(level).compress(raw)
        if len(z) < len(raw):
            return _Section(z, len(raw), SECTION_ZSTD)
    return _Section(raw, len(raw), SECTION_RAW)


def _check_level(level: int) -> int:
    if isinstance(level, bool) or not isinstance(level, (int, np.integer)) or not 1 <= int(level) <= 22:
        raise ValueError(f"zstd level must be an integer in [1, 22], got {level!r}")
    return int(level)


def _check_quality(quality: int) -> int:
    if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)) or not 1 <= int(quality) <= 100:
        raise ValueError(f"image quality must be an integer in [1, 100], got {quality!r}")
    return int(quality)


def _parse_layout(layout: str) -> tuple[str, str]:
    """'auto' | 'best' | 'fast' | '<mask>+<values>' (either part may be auto/best) -> (mask, values)."""
    if not isinstance(layout, str):
        raise UnknownLayoutError(f"layout must be a string, got {layout!r}")
    if layout in ("auto", "best"):
        return "auto", layout
    if layout == "fast":
        layout = FAST_LAYOUT
    parts = layout.split("+")
    if len(parts) != 2:
        raise UnknownLayoutError(
            f"layout {layout!r} must be 'auto', 'best', 'fast' or '<mask>+<values>' with mask in "
            f"{MASK_LAYOUT_NAMES + ('auto',)} and values in {VALUE_LAYOUT_NAMES + ('auto', 'best')}"
        )
    m, v = parts
    if m not in ("auto", "best") and m not in _MASK_IDS:
        raise UnknownLayoutError(f"unknown mask layout {m!r}; known: {MASK_LAYOUT_NAMES}")
    if v not in ("auto", "best") and v not in _VALUE_IDS:
        raise UnknownLayoutError(f"unknown value layout {v!r}; known: {VALUE_LAYOUT_NAMES}")
    return m, v


class _Encoder:
    """Encodes the sections of one payload, caching each so several layouts can be compared."""

    def __init__(self, payload: SemanticPayload, level: int, bits: int, quality: int) -> None:
        if not isinstance(payload, SemanticPayload):
            raise TypeError(f"encode expects a SemanticPayload, got {type(payload).__name__}")
        self.payload = payload
        self.level = _check_level(level)
        self.quality = _check_quality(quality)
        self.symbols = quantise(payload.values, bits)
        self.bits = int(bits)
        self._masks: dict[str, _Section] = {}
        self._values: dict[str, _Section] = {}

    def mask_section(self, name: str) -> _Section:
        if name not in self._masks:
            self._masks[name] = _pack_section(encode_mask(self.payload.mask, name), self.level)
        return self._masks[name]

    def value_section(self, name: str) -> _Section:
        if name not in self._values:
            p = self.payload
            if name in COLOUR_LAYOUTS and p.clip_shape[3] < 3:
                raise LayoutUnavailableError(f"{name} layout needs C >= 3 channels, not {p.clip_shape[3]}")
            if name in IMAGE_LAYOUTS.values():
                _, h, w, c = p.clip_shape
                check_image_layout(name, p.k, h, w, c, self.bits)
                kept = np.zeros((p.k, h, w, c), dtype=np.uint8)
                kept[p.mask] = self.symbols
                raw = encode_image(kept, name, self.quality)
            else:
                raw = encode_values(self.symbols, p.mask, name, self.bits)
            self._values[name] = _pack_section(raw, self.level)
        return self._values[name]

    def available_values(self, names: tuple[str, ...]) -> list[str]:
        out = []
        for n in names:
            try:
                self.value_section(n)
            except LayoutUnavailableError:
                continue
            out.append(n)
        return out

    def best_mask(self) -> str:
        return min(MASK_LAYOUT_NAMES, key=lambda n: len(self.mask_section(n).data))

    def best_values(self, exhaustive: bool = False) -> str:
        cands = self.available_values(LOSSLESS_VALUE_LAYOUTS if exhaustive else AUTO_VALUE_LAYOUTS)
        return min(cands, key=lambda n: len(self.value_section(n).data))

    def total_size(self, mask: str, values: str) -> int:
        return HEADER_SIZE + 2 * self.payload.k + len(self.mask_section(mask).data) + len(self.value_section(values).data)

    def build(self, mask: str, values: str) -> bytes:
        p = self.payload
        t, h, w, c = p.clip_shape
        ms, vs = self.mask_section(mask), self.value_section(values)
        header = Header(
            version=CODEC_VERSION,
            flags=0,
            frames=t,
            height=h,
            width=w,
            channels=c,
            k=p.k,
            p=p.p,
            bits=self.bits,
            mask_layout=_MASK_IDS[mask],
            value_layout=_VALUE_IDS[values],
            quality=self.quality if values in LOSSY_IMAGE_LAYOUTS else 0,
            mask_codec=ms.codec,
            value_codec=vs.codec,
            n_values=p.n_values,
            mask_len=len(ms.data),
            mask_raw_len=ms.raw_len,
            value_len=len(vs.data),
            value_raw_len=vs.raw_len,
            crc32=0,
        )
        body = p.frame_indices.astype("<u2").tobytes() + ms.data + vs.data
        unsigned = pack_header(header) + body
        crc = payload_crc(unsigned)
        return pack_header(Header(**{**header.__dict__, "crc32": crc})) + body


@dataclass(frozen=True)
class EncodeStats:
    """What ``encode(..., stats=True)`` chose (for logs and benchmarks)."""

    mask_layout: str
    value_layout: str
    nbytes: int


def encode(
    payload: SemanticPayload,
    layout: str = "auto",
    level: int = DEFAULT_LEVEL,
    *,
    bits: int = 8,
    quality: int = DEFAULT_QUALITY,
) -> bytes:
    """Serialise a payload to stae-px bytes.

    Args:
        payload: what the camera keeps.
        layout: ``"auto"`` (try every mask layout and the byte value layouts in
            :data:`AUTO_VALUE_LAYOUTS`, keep the smallest), ``"best"`` (as auto, plus the
            lossless image layouts: slower), ``"fast"`` (the fixed :data:`FAST_LAYOUT`), or
            ``"<mask>+<values>"`` with mask in :data:`MASK_LAYOUT_NAMES` and values in
            :data:`VALUE_LAYOUT_NAMES`; the values part may be ``"auto"``/``"best"``, the mask
            part ``"auto"``. ``jpeg``/``webp`` values are lossy.
        level: zstd level (1..22) for the mask and value sections.
        bits: quantisation bits per value (1..8); fewer than 8 is lossy (error <= 2**(7-bits)).
        quality: JPEG/WebP quality (1..100) for the lossy image layouts.

    Raises:
        UnknownLayoutError: the layout name is not known.
        LayoutUnavailableError: the layout cannot carry this clip (e.g. JPEG with C=2).
        ValueError: bad level/bits/quality.
    """
    if layout == "fast" and isinstance(payload, SemanticPayload) and payload.clip_shape[3] < 3:
        layout = FAST_LAYOUT_FEW_CHANNELS
    m, v = _parse_layout(layout)
    enc = _Encoder(payload, level, bits, quality)
    m = enc.best_mask() if m in ("auto", "best") else m
    v = enc.best_values(exhaustive=v == "best") if v in ("auto", "best") else v
    return enc.build(m, v)


def layout_sizes(
    payload: SemanticPayload,
    level: int = DEFAULT_LEVEL,
    *,
    bits: int = 8,
    quality: int = DEFAULT_QUALITY,
) -> dict[str, int]:
    """Encoded size in bytes of every available '<mask>+<values>' layout for this payload.

    Each entry equals ``len(encode(payload, layout=name, level=level, bits=bits, quality=quality))``;
    layouts that cannot carry the payload (see LayoutUnavailableError) are left out.
    """
    enc = _Encoder(payload, level, bits, quality)
    values = enc.available_values(VALUE_LAYOUT_NAMES)
    return {f"{m}+{v}": enc.total_size(m, v) for m in MASK_LAYOUT_NAMES for v in values}


# --------------------------------------------------------------------------------- decoding


def _as_bytes(data: object) -> bytes:
    if isinstance(data, bytes):
        return data
    try:
        return bytes(memoryview(data))  # type: ignore[arg-type]
    except TypeError as exc:
        raise CorruptPayloadError(f"payload must be bytes-like, got {type(data).__name__}") from exc


def decode_header(data: bytes, limits: DecodeLimits | None = None) -> Header:
    """Parse and validate the header only (no CRC check, no decompression).

    Cheap enough for routing / logging; :func:`decode` calls it first.
    """
    limits = limits or DecodeLimits()
    data = _as_bytes(data)
    if len(data) > limits.max_encoded_bytes:
        raise LimitExceededError(f"payload is {len(data)} bytes, limit is {limits.max_encoded_bytes}")
    if len(data) < len(MAGIC):
        if MAGIC.startswith(data):
            raise TruncatedPayloadError(f"payload is {len(data)} bytes, shorter than the magic number")
        raise BadMagicError(f"payload does not start with {MAGIC!r}")
    if data[: len(MAGIC)] != MAGIC:
        raise BadMagicError(f"payload starts with {data[:4]!r}, expected {MAGIC!r}")
    if len(data) < len(MAGIC) + 1:
        raise TruncatedPayloadError("payload ends before the version byte")
    if data[4] != CODEC_VERSION:
        raise UnsupportedVersionError(f"stae-px format version {data[4]} is not accepted; this edge reads version {CODEC_VERSION}")
    if len(data) < HEADER_SIZE:
        raise TruncatedPayloadError(f"payload is {len(data)} bytes, the header alone is {HEADER_SIZE}")
    h = unpack_header(data)
    if h.flags != 0:
        raise UnsupportedVersionError(f"payload sets unknown flags 0x{h.flags:02x}")

    if min(h.frames, h.height, h.width, h.channels) < 1:
        raise CorruptPayloadError(f"clip shape {(h.frames, h.height, h.width, h.channels)} has a zero side")
    for name, val, cap in (
        ("frames", h.frames, limits.max_frames),
        ("height", h.height, limits.max_height),
        ("width", h.width, limits.max_width),
        ("channels", h.channels, limits.max_channels),
    ):
        if val > cap:
            raise LimitExceededError(f"payload declares {name}={val}, limit is {cap}")
    if not 1 <= h.k <= h.frames:
        raise SizeMismatchError(f"payload keeps K={h.k} frames of T={h.frames}")
    if not (math.isfinite(h.p) and 0.0 < h.p <= 1.0):
        raise CorruptPayloadError(f"spatial budget p={h.p!r} is not in (0, 1]")
    if not 1 <= h.bits <= 8:
        raise CorruptPayloadError(f"quantisation bits={h.bits} not in [1, 8]")
    if h.mask_layout not in MASK_LAYOUTS:
        raise UnknownLayoutError(f"unknown mask layout id {h.mask_layout}")
    if h.value_layout not in _VALUE_LAYOUTS:
        raise UnknownLayoutError(f"unknown value layout id {h.value_layout}")
    for name, codec in (("mask", h.mask_codec), ("value", h.value_codec)):
        if codec not in (SECTION_RAW, SECTION_ZSTD):
            raise UnknownLayoutError(f"unknown {name} section codec id {codec}")
    vname = _VALUE_LAYOUTS[h.value_layout]
    if vname in LOSSY_IMAGE_LAYOUTS and h.bits != 8:
        raise CorruptPayloadError(f"lossy {vname} values with {h.bits}-bit quantisation")

    pixels = h.k * h.height * h.width
    if h.n_values > pixels:
        raise SizeMismatchError(f"payload declares {h.n_values} values for {pixels} kept-frame pixels")
    decoded = pixels + h.n_values * h.channels + h.mask_raw_len + h.value_raw_len
    if vname in IMAGE_LAYOUTS.values():
        decoded += 2 * pixels * h.channels  # the decoded image and its channel-flipped copy
    if decoded > limits.max_decoded_bytes:
        raise LimitExceededError(f"payload would decode to {decoded} bytes, limit is {limits.max_decoded_bytes}")
    for name, codec, stored, raw in (
        ("mask", h.mask_codec, h.mask_len, h.mask_raw_len),
        ("value", h.value_codec, h.value_len, h.value_raw_len),
    ):
        if codec == SECTION_RAW and stored != raw:
            raise SizeMismatchError(f"raw {name} section: stored {stored} bytes but raw length {raw}")
        if codec == SECTION_ZSTD and stored >= raw:
            # the encoder stores a section raw unless zstd makes it smaller, so a zstd section is
            # always shorter than its content: this bounds every stored length by the clip shape
            raise SizeMismatchError(f"zstd {name} section of {stored} bytes for {raw} raw bytes (never larger)")
    mname = MASK_LAYOUTS[h.mask_layout]
    mask_cap = mask_raw_bound(mname, pixels, h.n_values)
    if mname == "bitmap" and h.mask_raw_len != mask_cap:
        raise SizeMismatchError(f"bitmap mask of {h.mask_raw_len} bytes for {pixels} pixels")
    if h.mask_raw_len > mask_cap:
        raise SizeMismatchError(
            f"{mname} mask section of {h.mask_raw_len} bytes; {pixels} pixels with {h.n_values} kept need at most {mask_cap}")
    if vname in BYTE_VALUE_LAYOUTS.values() and h.value_raw_len != h.n_values * h.channels:
        raise SizeMismatchError(f"value section of {h.value_raw_len} bytes for {h.n_values}x{h.channels} values")
    if vname in IMAGE_LAYOUTS.values() and h.value_raw_len > image_raw_bound(pixels, h.channels):
        raise SizeMismatchError(f"{vname} value section of {h.value_raw_len} bytes; a {h.k * h.height}x{h.width}x"
                                f"{h.channels} image is at most {image_raw_bound(pixels, h.channels)}")
    if len(data) < h.total_size:
        raise TruncatedPayloadError(f"payload is {len(data)} bytes, header says {h.total_size}")
    if len(data) > h.total_size:
        raise SizeMismatchError(f"payload is {len(data)} bytes, header says {h.total_size} (trailing bytes)")
    return h


def mask_raw_bound(layout: str, pixels: int, n_values: int) -> int:
    """Most bytes a valid mask section of this layout can hold before zstd (the decoder's cap).

    bitmap: exactly ceil(pixels/8). rle: a run of length L >= 1 takes at most L varint bytes and
    only the first run may be 0 (1 byte), so at most pixels + 1 bytes; and there are at most
    2N+1 runs of at most 5 bytes. delta: gap g takes at most g + 1 bytes and the gaps + 1 sum to
    the last position + 1 <= pixels; and there are N gaps of at most 5 bytes.
    """
    if layout == "bitmap":
        return (pixels + 7) // 8
    if layout == "rle":
        return min(pixels + 1, 5 * (2 * n_values + 1))
    return min(pixels, 5 * n_values)


def image_raw_bound(pixels: int, channels: int) -> int:
    """Most bytes an image value section may have: twice the raw pixels plus 64 KiB of headers
    (PNG's filter bytes and zlib framing, JPEG at quality 100 on noise stay well below it)."""
    return 2 * pixels * channels + 65536


def _unpack_section(section: bytes, codec: int, raw_len: int, name: str) -> bytes:
    if codec == SECTION_RAW:
        return section
    try:
        params = zstandard.get_frame_parameters(section)
    except zstandard.ZstdError as exc:
        raise CorruptPayloadError(f"{name} section is not a zstd frame: {exc}") from exc
    if params.content_size == zstandard.CONTENTSIZE_UNKNOWN:
        raise CorruptPayloadError(f"{name} section's zstd frame does not declare its size")
    if params.content_size != raw_len:
        raise SizeMismatchError(f"{name} section's zstd frame holds {params.content_size} bytes, header says {raw_len}")
    try:
        out = _decompressor().decompress(section, max_output_size=raw_len)
    except zstandard.ZstdError as exc:
        raise CorruptPayloadError(f"{name} section does not decompress: {exc}") from exc
    if len(out) != raw_len:
        raise SizeMismatchError(f"{name} section decompressed to {len(out)} bytes, header says {raw_len}")
    return out


def _decode_unchecked(data: bytes, limits: DecodeLimits) -> SemanticPayload:
    """decode() without the last-resort exception net (tests call this to find real gaps)."""
    data = _as_bytes(data)
    h = decode_header(data, limits)
    if payload_crc(data) != h.crc32:
        raise ChecksumError(f"CRC32 mismatch: header 0x{h.crc32:08x}, payload 0x{payload_crc(data):08x}")

    off = HEADER_SIZE
    fi = np.frombuffer(data, dtype="<u2", count=h.k, offset=off).astype(np.int64)
    off += 2 * h.k
    if int(fi.max()) >= h.frames:
        raise IndexOutOfRangeError(f"frame index {int(fi.max())} >= T={h.frames}")
    if fi.size > 1 and np.any(np.diff(fi) <= 0):
        raise IndexOutOfRangeError(f"frame indices {fi.tolist()} are not strictly increasing")

    mask_bytes = _unpack_section(data[off : off + h.mask_len], h.mask_codec, h.mask_raw_len, "mask")
    off += h.mask_len
    value_bytes = _unpack_section(data[off : off + h.value_len], h.value_codec, h.value_raw_len, "value")

    mname, vname = MASK_LAYOUTS[h.mask_layout], _VALUE_LAYOUTS[h.value_layout]
    mask = decode_mask(mask_bytes, mname, (h.k, h.height, h.width), h.n_values)
    if vname in IMAGE_LAYOUTS.values():
        frames = decode_image(value_bytes, vname, h.k, h.height, h.width, h.channels)
        symbols = frames[mask]
        if h.bits < 8 and symbols.size and int(symbols.max()) >= 1 << h.bits:
            raise CorruptPayloadError(f"image value {int(symbols.max())} does not fit in {h.bits} bits")
    else:
        symbols = decode_values(value_bytes, vname, mask, h.n_values, h.channels, h.bits)
    return SemanticPayload(
        clip_shape=(h.frames, h.height, h.width, h.channels),
        frame_indices=fi.astype(np.uint16),
        mask=mask,
        values=dequantise(symbols, h.bits),
        k=h.k,
        p=h.p,
    )


def decode(data: bytes, limits: DecodeLimits | None = None) -> SemanticPayload:
    """Parse stae-px bytes back into a :class:`SemanticPayload`.

    Raises only :class:`CodecError` subclasses: BadMagicError, UnsupportedVersionError,
    TruncatedPayloadError, SizeMismatchError, LimitExceededError, IndexOutOfRangeError,
    UnknownLayoutError, ChecksumError, CorruptPayloadError (see docs/wire_format.md).
    """
    limits = limits or DecodeLimits()
    try:
        return _decode_unchecked(data, limits)
    except CodecError:
        raise
    except Exception as exc:  # last-resort net: a receiver must only ever see CodecError
        log.warning("decoder failed unexpectedly: %r", exc)
        raise CorruptPayloadError(f"malformed payload ({type(exc).__name__}: {exc})") from exc
