"""stae-latent: a learned latent. The camera runs the model file's encoder over the whole clip (its
gates do the attention, so K=T and p=1) and range-codes the quantised latent; the edge decodes the
latent and classifies it with the same file's head, without rebuilding pixels.

The model file is this mode's only knob, and camera and edge must change it together, so it is a
start-up parameter of both (``codec_model`` / ``latent_model``), not a run-time setting.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from stae_ros.resources import DEFAULT_CODEC_MODELS, codec_model_file

from .base import (Classified, Decoded, EncodedClip, ModeContext, Timer, Validated, check_budget, check_clip,
                   freeze_settings, load_mode_file, model_identity)
from .errors import BudgetError, PipelineError

__all__ = ["NAME", "DEFAULT_MODEL", "LatentPayload", "LatentCamera", "LatentEdge", "camera", "edge"]

NAME = "stae-latent"
#: shipped model file (relative to the checkout / share/stae_ros)
DEFAULT_MODEL = DEFAULT_CODEC_MODELS[NAME]


class LatentPayload:
    """The stae-latent model file: camera encode, edge decode and classify, errors as PipelineError."""

    def __init__(self, model_path: str | Path | None = None) -> None:
        from stae_ros.latent import CODEC_VERSION, LatentError, load_latent_codec

        self.path, self.codec = load_mode_file(NAME, model_path, DEFAULT_MODEL, load_latent_codec, LatentError)
        self.version = CODEC_VERSION
        cfg = self.codec.cfg
        self.shape = (cfg.frames, cfg.height, cfg.width, 3)
        self.errors = (LatentError,)

    def encode(self, clip: np.ndarray) -> bytes:
        try:
            return self.codec.encode(clip)
        except self.errors as exc:
            raise PipelineError(f"{NAME} cannot encode this clip: {exc}") from exc

    def decode(self, data: bytes) -> torch.Tensor:
        """One payload -> its quantised latent 1,C,t,h,w; malformed payloads raise PipelineError."""
        try:
            return self.codec.decode(bytes(data))
        except self.errors as exc:
            raise PipelineError(f"{type(exc).__name__}: {exc}") from exc

    @torch.inference_mode()
    def classify(self, latents: torch.Tensor) -> torch.Tensor:
        return self.codec.classify(latents)

    @torch.inference_mode()
    def logits(self, data: bytes) -> torch.Tensor:
        """Logits 1,num_classes for one payload; malformed payloads raise PipelineError."""
        return self.classify(self.decode(data))


class LatentCamera:
    name = NAME
    uses_budget = False

    def __init__(self, ctx: ModeContext) -> None:
        self.payload = LatentPayload(ctx.model_file(NAME) or None)
        self.version = self.payload.version
        self.shape = tuple(self.payload.shape)
        self.class_names = list(ctx.loaded.class_names)
        self.model_id = model_identity(self.payload.path)
        self._settings: dict[str, Any] = {}

    @property
    def settings(self) -> Mapping[str, Any]:
        return dict(self._settings)

    def validate(self, k: int, p: float, settings: Mapping[str, Any]) -> Validated:
        knobs = freeze_settings(settings)
        if set(knobs) - {"model"}:
            raise BudgetError(f"{NAME} has no run-time codec settings (got {sorted(knobs)}); its model file is the "
                              "codec_model parameter of camera and edge")
        if "model" in knobs and codec_model_file(knobs["model"], NAME) != self.payload.path.resolve():
            raise BudgetError(f"the point's {NAME} model {knobs['model']} is not the one in use "
                              f"({self.payload.path}); camera and edge change it together (codec_model)")
        k, p = check_budget(k, p, self.shape[0])  # kept and checked (a command must not fail); the payload ignores them
        return Validated(NAME, k, p, knobs)

    def apply(self, validated: Validated) -> None:
        self._settings = dict(validated.settings)

    def encode(self, clip: np.ndarray) -> EncodedClip:
        """The latent sees the whole clip, so K=T and p=1."""
        check_clip(clip, self.shape, f"{NAME} model's")
        timer = Timer()
        data = self.payload.encode(clip)
        ms = timer.ms()
        frames = self.shape[0]
        return EncodedClip(payload=data, codec=NAME, codec_version=self.version, k=frames, p=1.0,
                           frame_indices=tuple(range(frames)), camera_ms=ms, select_ms=0.0, encode_ms=ms,
                           model_id=self.model_id, settings=self.settings)

    def describe(self) -> str:
        return f"{NAME} ({self.payload.path}, {self.model_id}; whole clip, K/p ignored)"


class LatentEdge:
    """Range-decode per message (CPU); the head runs over the batch (on the CPU: it is tiny)."""

    name = NAME

    def __init__(self, ctx: ModeContext) -> None:
        self.payload = LatentPayload(ctx.model_file(NAME) or None)
        self.shape = tuple(self.payload.shape)
        self.class_names = list(ctx.loaded.class_names)
        self.model_id = model_identity(self.payload.path)

    def decode(self, data: bytes) -> Decoded:
        return Decoded(self.payload.decode(data), self.shape[0], 1.0)

    def classify(self, items: list[Decoded], keep_recovered: bool = False) -> Classified:
        return Classified(self.payload.classify(torch.cat([d.data for d in items])), None)


def camera(ctx: ModeContext) -> LatentCamera:
    return LatentCamera(ctx)


def edge(ctx: ModeContext) -> LatentEdge:
    return LatentEdge(ctx)
