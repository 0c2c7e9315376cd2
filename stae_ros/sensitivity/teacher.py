"""The edge classifier's input gradients as a teacher for SA (stae-px training, SA stage).

SA learns, as in the paper, through the classifier's loss on the soft-masked clip. On real footage
that signal is weak and misleading (the classifier has only seen whole clips; docs/real_footage.md):
SA can settle on static background. The teacher term tells SA directly where the frozen classifier
is sensitive on the *whole* clip: per frame, the target is the distribution
``|d logit_label / d x|`` (summed over colour, average-pooled over ``pool`` px, normalised to sum 1
over the frame), and the loss is the cross-entropy between it and the softmax of SA's logits over
the frame's pixels. Cross-entropy on distributions, because SA's task is a per-frame *ranking*
(top-n pixels), not calibrated scores: only the order of SA's logits within a frame matters.

The gradient is taken for the true label (the classifier's evidence for the right answer), with
the classifier frozen; it costs one extra classifier forward + backward per batch.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from stae_ros.models.motion import frame_difference

__all__ = ["gradient_target", "sa_teacher_loss"]


def gradient_target(classify, clips: Tensor, labels: Tensor, pool: int = 4) -> Tensor:
    """Per-frame pixel distribution B,T,H,W (sums to 1 over H,W) of the classifier's input gradient."""
    with torch.enable_grad():
        x = clips.detach().clone().requires_grad_(True)
        logits = classify(x)
        (g,) = torch.autograd.grad(logits.gather(1, labels.view(-1, 1)).sum(), x)
    s = g.abs().sum(dim=1)  # B,T,H,W
    b, t, h, w = s.shape
    if pool > 1:
        s = F.avg_pool2d(s.reshape(b * t, 1, h, w), pool, stride=1, padding=pool // 2, count_include_pad=False)
        s = s[..., :h, :w].reshape(b, t, h, w)
    s = s.flatten(2)
    return (s / s.sum(dim=2, keepdim=True).clamp_min(1e-12)).view(b, t, h, w).detach()


def sa_teacher_loss(model, clips: Tensor, labels: Tensor, pool: int = 4) -> Tensor:
    """Cross-entropy of SA's per-frame pixel softmax (every frame of the clip) against the gradient target."""
    target = gradient_target(model.classify, clips, labels, pool)
    motion = frame_difference(clips) if model.cfg.sa.motion else None
    logits = model.sa.logits(clips, motion)  # B,T,H,W
    logp = F.log_softmax(logits.flatten(2), dim=2)
    return -(target.flatten(2) * logp).sum(dim=2).mean()
