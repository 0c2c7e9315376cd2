"""Camera-side latent encoder (3D conv with FA/SA-style gates), factorised prior, edge-side head.

Split computing: the camera runs only the small bottleneck encoder; the edge runs the head. The
head is either the small 3D-conv classifier (``head_kind: conv``) or a transformer over the
latent grid (``head_kind: vit``) with the edge model's own block sizes, so that it can start from
the edge ViT's blocks and be distilled from it: the edge then does the heavy work, and the
payload's accuracy follows the edge model instead of a small head.

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

__all__ = ["LatentConfig", "LatentEncoder", "LatentHead", "LatentViTHead", "LatentModel", "HEAD_KINDS"]

#: edge heads: the small 3D-conv classifier, or a transformer over the latent grid
HEAD_KINDS = ("conv", "vit")


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
    time_stride: int = 4  #: latent time steps = frames / time_stride (2 or 4)
    space_stride: int = 16  #: latent grid = frame / space_stride (8 or 16)
    head_kind: str = "conv"  #: edge head: "conv" (head_width) or "vit" (head_dim, head_depth, ...)
    head_dim: int = 64  #: vit head: token width
    head_depth: int = 3  #: vit head: transformer blocks
    head_heads: int = 4
    head_mlp_ratio: float = 2.0
    head_pool: str = "max"  #: vit head: "max" or "mean" over the tokens
    head_dropout: float = 0.0

    def __post_init__(self) -> None:
        if self.time_stride not in (2, 4):
            raise ValueError(f"latent time_stride must be 2 or 4, got {self.time_stride}")
        if self.space_stride not in (8, 16):
            raise ValueError(f"latent space_stride must be 8 or 16, got {self.space_stride}")
        if self.head_kind not in HEAD_KINDS:
            raise ValueError(f"latent head_kind must be one of {list(HEAD_KINDS)}, got {self.head_kind!r}")
        if self.head_pool not in ("max", "mean"):
            raise ValueError(f"latent head_pool must be 'max' or 'mean', got {self.head_pool!r}")
        if self.head_kind == "vit" and (self.head_dim < 1 or self.head_depth < 1 or self.head_dim % self.head_heads):
            raise ValueError(f"latent vit head needs head_dim divisible by head_heads and head_depth >= 1, got "
                             f"dim {self.head_dim}, heads {self.head_heads}, depth {self.head_depth}")

    def latent_shape(self) -> tuple[int, int, int, int]:
        """C, t, h, w of the latent: time / time_stride, space / space_stride."""
        t, s = self.time_stride, self.space_stride
        return (self.latent_channels, -(-self.frames // t), -(-self.height // s), -(-self.width // s))

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
        out_stride = (cfg.time_stride // 2, cfg.space_stride // 8, cfg.space_stride // 8)
        self.out = nn.Conv3d(2 * w, cfg.latent_channels, kernel_size=3, padding=1, stride=out_stride)

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


class LatentViTHead(nn.Module):
    """Edge side, the big head: latent positions become tokens, then transformer blocks, pool, linear.

    Built with the edge ViT's block sizes so `init_from_vit` can start it from that model's
    blocks, norm and classifier (the camera's bottleneck encoder stands in for the ViT's patch
    embedding); distillation then adapts them to the latent.
    """

    def __init__(self, cfg: LatentConfig) -> None:
        super().__init__()
        from stae_ros.models.vit import Block

        c, t, h, w = cfg.latent_shape()
        d = cfg.head_dim
        self.pool = cfg.head_pool
        self.proj = nn.Linear(c, d)
        self.pos_embed = nn.Parameter(torch.zeros(1, t * h * w, d))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.blocks = nn.ModuleList(Block(d, cfg.head_heads, cfg.head_mlp_ratio, cfg.head_dropout) for _ in range(cfg.head_depth))
        self.fc_norm = nn.LayerNorm(d, eps=1e-6)
        self.head = nn.Linear(d, cfg.num_classes)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        x = self.proj(latent.flatten(2).transpose(1, 2)) + self.pos_embed
        for blk in self.blocks:
            x = blk(x)
        pooled = x.amax(dim=1) if self.pool == "max" else x.mean(dim=1)
        return self.head(self.fc_norm(pooled))

    @torch.no_grad()
    def init_from_vit(self, vit: nn.Module) -> list[str]:
        """Copy what fits from an edge ``VideoViT``: blocks (as many as both have), the final norm,
        the classifier's token columns and the position table when the grids agree. Returns the
        names of what was copied (what did not fit keeps its fresh initialisation)."""
        copied: list[str] = []
        own_blocks, src_blocks = list(self.blocks), list(getattr(vit, "blocks", []))
        for i, (dst, src) in enumerate(zip(own_blocks, src_blocks)):
            if all(a.shape == b.shape for a, b in zip(dst.state_dict().values(), src.state_dict().values())):
                dst.load_state_dict(src.state_dict())
                copied.append(f"blocks.{i}")
        norm = getattr(vit, "fc_norm", None)
        if norm is not None and norm.weight.shape == self.fc_norm.weight.shape:
            self.fc_norm.load_state_dict(norm.state_dict())
            copied.append("fc_norm")
        head = getattr(vit, "head", None)
        d = self.head.in_features
        if head is not None and head.out_features == self.head.out_features and head.in_features >= d:
            self.head.weight.copy_(head.weight[:, :d])
            self.head.bias.copy_(head.bias)
            copied.append("head")
        pos = getattr(vit, "pos_embed", None)
        if isinstance(pos, torch.Tensor) and pos.shape == self.pos_embed.shape:
            self.pos_embed.copy_(pos)
            copied.append("pos_embed")
        return copied


class LatentModel(nn.Module):
    """Encoder + factorised prior + head; `forward` returns (logits, estimated bits per clip)."""

    def __init__(self, cfg: LatentConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = LatentEncoder(cfg)
        self.prior = FactorizedLogistic(cfg.latent_channels, cfg.support)
        self.head: nn.Module = LatentViTHead(cfg) if cfg.head_kind == "vit" else LatentHead(cfg)

    def forward(self, clip: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = self.encoder(clip)
        y_hat = self.prior.quantize(y, training=self.training)
        if not self.training:
            y_hat = y_hat.detach()
        return self.head(y_hat), self.prior.bits(y_hat)

    def encoder_params(self) -> int:
        return sum(p.numel() for p in self.encoder.parameters())

    def head_params(self) -> int:
        return sum(p.numel() for p in self.head.parameters())
