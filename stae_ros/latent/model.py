"""Camera-side latent encoder (3D conv with FA/SA-style gates), factorised prior, edge-side head.

Why this shape: the camera must stay under ~25 ms per clip on one thread, so the encoder
patchifies 4x4 first and works at 16x16 then 8x8; frame differences are fed in as extra
channels because the classes are defined by motion. The frame gate (FA-style: pooled per-frame
features -> MLP -> sigmoid) and the spatial gate (SA-style: channel max+mean -> conv ->
sigmoid) let the encoder spend latent capacity on the frames and places the classifier needs;
the rate term then zeroes whatever the gates suppress, which is what makes it cheap to code.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .entropy import FactorizedLogistic

__all__ = ["LatentConfig", "LatentEncoder", "LatentHead", "LatentModel"]


@dataclass
class LatentConfig:
    """Sizes of the latent model (config/latent_*.yaml `model:` section)."""

    frames: int = 16
    height: int = 64
    width: int = 64
    num_classes: int = 8
    enc_width: int = 16  #: channels after the stem; doubled after the first 3D conv
    latent_channels: int = 16
    head_width: int = 64
    support: int = 15  #: symbols are clamped to [-support, support]

    def latent_shape(self) -> tuple[int, int, int, int]:
        """C, t, h, w of the latent: time /4, space /16."""
        return (self.latent_channels, -(-self.frames // 4), -(-self.height // 16), -(-self.width // 16))

    def to_dict(self) -> dict:
        return asdict(self)


class FrameGate(nn.Module):
    """FA-style gate: one weight in (0,1) per time step from pooled features."""

    def __init__(self, channels: int, hidden: int = 16) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(2 * channels, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([x.mean(dim=(3, 4)), x.amax(dim=(3, 4))], dim=1)  # B,2C,T
        g = torch.sigmoid(self.mlp(pooled.transpose(1, 2)))  # B,T,1
        return x * g.transpose(1, 2)[..., None, None]  # B,1,T,1,1


class SpatialGate(nn.Module):
    """SA-style gate: one weight in (0,1) per position from channel max and mean."""

    def __init__(self, kernel: int = 5) -> None:
        super().__init__()
        self.conv = nn.Conv3d(2, 1, kernel_size=(1, kernel, kernel), padding=(0, kernel // 2, kernel // 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        desc = torch.cat([x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.conv(desc))


class LatentEncoder(nn.Module):
    """clip B,3,T,H,W in [0,1] -> continuous latent B,C,T/4,H/16,W/16 (the camera's whole job)."""

    def __init__(self, cfg: LatentConfig) -> None:
        super().__init__()
        w = cfg.enc_width
        self.stem = nn.Conv3d(6, w, kernel_size=(2, 4, 4), stride=(2, 4, 4))
        self.conv = nn.Conv3d(w, 2 * w, kernel_size=3, padding=1, stride=(1, 2, 2))
        self.frame_gate = FrameGate(2 * w)
        self.spatial_gate = SpatialGate()
        self.out = nn.Conv3d(2 * w, cfg.latent_channels, kernel_size=3, padding=1, stride=(2, 2, 2))

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        diff = torch.diff(clip, dim=2, prepend=clip[:, :, :1])
        x = torch.cat([clip * 2.0 - 1.0, diff * 4.0], dim=1)
        x = F.relu(self.stem(x))
        x = F.relu(self.conv(x))
        x = self.spatial_gate(self.frame_gate(x))
        return self.out(x)


class LatentHead(nn.Module):
    """Edge side: quantised latent -> logits (the latent decoder and the classifier in one)."""

    def __init__(self, cfg: LatentConfig) -> None:
        super().__init__()
        c, h = cfg.latent_channels, cfg.head_width
        self.body = nn.Sequential(
            nn.Conv3d(c, h, kernel_size=3, padding=1),
            nn.BatchNorm3d(h),
            nn.ReLU(inplace=True),
            nn.Conv3d(h, h, kernel_size=3, padding=1),
            nn.BatchNorm3d(h),
            nn.ReLU(inplace=True),
        )
        self.fc = nn.Sequential(nn.Dropout(0.1), nn.Linear(2 * h, cfg.num_classes))

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        x = self.body(latent)
        return self.fc(torch.cat([x.mean(dim=(2, 3, 4)), x.amax(dim=(2, 3, 4))], dim=1))


class LatentModel(nn.Module):
    """Encoder + factorised prior + head; `forward` returns (logits, estimated bits per clip)."""

    def __init__(self, cfg: LatentConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = LatentEncoder(cfg)
        self.prior = FactorizedLogistic(cfg.latent_channels, cfg.support)
        self.head = LatentHead(cfg)

    def forward(self, clip: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = self.encoder(clip)
        y_hat = self.prior.quantize(y, training=self.training)
        if not self.training:
            y_hat = y_hat.detach()
        return self.head(y_hat), self.prior.bits(y_hat)

    def encoder_params(self) -> int:
        return sum(p.numel() for p in self.encoder.parameters())
