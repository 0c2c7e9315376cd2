"""The camera (robot) side: clip -> FA -> SA -> semantic payload bytes.

Or, for the issue-6 payloads, clip -> learned latent (stae-latent) or clip -> importance map ->
crop/fill -> libx264 (stae-roi264); those see the whole clip (K=T, p=1) and ignore the budget.

One object per camera stream. It owns the torch thread setting because a Pi-class host has few
cores and the camera node must leave some for capture and DDS.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from stae_ros import codec as px_codec
from stae_ros.models.camera_select import select_uint8
from stae_ros.resources import codec_model_file

from .errors import BudgetError, ClipShapeError
from .payloads import LATENT_CODEC, ROI_CODEC, LatentPayload, RoiPayload, check_codec

__all__ = ["CameraPipeline", "EncodedClip"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EncodedClip:
    """What the camera publishes for one clip."""

    payload: bytes
    codec: str
    codec_version: int
    k: int
    p: float
    frame_indices: tuple[int, ...]
    camera_ms: float
    select_ms: float
    encode_ms: float


class CameraPipeline:
    """Selects frames and pixels with the trained FA and SA modules and entropy-codes them."""

    def __init__(self, loaded, k: int | None = None, p: float | None = None, codec: str = px_codec.CODEC_NAME,
                 threads: int = 1, layout: str = "fast", zstd_level: int = px_codec.DEFAULT_LEVEL,
                 codec_model: str | None = None, value_bits: int = 8) -> None:
        """`codec_model` names the stae-latent or stae-roi264 model file (default: the codec's shipped one);
        stae-px ignores it. The issue-6 codecs code the whole clip (K=T, p=1): `k`/`p` are kept and
        validated (a BudgetCommand must not fail) but do not change their payloads. `value_bits` < 8
        quantises stae-px pixel values (error <= 2**(7-bits)): 6 bits stays under the sensor noise of a
        camera and saves ~25% of the bytes."""
        self.model = loaded.model.eval()
        self.config = loaded.config
        clip = self.config.clip
        self.shape = (clip.frames, clip.height, clip.width, clip.channels)
        check_codec(codec, (px_codec.CODEC_NAME, LATENT_CODEC, ROI_CODEC))
        self.codec = codec
        self.latent = LatentPayload(codec_model) if codec == LATENT_CODEC else None
        self.roi = RoiPayload(codec_model) if codec == ROI_CODEC else None
        for name, payload in ((LATENT_CODEC, self.latent), (ROI_CODEC, self.roi)):
            # The issue-6 codecs never run the STAE model: their own model file sets the clip size
            # (e.g. models/stae_latent_112.pt takes 16x112x112 while the STAE model is 16x64x64).
            if payload is not None and payload.shape != self.shape:
                log.info("%s model %s takes clips %s (the STAE model %s): the camera cuts clips of that size",
                         name, payload.path, payload.shape, self.shape)
                self.shape = tuple(payload.shape)
        self.layout = layout
        self.zstd_level = zstd_level
        if not 1 <= int(value_bits) <= 8:
            raise BudgetError(f"value_bits must be in [1, 8], got {value_bits}")
        self.value_bits = int(value_bits)
        if threads > 0:
            torch.set_num_threads(threads)
        self.k = self.config.budgets.frame[0]
        self.p = self.config.budgets.spatial[0]
        self.set_budget(k if k is not None else self.k, p if p is not None else self.p)

    def set_budget(self, k: int, p: float) -> None:
        """Change the frame budget K and spatial budget p for the next clips."""
        frames = self.shape[0]
        if not (1 <= int(k) <= frames):
            raise BudgetError(f"frame budget K={k} must be between 1 and the clip length {frames}")
        if not (0.0 < float(p) <= 1.0):
            raise BudgetError(f"spatial budget p={p} must be in (0, 1]")
        self.k, self.p = int(k), float(p)

    def set_codec_settings(self, knobs: Mapping[str, Any]) -> None:
        """The codec knobs of an operating point besides K and p (BudgetCommand.codec_settings).

        stae-roi264 takes crf, threshold, mode, frame_select, frame_stride, frame_threshold, applied
        over its model file's settings ({} = the file's). stae-px has none (K and p are its knobs);
        stae-latent's only knob is its model file, which camera and edge must change together, so it
        is the codec_model parameter of both nodes and not a run-time setting.
        """
        if not isinstance(knobs, Mapping):
            raise BudgetError(f"codec settings must be a mapping of knob names to values; got {type(knobs).__name__}")
        if self.roi is not None:
            self.roi.set_knobs(knobs)
        elif self.latent is not None and set(knobs) <= {"model"}:
            if "model" in knobs and codec_model_file(knobs["model"], LATENT_CODEC) != self.latent.path.resolve():
                raise BudgetError(f"the point's stae-latent model {knobs['model']} is not the one in use "
                                  f"({self.latent.path}); camera and edge change it together (codec_model)")
        elif knobs:
            raise BudgetError(f"{self.codec} has no run-time codec settings (got {sorted(knobs)}); "
                              + ("its model file is the codec_model parameter of camera and edge"
                                 if self.codec == LATENT_CODEC else "its budget is K and p"))

    def check_clip(self, clip: np.ndarray) -> None:
        if not isinstance(clip, np.ndarray) or clip.dtype != np.uint8:
            raise ClipShapeError(f"clip must be a uint8 numpy array; got {type(clip).__name__} {getattr(clip, 'dtype', '')}")
        if clip.shape != self.shape:
            raise ClipShapeError(f"clip shape {clip.shape} does not match the model's (T,H,W,C) {self.shape}")

    def select(self, clip: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Frame indices (K,) and pixel mask (K,H,W) the attention modules keep for this clip."""
        self.check_clip(clip)
        return select_uint8(self.model, clip, self.k, self.p)

    def encode(self, clip: np.ndarray) -> EncodedClip:
        if self.latent is not None:
            return self._encode_latent(clip)
        if self.roi is not None:
            return self._encode_roi(clip)
        t0 = time.perf_counter()
        indices, mask = self.select(clip)
        t1 = time.perf_counter()
        frames = clip if len(indices) == len(clip) else clip[indices]  # K = T keeps every frame: no copy
        payload = px_codec.SemanticPayload.from_dense(frames, mask, indices, self.shape, self.p)
        data = px_codec.encode(payload, layout=self.layout, level=self.zstd_level, bits=self.value_bits)
        t2 = time.perf_counter()
        return EncodedClip(
            payload=data,
            codec=self.codec,
            codec_version=px_codec.CODEC_VERSION,
            k=self.k,
            p=self.p,
            frame_indices=tuple(int(i) for i in indices),
            camera_ms=(t2 - t0) * 1000.0,
            select_ms=(t1 - t0) * 1000.0,
            encode_ms=(t2 - t1) * 1000.0,
        )

    def _encode_latent(self, clip: np.ndarray) -> EncodedClip:
        """The learned latent sees the whole clip (its gates do the attention), so K=T and p=1."""
        self.check_clip(clip)
        t0 = time.perf_counter()
        data = self.latent.encode(clip)
        ms = (time.perf_counter() - t0) * 1000.0
        frames = self.shape[0]
        return EncodedClip(payload=data, codec=self.codec, codec_version=self.latent.version, k=frames, p=1.0,
                           frame_indices=tuple(range(frames)), camera_ms=ms, select_ms=0.0, encode_ms=ms)

    def _encode_roi(self, clip: np.ndarray) -> EncodedClip:
        """Region coding also sends every frame (the map decides where bits go), so K=T and p=1;
        select_ms is the importance map, encode_ms the crop/fill + libx264."""
        self.check_clip(clip)
        t0 = time.perf_counter()
        importance = self.roi.importance(clip)
        t1 = time.perf_counter()
        data = self.roi.encode(clip, importance)
        t2 = time.perf_counter()
        frames = self.shape[0]
        return EncodedClip(payload=data, codec=self.codec, codec_version=self.roi.version, k=frames, p=1.0,
                           frame_indices=tuple(range(frames)), camera_ms=(t2 - t0) * 1000.0,
                           select_ms=(t1 - t0) * 1000.0, encode_ms=(t2 - t1) * 1000.0)
