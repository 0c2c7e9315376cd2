"""The camera-side classifier of the `local` mode: a small X3D-like 3D CNN that fits a Pi-class budget.

Why this shape: it is what a robotics team tries first when the classifier has to run on the robot.
X3D-style (Feichtenhofer, CVPR 2020) blocks -- a 1x1x1 expansion, a depthwise 3x3x3 convolution, a
squeeze-excitation gate and a 1x1x1 projection with a residual -- put nearly all the FLOPs into
cheap pointwise layers, which is the best accuracy per FLOP known for mobile video models. The
stem sees frame differences next to the frames (a motion input costs almost nothing and gives a
small network the direction of motion that a single frame lacks). Batch norm, dropout before the
head, and the training recipe (stae_ros.local.train) do the rest.

The input is the package's common clip tensor: float N,3,T,H,W in [0,1]. The network pools
globally, so it runs on any T,H,W; the constructor's frames/height/width record the shape it was
trained for (the FLOP count and the camera budget check use them).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from .errors import LocalInputError

__all__ = ["LocalArch", "LocalClassifier", "LocalEnsemble"]


@dataclass
class LocalArch:
    """Architecture keywords of LocalClassifier (saved with the weights)."""

    stem_channels: int = 16  #: channels after the (2+1)D stem
    stage_channels: list[int] = field(default_factory=lambda: [24, 48, 96])  #: output channels per stage
    stage_depths: list[int] = field(default_factory=lambda: [1, 2, 2])  #: blocks per stage
    expansion: float = 2.5  #: inverted-bottleneck width factor
    se_ratio: float = 0.25  #: squeeze-excitation width (0 = off)
    head_channels: int = 192  #: 1x1x1 conv before the pool
    dropout: float = 0.3
    motion: bool = True  #: feed frame differences next to the frames (6 input channels)
    stem_temporal_stride: int = 1  #: temporal stride of the stem (2 halves every later FLOP)
    #: channels per group of each block's 3x3x3 convolution: 1 = depthwise (X3D); a value >= the block's
    #: width = a dense convolution. Why an option: on a CPU, depthwise 3D convolutions are memory-bound,
    #: so a dense one of ~8x the FLOPs trains in about the same time (the edge model uses that)
    group_width: int = 1
    #: in eval mode, average the logits of the clip and of its left-right mirror (twice the cost). Only
    #: for class sets that mirror (Weizmann: walking left is walking); never where left/right are classes
    flip_average: bool = False

    def validate(self) -> None:
        if len(self.stage_channels) != len(self.stage_depths) or not self.stage_channels:
            raise ValueError("arch.stage_channels and arch.stage_depths must be non-empty and of equal length")
        if min(self.stage_channels) < 1 or min(self.stage_depths) < 1 or self.stem_channels < 1 or self.head_channels < 1:
            raise ValueError("arch channel counts and depths must be >= 1")
        if self.expansion <= 0 or not 0.0 <= self.se_ratio < 1.0 or not 0.0 <= self.dropout < 1.0:
            raise ValueError("arch.expansion must be > 0, arch.se_ratio and arch.dropout in [0, 1)")
        if self.stem_temporal_stride not in (1, 2):
            raise ValueError("arch.stem_temporal_stride must be 1 or 2")
        if self.group_width < 1:
            raise ValueError("arch.group_width must be >= 1")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _bn_act(channels: int) -> list[nn.Module]:
    return [nn.BatchNorm3d(channels), nn.SiLU(inplace=True)]


class _SqueezeExcite(nn.Module):
    def __init__(self, channels: int, ratio: float) -> None:
        super().__init__()
        hidden = max(4, int(round(channels * ratio)))
        self.fc1 = nn.Conv3d(channels, hidden, 1)
        self.fc2 = nn.Conv3d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean(dim=(2, 3, 4), keepdim=True)
        return x * torch.sigmoid(self.fc2(torch.relu(self.fc1(s))))


class _X3DBlock(nn.Module):
    """1x1x1 expand -> depthwise (or grouped) 3x3x3 (spatial stride) -> SE -> 1x1x1 project, residual when
    shapes allow."""

    def __init__(self, cin: int, cout: int, expansion: float, stride: int, se_ratio: float,
                 group_width: int = 1) -> None:
        super().__init__()
        mid = max(cin, int(round(cin * expansion)))
        groups = max(1, mid // group_width)
        while mid % groups:  # the largest group count <= mid / group_width that divides mid
            groups -= 1
        self.expand = nn.Sequential(nn.Conv3d(cin, mid, 1, bias=False), *_bn_act(mid))
        self.depthwise = nn.Sequential(
            nn.Conv3d(mid, mid, 3, stride=(1, stride, stride), padding=1, groups=groups, bias=False), *_bn_act(mid)
        )
        self.se = _SqueezeExcite(mid, se_ratio) if se_ratio > 0 else nn.Identity()
        self.project = nn.Sequential(nn.Conv3d(mid, cout, 1, bias=False), nn.BatchNorm3d(cout))
        self.residual = stride == 1 and cin == cout
        if not self.residual:
            self.shortcut = nn.Sequential(
                nn.Conv3d(cin, cout, 1, stride=(1, stride, stride), bias=False), nn.BatchNorm3d(cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(self.se(self.depthwise(self.expand(x))))
        return torch.nn.functional.silu(y + (x if self.residual else self.shortcut(x)))


class LocalClassifier(nn.Module):
    """Clip float N,3,T,H,W in [0,1] -> logits N,num_classes."""

    def __init__(self, num_classes: int, frames: int, height: int, width: int, **arch: Any) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes}")
        if frames < 2 or height < 8 or width < 8:
            raise ValueError(f"clip shape must be at least 2x8x8 (T,H,W), got {frames}x{height}x{width}")
        self.arch = LocalArch(**arch)
        self.arch.validate()
        self.num_classes, self.frames, self.height, self.width = num_classes, frames, height, width
        a = self.arch
        cin = 6 if a.motion else 3
        # (2+1)D stem: a spatial 3x3 at stride 2, then a temporal 3 (depthwise), as in X3D's conv1
        self.stem = nn.Sequential(
            nn.Conv3d(cin, a.stem_channels, (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1), bias=False),
            nn.Conv3d(a.stem_channels, a.stem_channels, (3, 1, 1), stride=(a.stem_temporal_stride, 1, 1),
                      padding=(1, 0, 0), groups=a.stem_channels, bias=False),
            *_bn_act(a.stem_channels),
        )
        blocks: list[nn.Module] = []
        c = a.stem_channels
        for cout, depth in zip(a.stage_channels, a.stage_depths):
            for i in range(depth):
                blocks.append(_X3DBlock(c, cout, a.expansion, 2 if i == 0 else 1, a.se_ratio, a.group_width))
                c = cout
        self.blocks = nn.Sequential(*blocks)
        self.head_conv = nn.Sequential(nn.Conv3d(c, a.head_channels, 1, bias=False), *_bn_act(a.head_channels))
        self.dropout = nn.Dropout(a.dropout)
        self.fc = nn.Linear(a.head_channels, num_classes)
        # mean/std of [0,1] clips and of their differences: a fixed affine, so BN sees centred input
        self.register_buffer("_mean", torch.tensor(0.45), persistent=False)
        self.register_buffer("_std", torch.tensor(0.25), persistent=False)

    def _input(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5 or x.shape[1] != 3 or not x.is_floating_point():
            raise LocalInputError(f"local classifier wants float N,3,T,H,W, got {tuple(x.shape)} {x.dtype}")
        if x.shape[2] < 2:
            raise LocalInputError(f"local classifier wants at least 2 frames, got {x.shape[2]}")
        frames = (x - self._mean) / self._std
        if not self.arch.motion:
            return frames
        diff = x[:, :, 1:] - x[:, :, :-1]
        diff = torch.cat([diff[:, :, :1], diff], dim=2) * 4.0  # differences are small: scale to unit-ish range
        return torch.cat([frames, diff], dim=1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled N,head_channels features (before dropout and the linear head)."""
        y = self.head_conv(self.blocks(self.stem(self._input(x))))
        return y.mean(dim=(2, 3, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.fc(self.dropout(self.features(x)))
        if self.arch.flip_average and not self.training:
            logits = 0.5 * (logits + self.fc(self.features(x.flip(-1))))
        return logits

    def shape(self) -> tuple[int, int, int, int]:
        """The (T,H,W,C) clip shape the model was built for."""
        return (self.frames, self.height, self.width, 3)


class LocalEnsemble(nn.Module):
    """Several LocalClassifiers of one architecture and class list, trained from different seeds.

    Why: on a small real set, runs of one recipe that differ only in their seed land several points
    apart (Weizmann, 3-fold: 84.9, 89.2 and 92.5%), and an edge host can afford a few networks per
    clip. The answer is the log of the members' mean class probabilities (the usual deep-ensemble
    rule), so it is a valid logit vector for every caller of a single network.

    ``features`` / ``fc`` / ``dropout`` give the same interface as one network, for callers that
    refit the head: the members' pooled features side by side and a linear layer that starts as the
    mean of their heads (the ensemble of logits, which a refit then adapts).
    """

    def __init__(self, members: list[LocalClassifier]) -> None:
        super().__init__()
        if len(members) < 2:
            raise ValueError(f"an ensemble needs at least 2 members, got {len(members)}")
        first = members[0]
        for m in members[1:]:
            if (m.num_classes, m.shape(), m.arch) != (first.num_classes, first.shape(), first.arch):
                raise ValueError("ensemble members must share the class count, clip shape and architecture")
        self.members = nn.ModuleList(members)
        self.arch = first.arch
        self.num_classes, self.frames, self.height, self.width = first.num_classes, first.frames, first.height, first.width
        self.dropout = nn.Identity()

    @property
    def fc(self) -> nn.Linear:
        """A new linear head over `features`: the mean of the members' heads as they are now."""
        n = len(self.members)
        fc = nn.Linear(self.arch.head_channels * n, self.num_classes)
        with torch.no_grad():
            fc.weight.copy_(torch.cat([m.fc.weight for m in self.members], dim=1) / n)
            fc.bias.copy_(torch.stack([m.fc.bias for m in self.members]).mean(0))
        return fc

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The members' pooled features side by side (N, members x head_channels)."""
        return torch.cat([m.features(x) for m in self.members], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probs = torch.stack([torch.softmax(m(x), dim=1) for m in self.members]).mean(0)
        return torch.log(probs.clamp_min(1e-12))

    def shape(self) -> tuple[int, int, int, int]:
        return self.members[0].shape()
