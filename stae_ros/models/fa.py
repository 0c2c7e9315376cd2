"""Frame attention (FA): which frames matter for the action.

Paper (Sec. III-A1): per-frame descriptors from max and average pooling -> shared MLP -> summed
-> sigmoid -> one score per frame. Pooling raw pixels only sees appearance, and here (as in
HMDB51) the class is decided by *motion* of a small region while backgrounds and distractors also
change. So before pooling, a tiny shared 2D conv runs on every frame stacked with its absolute
temporal difference, at reduced resolution (cheap on a Pi-class camera): a frame with the
decisive movement then has a high max-pooled response in some feature map. The shared MLP runs
*across frames* (input T values per feature map, output T), CBAM-style with frames in the role of
channels, so a frame's score can depend on its neighbours (e.g. the peak of the movement).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import ClipConfig, FAConfig
from .errors import ShapeError
from .motion import frame_difference

__all__ = ["FrameAttention"]


class FrameAttention(nn.Module):
    """``forward(clip B,C,T,H,W) -> scores B,T`` in (0,1); ``logits`` gives the pre-sigmoid values."""

    def __init__(self, cfg: FAConfig, clip: ClipConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.clip_cfg = clip
        in_ch = clip.channels * (2 if cfg.motion else 1)
        self.conv = nn.Sequential(nn.Conv2d(in_ch, cfg.feature_channels, 3, padding=1), nn.ReLU(inplace=True))
        self.mlp = nn.Sequential(nn.Linear(clip.frames, cfg.hidden), nn.ReLU(inplace=True), nn.Linear(cfg.hidden, clip.frames))
        self.mix = nn.Linear(cfg.feature_channels, 1)

    def _check(self, clip: Tensor) -> None:
        c = self.clip_cfg
        if clip.dim() != 5 or clip.shape[1] != c.channels or clip.shape[2] != c.frames:
            raise ShapeError(
                f"FrameAttention expects B,{c.channels},{c.frames},H,W clips, got {tuple(clip.shape)}"
            )

    def logits(self, clip: Tensor) -> Tensor:
        """Pre-sigmoid frame scores ``B,T`` (ranking on these avoids ties from saturated sigmoids)."""
        self._check(clip)
        x = clip
        ds = self.cfg.downsample
        if ds > 1:
            x = F.avg_pool3d(x, (1, ds, ds))
        if self.cfg.motion:
            x = torch.cat([x, frame_difference(x)], dim=1)
        b, ch, t, h, w = x.shape
        feat = self.conv(x.transpose(1, 2).reshape(b * t, ch, h, w))
        f = feat.shape[1]
        mx = feat.amax(dim=(2, 3)).view(b, t, f).transpose(1, 2)  # B,F,T
        av = feat.mean(dim=(2, 3)).view(b, t, f).transpose(1, 2)
        z = self.mlp(mx) + self.mlp(av)  # shared MLP across frames, summed
        return self.mix(z.transpose(1, 2)).squeeze(-1)  # B,T

    def forward(self, clip: Tensor) -> Tensor:
        return torch.sigmoid(self.logits(clip))
