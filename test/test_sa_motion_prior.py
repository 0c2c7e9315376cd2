"""sa.init: motion: SA keeps the moving pixels before any training (real footage, static camera)."""

from __future__ import annotations

import pytest
import torch

from stae_ros.models.errors import ConfigError
from stae_ros.models.config import SAConfig
from stae_ros.models.sa import SpatialAttention
from stae_ros.models.selection import top_pixels_mask


def _clip_with_mover(t: int = 4, h: int = 24, w: int = 24) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Bright static texture everywhere, and a dark 3x3 square moving one pixel right per frame."""
    g = torch.Generator().manual_seed(0)
    frames = 0.6 + 0.4 * torch.rand(1, 3, 1, h, w, generator=g).expand(1, 3, t, h, w).clone()
    for i in range(t):
        frames[0, :, i, 10:13, 5 + i : 8 + i] = 0.05
    motion = torch.zeros_like(frames)
    motion[:, :, 1:] = (frames[:, :, 1:] - frames[:, :, :-1]).abs()
    moving = motion.amax(1)[0] > 0.1
    return frames, motion, moving


def test_motion_prior_keeps_the_moving_pixels() -> None:
    frames, motion, moving = _clip_with_mover()
    sa = SpatialAttention(SAConfig(kernel_size=7, motion=True, init="motion"))
    with torch.no_grad():
        scores = sa.logits(frames, motion)
    n = 24  # fewer pixels than the frame, more than the motion of one frame (6 + a ring)
    mask = top_pixels_mask(scores, n)[0]
    assert moving[1:].sum() > 0
    assert bool(mask[1:][moving[1:]].all())  # every moving pixel kept in every frame with motion
    random_sa = SpatialAttention(SAConfig(kernel_size=7, motion=True))
    with torch.no_grad():
        kept_random = top_pixels_mask(random_sa.logits(frames, motion), n)[0][1:][moving[1:]].float().mean()
    assert kept_random < 1.0  # an untrained SA does not (the test can fail)


def test_motion_prior_config_is_checked() -> None:
    with pytest.raises(ConfigError, match="sa.init"):
        SAConfig(init="edges")
    with pytest.raises(ConfigError, match="sa.motion: true"):
        SAConfig(init="motion", motion=False)
    with pytest.raises(ConfigError, match="sa.hidden: 0"):
        SAConfig(init="motion", hidden=8)
