"""Input-gradient saliency of the edge classifier, pooled to a small grid.

What is measured: ``|d logit_top / d x|`` summed over colour channels and time, on the clip the
edge classified (the recovered stae-px clip, the decoded stae-roi264 clip), average-pooled to a
``gh x gw`` grid and divided by its maximum.

Why the plain gradient and not gradient x input: the camera uses the map to decide where coding
error is allowed. To first order, an error ``e`` at a pixel moves the top logit by ``g . e``, so
``|g|`` is exactly the sensitivity of the decision to what the codec does there. Gradient x
input answers another question (which pixel *values* contribute to the logit against a black
reference) and is biased towards bright pixels, which says nothing about where bits matter.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np
import torch
from torch.nn import functional as F

from .errors import SensitivityError
from .map import SensitivityMap, scene_signature

__all__ = ["saliency_grid", "sensitivity_map", "METHODS"]

METHODS = ("grad", "grad_x_input")


def saliency_grid(classifier: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, grid: tuple[int, int] = (8, 8),
                  method: str = "grad", target: torch.Tensor | None = None) -> torch.Tensor:
    """Clips ``x`` B,3,T,H,W in [0,1] -> maps B,gh,gw in [0,1] (per clip, divided by its max;
    a clip with no gradient at all gives a uniform map of ones).

    ``target`` (B,) picks the logit to explain (default: each clip's top class). The gradient is
    taken w.r.t. ``x`` only (the classifier's parameters get no ``.grad``).
    """
    if method not in METHODS:
        raise SensitivityError(f"unknown saliency method {method!r}; use one of {METHODS}")
    if x.ndim != 5:
        raise SensitivityError(f"saliency needs clips B,C,T,H,W; got {tuple(x.shape)}")
    with torch.enable_grad():
        xg = x.detach().clone().requires_grad_(True)
        logits = classifier(xg)
        idx = logits.argmax(dim=1) if target is None else target.to(logits.device)
        top = logits.gather(1, idx.view(-1, 1)).sum()
        (g,) = torch.autograd.grad(top, xg)
    s = (g * xg.detach()).abs() if method == "grad_x_input" else g.abs()
    s = s.sum(dim=(1, 2))  # B,H,W
    pooled = F.adaptive_avg_pool2d(s.unsqueeze(1), grid)[:, 0]
    peak = pooled.flatten(1).max(dim=1).values.view(-1, 1, 1)
    return torch.where(peak > 0, pooled / peak.clamp_min(1e-30), torch.ones_like(pooled))


def sensitivity_map(mode: Any, decoded: Any, seq: int, grid: tuple[int, int] = (8, 8), method: str = "grad",
                    signature_size: int = 4) -> SensitivityMap:
    """The map of one decoded item of an edge mode that implements ``guidance_input(decoded)``
    (-> the clip its classifier sees as float 1,3,T,H,W in [0,1], and that classifier)."""
    hook = getattr(mode, "guidance_input", None)
    if not callable(hook):
        raise SensitivityError(f"edge mode {getattr(mode, 'name', mode)!r} does not expose its classifier's input")
    x, classifier = hook(decoded)
    values = saliency_grid(classifier, x, grid, method)[0].detach().cpu().numpy().astype(np.float32)
    clip = (x[0].detach().clamp(0, 1) * 255).round().byte().permute(1, 2, 3, 0).cpu().numpy()
    return SensitivityMap(np.clip(values, 0, 1), int(seq), time.time_ns(), str(mode.model_id),
                          scene_signature(clip, signature_size), str(mode.name))
