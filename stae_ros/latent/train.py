"""End-to-end training of the latent codec: loss = CE + lambda * estimated bits per clip."""

from __future__ import annotations

import logging
import math

import numpy as np
import torch
from torch.nn import functional as F
from tqdm import tqdm

from .model import LatentConfig, LatentModel

__all__ = ["train_latent", "estimate_bits"]

log = logging.getLogger(__name__)


def _batch(clips: np.ndarray, idx: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(clips[idx])).permute(0, 4, 1, 2, 3).float().div_(255.0)


def train_latent(
    cfg: LatentConfig,
    clips: np.ndarray,
    labels: np.ndarray,
    lam: float,
    steps: int,
    batch: int = 16,
    lr: float = 2e-3,
    seed: int = 0,
    init: LatentModel | None = None,
    progress: bool = True,
) -> LatentModel:
    """Train (or continue `init`) for `steps` mini-batches; `lam` weighs bits per clip against CE."""
    torch.manual_seed(seed)
    model = init if init is not None else LatentModel(cfg)
    rng = np.random.default_rng(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: min(1.0, (i + 1) / max(1, steps // 10)) * 0.5 * (1 + math.cos(math.pi * i / max(steps, 1))))
    y_all = torch.from_numpy(np.asarray(labels, np.int64))
    model.train()
    bar = tqdm(range(steps), desc=f"latent lam={lam:g}", leave=False, disable=not progress, mininterval=5.0)
    for _ in bar:
        idx = rng.integers(0, len(clips), batch)
        logits, bits = model(_batch(clips, idx))
        ce = F.cross_entropy(logits, y_all[idx])
        loss = ce + lam * bits.mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        bar.set_postfix(ce=f"{ce.item():.3f}", bits=f"{bits.mean().item():.0f}", refresh=False)
    model.eval()
    return model


@torch.no_grad()
def estimate_bits(model: LatentModel, clips: np.ndarray, batch: int = 32) -> float:
    """Mean estimated bits per clip of the rounded latent under the learned prior."""
    model.eval()
    total = 0.0
    for i in range(0, len(clips), batch):
        _, bits = model(_batch(clips, np.arange(i, min(i + batch, len(clips)))))
        total += float(bits.sum())
    return total / max(len(clips), 1)
