"""Feature recovery (FR): fill in what the camera did not send.

Paper (Sec. III-B): input = zero-filled clip + mask (1 where a pixel arrived). Left branch: a 3D
CNN U-Net on a *downsampled* clip+mask (3D convs are expensive at full resolution) infers the
spatio-temporal structure. Right branch: a 3D-2D CNN on the full-resolution masked frames and
mask completes frame by frame; two conv layers extract two feature maps from the left output,
which are upsampled and *added* to the first and last layers of the right branch as temporal
guidance, because per-frame 2D convs alone ignore temporal coherence.

With ``frame_fill: linear`` a frame FA dropped is then the linear blend of the nearest kept
frames, which the CNN has just completed (``temporal.py`` says why).

Arrived pixels are passed through untouched (``where(mask, x, pred)``), so FR never degrades
what was transmitted. The downsampled left input is mask-normalised (mean of arrived pixels
per cell, not mean with zeros) so sparse budgets do not look like dark frames.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import ClipConfig, FRConfig
from .errors import ShapeError
from .temporal import interpolate_missing_frames, kept_frames

__all__ = ["FrameRecovery"]


def _conv3d(cin: int, cout: int, stride: tuple[int, int, int] = (1, 1, 1)) -> nn.Sequential:
    return nn.Sequential(nn.Conv3d(cin, cout, 3, stride=stride, padding=1), nn.ReLU(inplace=True))


class FrameRecovery(nn.Module):
    """``forward(zero_filled B,C,T,H,W, mask B,1,T,H,W) -> B,C,T,H,W`` in [0,1]."""

    def __init__(self, cfg: FRConfig, clip: ClipConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.clip_cfg = clip
        c, b, f = clip.channels, cfg.base_channels, cfg.frame_channels
        # left: 3D U-Net (one down/up level with a skip connection) at H/ds x W/ds
        self.enc1 = _conv3d(c + 1, b)
        self.down = _conv3d(b, 2 * b, stride=(1, 2, 2))
        self.mid = _conv3d(2 * b, 2 * b)
        self.dec1 = _conv3d(3 * b, b)
        # temporal guidance: two conv layers -> two feature maps (first / last right layer)
        self.guide_first = nn.Conv3d(b, f, 3, padding=1)
        self.guide_last = nn.Conv3d(b, f, 3, padding=1)
        # right: 3D-2D CNN at full resolution (first layer 3D, then per-frame 2D)
        self.first = nn.Conv3d(c + 1, f, 3, padding=1)
        self.frame_convs = nn.ModuleList(nn.Conv2d(f, f, 3, padding=1) for _ in range(cfg.frame_layers))
        self.out = nn.Conv2d(f, c, 1)

    def _check(self, x: Tensor, mask: Tensor) -> None:
        cc = self.clip_cfg
        want = (cc.channels, cc.frames, cc.height, cc.width)
        if x.dim() != 5 or tuple(x.shape[1:]) != want:
            raise ShapeError(f"FrameRecovery expects B,{want[0]},{want[1]},{want[2]},{want[3]}, got {tuple(x.shape)}")
        if mask.dim() != 5 or mask.shape[1] != 1 or mask.shape[0] != x.shape[0] or mask.shape[2:] != x.shape[2:]:
            raise ShapeError(f"mask must be B,1,T,H,W matching {tuple(x.shape)}, got {tuple(mask.shape)}")

    def forward(self, zero_filled: Tensor, mask: Tensor) -> Tensor:
        self._check(zero_filled, mask)
        m = mask.to(zero_filled.dtype)
        x = zero_filled * m
        b, c, t, h, w = x.shape
        ds = self.cfg.downsample
        # left branch on the downsampled, mask-normalised clip
        if ds > 1:
            m_small = F.avg_pool3d(m, (1, ds, ds))
            x_small = F.avg_pool3d(x, (1, ds, ds)) / m_small.clamp_min(1e-6)
        else:
            m_small, x_small = m, x
        e1 = self.enc1(torch.cat([x_small, m_small], dim=1))
        e2 = self.mid(self.down(e1))
        u = F.interpolate(e2, size=e1.shape[2:], mode="nearest")
        d1 = self.dec1(torch.cat([u, e1], dim=1))
        g_first = self.guide_first(d1)
        g_last = self.guide_last(d1)
        if ds > 1:
            g_first = F.interpolate(g_first, size=(t, h, w), mode="trilinear", align_corners=False)
            g_last = F.interpolate(g_last, size=(t, h, w), mode="trilinear", align_corners=False)
        # right branch at full resolution, guided at its first and last layer
        y = F.relu(self.first(torch.cat([x, m], dim=1)) + g_first)  # B,f,T,H,W
        fch = y.shape[1]
        y2 = y.transpose(1, 2).reshape(b * t, fch, h, w)
        g_last2 = g_last.transpose(1, 2).reshape(b * t, fch, h, w)
        n = len(self.frame_convs)
        for i, conv in enumerate(self.frame_convs):
            y2 = conv(y2)
            if i == n - 1:
                y2 = y2 + g_last2
            y2 = F.relu(y2)
        pred = torch.sigmoid(self.out(y2)).view(b, t, c, h, w).transpose(1, 2)
        filled = torch.where(m > 0.5, zero_filled, pred)
        if self.cfg.frame_fill == "linear":
            filled = interpolate_missing_frames(filled, kept_frames(m))
        return filled
