"""What the two task-driven importance-map trainers share: their settings and their optimiser.

Both train a map net against a copy of the payload classifier that adapts alongside it (at a
quarter of the map's learning rate, because the edge classifier is fine-tuned on decoded clips
anyway), with cosine decay over the run; they differ only in how a map becomes a decoded clip.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields

import torch
from torch import nn

from .errors import RoiConfigError

__all__ = ["MapTraining", "map_and_classifier_optimizer"]


@dataclass(frozen=True)
class MapTraining:
    """Settings of one map training run (the ``map`` section of a ``config/roi_*.yaml``)."""

    steps: int
    beta: float  #: weight of the rate proxy (kept or window area) against the classifier loss
    batch: int
    lr: float
    block: int = 8
    seed: int = 0
    progress: bool = True

    @classmethod
    def from_section(cls, section: Mapping, **defaults) -> MapTraining:
        """The section's values over `defaults`; keys that are not settings (``kind`` ...) are ignored."""
        names = {f.name for f in fields(cls)}
        values = {**defaults, **{k: v for k, v in section.items() if k in names}}
        missing = [n for n in ("steps", "beta", "batch", "lr") if n not in values]
        if missing:
            raise RoiConfigError(f"map section lacks {', '.join(missing)}")
        return cls(**values)


def map_and_classifier_optimizer(
    net: nn.Module, classifier: nn.Module, cfg: MapTraining
) -> tuple[nn.Module, torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """A trainable copy of `classifier`, and one AdamW over it and `net` with cosine decay."""
    cls = copy.deepcopy(classifier).train()
    opt = torch.optim.AdamW(
        [{"params": net.parameters(), "lr": cfg.lr}, {"params": cls.parameters(), "lr": cfg.lr / 4}], weight_decay=1e-4
    )
    steps = max(cfg.steps, 1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 0.5 * (1 + math.cos(math.pi * i / steps)))
    return cls, opt, sched
