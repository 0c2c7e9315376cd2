"""Controls: can the classifier architecture solve the task *without* motion in the actor region?

The synthetic set is built so that one frame, or the clip with the motion region removed, says
nothing about the class. These controls check it with the real classifier: a fresh VideoViT of
the same configuration is trained briefly and tested on (a) single-frame clips (one frame
repeated) and (b) clips whose motion region is replaced by background, next to (c) the same brief
recipe on the unmodified clips, which shows the recipe itself can learn the task. (a) and (b)
should stay near chance (1 / number of classes) while (c) does not.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .loop import to_float_clips

__all__ = ["CONTROLS", "control_inputs", "train_and_test_classifier", "run_controls", "trained_model_on_controls"]

log = logging.getLogger(__name__)

CONTROLS: tuple[str, ...] = ("single_frame", "no_motion_region", "reference")


def control_inputs(name: str, clips: np.ndarray, regions: np.ndarray | None, seed: int) -> np.ndarray:
    """The clips as control ``name`` shows them to the classifier."""
    from stae_ros.data.controls import remove_motion_region, single_frame

    if name == "single_frame":
        return single_frame(clips, index="random", seed=seed)
    if name == "no_motion_region":
        if regions is None:
            raise ValueError("the no_motion_region control needs motion regions (the synthetic set's annotations.json)")
        return remove_motion_region(clips, regions)
    if name == "reference":
        return clips
    raise ValueError(f"unknown control {name!r}; controls are {', '.join(CONTROLS)}")


def train_and_test_classifier(model_cfg: Any, train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray,
                              test_y: np.ndarray, epochs: int, batch_size: int, lr: float, seed: int,
                              device: torch.device, progress: bool = True, desc: str = "control") -> float:
    """Train a fresh VideoViT (same config as the model's) on ``train_x`` and return test accuracy."""
    from tqdm import tqdm

    from stae_ros.models import VideoViT

    torch.manual_seed(seed)
    model = VideoViT(model_cfg.vit, model_cfg.clip).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    n = len(train_y)
    steps = max(1, epochs * ((n + batch_size - 1) // batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    gen = torch.Generator().manual_seed(seed)
    xs, ys = torch.from_numpy(np.ascontiguousarray(train_x)), torch.as_tensor(train_y, dtype=torch.long)
    bar = tqdm(total=steps, desc=desc, disable=not progress, leave=False)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        for start in range(0, n, batch_size):
            idx = perm[start : start + batch_size]
            loss = F.cross_entropy(model(to_float_clips(xs[idx], device)), ys[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close()
    model.eval()
    correct = 0
    with torch.no_grad():
        tx = torch.from_numpy(np.ascontiguousarray(test_x))
        for start in range(0, len(test_y), 64):
            logits = model(to_float_clips(tx[start : start + 64], device))
            correct += int((logits.argmax(1).cpu().numpy() == np.asarray(test_y[start : start + 64])).sum())
    return correct / max(len(test_y), 1)


def run_controls(model_cfg: Any, train: Any, test: Any, epochs: int = 3, batch_size: int = 16, lr: float = 1e-3,
                 seed: int = 0, device: torch.device | str = "cpu", controls: tuple[str, ...] = CONTROLS,
                 progress: bool = True) -> dict[str, Any]:
    """Train/test each control on the given ClipArrays; returns accuracies, chance and settings."""
    device = torch.device(device)
    n_classes = len(train.class_names)
    out: dict[str, Any] = {"chance": 1.0 / n_classes, "epochs": epochs, "train_clips": len(train.labels),
                           "test_clips": len(test.labels), "accuracy": {}, "seconds": {}}
    for i, name in enumerate(controls):
        t0 = time.perf_counter()
        tr = control_inputs(name, train.clips, getattr(train, "regions", None), seed)
        te = control_inputs(name, test.clips, getattr(test, "regions", None), seed + 1)
        acc = train_and_test_classifier(model_cfg, tr, train.labels, te, test.labels, epochs, batch_size, lr,
                                        seed + 100 * i, device, progress, desc=name)
        out["accuracy"][name] = acc
        out["seconds"][name] = round(time.perf_counter() - t0, 1)
        log.info("control %s: accuracy %.3f (chance %.3f)", name, acc, out["chance"])
    return out


@torch.no_grad()
def trained_model_on_controls(model: Any, test: Any, seed: int = 0, batch_size: int = 32,
                              device: torch.device | str = "cpu") -> dict[str, float]:
    """Accuracy of an already trained STAE classifier (full budget) on the control inputs of ``test``.

    Cheap next to :func:`run_controls` (no training): a classifier that really reads the actor's
    motion must drop to about chance when the motion is gone.
    """
    device = torch.device(device)
    model.eval()
    out: dict[str, float] = {}
    for name in CONTROLS:
        x = control_inputs(name, test.clips, getattr(test, "regions", None), seed)
        correct = 0
        for start in range(0, len(test.labels), batch_size):
            logits = model.classify(to_float_clips(x[start : start + batch_size], device))
            correct += int((logits.argmax(1).cpu().numpy() == np.asarray(test.labels[start : start + batch_size])).sum())
        out[name] = correct / max(len(test.labels), 1)
    return out
