"""How a camera mode turns an accepted map into its own decision.

- stae-px: SA's per-pixel logits plus ``weight * log(map)`` (the map upsampled to the frame,
  floored at ``FLOOR`` so a cell the edge found irrelevant is pushed down, not forbidden), then
  the same top-n per frame. Adding in logit space keeps SA's fine, per-pixel order inside a cell
  and lets the edge's coarse map move whole cells up or down.
- stae-roi264: the block importance map becomes ``(1 - mix) * own + mix * map`` (the map at the
  block grid, the same for every frame), so crop/fill and the threshold work unchanged.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from stae_ros.models.camera_select import _sa_logits_uint8, select_uint8, top_pixels_mask_np
from stae_ros.models.selection import clip_tensor, top_k_frames

from .map import SensitivityMap

__all__ = ["FLOOR", "log_prior", "guided_select_uint8", "dilate_cells", "coverage", "mix_importance"]

FLOOR = 0.02


def log_prior(m: SensitivityMap, h: int, w: int) -> np.ndarray:
    """log(max(map, FLOOR)) at h,w (float32, <= 0)."""
    return np.log(np.maximum(m.upsample(h, w), FLOOR)).astype(np.float32)


@torch.inference_mode()
def guided_select_uint8(model, clip: np.ndarray, k: int, p: float, m: SensitivityMap, weight: float
                        ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`~stae_ros.models.camera_select.select_uint8` with SA's logits steered by the map."""
    t, h, w, _ = clip.shape
    n = model._check_budget(k, p)
    if n >= h * w or weight == 0:
        return select_uint8(model, clip, k, p)
    if k == t:
        indices = np.arange(t, dtype=np.int64)
    else:
        indices = top_k_frames(model.fa.logits(clip_tensor(clip)), k)[0].numpy().astype(np.int64)
    if isinstance(model.sa.net, nn.Conv2d):
        scores = _sa_logits_uint8(model.sa.net, clip, indices, model.cfg.sa.motion)
    else:  # hidden-layer SA: its tensor path (all frames' motion from the whole clip)
        x = clip_tensor(clip)
        from stae_ros.models.motion import frame_difference

        motion = frame_difference(x)[:, :, torch.from_numpy(indices)] if model.cfg.sa.motion else None
        scores = model.sa.logits(x[:, :, torch.from_numpy(indices)], motion)[0].numpy()
    scores = scores + float(weight) * log_prior(m, h, w)[None]
    return indices, top_pixels_mask_np(scores, n)


def dilate_cells(g: np.ndarray, dilate: int) -> np.ndarray:
    """Half the map plus half its max over a (2*dilate+1)^2 neighbourhood, as the motion map does:
    the edge saw the action's cells, the codec also needs their rim (where the actor moves next)."""
    if dilate <= 0:
        return g
    pad = np.pad(g, dilate, mode="constant")
    n = 2 * dilate + 1
    near = np.max([pad[i: i + g.shape[0], j: j + g.shape[1]] for i in range(n) for j in range(n)], axis=0)
    return near * 0.5 + g * 0.5


def coverage(g: np.ndarray) -> np.ndarray:
    """Each cell's value -> the share of the map's total sensitivity held by the cells at least as
    important as it, counted from the top (1 - that share + its own share): thresholding the result
    at ``th`` keeps the fewest cells that hold ``1 - th`` of the sensitivity. Why: a max-normalised
    gradient map is peaky (one cell at 1, the actor's other cells at 0.3), so a fixed threshold on it
    keeps one cell on one clip and half the frame on the next; a share of the mass is stable."""
    flat = g.ravel().astype(np.float64)
    total = flat.sum()
    if total <= 0:
        return np.ones_like(g, np.float32)
    order = np.argsort(-flat, kind="stable")
    before = np.concatenate([[0.0], np.cumsum(flat[order])[:-1]]) / total
    out = np.empty_like(flat)
    out[order] = 1.0 - before
    return out.reshape(g.shape).astype(np.float32)


def mix_importance(own: np.ndarray, m: SensitivityMap, mix: float, dilate: int = 0, scale: str = "max",
                   combine: str = "linear") -> np.ndarray:
    """Own importance T,hb,wb in [0,1] mixed with the map at the block grid (float32 T,hb,wb);
    ``scale``: "max" (the map as sent, 1 = its peak) or "coverage" (:func:`coverage`).

    ``combine``: "linear", ``(1 - mix) * own + mix * map`` (either source alone can keep a block),
    or "geometric", ``own ** (1 - mix) * map ** mix`` (a block is kept only where the camera sees
    motion *and* the edge's classifier is sensitive: the product of experts, as stae-px adds
    ``weight * log(map)`` to SA's logits). Why both: the motion map also fires on moving
    distractors, which the classifier ignores; a linear mix keeps them, the geometric one drops
    them. The map is floored at :data:`FLOOR` first, so one cell the edge found flat does not veto
    a block outright."""
    t, hb, wb = own.shape
    g = m.upsample(hb, wb)
    if scale == "coverage":
        g = coverage(g)
    g = dilate_cells(g, dilate)[None]
    if combine == "geometric":
        return (np.power(np.clip(own, 0.0, 1.0), 1.0 - mix) * np.power(np.maximum(g, FLOOR), mix)).astype(np.float32)
    if combine != "linear":
        raise ValueError(f"unknown combine {combine!r}; use 'linear' or 'geometric'")
    return ((1.0 - mix) * own + mix * g).astype(np.float32)
