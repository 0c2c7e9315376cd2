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


# --------------------------------------------------------------------------- payload halves
# Camera-side and edge-side FLOPs per clip of each mode's networks, for the profile and the bench.
# Work outside torch (libx264, range coding, numpy motion maps) is not counted: see the module doc.


def _clip(frames: int, height: int, width: int) -> torch.Tensor:
    return torch.rand(1, 3, frames, height, width, generator=torch.Generator().manual_seed(0))


def stae_px_flops(model: Any, k: int, p: float) -> tuple[FlopCount, FlopCount]:
    """(camera, edge) of stae-px at budget (K, p): FA + SA selection; FR + ViT on the scattered clip."""
    c = model.cfg.clip
    clip = _clip(c.frames, c.height, c.width)
    model.eval()
    camera = count_flops(model.select, clip, k, p)
    with torch.no_grad():
        zero_filled, mask = model.assemble(clip, model.select(clip, k, p))
    edge = count_flops(lambda z, m: model.classify(model.recover(z, m)), zero_filled, mask)
    return camera, edge


def latent_flops(model: Any) -> tuple[FlopCount, FlopCount]:
    """(camera, edge) of stae-latent: the encoder; the head on the (quantised) latent."""
    cfg = model.cfg
    model.eval()
    clip = _clip(cfg.frames, cfg.height, cfg.width)
    camera = count_flops(model.encoder, clip)
    with torch.no_grad():
        latent = model.prior.quantize(model.encoder(clip), training=False)
    return camera, count_flops(model.head, latent)


def classifier_flops(classifier: torch.nn.Module, frames: int, height: int, width: int) -> FlopCount:
    """One clip through a clip classifier (the local model; roi264's and h264's edge classifier)."""
    classifier.eval()
    return count_flops(classifier, _clip(frames, height, width))


def shipped_model_flops(models_dir: str = "models") -> list[dict[str, Any]]:
    """GFLOP per clip, camera and edge side, of every model file shipped in ``models_dir``."""
    from pathlib import Path

    rows: list[dict[str, Any]] = []
    root = Path(models_dir)
    stae = root / "stae_default.pt"
    if stae.is_file():
        from stae_ros.training.checkpoints import load_model

        model = load_model(stae).model
        t = model.cfg.clip.frames
        for k, p in ((t, 1.0), (t, 0.05), (8, 0.05), (4, 0.05), (2, 0.1)):
            cam, edge = stae_px_flops(model, k, p)
            rows.append({"mode": "stae-px", "model": stae.name, "setting": f"K={k} p={p:g}",
                         "clip": f"{t}x{model.cfg.clip.height}x{model.cfg.clip.width}",
                         "camera_gflop": cam.gflop, "edge_gflop": edge.gflop})
    for path in sorted(root.glob("stae_latent*.pt")):
        from stae_ros.latent.io import load_latent_model

        lm = load_latent_model(path)
        cam, edge = latent_flops(lm)
        rows.append({"mode": "stae-latent", "model": path.name, "setting": "",
                     "clip": f"{lm.cfg.frames}x{lm.cfg.height}x{lm.cfg.width}", "camera_gflop": cam.gflop, "edge_gflop": edge.gflop})
    for path in sorted(root.glob("stae_roi264*.pt")):
        from stae_ros.roi.node_model import load_roi_model

        rm = load_roi_model(path)
        t, h, w = rm.shape
        cam = count_flops(lambda x: rm.importance_net.importance(x), _u8(t, h, w)).gflop if rm.importance_net else 0.0
        rows.append({"mode": "stae-roi264", "model": path.name, "setting": "", "clip": f"{t}x{h}x{w}",
                     "camera_gflop": cam, "edge_gflop": classifier_flops(rm.classifier, t, h, w).gflop})
    for path in sorted(root.glob("stae_local*.pt")):
        from stae_ros.local import load_local_model

        lf = load_local_model(path)
        t, h, w, _ = lf.shape
        rows.append({"mode": "local", "model": path.name, "setting": "", "clip": f"{t}x{h}x{w}",
                     "camera_gflop": classifier_flops(lf.model, t, h, w).gflop, "edge_gflop": 0.0})
    return rows


def _u8(t: int, h: int, w: int) -> Any:
    import numpy as np

    return np.random.default_rng(0).integers(0, 256, (t, h, w, 3), dtype=np.uint8)


if __name__ == "__main__":  # python -m stae_ros.profiling.flops [models_dir]: the shipped models' halves
    import sys

    for row in shipped_model_flops(sys.argv[1] if len(sys.argv) > 1 else "models"):
        print(f"{row['mode']:12s} {row['model']:28s} {row['setting']:12s} {row['clip']:10s} "
              f"camera {row['camera_gflop']:.4f} GFLOP  edge {row['edge_gflop']:.4f} GFLOP")
