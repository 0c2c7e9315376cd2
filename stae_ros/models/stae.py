"""STAE: FA + SA (camera side) and FR + ViT (edge side) composed, with the paper's training stages.

Inference (``select`` / ``assemble`` / ``scatter`` / ``recover`` / ``classify``) is hard: exactly K
frames in temporal order and exactly ``budget_pixels(p, H, W)`` pixels per kept frame.

Training (``forward(clip, k, p, stage)``) keeps the *same* hard selection in the forward pass and
lets gradients reach the scores with a straight-through estimator: the kept content is multiplied
by ``hard + (s - s.detach())``, which equals the hard 0/1 mask exactly in the forward pass and has
gradient ``dL/ds = sum_c x * dL/dx'`` for *every* frame/pixel (dropped ones included: it says
what including them would change). So training sees exactly what inference sends.

Stages (paper, Sec. III-C, "step-by-step"):
  - ``classifier``: ViT on full clips; FA, SA, FR frozen.
  - ``fa``: FA trainable, everything else frozen (classifier frozen); frame selection only, p is
    ignored (the paper trains FA with the frame budget alone).
  - ``sa``: SA trainable, FA hard and frozen, classifier frozen.
  - ``fr``: FA, SA frozen (hard selection); FR and ViT fine-tuned on recovered clips.
During ``fa``/``sa``/``fr`` training, draw (K, p) per batch with ``sample_budget(stage)`` so one
model serves every operating point.
"""

from __future__ import annotations

import logging
from typing import Iterator

import torch
from torch import Tensor, nn

from .config import ModelConfig, budget_pixels
from .errors import BudgetError, ShapeError, StageError
from .fa import FrameAttention
from .fr import FrameRecovery
from .motion import frame_difference, previous_frame_indices
from .sa import SpatialAttention
from .temporal import interpolate_missing_frames, neighbour_blend
from .selection import Selection, gather_frames, place_frames, top_k_frames, top_pixels_mask
from .vit import VideoViT

__all__ = ["STAE", "STAGES"]

log = logging.getLogger(__name__)

STAGES: tuple[str, ...] = ("classifier", "fa", "sa", "fr")

#: sub-modules trained in each stage (all others frozen)
_TRAINABLE: dict[str, tuple[str, ...]] = {
    "classifier": ("vit",),
    "fa": ("fa",),
    "sa": ("sa",),
    "fr": ("fr", "vit"),
}


class STAE(nn.Module):
    """The whole model; ``.fa .sa .fr .vit`` are the four modules."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.fa = FrameAttention(cfg.fa, cfg.clip)
        self.sa = SpatialAttention(cfg.sa)
        self.fr = FrameRecovery(cfg.fr, cfg.clip)
        self.vit = VideoViT(cfg.vit, cfg.clip)
        self.stage: str | None = None

    # ------------------------------------------------------------------ checks
    def _check_clip(self, clip: Tensor) -> None:
        c = self.cfg.clip
        want = (c.channels, c.frames, c.height, c.width)
        if clip.dim() != 5 or tuple(clip.shape[1:]) != want:
            raise ShapeError(f"expected a clip B,{want[0]},{want[1]},{want[2]},{want[3]}, got {tuple(clip.shape)}")

    def _check_budget(self, k: int, p: float) -> int:
        t = self.cfg.clip.frames
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= t:
            raise BudgetError(f"frame budget K must be an integer in 1..{t}, got {k!r}")
        return budget_pixels(p, self.cfg.clip.height, self.cfg.clip.width)

    # ------------------------------------------------------------------ camera side
    def _motion(self, clip: Tensor, indices: Tensor, every_frame: bool = False) -> Tensor | None:
        """``|x_t - x_{t-1}|`` of the full clip at the kept indices (SA's motion input).

        ``every_frame``: the indices are all of 0..T-1, so it is the clip's own frame difference
        (the same values, without gathering the clip twice).
        """
        if not self.cfg.sa.motion:
            return None
        if every_frame:
            return frame_difference(clip)
        if clip.shape[2] < 2:
            return torch.zeros_like(gather_frames(clip, indices))
        return (gather_frames(clip, indices) - gather_frames(clip, previous_frame_indices(indices))).abs()

    @torch.no_grad()
    def select(self, clip: Tensor, k: int, p: float) -> Selection:
        """Hard selection: top-K frames (temporal order), top ``budget_pixels`` pixels per kept frame."""
        self._check_clip(clip)
        n = self._check_budget(k, p)
        b, _, t, h, w = clip.shape
        every_frame = k == t  # FA cannot change the result and no frame needs gathering
        if every_frame:
            indices = torch.arange(t, device=clip.device).unsqueeze(0).repeat(b, 1)
        else:
            indices = top_k_frames(self.fa.logits(clip), k)
        if n >= h * w:
            mask = torch.ones(b, k, h, w, dtype=torch.bool, device=clip.device)
        else:
            frames = clip if every_frame else gather_frames(clip, indices)
            mask = top_pixels_mask(self.sa.logits(frames, self._motion(clip, indices, every_frame)), n)
        return Selection(indices, mask)

    def assemble(self, clip: Tensor, selection: Selection) -> tuple[Tensor, Tensor]:
        """Zero-filled clip and mask ``B,1,T,H,W`` with the kept pixels at their time indices."""
        self._check_clip(clip)
        return self.scatter(gather_frames(clip, selection.frame_indices), selection, clip.shape[2])

    # ------------------------------------------------------------------ edge side
    def scatter(self, frames: Tensor, selection: Selection, t: int) -> tuple[Tensor, Tensor]:
        """Put decoded kept frames ``B,C,K,H,W`` back into a zero clip of ``t`` frames (+ mask)."""
        idx, mask = selection.frame_indices, selection.mask
        if frames.dim() != 5 or mask.dim() != 4 or idx.dim() != 2:
            raise ShapeError(f"scatter needs frames B,C,K,H,W, indices B,K, mask B,K,H,W; got "
                             f"{tuple(frames.shape)}, {tuple(idx.shape)}, {tuple(mask.shape)}")
        b, _, k, h, w = frames.shape
        if tuple(idx.shape) != (b, k) or tuple(mask.shape) != (b, k, h, w):
            raise ShapeError(f"selection (indices {tuple(idx.shape)}, mask {tuple(mask.shape)}) does not match frames {tuple(frames.shape)}")
        if k and (int(idx.min()) < 0 or int(idx.max()) >= t):
            raise ShapeError(f"frame indices must be in 0..{t - 1}, got {idx.min().item()}..{idx.max().item()}")
        idx = idx.to(frames.device).long()
        m = mask.to(device=frames.device, dtype=frames.dtype)[:, None]
        return place_frames(frames * m, idx, t), place_frames(m, idx, t)

    def recover(self, zero_filled: Tensor, mask: Tensor) -> Tensor:
        """FR: fill the missing pixels/frames; arrived pixels are returned unchanged."""
        return self.fr(zero_filled, mask)

    def fill_dropped_frames(self, clip: Tensor, kept: Tensor) -> Tensor:
        """The frames FA dropped (``kept`` ``B,T`` False), filled as FR will fill them at the edge.

        FA and SA train before FR, against a classifier that sees this: with ``fr.frame_fill:
        linear`` the blend of the kept neighbours, otherwise zeros (the paper), so the frames
        they learn to keep are the ones that work with the fill the edge will use.
        """
        if self.cfg.fr.frame_fill == "linear":
            return interpolate_missing_frames(clip, kept)
        return clip

    def classify(self, clip: Tensor) -> Tensor:
        """ViT logits ``B,num_classes``."""
        return self.vit(clip)

    # ------------------------------------------------------------------ training paths
    def forward(self, clip: Tensor, k: int | None = None, p: float = 1.0, stage: str = "classifier") -> Tensor:
        """Logits along the training path of ``stage`` (see module doc); ``k=None`` means all frames."""
        if stage not in STAGES:
            raise StageError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}")
        self._check_clip(clip)
        t = clip.shape[2]
        k = t if k is None else k
        n = self._check_budget(k, p)
        if stage == "classifier":
            return self.classify(clip)
        if stage == "fa":
            s = self.fa(clip)  # B,T
            hard = torch.zeros_like(s).scatter(1, top_k_frames(s.detach(), k), 1.0)
            weight = (hard + (s - s.detach()))[:, None, :, None, None]
            if self.cfg.fr.frame_fill == "linear":
                reference = neighbour_blend(clip, hard > 0.5)
                return self.classify(reference + weight * (clip - reference))
            return self.classify(clip * weight)
        if stage == "sa":
            with torch.no_grad():
                indices = top_k_frames(self.fa.logits(clip), k)
            frames = gather_frames(clip, indices)
            s = self.sa(frames, self._motion(clip, indices))  # B,K,H,W
            hard = top_pixels_mask(s.detach(), n).to(s.dtype)
            weight = hard + (s - s.detach())
            kept = torch.zeros(clip.shape[0], t, dtype=torch.bool, device=clip.device).scatter(1, indices, True)
            return self.classify(self.fill_dropped_frames(place_frames(frames * weight[:, None], indices, t), kept))
        with torch.no_grad():
            zero_filled, mask = self.assemble(clip, self.select(clip, k, p))
        return self.classify(self.recover(zero_filled, mask))

    def sample_budget(self, stage: str, generator: torch.Generator | None = None) -> tuple[int, float]:
        """Draw (K, p) for one training batch of ``stage``.

        ``fa``: K from the frame budgets, p = 1. ``sa``: K from the frame budgets, p from the
        spatial budgets below 1 (p = 1 keeps every pixel: nothing for SA to learn). ``fr``: both
        from their sets. ``classifier``: the full clip.
        """
        if stage not in STAGES:
            raise StageError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}")
        frames = self.cfg.budgets.frame
        spatial = self.cfg.budgets.spatial
        if stage == "classifier":
            return self.cfg.clip.frames, 1.0

        def pick(options: list) -> object:
            return options[int(torch.randint(len(options), (1,), generator=generator))]

        k = int(pick(frames))  # type: ignore[arg-type]
        if stage == "fa":
            return k, 1.0
        if stage == "sa":
            below = [q for q in spatial if q < 1.0] or spatial
            return k, float(pick(below))  # type: ignore[arg-type]
        return k, float(pick(spatial))  # type: ignore[arg-type]

    # ------------------------------------------------------------------ freezing
    def freeze(self, stage: str) -> list[str]:
        """Set ``requires_grad`` per the step-by-step schedule; returns the trainable module names.

        Frozen modules are also kept in eval mode by ``train()`` (no dropout noise in a frozen
        classifier while FA/SA learn against it).
        """
        if stage not in STAGES:
            raise StageError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}")
        trainable = _TRAINABLE[stage]
        for name, module in self._parts():
            module.requires_grad_(name in trainable)
        self.stage = stage
        self.train(self.training)
        log.debug("stage %s: trainable %s", stage, trainable)
        return list(trainable)

    def _parts(self) -> Iterator[tuple[str, nn.Module]]:
        yield from (("fa", self.fa), ("sa", self.sa), ("fr", self.fr), ("vit", self.vit))

    def train(self, mode: bool = True) -> "STAE":
        super().train(mode)
        if mode and self.stage is not None:
            trainable = _TRAINABLE[self.stage]
            for name, module in self._parts():
                if name not in trainable:
                    module.eval()
        return self
