"""Video ViT classifier, VideoMAE-style.

Tubelet patch embedding (a Conv3d with kernel = stride = tubelet), a learned or fixed sin-cos
position embedding, pre-norm transformer blocks and a mean-pool (VideoMAE fine-tuning), max-pool or cls head
(max-pool: when the evidence sits in a few tokens of a small region, a mean over all tokens
dilutes it). Parameter names follow VideoMAE (``patch_embed.proj``, ``blocks.i.attn.qkv``, ``fc_norm``,
``head``) so its checkpoints map onto this model with ``load_pretrained``.

``stem`` (config) helps a small ViT trained from scratch on ~2000 CPU clips pick up small-region
motion: ``"diff"`` appends the signed temporal difference ``x_t - x_{t-1}`` as extra input
channels (free, and the sign carries direction), ``"conv"`` runs one 3x3x3 conv before the
tubelet embedding, ``"flow"`` appends to the ``diff`` channels the two normal-flow moments
``dI/dt * grad I`` (``motion.normal_flow_moments``): with them a linear tubelet embedding can sum
angular momentum over a patch, which tells rotate_cw from rotate_ccw (the ``diff`` model stays at
chance on that pair). ``stae train --init`` of a ``diff`` checkpoint into a ``flow`` model copies
the shared input channels of the patch embedding and starts the two new ones at zero.
``"none"`` is plain VideoMAE.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import ClipConfig, ViTConfig
from .errors import PretrainedLoadError, ShapeError
from .motion import frame_difference, moment_curl_divergence, normal_flow_moments

__all__ = ["VideoViT", "LoadReport", "fit_input_channels", "sincos_table"]

log = logging.getLogger(__name__)


def sincos_table(n: int, dim: int) -> Tensor:
    """The 1D sinusoid position table VideoMAE uses, shape ``1,n,dim``."""
    pos = torch.arange(n, dtype=torch.float64)[:, None]
    i = torch.arange(dim, dtype=torch.float64)[None, :]
    angle = pos / torch.pow(10000.0, 2 * torch.div(i, 2, rounding_mode="floor") / dim)
    table = torch.where(i.long() % 2 == 0, torch.sin(angle), torch.cos(angle))
    return table.float()[None]


def fit_input_channels(value: Tensor, target: Tensor) -> Tensor | None:
    """A conv weight ``value`` refitted to ``target``'s number of input channels (dim 1).

    The shared input channels are copied and any extra ones start at zero, so the layer computes
    what it did on the inputs both models have (how a ``diff`` or ``flow`` stem's patch embedding
    starts from a plain or ``diff`` one). ``None`` when any other dimension differs.
    """
    if value.dim() != target.dim() or value.shape[0] != target.shape[0] or value.shape[2:] != target.shape[2:]:
        return None
    fitted = torch.zeros_like(target)
    n = min(value.shape[1], target.shape[1])
    fitted[:, :n] = value[:, :n]
    return fitted


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        b, n, d = x.shape
        qkv = self.qkv(x).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        # no dropout on the attention map (as VideoMAE): on CPU it costs ~40% of a training step
        y = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
        return self.proj_drop(self.proj(y.transpose(1, 2).reshape(b, n, d)))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.fc2(self.drop(F.gelu(self.fc1(x)))))


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: float, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads, dropout)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), dropout)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, in_ch: int, dim: int, tubelet: tuple[int, int, int]) -> None:
        super().__init__()
        self.proj = nn.Conv3d(in_ch, dim, kernel_size=tubelet, stride=tubelet)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)  # B,N,D


@dataclass
class LoadReport:
    """What ``load_pretrained`` did: keys loaded, adapted (interpolated/padded), skipped, missing."""

    loaded: list[str] = field(default_factory=list)
    adapted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


class VideoViT(nn.Module):
    """``forward(clip B,C,T,H,W) -> logits B,num_classes``."""

    def __init__(self, cfg: ViTConfig, clip: ClipConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.clip_cfg = clip
        tub = tuple(cfg.tubelet)
        self.grid = (clip.frames // tub[0], clip.height // tub[1], clip.width // tub[2])
        self.num_patches = self.grid[0] * self.grid[1] * self.grid[2]
        in_ch = clip.channels
        if cfg.stem == "diff":
            in_ch = 2 * clip.channels
        elif cfg.stem == "flow":
            in_ch = 2 * clip.channels + 2
        elif cfg.stem == "curl":
            in_ch = 2 * clip.channels + 4
        elif cfg.stem == "conv":
            self.stem = nn.Sequential(nn.Conv3d(clip.channels, cfg.stem_channels, 3, padding=1), nn.GELU())
            in_ch = cfg.stem_channels
        self.patch_embed = PatchEmbed(in_ch, cfg.dim, tub)  # type: ignore[arg-type]
        n_tokens = self.num_patches + (1 if cfg.pool == "cls" else 0)
        if cfg.pool == "cls":
            self.cls_token = nn.Parameter(torch.zeros(1, 1, cfg.dim))
            nn.init.trunc_normal_(self.cls_token, std=0.02)
        if cfg.pos_embed == "learned":
            self.pos_embed = nn.Parameter(torch.zeros(1, n_tokens, cfg.dim))
            nn.init.trunc_normal_(self.pos_embed, std=0.02)
        else:
            self.register_buffer("pos_embed", sincos_table(n_tokens, cfg.dim), persistent=False)
        self.pos_drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg.dim, cfg.heads, cfg.mlp_ratio, cfg.dropout) for _ in range(cfg.depth))
        if cfg.pool == "cls":
            self.norm = nn.LayerNorm(cfg.dim, eps=1e-6)
        else:
            self.fc_norm = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.head_drop = nn.Dropout(cfg.dropout)
        n_stats = 2 * self.grid[0] if cfg.motion_stats else 0
        self.head = nn.Linear(cfg.dim + n_stats, cfg.num_classes)
        self.apply(self._init)
        if n_stats:  # zero weights on the statistics: a model grown from one without them starts identical
            with torch.no_grad():
                self.head.weight[:, cfg.dim:] = 0.0

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    def features(self, clip: Tensor) -> Tensor:
        """Pooled, normalised clip embedding ``B,dim`` (before the head); with ``motion_stats``
        the clip's motion statistics follow it (``B, dim + 2*T/t``)."""
        c = self.clip_cfg
        want = (c.channels, c.frames, c.height, c.width)
        if clip.dim() != 5 or tuple(clip.shape[1:]) != want:
            raise ShapeError(f"VideoViT expects B,{want[0]},{want[1]},{want[2]},{want[3]} clips, got {tuple(clip.shape)}")
        x = clip
        if self.cfg.stem == "diff":
            x = torch.cat([x, frame_difference(x, absolute=False)], dim=1)
        elif self.cfg.stem in ("flow", "curl"):
            moments = normal_flow_moments(x)
            parts = [x, frame_difference(x, absolute=False), moments]
            if self.cfg.stem == "curl":
                parts.append(moment_curl_divergence(moments))
            x = torch.cat(parts, dim=1)
        elif self.cfg.stem == "conv":
            x = self.stem(x)
        tokens = self.patch_embed(x)
        if self.cfg.pool == "cls":
            tokens = torch.cat([self.cls_token.expand(tokens.shape[0], -1, -1), tokens], dim=1)
        tokens = self.pos_drop(tokens + self.pos_embed)
        for blk in self.blocks:
            tokens = blk(tokens)
        if self.cfg.pool == "cls":
            pooled = self.norm(tokens[:, 0])
        elif self.cfg.pool == "max":
            pooled = self.fc_norm(tokens.amax(dim=1))
        else:
            pooled = self.fc_norm(tokens.mean(dim=1))
        if self.cfg.motion_stats:  # beside the tokens, straight to the head (ViTConfig.motion_stats)
            pooled = torch.cat([pooled, self.motion_statistics(clip)], dim=1)
        return pooled

    def motion_statistics(self, clip: Tensor) -> Tensor:
        """``B, 2 * T/t`` clip-wide motion numbers: the mean motion-weighted curl and divergence
        of each token time step (`moment_curl_divergence`), compressed with asinh. The scale puts a
        synthetic rotation's per-step curl near 1."""
        cd = moment_curl_divergence(normal_flow_moments(clip)).mean(dim=(3, 4))  # B,2,T
        b, _, t = cd.shape
        steps = self.grid[0]
        cd = cd[:, :, : steps * (t // steps)].reshape(b, 2, steps, -1).sum(dim=3)
        return torch.asinh(cd.reshape(b, -1) * 5000.0)

    def forward(self, clip: Tensor) -> Tensor:
        return self.head(self.head_drop(self.features(clip)))

    # ------------------------------------------------------------------ pretrained weights
    def load_pretrained(self, state_dict: Mapping[str, Tensor], source_grid: tuple[int, int, int] | None = None) -> LoadReport:
        """Load external (e.g. VideoMAE) weights, tolerating a different head and token grid.

        - prefixes ``module.``, ``model.``, ``encoder.``, ``backbone.`` are stripped;
        - VideoMAE's separate ``attn.q_bias``/``attn.v_bias`` become ``attn.qkv.bias``;
        - a head of another class count is skipped (the fresh head is kept);
        - a position embedding of another length is trilinearly interpolated over the token grid
          (``source_grid`` = (t, h, w) of the source; guessed when omitted);
        - a patch embedding with other input channels (e.g. our ``diff`` stem) gets the shared
          channels copied and the extra ones zeroed.
        Anything else that disagrees raises ``PretrainedLoadError``.
        """
        own = self.state_dict()
        src = _normalise_keys(dict(state_dict), set(own))
        report = LoadReport()
        out: dict[str, Tensor] = {}
        for key, value in src.items():
            if key not in own:
                report.skipped.append(key)
                continue
            target = own[key]
            if not isinstance(value, Tensor):
                raise PretrainedLoadError(f"pretrained entry '{key}' is not a tensor")
            value = value.detach().to(dtype=target.dtype)
            if value.shape == target.shape:
                out[key] = value
                report.loaded.append(key)
            elif key.startswith("head."):
                report.skipped.append(key)
            elif key == "pos_embed":
                out[key] = self._interpolate_pos(value, source_grid)
                report.adapted.append(key)
            elif key == "patch_embed.proj.weight" and (fitted := fit_input_channels(value, target)) is not None:
                out[key] = fitted
                report.adapted.append(key)
            else:
                raise PretrainedLoadError(
                    f"pretrained '{key}' has shape {tuple(value.shape)} but this ViT needs {tuple(target.shape)}; "
                    "check vit.dim / depth / tubelet in the config"
                )
        report.missing = sorted(set(own) - set(out))
        self.load_state_dict(out, strict=False)
        log.info("pretrained ViT: %d loaded, %d adapted, %d skipped, %d missing",
                 len(report.loaded), len(report.adapted), len(report.skipped), len(report.missing))
        return report

    def _interpolate_pos(self, pos: Tensor, source_grid: tuple[int, int, int] | None) -> Tensor:
        if pos.dim() == 2:
            pos = pos[None]
        d = pos.shape[-1]
        if d != self.cfg.dim:
            raise PretrainedLoadError(f"pretrained pos_embed width {d} != vit.dim {self.cfg.dim}")
        has_cls = self.cfg.pool == "cls"
        n_src = pos.shape[1]
        grid = source_grid or _guess_grid(n_src, self.grid) or _guess_grid(n_src - 1, self.grid)
        if grid is None:
            raise PretrainedLoadError(f"cannot infer the token grid of a {n_src}-token pos_embed; pass source_grid")
        n_grid = grid[0] * grid[1] * grid[2]
        src_cls = pos[:, : n_src - n_grid]
        patches = pos[:, n_src - n_grid :].reshape(1, *grid, d).permute(0, 4, 1, 2, 3)
        patches = F.interpolate(patches, size=self.grid, mode="trilinear", align_corners=False)
        patches = patches.permute(0, 2, 3, 4, 1).reshape(1, self.num_patches, d)
        if has_cls:
            cls = src_cls[:, :1] if src_cls.shape[1] else torch.zeros(1, 1, d, dtype=pos.dtype)
            return torch.cat([cls, patches], dim=1)
        return patches


def _normalise_keys(sd: dict[str, Tensor], own: set[str]) -> dict[str, Tensor]:
    out: dict[str, Tensor] = {}
    for key, value in sd.items():
        k = key
        for prefix in ("module.", "model.", "encoder.", "backbone."):
            if k.startswith(prefix) and k not in own:
                k = k[len(prefix):]
        out[k] = value
    # VideoMAE keeps q/v biases apart (k has none)
    for key in [k for k in out if k.endswith("attn.q_bias")]:
        base = key[: -len("q_bias")]
        q = out.pop(key)
        v = out.pop(base + "v_bias", torch.zeros_like(q))
        out[base + "qkv.bias"] = torch.cat([q, torch.zeros_like(q), v])
    if "norm.weight" in out and "fc_norm.weight" in own and "fc_norm.weight" not in out:
        pass  # a pretraining checkpoint's token norm is not the fine-tuning pooled norm; leave it
    return out


def _guess_grid(n: int, own: tuple[int, int, int]) -> tuple[int, int, int] | None:
    """A (t, h, w) with t*h*w == n and h == w, preferring t close to our own temporal grid."""
    if n <= 0:
        return None
    best: tuple[int, int, int] | None = None
    for t in range(1, n + 1):
        if n % t:
            continue
        s = math.isqrt(n // t)
        if s * s == n // t:
            cand = (t, s, s)
            if best is None or abs(t - own[0]) < abs(best[0] - own[0]):
                best = cand
    return best
