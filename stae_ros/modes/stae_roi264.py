"""stae-roi264: region coding. The camera computes an importance map, crops or fills the clip around
the important blocks and codes it with libx264; the edge decodes it and classifies it with a
classifier fine-tuned on decoded roi clips (one trained on clean clips loses points on the grey
outside the crop and on CRF blocking).

Its model file holds the codec settings and the importance map for the camera and that classifier
for the edge, so the classifier always matches the artefacts it is fed. Run-time knobs (crf,
threshold, mode, frame_select, frame_stride, frame_threshold, frame_action, frame_qp, region_qp, region_grade)
apply over the file's settings; the edge needs none of them (they travel in the bitstream).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from stae_ros.resources import DEFAULT_CODEC_MODELS
from stae_ros.sensitivity.camera import mix_importance
from stae_ros.sensitivity.guidance import GuidanceRules, GuidanceSlot

from .base import (Classified, Decoded, EncodedClip, ModeContext, Timer, Validated, check_budget, check_clip,
                   freeze_settings, load_mode_file, model_identity)
from .errors import ClipShapeError, PipelineError

__all__ = ["NAME", "DEFAULT_MODEL", "RoiPayload", "RoiCamera", "RoiEdge", "camera", "edge"]

NAME = "stae-roi264"
#: crop, CRF 38, motion map; classifier fine-tuned on decoded CRF 33 + 38 clips (docs/payloads.md "In the nodes")
DEFAULT_MODEL = DEFAULT_CODEC_MODELS[NAME]


class RoiPayload:
    """Camera encode (importance map -> crop/fill -> libx264) and edge decode + classify for stae-roi264.

    The camera half needs only the codec settings and the map; the edge half only the classifier;
    both come from one model file.
    """

    def __init__(self, model_path: str | Path | None = None) -> None:
        from stae_ros.roi import CODEC_VERSION, RoiError
        from stae_ros.roi.node_model import load_roi_model

        self.path, self.model = load_mode_file(NAME, model_path, DEFAULT_MODEL, load_roi_model, RoiError)
        self.file_model = self.model  #: the settings as the file has them; knobs apply on top of these
        self.version = CODEC_VERSION
        self.shape = self.model.shape + (3,)
        self.class_names = list(self.model.class_names)
        self.codec = self.model.codec()  # decoder limits = exactly this clip size: nothing larger is decoded
        self.errors = (RoiError,)
        self.device = torch.device("cpu")

    def with_knobs(self, knobs: Mapping[str, Any]) -> tuple[Any, Any]:
        """(model, codec) for an operating point's knobs over the file's settings ({} = the file's);
        bad knobs raise PipelineError naming them. Changes nothing."""
        from stae_ros.roi import RoiError

        try:
            model = self.file_model.with_knobs(knobs)
            return model, model.codec()
        except RoiError as exc:
            raise PipelineError(str(exc)) from exc

    def set_knobs(self, knobs: Mapping[str, Any]) -> None:
        """Realise an operating point now; bad knobs raise PipelineError and change nothing."""
        self.model, self.codec = self.with_knobs(knobs)

    def to(self, device: torch.device) -> "RoiPayload":
        self.model.classifier.to(device)
        self.device = device
        return self

    def importance(self, clip: np.ndarray) -> np.ndarray:
        try:
            return self.model.importance(clip)
        except self.errors as exc:
            raise PipelineError(f"{NAME} cannot map this clip: {exc}") from exc

    def encode(self, clip: np.ndarray, importance: np.ndarray | None = None) -> bytes:
        """clip uint8 T,H,W,3 -> payload bytes (the map is computed here unless given)."""
        if importance is None:
            importance = self.importance(clip)
        try:
            return self.codec.encode(clip, importance)
        except self.errors as exc:
            raise PipelineError(f"{NAME} cannot encode this clip: {exc}") from exc

    def decode(self, data: bytes) -> np.ndarray:
        """Payload bytes -> uint8 T,H,W,3; malformed payloads raise PipelineError with the reason."""
        data = bytes(data)
        try:
            t, h, w, _crop, _pos = self.codec.parse_header(data)  # checked before any H.264 decoding
            if (t, h, w) != self.model.shape:
                raise ClipShapeError(f"{NAME} payload is for clips {t}x{h}x{w}; the roi model codes "
                                     f"{'x'.join(str(v) for v in self.model.shape)}")
            return self.codec.decode(data)
        except self.errors as exc:
            raise PipelineError(f"{type(exc).__name__}: {exc}") from exc

    @torch.inference_mode()
    def logits(self, clips: np.ndarray) -> torch.Tensor:
        """Decoded clips uint8 N,T,H,W,3 -> logits N,num_classes (one batched pass)."""
        x = torch.from_numpy(np.ascontiguousarray(clips)).to(self.device).permute(0, 4, 1, 2, 3).float().div_(255.0)
        return self.model.classifier(x)


class RoiCamera:
    name = NAME
    uses_budget = False

    def __init__(self, ctx: ModeContext) -> None:
        self.payload = RoiPayload(ctx.model_file(NAME) or None)
        self.version = self.payload.version
        self.shape = tuple(self.payload.shape)
        self.class_names = list(self.payload.class_names)
        self.model_id = model_identity(self.payload.path)
        self._settings: dict[str, Any] = {}
        self.guidance = GuidanceSlot(self.model_id, NAME, ctx.options.get("guidance"))

    @property
    def settings(self) -> Mapping[str, Any]:
        return dict(self._settings)

    def validate(self, k: int, p: float, settings: Mapping[str, Any]) -> Validated:
        knobs = freeze_settings(settings)
        state = self.payload.with_knobs(knobs)
        k, p = check_budget(k, p, self.shape[0])  # kept and checked (a command must not fail); the payload ignores them
        return Validated(NAME, k, p, knobs, state)

    def apply(self, validated: Validated) -> None:
        self.payload.model, self.payload.codec = validated.state
        self._settings = dict(validated.settings)

    def encode(self, clip: np.ndarray) -> EncodedClip:
        """Region coding sends every frame (the map decides where bits go), so K=T and p=1;
        select_ms is the importance map, encode_ms the crop/fill + libx264."""
        check_clip(clip, self.shape, f"{NAME} model's")
        timer = Timer()
        importance = self.importance(clip)
        select_ms = timer.ms()
        data = self.payload.encode(clip, importance)
        total = timer.ms()
        frames = self.shape[0]
        return EncodedClip(payload=data, codec=NAME, codec_version=self.version, k=frames, p=1.0,
                           frame_indices=tuple(range(frames)), camera_ms=total, select_ms=select_ms,
                           encode_ms=total - select_ms, model_id=self.model_id, settings=self.settings)

    def importance(self, clip: np.ndarray) -> np.ndarray:
        """The camera's own block map, or its mix with a fresh edge sensitivity map."""
        own = self.payload.importance(clip)
        guide = self.guidance.for_clip(clip)
        if guide is None:
            return own
        r = self.guidance.rules
        return mix_importance(own, guide, r.mix, r.dilate, r.scale, r.combine)

    def set_guidance(self, data: bytes | None, rules: GuidanceRules | None = None) -> str | None:
        """An edge sensitivity map (wire bytes) to code by; None = accepted, else why it was refused."""
        return self.guidance.offer(data, rules)

    def describe(self) -> str:
        knobs = f", settings {self._settings}" if self._settings else ""
        return f"{NAME} ({self.payload.path}, {self.model_id}{knobs}; whole clip, K/p ignored)"


class RoiEdge:
    """libavcodec decode per message (CPU); the roi classifier over the batch on the edge's device."""

    name = NAME

    def __init__(self, ctx: ModeContext) -> None:
        self.payload = RoiPayload(ctx.model_file(NAME) or None)
        if ctx.device is not None:
            self.payload.to(ctx.device)
        self.shape = tuple(self.payload.shape)
        self.class_names = list(self.payload.class_names)
        self.model_id = model_identity(self.payload.path)

    def decode(self, data: bytes) -> Decoded:
        return Decoded(self.payload.decode(data), self.shape[0], 1.0)

    def classify(self, items: list[Decoded], keep_recovered: bool = False) -> Classified:
        clips = [d.data for d in items]
        return Classified(self.payload.logits(np.stack(clips)), clips if keep_recovered else None)

    def guidance_input(self, item: Decoded) -> tuple[torch.Tensor, Any]:
        """The decoded clip 1,3,T,H,W and the roi classifier (for the sensitivity map)."""
        x = torch.from_numpy(np.ascontiguousarray(item.data[None])).to(self.payload.device)
        return x.permute(0, 4, 1, 2, 3).float().div_(255.0), self.payload.model.classifier


def camera(ctx: ModeContext) -> RoiCamera:
    return RoiCamera(ctx)


def edge(ctx: ModeContext) -> RoiEdge:
    return RoiEdge(ctx)
