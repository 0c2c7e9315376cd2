"""Label-preserving augmentation for motion-defined action classes.

Deliberately no time reversal, and no horizontal flip unless configured (``hflip``): the
synthetic classes (and many HMDB51 ones) come in left/right, clockwise/counter-clockwise and
approach/recede pairs, which those transforms would swap. Sets whose classes mirror onto
themselves (Weizmann: people walk and wave both ways) gain a flip for free.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .config import AugmentConfig

__all__ = ["augment_batch"]


def augment_batch(clips: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    """Augment float clips ``B,C,T,H,W`` in [0,1]; same transform for all frames of a clip."""
    b = clips.shape[0]
    out = clips
    if cfg.shift > 0:
        s = int(cfg.shift)
        h, w = clips.shape[-2:]
        padded = F.pad(out.flatten(1, 2), (s, s, s, s), mode="replicate").view(*out.shape[:3], h + 2 * s, w + 2 * s)
        offs = torch.randint(0, 2 * s + 1, (b, 2), generator=gen)
        out = torch.stack([padded[i, :, :, oy : oy + h, ox : ox + w] for i, (oy, ox) in enumerate(offs.tolist())])
    if cfg.hflip > 0:
        flip = torch.rand(b, generator=gen) < cfg.hflip
        if bool(flip.any()):
            out = torch.where(flip.view(b, 1, 1, 1, 1).to(out.device), out.flip(-1), out)
    shape = (b, 1, 1, 1, 1)
    if cfg.contrast > 0:
        factor = 1.0 + (torch.rand(shape, generator=gen) * 2 - 1) * cfg.contrast
        mean = out.mean(dim=(1, 2, 3, 4), keepdim=True)
        out = (out - mean) * factor.to(out) + mean
    if cfg.brightness > 0:
        out = out + ((torch.rand(shape, generator=gen) * 2 - 1) * cfg.brightness).to(out)
    if cfg.noise > 0:
        out = out + torch.randn(out.shape, generator=gen).to(out) * cfg.noise
    if out is clips:
        return clips
    return out.clamp(0.0, 1.0)
