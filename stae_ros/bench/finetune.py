"""Fair accuracy per codec: the same classifier, adapted to each codec's artefacts the same way.

Why head-only: one full fine-tuning step of the default ViT (batch 16) takes ~15 s on this 2-core
shared CPU, so giving each of ~25 operating points even 50 full steps would take hours. Instead
every codec gets the identical recipe: the checkpoint's ViT backbone is frozen, clip features of
the codec's *decoded* fine-tuning clips are computed once, and the head (initialised from the
checkpoint's head) is trained for ``steps`` full-batch AdamW steps at ``lr``. Both the zero-shot
accuracy (checkpoint head as is) and the adapted accuracy are reported.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["FinetuneConfig", "clip_features", "fit_head", "accuracy"]


@dataclass
class FinetuneConfig:
    steps: int = 300
    lr: float = 3e-3
    weight_decay: float = 1e-3
    batch: int = 32  # feature extraction batch (no gradient)
    seed: int = 0


def clip_features(vit: Any, clips: np.ndarray, batch: int = 32) -> Any:
    """Frozen-backbone features ``N,dim`` of uint8 clips ``N,T,H,W,3``."""
    import torch

    vit.eval()
    out = []
    with torch.inference_mode():
        for i in range(0, len(clips), batch):
            x = torch.from_numpy(np.ascontiguousarray(clips[i : i + batch])).permute(0, 4, 1, 2, 3).float().div_(255.0)
            out.append(vit.features(x))
    return torch.cat(out)


def fit_head(vit: Any, feats: Any, labels: np.ndarray, cfg: FinetuneConfig) -> Any:
    """A copy of ``vit.head`` trained on (feats, labels) with the fixed recipe."""
    import torch

    torch.manual_seed(cfg.seed)
    head = copy.deepcopy(vit.head).train()
    for p in head.parameters():
        p.requires_grad_(True)
    y = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    x = feats.detach().clone()
    opt = torch.optim.AdamW(head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    for _ in range(cfg.steps):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(head(x), y)
        loss.backward()
        opt.step()
    return head.eval()


def accuracy(head: Any, feats: Any, labels: np.ndarray) -> float:
    import torch

    with torch.inference_mode():
        pred = head(feats).argmax(dim=1).cpu().numpy()
    return float(np.mean(pred == np.asarray(labels)))
