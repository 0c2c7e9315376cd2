"""FLOPs per clip of any torch call, counted with ``torch.utils.flop_counter.FlopCounterMode``.

Why count instead of time: the camera that matters is a Raspberry Pi, not the host the bench runs
on. A count is the same on every host, and the camera budget (``config/camera_budgets.yaml``,
``stae_ros.profiling.budgets``) turns it into time on the target with a cited throughput.

What is counted (torch's FLOP registry): matrix products (``mm``, ``addmm``, ``bmm``,
``baddbmm``, so ``nn.Linear`` and attention projections), convolutions of every dimension
including grouped / depthwise ones (``2 * output elements * input channels per group * kernel
volume``), and scaled-dot-product attention. A multiply-add counts as **2 FLOPs**.

What is NOT counted: element-wise work (activations, additions such as residuals and biases,
batch/layer norm, the frame-difference of a motion input), pooling, softmax outside fused
attention, gathers/scatters/indexing (top-k frame selection, masking), interpolation, and
entropy/range coding or libx264. For the small camera-side networks these are a minority of the
arithmetic but not of the time: memory-bound ops are why the measured ms of a depthwise network
is higher than its FLOPs suggest, and why the budget's rate is taken from mobile-class networks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["FlopCount", "count_flops", "clip_flops", "module_flops_by_op"]


@dataclass
class FlopCount:
    """FLOPs of one call: the total and the split by aten op (e.g. ``convolution``, ``addmm``)."""

    total: int
    by_op: dict[str, int] = field(default_factory=dict)

    @property
    def gflop(self) -> float:
        return self.total / 1e9

    def per_clip(self, clips: int) -> float:
        """GFLOP per clip when the counted call processed ``clips`` clips."""
        if clips < 1:
            raise ValueError(f"clips must be >= 1, got {clips}")
        return self.gflop / clips


def count_flops(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> FlopCount:
    """Run ``fn(*args, **kwargs)`` under no_grad and count its FLOPs (multiply-add = 2)."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        fn(*args, **kwargs)
    by_op: dict[str, int] = {}
    for module_counts in (counter.get_flop_counts().get("Global", {}),):
        for op, n in module_counts.items():
            name = str(getattr(op, "__name__", op)).split(".")[0]
            by_op[name] = by_op.get(name, 0) + int(n)
    return FlopCount(total=int(counter.get_total_flops()), by_op=by_op)


def clip_flops(module: torch.nn.Module, frames: int, height: int, width: int, channels: int = 3,
               batch: int = 1, **kwargs: Any) -> FlopCount:
    """FLOPs of ``module(x)`` for a random float N,C,T,H,W clip batch in [0,1] (module in eval mode).

    The count does not depend on the pixel values for the networks of this package, except those
    that select data-dependently; use `count_flops` with a real clip for those.
    """
    was_training = module.training
    module.eval()
    try:
        x = torch.rand(batch, channels, frames, height, width, generator=torch.Generator().manual_seed(0))
        return count_flops(module, x, **kwargs)
    finally:
        module.train(was_training)


def module_flops_by_op(count: FlopCount) -> str:
    """One line per op, largest first (for logs and docs)."""
    rows = sorted(count.by_op.items(), key=lambda kv: -kv[1])
    return "\n".join(f"{op:24s} {n / 1e9:10.4f} GFLOP" for op, n in rows)
