"""Adapting the edge classifier to what a payload decodes to: the step and the score that stae-roi264
and stae-px-edge share.

Why one place: both modes fine-tune a copy of the edge model on the clips the edge will see (decoded
roi crops, FR's reconstructions) with the same loss, cross-entropy plus, with a teacher, the KL to
the teacher's answer on the *raw* clip, so that the adapted network says what the edge model says on
clean video. Only how the decoded clips are made differs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
from torch.nn import functional as F

__all__ = ["AdaptSettings", "accuracy", "adaptation_step"]


@dataclass
class AdaptSettings:
    """``train:``: the fine-tuning schedule on decoded clips (a mode's section may add its own keys)."""

    steps: int = 300
    batch: int = 16
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 0
    distill: float = 0.5  #: with a teacher: weight of KL(teacher on the raw clip || classifier on the decoded one)
    temperature: float = 2.0
    grad_clip: float = 1.0
    save_every: int = 100
    eval_each_save: bool = True
    eval_batch: int = 32


@torch.no_grad()
def accuracy(model: torch.nn.Module, clips: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor, batch: int,
             device: torch.device) -> float:
    """Top-1 accuracy of ``model`` on uint8 clips ``N,T,H,W,3`` (eval mode, batches of ``batch``)."""
    from .loop import to_float_clips

    model.eval()
    labels = torch.as_tensor(labels)
    correct = 0
    for i in range(0, len(labels), batch):
        correct += int((model(to_float_clips(clips[i : i + batch], device)).argmax(1).cpu() == labels[i : i + batch]).sum())
    return correct / max(len(labels), 1)


def adaptation_step(classifier: torch.nn.Module, opt: torch.optim.Optimizer, decoded: torch.Tensor,
                    labels: torch.Tensor, soft: torch.Tensor | None, distill: float, settings: Any, augment: Any,
                    device: torch.device) -> Callable[[int, torch.Generator], dict[str, float]]:
    """A `run_phase` step over ``decoded`` (uint8 ``M*N,T,H,W,3``: M variants of N training clips, in
    blocks of N), ``labels`` (N) and the teacher's raw-clip logits ``soft`` (N, or None).

    ``settings`` supplies batch, steps, lr, warmup_steps, temperature and grad_clip (a mode's ``train:``
    section); the learning rate follows `cosine_lr`."""
    from .augment import augment_batch
    from .loop import to_float_clips
    from .steps import cosine_lr, optimizer_step
    from .teacher import distill_kl

    n_train, n_dec = len(labels), len(decoded)

    def step(i: int, gen: torch.Generator) -> dict[str, float]:
        classifier.train()
        idx = torch.randint(0, n_dec, (settings.batch,), generator=gen)
        x = augment_batch(to_float_clips(decoded[idx]), augment, gen).to(device)
        y = labels[idx % n_train].to(device)
        for g in opt.param_groups:
            g["lr"] = cosine_lr(i, settings.steps, settings.lr, settings.warmup_steps)
        logits = classifier(x)
        ce = F.cross_entropy(logits, y)
        loss = (1.0 - distill) * ce
        stats = {"ce": ce.item()}
        if distill > 0 and soft is not None:
            kl = distill_kl(logits, soft[idx % n_train].to(device), settings.temperature)
            loss = loss + distill * kl
            stats["kl"] = kl.item()
        optimizer_step(opt, loss, classifier.parameters(), settings.grad_clip)
        stats["train_acc"] = float((logits.argmax(1) == y).float().mean())
        return stats

    return step
