"""Spatial attention (SA): which pixels of a kept frame matter.

Paper (Sec. III-A2): channel-wise max and mean of the frame -> conv -> sigmoid -> a score per
pixel. We add (config ``sa.motion``) the channel-wise max and mean of ``|frame_t - frame_{t-1}|``
as two more input maps: the camera holds the whole clip, the difference is nearly free, and the
decisive region is where the motion is. ``sa.hidden > 0`` inserts one hidden layer (k x k conv,
ReLU, 3x3 conv) for data where a single linear filter is too weak.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .config import SAConfig
from .errors import ShapeError
from .motion import frame_difference

__all__ = ["SpatialAttention"]


class SpatialAttention(nn.Module):
    """``forward(frames B,C,K,H,W, motion=None) -> scores B,K,H,W`` in (0,1).

    ``motion`` is ``|frame - previous frame of the full clip|`` for each kept frame (same shape as
    ``frames``); when omitted, differences between consecutive *given* frames are used instead.
    """

    def __init__(self, cfg: SAConfig) -> None:
        super().__init__()
        self.cfg = cfg
        in_ch = 4 if cfg.motion else 2
        k = cfg.kernel_size
        if cfg.hidden:
            self.net: nn.Module = nn.Sequential(
                nn.Conv2d(in_ch, cfg.hidden, k, padding=k // 2),
                nn.ReLU(inplace=True),
                nn.Conv2d(cfg.hidden, 1, 3, padding=1),
            )
        else:
            self.net = nn.Conv2d(in_ch, 1, k, padding=k // 2)

    def logits(self, frames: Tensor, motion: Tensor | None = None) -> Tensor:
        """Pre-sigmoid pixel scores ``B,K,H,W``."""
        if frames.dim() != 5:
            raise ShapeError(f"SpatialAttention expects frames B,C,K,H,W, got {tuple(frames.shape)}")
        b, c, k, h, w = frames.shape
        x = frames.transpose(1, 2).reshape(b * k, c, h, w)
        desc = [x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True)]
        if self.cfg.motion:
            if motion is None:
                motion = frame_difference(frames)
            elif motion.shape != frames.shape:
                raise ShapeError(f"motion must have the frames' shape {tuple(frames.shape)}, got {tuple(motion.shape)}")
            m = motion.transpose(1, 2).reshape(b * k, c, h, w)
            desc += [m.amax(dim=1, keepdim=True), m.mean(dim=1, keepdim=True)]
        return self.net(torch.cat(desc, dim=1)).view(b, k, h, w)

    def forward(self, frames: Tensor, motion: Tensor | None = None) -> Tensor:
        return torch.sigmoid(self.logits(frames, motion))
