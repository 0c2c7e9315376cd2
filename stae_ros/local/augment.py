"""Augmentation of the local classifier on top of the shared one (stae_ros.training.augment).

A small network trained from scratch overfits first, so it gets more than shift/brightness/contrast:
a random zoom (scale jitter, the same crop for all frames of a clip, which also translates it) and
a random temporal offset that replays the clip from a later frame with the last frames held (a
start-time jitter that keeps the direction of time). The horizontal flip is the shared one
(``augment.hflip``, a probability, for sets whose classes are mirror-symmetric).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = ["LocalAugment", "augment_local"]


@dataclass
class LocalAugment:
    scale: float = 0.0  #: max zoom-in: crop side drawn in [1 - scale, 1] of the frame, resized back
    time_shift: int = 0  #: max frames the clip start moves later (the last frame is held)


def augment_local(clips: torch.Tensor, cfg: LocalAugment, gen: torch.Generator) -> torch.Tensor:
    """Float clips B,C,T,H,W in [0,1] -> augmented clips of the same shape (per-clip draws)."""
    b, c, t, h, w = clips.shape
    out = clips
    if cfg.time_shift > 0:
        shifts = torch.randint(0, cfg.time_shift + 1, (b,), generator=gen)
        idx = (torch.arange(t)[None, :] + shifts[:, None]).clamp(max=t - 1)  # B,T
        out = out.gather(2, idx[:, None, :, None, None].expand(b, c, t, h, w))
    if cfg.scale > 0:
        # one batched resample: a random crop of side s in [1 - scale, 1] at a random place, per clip
        side = 1.0 - torch.rand(b, generator=gen) * cfg.scale
        centre = (torch.rand(b, 2, generator=gen) * 2 - 1) * (1 - side)[:, None]
        theta = torch.zeros(b, 2, 3)
        theta[:, 0, 0], theta[:, 1, 1] = side, side
        theta[:, 0, 2], theta[:, 1, 2] = centre[:, 0], centre[:, 1]
        grid = F.affine_grid(theta.to(out), [b, c * t, h, w], align_corners=False)
        out = F.grid_sample(out.reshape(b, c * t, h, w), grid, mode="bilinear", padding_mode="border",
                            align_corners=False).view(b, c, t, h, w)
    return out
