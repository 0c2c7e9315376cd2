"""Train the importance map for region coding: CE on the composited clip + beta * kept area.

The composited clip (kept blocks + static background, `composite_torch`) is the
differentiable stand-in for "what the edge decodes"; the hard keep decision (importance >= 0.5)
is passed straight through (second half of training; the first half blends softly, which
gives every block a gradient) so training sees the same binary map the camera applies, while
the rate proxy is the soft importance-weighted area. A copy of the classifier adapts alongside
(lower learning rate) because the edge classifier is fine-tuned on decoded clips anyway.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from tqdm import tqdm

from .classifier import to_tensor
from .importance import ImportanceNet, composite_torch
from .map_training import MapTraining, map_and_classifier_optimizer

__all__ = ["train_importance"]

log = logging.getLogger(__name__)


def train_importance(
    classifier: nn.Module,
    clips: np.ndarray,
    labels: np.ndarray,
    cfg: MapTraining,
    bg_block: int = 16,
    distill_steps: int = 0,
) -> tuple[ImportanceNet, dict]:
    """Returns the trained map net and the last-step stats (ce, kept area).

    `distill_steps` > 0 first regresses the net onto `motion_importance` (BCE, no classifier), so
    the task-driven phase starts from a sensible map instead of "keep everything", which in
    this budget collapsed to "keep nothing".
    """
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    block, batch, steps, progress = cfg.block, cfg.batch, cfg.steps, cfg.progress
    net = ImportanceNet(block=block)
    if distill_steps > 0:
        from .importance import motion_importance

        dopt = torch.optim.Adam(net.parameters(), lr=3e-3)
        for _ in tqdm(range(distill_steps), desc="importance distill", leave=False, disable=not progress, mininterval=5.0):
            idx = rng.integers(0, len(clips), batch)
            target = torch.from_numpy(np.stack([motion_importance(clips[i], block) for i in idx]))
            loss = F.binary_cross_entropy_with_logits(net(to_tensor(clips[idx])), target)
            dopt.zero_grad(set_to_none=True)
            loss.backward()
            dopt.step()
    cls, opt, sched = map_and_classifier_optimizer(net, classifier, cfg)
    y_all = torch.from_numpy(np.asarray(labels, np.int64))
    stats: dict = {}
    net.train()
    bar = tqdm(range(steps), desc=f"importance beta={cfg.beta:g}", leave=False, disable=not progress, mininterval=5.0)
    for step in bar:
        idx = rng.integers(0, len(clips), batch)
        x = to_tensor(clips[idx])
        soft = torch.sigmoid(net(x))
        hard = (soft >= 0.5).float()
        # first half: soft blending (a gradient at every block); then the camera's hard map,
        # straight through, so the classifier learns to live with binary keep/drop
        keep = soft if step < steps // 2 else hard + soft - soft.detach()
        ce = F.cross_entropy(cls(composite_torch(x, keep, bg_block)), y_all[idx])
        area = soft.mean()
        loss = ce + cfg.beta * area
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        stats = {"ce": ce.item(), "area": area.item(), "kept": hard.mean().item()}
        bar.set_postfix({k: f"{v:.3f}" for k, v in stats.items()}, refresh=False)
    net.eval()
    return net, stats
