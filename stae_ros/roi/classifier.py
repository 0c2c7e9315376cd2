"""The pixel classifier of the payload studies and its train / evaluate loops.

Why not the STAE ViT: every codec operating point gets its own fine-tuned classifier (same
step budget for each, so comparisons are fair), and on a shared 2-core CPU only a cheap model
makes a sweep affordable. The same model serves H.264, ROI and, as the differentiable judge,
the training of the ROI importance map.
"""

from __future__ import annotations

import copy
import logging
import math
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from tqdm import tqdm

__all__ = ["PixelClassifier", "to_tensor", "train_classifier", "evaluate_classifier", "predict_logits", "clone"]

log = logging.getLogger(__name__)


class PixelClassifier(nn.Module):
    """The latent codec's encoder + head with the quantiser taken out: a classifier on pixels.

    Why: a plain small 3D CNN (4x4 patchify, three 3D convs, mean pooling) memorised the 1,200
    training clips here (100% train, chance on test); the latent network (frame differences in, mean+max pooling out) generalises. Using its
    raw-clip warm start as the classifier of every pixel codec (H.264, ROI) keeps the comparison
    fair: same architecture, same initial weights, same fine-tuning steps; the latent codec
    differs only in coding the internal feature instead of the pixels.
    """

    def __init__(self, latent_model: nn.Module) -> None:
        super().__init__()
        m = copy.deepcopy(latent_model)
        self.encoder = m.encoder
        self.head = m.head

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(clip))


def to_tensor(clips: np.ndarray) -> torch.Tensor:
    """uint8 N,T,H,W,3 -> float32 N,3,T,H,W in [0,1]."""
    return torch.from_numpy(np.ascontiguousarray(clips)).permute(0, 4, 1, 2, 3).float().div_(255.0)


def train_classifier(
    model: nn.Module,
    clips: np.ndarray,
    labels: np.ndarray,
    steps: int,
    batch: int = 16,
    lr: float = 2e-3,
    seed: int = 0,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    desc: str = "classifier",
) -> nn.Module:
    """Adam + cosine decay for `steps` mini-batches drawn with replacement; returns the model."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: min(1.0, (i + 1) / max(1, steps // 10)) * 0.5 * (1 + math.cos(math.pi * i / max(steps, 1))))
    y_all = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    model.train()
    bar = tqdm(range(steps), desc=desc, leave=False, mininterval=5.0)
    for _ in bar:
        idx = torch.randint(0, len(clips), (batch,), generator=gen)
        x = to_tensor(clips[idx.numpy()])
        if transform is not None:
            x = transform(x)
        loss = F.cross_entropy(model(x), y_all[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    model.eval()
    return model


@torch.no_grad()
def predict_logits(model: nn.Module, clips: np.ndarray, batch: int = 64) -> torch.Tensor:
    model.eval()
    out = [model(to_tensor(clips[i : i + batch])) for i in range(0, len(clips), batch)]
    return torch.cat(out)


def evaluate_classifier(model: nn.Module, clips: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy in 0..1."""
    pred = predict_logits(model, clips).argmax(1).numpy()
    return float((pred == np.asarray(labels)).mean())


def clone(model: nn.Module) -> nn.Module:
    return copy.deepcopy(model)
