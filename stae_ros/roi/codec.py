"""`RoiCodec` (codec name "stae-roi264"): importance-steered pre-processing + one libx264 GOP.

Wire format (version 2; little-endian, each clip self-contained; the map itself is not sent
because the edge needs only the decoded clip):

  ====== ======= =================================================================
  field  bytes   meaning
  ====== ======= =================================================================
  magic  2       ``b"SR"``
  ver    1       container version (2; version 1 had no checksum and is refused by name)
  flags  1       bit 0: crop mode
  crc32  4       zlib CRC-32 of every byte of the payload except these 4 (bytes 0-3, then 8-)
  T,H,W  varints frames, height, width of the clip
  crop   varints x0, y0, width, height of the coded window (crop mode only)
  body   ...     H.264 NAL units (SPS, PPS, slices), each as varint length + NAL bytes
  ====== ======= =================================================================

Two ways to spend bits where the map is high: ``fill`` codes the whole frame with
low-importance blocks replaced by a flat static background; ``crop`` codes only the
16-px-aligned window around the important blocks (the edge pastes it onto flat grey), which
also removes the background's share of H.264's per-macroblock cost.

Decoding is bounded by the header's clip, checked before any decoding: the payload may be at
most :func:`max_payload_bytes` for it, the checksum must match, and the H.264 stream's NAL units
and SPS are checked by :func:`~stae_ros.roi.h264.check_nals` (see docs/wire_format.md).
"""

from __future__ import annotations

import logging
import struct
import zlib
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from .errors import (
    BadMagicError,
    BitstreamDecodeError,
    ChecksumError,
    RoiError,
    LimitExceededError,
    RoiInputError,
    TruncatedPayloadError,
    UnsupportedVersionError,
)
from .h264 import (
    MB_SIZE,
    X264Settings,
    _varint,
    decode_annexb,
    encode_annexb,
    max_nals_for,
    mb_grid,
    pack_nals,
    qp_zones,
    read_varint,
    unpack_nals,
)
from .importance import ImportanceNet, background_numpy, composite_numpy, hold_frames

__all__ = ["CODEC_NAME", "CODEC_VERSION", "MAGIC", "RoiSettings", "RoiLimits", "RoiCodec", "seal_container",
           "container_crc", "max_payload_bytes", "macroblock_map"]

CODEC_NAME = "stae-roi264"
CODEC_VERSION = 2
#: versions this decoder knows of but no longer accepts, with the reason (named in the error)
RETIRED_VERSIONS = {1: "it carries no checksum"}
MAGIC = b"SR"
_CRC_AT = 4  #: the crc32 field's offset (after magic, version, flags)
_HEAD = 8  #: bytes before the varints


def container_crc(data: bytes | memoryview) -> int:
    """CRC-32 of a container except its own crc32 field (bytes 4-7)."""
    mv = memoryview(data)
    return zlib.crc32(mv[_HEAD:], zlib.crc32(mv[:_CRC_AT])) & 0xFFFFFFFF


def seal_container(t: int, h: int, w: int, crop: tuple[int, int, int, int] | None, body: bytes) -> bytes:
    """A complete version-2 container: header (with the checksum filled in) + packed NAL body."""
    head = MAGIC + bytes([CODEC_VERSION, 1 if crop else 0]) + b"\x00" * 4 + _varint(t) + _varint(h) + _varint(w)
    if crop:
        head += b"".join(_varint(v) for v in crop)
    data = bytearray(head + body)
    data[_CRC_AT:_HEAD] = struct.pack("<I", container_crc(data))
    return bytes(data)


def max_payload_bytes(t: int, h: int, w: int) -> int:
    """Largest payload a T,H,W clip may arrive in: 3 bytes per pixel plus 64 KiB. H.264 caps a
    macroblock at about 400 bytes (1.6 per pixel, PCM), so no honest stream comes near it."""
    return 3 * t * h * w + 65536

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RoiSettings:
    """Camera-side knobs: importance threshold, background fill, FA frame holding, x264."""

    threshold: float = 0.5  #: blocks with importance >= threshold are coded as they are
    background: str = "mean"  #: "mean" (static per-clip block means) or "grey"
    bg_block: int = 16  #: side of the background's flat squares, px
    frame_threshold: float = 0.0  #: frames whose best block is below this are FA's unimportant frames
    #: what happens to them: "hold" repeats the previous frame (frame rate), "zones" codes them at
    #: QP `frame_qp` through x264 zones (quality) so their motion still arrives, coarsely
    frame_action: str = "hold"
    frame_qp: int = 51
    mode: str = "fill"  #: "fill" (whole frame, flat background) or "crop" (window around kept blocks)
    #: QP steps added to the coded macroblocks that hold no kept block in any frame (H.264 regions of
    #: interest; 0 = off): inside a crop window, the background between the kept blocks goes coarser
    region_qp: int = 0
    #: how `region_qp` is spread: "binary" (all of it where no block is kept, none elsewhere) or "graded"
    #: (``round(region_qp * (1 - importance))`` on every macroblock, importance its largest block's over the
    #: clip): quality follows the map, as the gradient paper spends bits where the classifier is sensitive
    region_grade: str = "binary"
    x264: X264Settings = field(default_factory=lambda: X264Settings(crf=30.0))


@dataclass(frozen=True)
class RoiLimits:
    """Decoder limits, checked against the header before any decoding."""

    max_frames: int = 256
    max_side: int = 2048
    max_bytes: int = 8 << 20


def macroblock_map(block_map: np.ndarray, h: int, w: int, window: tuple[int, int, int, int] | None = None,
                   reduce: Callable[..., np.ndarray] = np.any) -> np.ndarray:
    """A per-block map (hb, wb) of an H x W frame on the macroblocks of the coded picture (the crop
    window x0, y0, width, height, or the whole frame): ``reduce`` over the pixels each macroblock
    covers, the part of a macroblock past the picture's edge counting as zero. Why: per-region
    quality is set per 16-px macroblock of what libx264 codes, while maps live on the block grid
    of the whole frame."""
    px = np.repeat(np.repeat(block_map, h // block_map.shape[0], axis=0), w // block_map.shape[1], axis=1)
    x0, y0, cw, ch = window if window is not None else (0, 0, w, h)
    rows, cols = mb_grid(ch, cw)
    padded = np.zeros((rows * MB_SIZE, cols * MB_SIZE), block_map.dtype)
    padded[:ch, :cw] = px[y0 : y0 + ch, x0 : x0 + cw]
    return reduce(padded.reshape(rows, MB_SIZE, cols, MB_SIZE), axis=(1, 3))


class RoiCodec:
    """encode(clip, importance) -> bytes; decode(bytes) -> clip uint8 T,H,W,3."""

    name = CODEC_NAME
    version = CODEC_VERSION

    def __init__(
        self, settings: RoiSettings = RoiSettings(), limits: RoiLimits = RoiLimits(), importance_net: "ImportanceNet | None" = None
    ) -> None:
        self.settings = settings
        self.limits = limits
        self.importance_net = importance_net

    def prepare(self, clip: np.ndarray, importance: np.ndarray) -> np.ndarray:
        """The pre-processed clip libx264 sees: background fill outside kept blocks, held frames."""
        if not isinstance(clip, np.ndarray) or clip.dtype != np.uint8 or clip.ndim != 4 or clip.shape[-1] != 3:
            raise RoiInputError(f"clip must be uint8 T,H,W,3; got {getattr(clip, 'dtype', type(clip))} {getattr(clip, 'shape', '')}")
        imp = np.asarray(importance, dtype=np.float32)
        t, h, w, _ = clip.shape
        if imp.ndim != 3 or imp.shape[0] != t or h % imp.shape[1] or w % imp.shape[2]:
            raise RoiInputError(f"importance must be T,hb,wb with T={t} and hb | {h}, wb | {w}; got {imp.shape}")
        if not np.isfinite(imp).all():
            raise RoiInputError("importance map holds NaN or inf")
        s = self.settings
        keep = imp >= s.threshold
        if s.frame_action == "zones" and s.frame_threshold > 0:
            # an unimportant frame is coded coarsely, not blanked: it keeps the blocks of the frame
            # before it (its own map was gated down by FA, which would fill them with background)
            low = imp.reshape(t, -1).max(axis=1) < s.frame_threshold
            for i in range(1, t):
                if low[i]:
                    keep[i] = keep[i - 1]
        out = composite_numpy(clip, keep, background_numpy(clip, s.bg_block, s.background))
        return self._fa_frames(out, imp)

    def _fa_frames(self, clip: np.ndarray, importance: np.ndarray) -> np.ndarray:
        """FA's frame-rate knob: hold the unimportant frames (with frame_action "hold")."""
        s = self.settings
        if s.frame_action != "hold":
            return clip
        return hold_frames(clip, np.asarray(importance, np.float32).reshape(len(clip), -1).max(axis=1), s.frame_threshold)

    def _x264(self, importance: np.ndarray) -> X264Settings:
        """FA's quality knob: x264 zones at frame_qp on the unimportant frames (frame_action "zones")."""
        s = self.settings
        if s.frame_action == "hold" or s.frame_threshold <= 0:
            return s.x264
        if s.frame_action != "zones":
            raise RoiInputError(f"unknown frame action {s.frame_action!r}; use 'hold' or 'zones'")
        imp = np.asarray(importance, np.float32)
        low = imp.reshape(len(imp), -1).max(axis=1) < s.frame_threshold
        low[0] = False  # the I frame carries the clip; FA never spends it
        return replace(s.x264, zones=qp_zones(low, s.frame_qp))

    def crop_window(self, importance: np.ndarray, h: int, w: int) -> tuple[int, int, int, int]:
        """x0, y0, width, height: the 16-px-aligned window around every kept block (min 16x16)."""
        imp = np.asarray(importance, np.float32)
        keep = (imp >= self.settings.threshold).any(axis=0)
        bh, bw = h // keep.shape[0], w // keep.shape[1]
        rows, cols = np.nonzero(keep.any(axis=1))[0], np.nonzero(keep.any(axis=0))[0]
        if len(rows) == 0:
            y0, y1, x0, x1 = h // 2 - 8, h // 2 + 8, w // 2 - 8, w // 2 + 8
        else:
            y0, y1, x0, x1 = rows[0] * bh, (rows[-1] + 1) * bh, cols[0] * bw, (cols[-1] + 1) * bw

        def align(a: int, b: int, n: int) -> tuple[int, int]:
            size = min(n - n % 16 if n >= 16 else n, max(16, -(-(b - a) // 16) * 16))
            start = min(max(0, (a + b) // 2 - size // 2), n - size)
            return start, size

        y0, ch = align(int(y0), int(y1), h)
        x0, cw = align(int(x0), int(x1), w)
        return x0, y0, cw, ch

    def region_offsets(self, importance: np.ndarray, h: int, w: int,
                       window: tuple[int, int, int, int] | None = None) -> np.ndarray | None:
        """Per-macroblock QP offsets of the coded picture (the crop window, or the whole frame), by
        ``region_grade``: binary, ``region_qp`` where no block is kept in any frame and 0 elsewhere;
        graded, ``region_qp * (1 - importance)`` rounded. None when off."""
        qp = int(self.settings.region_qp)
        if qp == 0:
            return None
        importance = np.asarray(importance, np.float32)
        if self.settings.region_grade == "graded":
            per_mb = macroblock_map(importance.max(axis=0), h, w, window, np.max)
            return np.rint(qp * (1.0 - np.clip(per_mb, 0.0, 1.0))).astype(int)
        keep = (importance >= self.settings.threshold).any(axis=0)
        return np.where(macroblock_map(keep, h, w, window, np.any), 0, qp)

    def encode(self, clip: np.ndarray, importance: np.ndarray | None = None) -> bytes:
        """clip uint8 T,H,W,3 + importance T,hb,wb (or None: computed by the codec's importance net)."""
        if importance is None:
            if self.importance_net is None:
                raise RoiInputError("no importance map given and this RoiCodec has no importance net")
            importance = self.importance_net.importance(clip)
        t, h, w, _ = clip.shape
        if self.settings.mode == "crop":
            self.prepare(clip, importance)  # validation
            x0, y0, cw, ch = self.crop_window(importance, h, w)
            window = self._fa_frames(clip[:, y0 : y0 + ch, x0 : x0 + cw], importance)
            body = pack_nals(encode_annexb(np.ascontiguousarray(window), self._x264(importance),
                                           self.region_offsets(importance, h, w, (x0, y0, cw, ch))))
            return seal_container(t, h, w, (x0, y0, cw, ch), body)
        if self.settings.mode != "fill":
            raise RoiInputError(f"unknown ROI mode {self.settings.mode!r}; use 'fill' or 'crop'")
        prepared = self.prepare(clip, importance)
        body = pack_nals(encode_annexb(prepared, self._x264(importance), self.region_offsets(importance, h, w)))
        return seal_container(t, h, w, None, body)

    def parse_header(self, data: bytes) -> tuple[int, int, int, tuple[int, int, int, int] | None, int]:
        """Validate the header and checksum; returns (T, H, W, crop window or None, body offset)."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TruncatedPayloadError(f"payload must be bytes, got {type(data).__name__}")
        if len(data) > self.limits.max_bytes:
            raise LimitExceededError(f"payload is {len(data)} bytes; limit {self.limits.max_bytes}")
        if len(data) < 3:
            raise TruncatedPayloadError(f"payload is {len(data)} bytes; shorter than the 3-byte magic+version")
        if bytes(data[:2]) != MAGIC:
            raise BadMagicError(f"payload starts with {bytes(data[:2])!r}; expected {MAGIC!r} (stae-roi264)")
        if data[2] in RETIRED_VERSIONS:
            raise UnsupportedVersionError(f"stae-roi264 container version {data[2]} is no longer accepted "
                                          f"({RETIRED_VERSIONS[data[2]]}); this edge reads version {CODEC_VERSION}")
        if data[2] != CODEC_VERSION:
            raise UnsupportedVersionError(f"stae-roi264 container version {data[2]}; this decoder reads {CODEC_VERSION}")
        if len(data) < _HEAD:
            raise TruncatedPayloadError(f"payload is {len(data)} bytes; the fixed header alone is {_HEAD}")
        if data[3] > 1:
            raise UnsupportedVersionError(f"stae-roi264 flags byte is {data[3]}; known: 0 or 1")
        crop_mode = data[3] == 1
        t, pos = read_varint(data, _HEAD)
        h, pos = read_varint(data, pos)
        w, pos = read_varint(data, pos)
        if not (1 <= t <= self.limits.max_frames):
            raise LimitExceededError(f"header says {t} frames; allowed 1..{self.limits.max_frames}")
        if not (16 <= h <= self.limits.max_side and 16 <= w <= self.limits.max_side):
            raise LimitExceededError(f"header says {h}x{w}; allowed 16..{self.limits.max_side} per side")
        if len(data) > max_payload_bytes(t, h, w):
            raise LimitExceededError(f"payload is {len(data)} bytes; a {t}x{h}x{w} clip is at most {max_payload_bytes(t, h, w)}")
        (crc,) = struct.unpack_from("<I", data, _CRC_AT)
        if container_crc(data) != crc:
            raise ChecksumError(f"CRC-32 mismatch: header 0x{crc:08x}, payload 0x{container_crc(data):08x}")
        crop = None
        if crop_mode:
            vals = []
            for _ in range(4):
                v, pos = read_varint(data, pos)
                vals.append(v)
            x0, y0, cw, ch = vals
            if cw < 16 or ch < 16 or x0 + cw > w or y0 + ch > h:
                raise LimitExceededError(f"crop window {cw}x{ch} at ({x0},{y0}) does not fit the {w}x{h} frame")
            crop = (x0, y0, cw, ch)
        if pos >= len(data):
            raise TruncatedPayloadError("payload has a header but no H.264 body")
        return t, h, w, crop, pos

    def decode(self, data: bytes) -> np.ndarray:
        """Payload bytes -> clip uint8 T,H,W,3; raises only RoiPayloadError subclasses."""
        try:
            return self._decode(data)
        except RoiError:
            raise
        except Exception as exc:  # noqa: BLE001 - last-resort net: a receiver must only ever see RoiPayloadError
            log.warning("stae-roi264 decoder failed unexpectedly: %r", exc)
            raise BitstreamDecodeError(f"malformed payload ({type(exc).__name__}: {exc})") from exc

    def _decode(self, data: bytes) -> np.ndarray:
        t, h, w, crop, pos = self.parse_header(data)
        stream = unpack_nals(bytes(data[pos:]), max_nals=max_nals_for(t))
        if crop is None:
            return decode_annexb(stream, t, h, w)
        x0, y0, cw, ch = crop
        window = decode_annexb(stream, t, ch, cw)
        out = np.full((t, h, w, 3), 128, np.uint8)
        out[:, y0 : y0 + ch, x0 : x0 + cw] = window
        return out
