"""Augmentation of the local classifier on top of the shared one (stae_ros.training.augment).

A small network trained from scratch overfits first, so it gets more than shift/brightness/contrast:
a random zoom (scale jitter, the same crop for all frames of a clip), an optional horizontal flip
(off by default: the synthetic set's left/right classes would swap; on for sets whose classes are
mirror-symmetric, like human actions), and a random temporal offset that replays the clip from a
later frame with the last frames held (a start-time jitter that keeps the direction of time).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = ["LocalAugment", "augment_local"]


@dataclass
class LocalAugment:
    scale: float = 0.0  #: max zoom-in: crop side drawn in [1 - scale, 1] of the frame, resized back
    hflip: bool = False  #: random horizontal flip (only for mirror-symmetric classes)
    time_shift: int = 0  #: max frames the clip start moves later (the last frame is held)


def augment_local(clips: torch.Tensor, cfg: LocalAugment, gen: torch.Generator) -> torch.Tensor:
    """Float clips B,C,T,H,W in [0,1] -> augmented clips of the same shape (per-clip draws)."""
    b, c, t, h, w = clips.shape
    out = clips
    if cfg.time_shift > 0:
        shifts = torch.randint(0, cfg.time_shift + 1, (b,), generator=gen)
        idx = (torch.arange(t)[None, :] + shifts[:, None]).clamp(max=t - 1)  # B,T
        out = torch.stack([out[i][:, idx[i]] for i in range(b)])
    if cfg.scale > 0:
        sides = 1.0 - torch.rand(b, generator=gen) * cfg.scale
        crops = []
        for i in range(b):
            ch, cw = max(2, int(round(h * float(sides[i])))), max(2, int(round(w * float(sides[i]))))
            y0 = int(torch.randint(0, h - ch + 1, (1,), generator=gen))
            x0 = int(torch.randint(0, w - cw + 1, (1,), generator=gen))
            crop = out[i][:, :, y0 : y0 + ch, x0 : x0 + cw]
            crops.append(F.interpolate(crop, size=(h, w), mode="bilinear", align_corners=False) if (ch, cw) != (h, w) else crop)
        out = torch.stack(crops)
    if cfg.hflip:
        flip = torch.rand(b, generator=gen) < 0.5
        if bool(flip.any()):
            out = torch.where(flip[:, None, None, None, None], out.flip(-1), out)
    return out
