"""stae-px: the paper's payload. The camera keeps K frames and a fraction p of their pixels (FA + SA of
the STAE checkpoint) and entropy-codes them; the edge rebuilds the clip (FR) and classifies it, with the
checkpoint's ViT or, when the mode has its own model file (``model_files["stae-px"]``), with an edge
classifier adapted to this checkpoint's recovered clips (`stae train` mode ``stae-px-edge``). Why the
second: the ViT is sized for the paper's small clips, while the edge host can run a classifier that the
camera never could, and the FR output is only worth what the classifier behind it makes of it.

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
                   freeze_settings, load_mode_file, state_identity)
from .errors import BudgetError, ClipShapeError, PipelineError

__all__ = ["NAME", "PxCamera", "PxEdge", "camera", "edge"]

NAME = px_codec.CODEC_NAME


def _digest(model_id: str) -> str:
    """The content part of a model id (``name:sha12`` -> ``sha12``): a renamed copy is the same model."""
    return str(model_id).rpartition(":")[2]


def edge_classifier_file(ctx: ModeContext) -> Any:
    """The mode's own edge classifier file, or None when none is configured.

    The file must say it was adapted to the recovered clips of *this* STAE checkpoint
    (``extra.adapted_to``): FR's output is what it learned to read, so a classifier adapted to another
    checkpoint's FR would label confidently and wrongly. Any mismatch is a PipelineError naming both."""
    if not ctx.model_file(NAME):
        return None
    from stae_ros.local import LocalModelError, load_local_model

    _, file = load_mode_file(NAME, ctx.model_file(NAME), "", load_local_model, LocalModelError)
    stae_id = state_identity(ctx.loaded)
    adapted = file.extra.get("adapted_to") if isinstance(file.extra.get("adapted_to"), dict) else {}
    if adapted.get("mode") != NAME or _digest(adapted.get("stae_model", "")) != _digest(stae_id):
        made_for = f"{adapted.get('mode')} on {adapted.get('stae_model')}" if adapted else "raw clips (no adapted_to)"
        raise PipelineError(f"the {NAME} classifier {file.model_id} was adapted to {made_for}; this host's STAE "
                            f"checkpoint is {stae_id} (train one with `stae train` mode stae-px-edge)")
    if tuple(file.shape) != tuple(ctx.stae_shape):
        raise PipelineError(f"the {NAME} classifier {file.model_id} was trained on {file.shape} clips, the STAE "
                            f"checkpoint's are {tuple(ctx.stae_shape)}")
    return file


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
        own = edge_classifier_file(ctx)  # named in every clip: the edge labels with it
        self.class_names = list(own.class_names if own else ctx.loaded.class_names)
        self.model_id = own.model_id if own else state_identity(ctx.loaded)
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
    """Decode (per message) -> zero-fill + mask -> FR -> ViT or the mode's edge classifier (batched)."""

    name = NAME

    def __init__(self, ctx: ModeContext) -> None:
        self.device = ctx.device if ctx.device is not None else torch.device("cpu")
        self.model = ctx.loaded.model.to(self.device).eval()
        self.shape = ctx.stae_shape
        T, H, W, C = self.shape
        self.limits = ctx.options.get("limits") or px_codec.DecodeLimits(
            max_frames=T, max_height=H, max_width=W, max_channels=C)
        own = edge_classifier_file(ctx)
        self.classifier = own.model.to(self.device).eval() if own else None
        self.class_names = list(own.class_names if own else ctx.loaded.class_names)
        self.model_id = own.model_id if own else state_identity(ctx.loaded)

    def decode(self, data: bytes) -> Decoded:
        payload = px_codec.decode(bytes(data), limits=self.limits)
        if tuple(payload.clip_shape) != self.shape:
            raise ClipShapeError(f"payload clip shape {tuple(payload.clip_shape)} does not match the model's {self.shape}")
        clip, mask = payload.to_dense()
        return Decoded((clip, mask), int(payload.k), float(payload.p))

    def recover(self, items: list[Decoded]) -> torch.Tensor:
        """The clips FR rebuilds from the decoded payloads, float N,3,T,H,W (unclamped, as the ViT reads them)."""
        clips = np.stack([d.data[0] for d in items])
        masks = np.stack([d.data[1] for d in items])
        x = torch.from_numpy(clips).to(self.device).permute(0, 4, 1, 2, 3).float().div_(255.0)
        m = torch.from_numpy(masks).to(self.device).unsqueeze(1).float()
        return self.model.recover(x, m) if bool((m < 1).any()) else x

    def logits(self, recovered: torch.Tensor) -> torch.Tensor:
        """The ViT's logits on FR's output, or the edge classifier's on it as 8-bit frames (what it was
        adapted to: `stae train` mode stae-px-edge stores the recovered clips as uint8)."""
        if self.classifier is None:
            return self.model.classify(recovered)
        return self.classifier(recovered.clamp(0, 1).mul(255.0).round().div(255.0))

    @torch.inference_mode()
    def classify(self, items: list[Decoded], keep_recovered: bool = False) -> Classified:
        recovered = self.recover(items)
        logits = self.logits(recovered)
        rec = None
        if keep_recovered:
            rec_np = (recovered.clamp(0, 1) * 255.0).round().byte().permute(0, 2, 3, 4, 1).cpu().numpy()
            rec = list(rec_np)
        return Classified(logits, rec)

    def guidance_input(self, item: Decoded) -> tuple[torch.Tensor, Any]:
        """The recovered clip 1,3,T,H,W the classifier reads, and the classifier (for the sensitivity map)."""
        with torch.no_grad():
            rec = self.recover([item])
        # no 8-bit rounding here: its gradient is zero, and the map is the gradient of the logits
        return rec.clamp(0, 1), (self.model.classify if self.classifier is None else self.classifier)


def camera(ctx: ModeContext) -> PxCamera:
    return PxCamera(ctx)


def edge(ctx: ModeContext) -> PxEdge:
    return PxEdge(ctx)
