"""Fair accuracy per codec: the same classifier, adapted to each codec's artefacts the same way.

Every operating point gets the identical recipe, on the *decoded* fine-tuning clips (train split,
passed through that codec's encoder and decoder):

- ``mode="full"`` (the default of ``stae bench codecs``): a copy of the checkpoint's whole ViT
  (every weight) is fine-tuned for ``steps`` mini-batches of ``batch`` clips. AdamW, linear warm-up
  over the first 10% of the steps then cosine decay, gradient norm clipped at 1. The batches are
  drawn epoch by epoch from one seeded permutation stream, and the augmentation (random shift,
  brightness, contrast; no flips, which would swap classes) from another, so with the same number
  of clips every codec sees the same clips in the same order with the same transforms.
- ``mode="head"``: the backbone stays frozen; features of the decoded clips are computed once and
  only the head (initialised from the checkpoint's) is re-fitted for ``steps`` full-batch AdamW
  steps. Much cheaper, but cannot undo what a codec does to the features.

Both the zero-shot accuracy (checkpoint as is) and the adapted accuracy are returned.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

__all__ = ["FinetuneConfig", "clip_features", "fit_head", "finetune_vit", "accuracy", "adapt_and_score",
           "ADAPT_MODES"]

ADAPT_MODES = ("full", "head")

#: per-mode defaults: (steps, lr, weight_decay)
_DEFAULTS = {"full": (150, 3e-4, 0.05), "head": (300, 3e-3, 1e-3)}


@dataclass
class FinetuneConfig:
    mode: str = "full"
    steps: int | None = None  #: None: 150 (full) / 300 (head)
    lr: float | None = None  #: None: 3e-4 (full) / 3e-3 (head)
    weight_decay: float | None = None  #: None: 0.05 (full) / 1e-3 (head)
    batch: int = 16  #: training mini-batch of the full mode (the head mode is full-batch)
    eval_batch: int = 32  #: inference batch (features, accuracy)
    warmup_frac: float = 0.1
    grad_clip: float = 1.0
    seed: int = 0
    #: augmentation of the full mode (same transform on every frame of a clip)
    augment: dict[str, float] = field(default_factory=lambda: {"shift": 3, "brightness": 0.08, "contrast": 0.1})

    def __post_init__(self) -> None:
        if self.mode not in ADAPT_MODES:
            raise ValueError(f"adaptation mode must be one of {ADAPT_MODES}, got {self.mode!r}")
        steps, lr, wd = _DEFAULTS[self.mode]
        self.steps = steps if self.steps is None else int(self.steps)
        self.lr = lr if self.lr is None else float(self.lr)
        self.weight_decay = wd if self.weight_decay is None else float(self.weight_decay)

    def describe(self) -> str:
        if self.mode == "full":
            return (f"full fine-tuning of every ViT weight: {self.steps} steps x batch {self.batch} of the codec's decoded "
                    f"train clips, AdamW lr {self.lr:g} (warm-up + cosine), wd {self.weight_decay:g}, seed {self.seed}")
        return (f"head only (frozen ViT backbone): {self.steps} full-batch AdamW steps on the features of the codec's "
                f"decoded train clips, lr {self.lr:g}, wd {self.weight_decay:g}, seed {self.seed}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"recipe": self.describe()}


def _to_float(clips: np.ndarray) -> Any:
    import torch

    return torch.from_numpy(np.ascontiguousarray(clips)).permute(0, 4, 1, 2, 3).float().div_(255.0)


def clip_features(vit: Any, clips: np.ndarray, batch: int = 32) -> Any:
    """Frozen-backbone features ``N,dim`` of uint8 clips ``N,T,H,W,3``."""
    import torch

    vit.eval()
    out = []
    with torch.inference_mode():
        for i in range(0, len(clips), batch):
            out.append(vit.features(_to_float(clips[i : i + batch])))
    return torch.cat(out)


def fit_head(vit: Any, feats: Any, labels: np.ndarray, cfg: FinetuneConfig) -> Any:
    """A copy of ``vit.head`` trained on (feats, labels) with the fixed full-batch recipe."""
    import torch

    torch.manual_seed(cfg.seed)
    head = copy.deepcopy(vit.head).train()
    for p in head.parameters():
        p.requires_grad_(True)
    y = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    x = feats.detach().clone()
    opt = torch.optim.AdamW(head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    for _ in range(int(cfg.steps)):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(head(x), y)
        loss.backward()
        opt.step()
    return head.eval()


def _batches(n: int, batch: int, steps: int, seed: int) -> list[np.ndarray]:
    """``steps`` index batches: consecutive slices of per-epoch permutations (seeded)."""
    rng = np.random.default_rng(seed)
    batch = max(1, min(batch, n))
    out: list[np.ndarray] = []
    perm = rng.permutation(n)
    pos = 0
    while len(out) < steps:
        if pos + batch > n:
            perm, pos = rng.permutation(n), 0
        out.append(perm[pos : pos + batch])
        pos += batch
    return out


def finetune_vit(vit: Any, clips: np.ndarray, labels: np.ndarray, cfg: FinetuneConfig) -> tuple[Any, dict[str, Any]]:
    """A copy of the whole ViT fine-tuned on uint8 clips ``N,T,H,W,3`` with the fixed recipe.

    Returns (model in eval mode, {"loss_first", "loss_last"}: mean loss of the first / last 10% of steps).
    """
    import torch

    from stae_ros.training import AugmentConfig
    from stae_ros.training.augment import augment_batch

    torch.manual_seed(cfg.seed)
    model = copy.deepcopy(vit)
    for p in model.parameters():
        p.requires_grad_(True)
    model.train()
    steps = int(cfg.steps)
    warm = max(1, int(round(cfg.warmup_frac * steps)))

    def lr_factor(i: int) -> float:
        if i < warm:
            return (i + 1) / warm
        return 0.5 * (1.0 + math.cos(math.pi * (i - warm) / max(1, steps - warm)))

    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor)
    aug = AugmentConfig(**cfg.augment)
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    y_all = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    losses = []
    for idx in _batches(len(clips), cfg.batch, steps, cfg.seed):
        x = augment_batch(_to_float(clips[idx]), aug, gen)
        loss = torch.nn.functional.cross_entropy(model(x), y_all[torch.from_numpy(idx)])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
    model.eval()
    k = max(1, len(losses) // 10)
    return model, {"loss_first": float(np.mean(losses[:k])) if losses else None,
                   "loss_last": float(np.mean(losses[-k:])) if losses else None}


def accuracy(head: Any, feats: Any, labels: np.ndarray) -> float:
    """Accuracy of ``head`` on precomputed features."""
    import torch

    with torch.inference_mode():
        pred = head(feats).argmax(dim=1).cpu().numpy()
    return float(np.mean(pred == np.asarray(labels)))


def model_accuracy(model: Any, clips: np.ndarray, labels: np.ndarray, batch: int = 32) -> float:
    """Accuracy of a whole classifier (clips -> logits) on uint8 clips."""
    import torch

    model.eval()
    preds = []
    with torch.inference_mode():
        for i in range(0, len(clips), batch):
            preds.append(model(_to_float(clips[i : i + batch])).argmax(dim=1).cpu().numpy())
    return float(np.mean(np.concatenate(preds) == np.asarray(labels)))


def adapt_and_score(vit: Any, ft_clips: np.ndarray, ft_labels: np.ndarray, test_clips: np.ndarray,
                    test_labels: np.ndarray, cfg: FinetuneConfig) -> dict[str, Any]:
    """Zero-shot and adapted accuracy of ``vit`` on one codec's decoded clips (``vit`` is not changed)."""
    t0 = time.process_time()
    if cfg.mode == "head":
        f_test = clip_features(vit, test_clips, cfg.eval_batch)
        head = fit_head(vit, clip_features(vit, ft_clips, cfg.eval_batch), ft_labels, cfg)
        out = {"acc_zero_shot": accuracy(vit.head, f_test, test_labels), "acc": accuracy(head, f_test, test_labels)}
    else:
        zero = model_accuracy(vit, test_clips, test_labels, cfg.eval_batch)
        tuned, info = finetune_vit(vit, ft_clips, ft_labels, cfg)
        out = {"acc_zero_shot": zero, "acc": model_accuracy(tuned, test_clips, test_labels, cfg.eval_batch),
               "adapt_loss_first": info["loss_first"], "adapt_loss_last": info["loss_last"]}
    out["adapt_cpu_s"] = time.process_time() - t0
    return out
