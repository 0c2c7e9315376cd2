"""End-to-end training of the latent codec: loss = CE + lambda * estimated bits per clip."""

from __future__ import annotations

import logging
import math

import numpy as np
import torch
from torch.nn import functional as F
from tqdm import tqdm

from .model import LatentConfig, LatentModel

__all__ = ["train_latent", "latent_optimizer", "estimate_bits", "refit_prior"]

log = logging.getLogger(__name__)


def _batch(clips: np.ndarray, idx: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(clips[idx])).permute(0, 4, 1, 2, 3).float().div_(255.0)


def latent_optimizer(model: LatentModel, lr: float, prior_lr_scale: float = 25.0,
                     weight_decay: float = 1e-4) -> torch.optim.AdamW:
    """AdamW over the encoder and head at ``lr``, and over the prior at ``lr * prior_lr_scale``.

    The prior has one location and one scale per channel: with Adam at the network's rate it
    would need thousands of steps to follow the latent, so it learns prior_lr_scale x faster.
    """
    prior = list(model.prior.parameters())
    rest = [p for n, p in model.named_parameters() if not n.startswith("prior.")]
    return torch.optim.AdamW(
        [{"params": rest, "weight_decay": weight_decay},
         {"params": prior, "lr": lr * prior_lr_scale, "weight_decay": 0.0}], lr=lr
    )


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
    prior_lr_scale: float = 25.0,
) -> LatentModel:
    """Train (or continue `init`) for `steps` mini-batches; `lam` weighs bits per clip against CE."""
    torch.manual_seed(seed)
    model = init if init is not None else LatentModel(cfg)
    rng = np.random.default_rng(seed)
    opt = latent_optimizer(model, lr, prior_lr_scale)
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


@torch.no_grad()
def _rounded_latents(model: LatentModel, clips: np.ndarray, batch: int = 32) -> torch.Tensor:
    r = float(model.prior.support)
    out = [torch.round(model.encoder(_batch(clips, np.arange(i, min(i + batch, len(clips)))))).clamp(-r, r) for i in range(0, len(clips), batch)]
    return torch.cat(out)


def refit_prior(model: LatentModel, clips: np.ndarray, steps: int = 300, lr: float = 0.05) -> float:
    """Maximum-likelihood fit of the prior to the rounded training latents (encoder and head fixed).

    Why: end-to-end training moves the prior and the encoder together; once the encoder is
    fixed, the coding tables are best fitted to the symbols it actually emits. Only the
    coding tables change, never the classification. Returns the mean bits per clip after the fit.
    """
    y = _rounded_latents(model, clips)
    opt = torch.optim.Adam(model.prior.parameters(), lr=lr)
    for _ in range(steps):
        bits = model.prior.bits(y).mean()
        opt.zero_grad(set_to_none=True)
        bits.backward()
        opt.step()
    with torch.no_grad():
        return float(model.prior.bits(y).mean())
