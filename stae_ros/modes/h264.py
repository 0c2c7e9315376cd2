"""h264: the clip as plain H.264, as a robot streams video today, classified on the edge by the STAE
checkpoint's ViT (every pixel arrives, so no recovery step), or by the mode's own model file when one
is configured (``model_files["h264"]``: an edge classifier that `stae train` writes with ``mode: edge``,
a self-describing file of the stae_ros.local network family, too large for the camera to run).

Camera: libx264 through PyAV with the encoder kept open across clips, one GOP per clip (one IDR),
``tune=zerolatency`` (no B-frames, no lookahead), SEI stripped (the same encoder as the bench's
H.264 baseline, :class:`stae_ros.baselines.video.H264Codec`). Knobs: ``crf`` (0..51), ``preset``
and ``scale`` (an integer divisor: the clip is coded at H/scale x W/scale and the edge scales it
back, which is how a robot with a thin link streams).

Wire format (little-endian):

  ======= ===== ================================================================
  field   bytes meaning
  ======= ===== ================================================================
  magic   2     ``b"H4"``
  version 1     1
  scale   1     the divisor the camera coded at
  crc32   4     CRC32 of the stream, so a corrupted payload is refused, never labelled
  stream  ...   Annex-B H.264: SPS, PPS, one IDR and T-1 P slices
  ======= ===== ================================================================

Why a header at all on what is otherwise a robot's plain stream: the edge must know the coded frame
size before decoding to bound its work, and must be able to tell a corrupted stream from a valid one
(H.264 decoders conceal errors and would return a plausible clip). The 8 bytes are counted in the
payload size like everything else.

Edge decoding is bounded before any work it would cost: payload size and CRC here, then the
stae-roi264 payload's bounded H.264 decoder (NAL count, SPS size and format against the expected
H/scale x W/scale, each picture's size and the frame count before its conversion).
"""

from __future__ import annotations

import struct
import zlib
from typing import Any, Mapping

import cv2
import numpy as np
import torch

from .base import (Classified, Decoded, EncodedClip, ModeContext, Timer, Validated, check_budget, check_clip,
                   freeze_settings, load_mode_file, state_identity)
from .errors import BudgetError, PipelineError

__all__ = ["NAME", "VERSION", "DEFAULTS", "H264Camera", "H264Edge", "pack", "unpack", "decode_stream", "camera", "edge",
           "crf_error", "preset_error"]

NAME = "h264"
VERSION = 1
MAGIC = b"H4"
_HEADER = struct.Struct("<2sBBI")
#: the settings a camera starts with; a command's settings apply over these
DEFAULTS: dict[str, Any] = {"crf": 28, "preset": "ultrafast", "scale": 1}
#: payloads larger than this are refused before anything else is read
MAX_PAYLOAD_BYTES = 8 << 20


def crf_error(crf: Any, mode: str = NAME) -> str | None:
    """Why ``crf`` cannot drive libx264 here, in one line naming ``mode``; None when it can. One rule
    for what a command may set and for what a model file says its training run used (so are
    ``preset_error``'s)."""
    if isinstance(crf, bool) or not isinstance(crf, (int, np.integer)) or not 0 <= int(crf) <= 51:
        return f"{mode} setting crf={crf!r} must be an integer in 0..51"
    return None


def preset_error(preset: Any, mode: str = NAME) -> str | None:
    """Why ``preset`` is not an x264 preset, in one line naming ``mode``; None when it is."""
    from stae_ros.baselines.video import PRESETS

    if preset not in PRESETS:
        return f"{mode} setting preset={preset!r} is not one of {', '.join(PRESETS)}"
    return None


class H264PayloadError(PipelineError):
    """An h264 payload that is malformed, corrupted or over the decoder's limits."""


def pack(stream: bytes, scale: int) -> bytes:
    return _HEADER.pack(MAGIC, VERSION, scale, zlib.crc32(stream)) + stream


def unpack(data: bytes) -> tuple[int, bytes]:
    """(scale, stream) of a payload whose header and CRC check out, else H264PayloadError naming the fault."""
    if len(data) > MAX_PAYLOAD_BYTES:
        raise H264PayloadError(f"h264 payload of {len(data)} bytes is over the limit {MAX_PAYLOAD_BYTES}")
    if len(data) <= _HEADER.size:
        raise H264PayloadError(f"h264 payload of {len(data)} bytes is shorter than its {_HEADER.size}-byte header + stream")
    magic, version, scale, crc = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise H264PayloadError(f"h264 payload starts with {magic!r}, not {MAGIC!r}")
    if version != VERSION:
        raise H264PayloadError(f"h264 payload version {version} is not supported (this edge reads {VERSION})")
    stream = bytes(data[_HEADER.size:])
    if zlib.crc32(stream) != crc:
        raise H264PayloadError(f"h264 payload CRC32 mismatch (header {crc:08x}, stream {zlib.crc32(stream):08x}): corrupted")
    return scale, stream


def decode_stream(stream: bytes, frames: int, height: int, width: int) -> np.ndarray:
    """Annex-B H.264 -> uint8 frames,height,width,3 through the bounded decoder the stae-roi264 payload
    uses (:func:`stae_ros.roi.h264.decode_annexb`: NAL count, SPS size and format checked before
    decoding, each picture checked before its conversion); its errors become H264PayloadError."""
    from stae_ros.roi.errors import RoiError
    from stae_ros.roi.h264 import decode_annexb

    if not (stream.startswith(b"\x00\x00\x01") or stream.startswith(b"\x00\x00\x00\x01")):
        raise H264PayloadError(f"h264 stream does not start with a start code (got {stream[:4].hex()})")
    try:
        return decode_annexb(stream, frames, height, width)
    except RoiError as exc:
        raise H264PayloadError(f"h264 stream refused: {exc}") from exc


def _edge_classifier(ctx: ModeContext) -> Any:
    """The mode's own edge classifier file (stae_ros.local format), or None when none is configured; a file
    made for another clip size than the STAE checkpoint's is refused (PipelineError naming it)."""
    if not ctx.model_file(NAME):
        return None
    from stae_ros.local import LocalModelError, load_local_model

    _, file = load_mode_file(NAME, ctx.model_file(NAME), "", load_local_model, LocalModelError)
    if tuple(file.shape) != tuple(ctx.stae_shape):
        raise PipelineError(f"the {NAME} model {file.model_id} was trained on {file.shape} clips, the camera cuts "
                            f"{tuple(ctx.stae_shape)}")
    return file


def _scaled(shape: tuple[int, int, int, int], scale: int) -> tuple[int, int]:
    """(h, w) a clip of ``shape`` is coded at for divisor ``scale``; BudgetError when it does not divide."""
    _, h, w, _ = shape
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale < 1:
        raise BudgetError(f"h264 setting scale={scale!r} must be an integer divisor >= 1")
    sh, sw = h // scale, w // scale
    if sh * scale != h or sw * scale != w or sh % 2 or sw % 2 or sh < 16 or sw < 16:
        raise BudgetError(f"h264 setting scale={scale} does not divide the {h}x{w} clip into even sides >= 16")
    return sh, sw


class H264Camera:
    name = NAME
    version = VERSION
    uses_budget = False
    #: whose clip size ``encode`` checks against, and how ``describe`` says who classifies the stream
    clip_owner = "model's"
    classified = "classified by"

    def __init__(self, ctx: ModeContext) -> None:
        self.shape = ctx.stae_shape
        own = _edge_classifier(ctx)
        self.class_names = list(own.class_names if own else ctx.loaded.class_names)
        # the edge's classifier: the mode's own file, else the STAE checkpoint's ViT
        self.model_id = own.model_id if own else state_identity(ctx.loaded)
        self.defaults: dict[str, Any] = dict(DEFAULTS)  #: what a knob no command has set is
        self._settings: dict[str, Any] = {}
        self._codec: Any = None
        self._size = self.shape[1:3]
        self.apply(self.validate(1, 1.0, {}))

    @property
    def settings(self) -> Mapping[str, Any]:
        return dict(self._settings)

    def validate(self, k: int, p: float, settings: Mapping[str, Any]) -> Validated:
        from stae_ros.baselines.errors import ClipFormatError
        from stae_ros.baselines.video import H264Codec

        knobs = freeze_settings(settings)
        unknown = sorted(set(knobs) - set(DEFAULTS))
        if unknown:
            raise BudgetError(f"{self.name} has no setting(s) {unknown}; its settings are {sorted(DEFAULTS)}")
        full = {**self.defaults, **knobs}
        crf, preset, scale = full["crf"], full["preset"], full["scale"]
        error = crf_error(crf, self.name) or preset_error(preset, self.name)
        if error:
            raise BudgetError(error)
        size = _scaled(self.shape, scale)
        k, p = check_budget(k, p, self.shape[0])  # kept and checked (a command must not fail); the payload ignores them
        same = self._codec is not None and (self._codec.crf, self._codec.preset) == (int(crf), preset)
        try:
            codec = self._codec if same else H264Codec(crf=int(crf), preset=preset, stream=True)
        except ClipFormatError as exc:
            raise BudgetError(f"{self.name} settings refused: {exc}") from exc
        return Validated(self.name, k, p, knobs, (codec, int(scale), size))

    def apply(self, validated: Validated) -> None:
        self._codec, self._scale, self._size = validated.state
        self._settings = dict(validated.settings)

    def encode(self, clip: np.ndarray) -> EncodedClip:
        """The whole clip (K=T, p=1); select_ms is the downscale, encode_ms libx264."""
        check_clip(clip, self.shape, self.clip_owner)
        timer = Timer()
        h, w = self._size
        small = clip if (h, w) == clip.shape[1:3] else np.stack(
            [cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in clip])
        select_ms = timer.ms()
        data = pack(self._codec.encode(small), self._scale)
        total = timer.ms()
        frames = self.shape[0]
        return EncodedClip(payload=data, codec=self.name, codec_version=self.version, k=frames, p=1.0,
                           frame_indices=tuple(range(frames)), camera_ms=total, select_ms=select_ms,
                           encode_ms=total - select_ms, model_id=self.model_id,
                           settings={**self.defaults, **self._settings})

    def describe(self) -> str:
        s = {**self.defaults, **self._settings}
        return f"{self.name} crf {s['crf']} {s['preset']} scale 1/{s['scale']} ({self.classified} {self.model_id})"


class H264Edge:
    """Bounded decode + upscale per message (CPU); the STAE ViT over the batch."""

    name = NAME

    def __init__(self, ctx: ModeContext) -> None:
        self.device = ctx.device if ctx.device is not None else torch.device("cpu")
        self.shape = ctx.stae_shape
        own = _edge_classifier(ctx)
        if own is not None:
            self.model = own.model.to(self.device).eval()
            self._logits = self.model
            self.class_names, self.model_id = list(own.class_names), own.model_id
        else:
            self.model = ctx.loaded.model.to(self.device).eval()
            self._logits = self.model.classify
            self.class_names, self.model_id = list(ctx.loaded.class_names), state_identity(ctx.loaded)

    def decode(self, data: bytes) -> Decoded:
        scale, stream = unpack(bytes(data))
        try:
            h, w = _scaled(self.shape, scale)
        except BudgetError as exc:
            raise H264PayloadError(f"h264 payload header: {exc}") from exc
        T, H, W, _ = self.shape
        clip = decode_stream(stream, T, h, w)
        if (h, w) != (H, W):
            clip = np.stack([cv2.resize(f, (W, H), interpolation=cv2.INTER_LINEAR) for f in clip])
        return Decoded(clip, T, 1.0)

    @torch.inference_mode()
    def classify(self, items: list[Decoded], keep_recovered: bool = False) -> Classified:
        clips = [d.data for d in items]
        x = torch.from_numpy(np.stack(clips)).to(self.device).permute(0, 4, 1, 2, 3).float().div_(255.0)
        return Classified(self._logits(x), clips if keep_recovered else None)


def camera(ctx: ModeContext) -> H264Camera:
    return H264Camera(ctx)


def edge(ctx: ModeContext) -> H264Edge:
    return H264Edge(ctx)
