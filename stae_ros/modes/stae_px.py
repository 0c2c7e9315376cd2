"""stae-px: the paper's payload. The camera keeps K frames and a fraction p of their pixels (FA + SA of
the STAE checkpoint) and entropy-codes them; the edge rebuilds the clip (FR) and classifies it (ViT).

The budget (K, p) is this mode's only knob. Decoding runs per message on the CPU; recovery and
classification run batched on the edge's device, because one forward pass over the clips that
waited after a link stall costs far less than one per clip.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch

from stae_ros import codec as px_codec
from stae_ros.models.camera_select import select_uint8
from stae_ros.sensitivity.camera import guided_select_uint8
from stae_ros.sensitivity.guidance import GuidanceRules, GuidanceSlot

from .base import (Classified, Decoded, EncodedClip, ModeContext, Timer, Validated, check_budget, check_clip,
                   freeze_settings, state_identity)
from .errors import BudgetError, ClipShapeError

__all__ = ["NAME", "PxCamera", "PxEdge", "camera", "edge"]

NAME = px_codec.CODEC_NAME


class PxCamera:
    """FA + SA select, then the stae-px codec. Options (ModeContext.options): ``layout``, ``zstd_level``,
    ``value_bits`` (< 8 quantises kept values, error <= 2**(7-bits): 6 bits stays under camera noise
    and saves ~25% of the bytes)."""

    name = NAME
    version = px_codec.CODEC_VERSION
    uses_budget = True

    def __init__(self, ctx: ModeContext) -> None:
        opts = ctx.options
        value_bits = opts.get("value_bits", 8)
        if not isinstance(value_bits, (int, np.integer)) or not 1 <= int(value_bits) <= 8:
            raise BudgetError(f"value_bits must be in [1, 8], got {value_bits}")
        self.value_bits = int(value_bits)
        self.layout = str(opts.get("layout", "fast"))
        self.zstd_level = int(opts.get("zstd_level", px_codec.DEFAULT_LEVEL))
        self.model = ctx.loaded.model.eval()
        self.shape = ctx.stae_shape
        self.class_names = list(ctx.loaded.class_names)
        self.model_id = state_identity(ctx.loaded)
        budgets = ctx.loaded.config.budgets
        self.k, self.p = int(budgets.frame[0]), float(budgets.spatial[0])
        self.guidance = GuidanceSlot(self.model_id, NAME, ctx.options.get("guidance"))

    @property
    def settings(self) -> Mapping[str, Any]:
        return {}

    def validate(self, k: int, p: float, settings: Mapping[str, Any]) -> Validated:
        knobs = freeze_settings(settings)
        if knobs:
            raise BudgetError(f"{NAME} has no run-time codec settings (got {sorted(knobs)}); its budget is K and p")
        k, p = check_budget(k, p, self.shape[0])
        return Validated(NAME, k, p, {})

    def apply(self, validated: Validated) -> None:
        self.k, self.p = validated.k, validated.p

    def select(self, clip: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Frame indices (K,) and pixel mask (K,H,W) the attention modules keep for this clip."""
        check_clip(clip, self.shape, "model's")
        guide = self.guidance.for_clip(clip) if self.p < 1.0 else None
        if guide is not None:
            return guided_select_uint8(self.model, clip, self.k, self.p, guide, self.guidance.rules.weight)
        return select_uint8(self.model, clip, self.k, self.p)

    def set_guidance(self, data: bytes | None, rules: GuidanceRules | None = None) -> str | None:
        """An edge sensitivity map (wire bytes) to steer SA with; None = accepted, else why it was refused."""
        return self.guidance.offer(data, rules)

    def encode(self, clip: np.ndarray) -> EncodedClip:
        timer = Timer()
        indices, mask = self.select(clip)
        select_ms = timer.ms()
        frames = clip if len(indices) == len(clip) else clip[indices]  # K = T keeps every frame: no copy
        payload = px_codec.SemanticPayload.from_dense(frames, mask, indices, self.shape, self.p)
        data = px_codec.encode(payload, layout=self.layout, level=self.zstd_level, bits=self.value_bits)
        total = timer.ms()
        return EncodedClip(payload=data, codec=NAME, codec_version=self.version, k=self.k, p=self.p,
                           frame_indices=tuple(int(i) for i in indices), camera_ms=total, select_ms=select_ms,
                           encode_ms=total - select_ms, model_id=self.model_id, settings={})

    def describe(self) -> str:
        return f"{NAME} K={self.k} p={self.p:g} ({self.model_id})"


class PxEdge:
    """Decode (per message) -> zero-fill + mask -> FR -> ViT (batched)."""

    name = NAME

    def __init__(self, ctx: ModeContext) -> None:
        self.device = ctx.device if ctx.device is not None else torch.device("cpu")
        self.model = ctx.loaded.model.to(self.device).eval()
        self.shape = ctx.stae_shape
        T, H, W, C = self.shape
        self.limits = ctx.options.get("limits") or px_codec.DecodeLimits(
            max_frames=T, max_height=H, max_width=W, max_channels=C)
        self.class_names = list(ctx.loaded.class_names)
        self.model_id = state_identity(ctx.loaded)

    def decode(self, data: bytes) -> Decoded:
        payload = px_codec.decode(bytes(data), limits=self.limits)
        if tuple(payload.clip_shape) != self.shape:
            raise ClipShapeError(f"payload clip shape {tuple(payload.clip_shape)} does not match the model's {self.shape}")
        clip, mask = payload.to_dense()
        return Decoded((clip, mask), int(payload.k), float(payload.p))

    @torch.inference_mode()
    def classify(self, items: list[Decoded], keep_recovered: bool = False) -> Classified:
        clips = np.stack([d.data[0] for d in items])
        masks = np.stack([d.data[1] for d in items])
        x = torch.from_numpy(clips).to(self.device).permute(0, 4, 1, 2, 3).float().div_(255.0)
        m = torch.from_numpy(masks).to(self.device).unsqueeze(1).float()
        recovered = self.model.recover(x, m) if bool((m < 1).any()) else x
        logits = self.model.classify(recovered)
        rec = None
        if keep_recovered:
            rec_np = (recovered.clamp(0, 1) * 255.0).round().byte().permute(0, 2, 3, 4, 1).cpu().numpy()
            rec = list(rec_np)
        return Classified(logits, rec)

    def guidance_input(self, item: Decoded) -> tuple[torch.Tensor, Any]:
        """The recovered clip 1,3,T,H,W the ViT classifies, and the ViT (for the sensitivity map)."""
        clip, mask = item.data
        with torch.no_grad():
            x = torch.from_numpy(clip[None]).to(self.device).permute(0, 4, 1, 2, 3).float().div_(255.0)
            m = torch.from_numpy(mask[None]).to(self.device).unsqueeze(1).float()
            rec = self.model.recover(x, m) if bool((m < 1).any()) else x
        return rec.clamp(0, 1), self.model.classify


def camera(ctx: ModeContext) -> PxCamera:
    return PxCamera(ctx)


def edge(ctx: ModeContext) -> PxEdge:
    return PxEdge(ctx)
