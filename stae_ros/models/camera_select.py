"""FA + SA hard selection straight from the camera's uint8 ``T,H,W,C`` clip, on one CPU thread.

Why a second path next to :meth:`STAE.select`: that one takes the model's float ``B,C,T,H,W``
tensor, so the camera first converts the whole clip to float, gathers it, takes the frame
difference in float, transposes both into per-frame maps and then ranks with ``torch.topk``.
On a Pi-class host that bookkeeping cost more than the SA convolution itself (measured on the
2-core x86 dev host, one thread, stae-k16-p0.05: 0.63 ms for the SA logits and 0.38 ms for the
top pixels through the tensor path). Here:

- SA's channel max/mean and the motion maps are computed with OpenCV on the uint8 planes, and
  the 1/255 (and 1/(255*C) for the means) scaling moves into the conv weights, so the maps are
  small integers converted to float once;
- the depthwise form of SA's one-output conv (:func:`stae_ros.models.sa.one_output_depthwise`,
  as inference through the tensor path uses it) runs on those maps;
- the ``n``-th largest score per frame comes from ``np.partition`` (linear time) instead of
  ``torch.topk``, with the same tie rule as :func:`~stae_ros.models.selection.top_pixels_mask`.

The frames are the same (FA is the same code on the same tensor); the SA logits differ from the
tensor path only by float rounding (~1e-5 on logits of tens), so a pixel's fate can differ only
where two scores tie to that precision at the threshold (tested against :meth:`STAE.select`).
SA with a hidden layer (``sa.hidden > 0``) goes through the tensor path.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch import nn

from .errors import ShapeError
from .sa import one_output_depthwise
from .selection import clip_tensor, top_k_frames

__all__ = ["select_uint8", "top_pixels_mask_np", "spatial_maps_uint8"]


def top_pixels_mask_np(scores: np.ndarray, n: int) -> np.ndarray:
    """Bool mask ``K,H,W`` with exactly ``n`` True per frame at the highest ``scores K,H,W``.

    The same rule as the torch :func:`~stae_ros.models.selection.top_pixels_mask`: all scores
    above the n-th largest are kept, and of those equal to it the earliest in raster order; NaN
    counts as lowest.
    """
    k, h, w = scores.shape
    if n >= h * w:
        return np.ones((k, h, w), dtype=bool)
    flat = scores.reshape(k, h * w)
    if np.isnan(flat).any():
        flat = np.nan_to_num(flat, nan=-np.inf)
    threshold = np.partition(flat, h * w - n, axis=1)[:, h * w - n, None]
    keep = flat >= threshold
    counts = keep.sum(axis=1)
    for row in np.flatnonzero(counts != n):  # ties at the threshold: earliest raster positions
        above = flat[row] > threshold[row]
        tied = flat[row] == threshold[row]
        need = n - int(above.sum())
        keep[row] = above | (tied & (np.cumsum(tied) <= need))
    return keep.reshape(k, h, w)


def _previous_indices(indices: np.ndarray) -> np.ndarray:
    """The frame each kept frame's difference is taken against (as ``previous_frame_indices``)."""
    return np.where(indices == 0, 1, indices - 1)


def _channel_max_into(dst: np.ndarray, planes: list[np.ndarray]) -> None:
    out = planes[0]
    for p in planes[1:]:
        out = cv2.max(out, p)
    np.copyto(dst, out)


def _channel_sum_into(dst: np.ndarray, planes: list[np.ndarray]) -> None:
    np.copyto(dst, planes[0])
    for p in planes[1:]:
        cv2.add(dst, p, dst=dst, dtype=cv2.CV_32F)


def spatial_maps_uint8(clip: np.ndarray, indices: np.ndarray, motion: bool) -> np.ndarray:
    """SA's input maps for the kept frames, unscaled, map-major: ``2 or 4, K, H, W`` float32.

    Map order as in :meth:`SpatialAttention.logits`: channel max, channel sum (the mean times C),
    then the same two of ``|frame - previous frame|`` when ``motion``; the caller scales. OpenCV's
    ``split``/``max``/``absdiff``/``add`` on uint8 planes: 2.4x faster than numpy's reductions
    over the channel axis, and exact (integers below 2**24 in float32).
    """
    t, h, w, c = clip.shape
    planes = [p.reshape(t, h, w) for p in cv2.split(np.ascontiguousarray(clip).reshape(t * h, w, c))]
    k = len(indices)
    every_frame = k == t and bool(np.all(indices == np.arange(t)))
    cur = planes if every_frame else [p[indices] for p in planes]
    flat = [p.reshape(k * h, w) for p in cur]
    maps = np.empty((4 if motion else 2, k * h, w), dtype=np.float32)
    _channel_max_into(maps[0], flat)
    _channel_sum_into(maps[1], flat)
    if motion:
        if t < 2:
            maps[2:] = 0.0
        elif every_frame:  # frame 0 takes frame 1's difference, as frame_difference does
            diff = [cv2.absdiff(p[1:].reshape(-1, w), p[:-1].reshape(-1, w)) for p in planes]
            _channel_max_into(maps[2, h:], diff)
            _channel_sum_into(maps[3, h:], diff)
            maps[2:, :h] = maps[2:, h : 2 * h]
        else:
            prev = _previous_indices(indices)
            diff = [cv2.absdiff(f, p[prev].reshape(k * h, w)) for f, p in zip(flat, planes)]
            _channel_max_into(maps[2], diff)
            _channel_sum_into(maps[3], diff)
    return maps.reshape(-1, k, h, w)


def _sa_logits_uint8(conv: nn.Conv2d, clip: np.ndarray, indices: np.ndarray, motion: bool) -> np.ndarray:
    """Pre-sigmoid SA scores ``K,H,W`` of the kept frames (the depthwise form of SA's conv)."""
    maps = torch.from_numpy(spatial_maps_uint8(clip, indices, motion))
    m = maps.shape[0]
    scale = torch.tensor([1.0 / 255.0, 1.0 / (255.0 * clip.shape[3])] * (m // 2), dtype=torch.float32)
    return one_output_depthwise(maps, conv.weight[0] * scale.view(m, 1, 1), conv.bias, conv.padding,
                                map_major=True).numpy()


@torch.inference_mode()
def select_uint8(model, clip: np.ndarray, k: int, p: float) -> tuple[np.ndarray, np.ndarray]:
    """Frame indices ``K`` (int64, ascending) and pixel mask ``K,H,W`` (bool) of :meth:`STAE.select`.

    ``model`` is a :class:`~stae_ros.models.STAE`; ``clip`` the camera's ``T,H,W,C`` uint8 clip.
    """
    c = model.cfg.clip
    want = (c.frames, c.height, c.width, c.channels)
    if not isinstance(clip, np.ndarray) or clip.dtype != np.uint8 or clip.shape != want:
        raise ShapeError(f"expected a uint8 clip of shape (T,H,W,C) {want}, got "
                         f"{getattr(clip, 'dtype', type(clip).__name__)} {getattr(clip, 'shape', '')}")
    n = model._check_budget(k, p)
    t, h, w, _ = clip.shape
    device = next(model.parameters()).device
    if not isinstance(model.sa.net, nn.Conv2d) or device.type != "cpu":  # hidden-layer SA, or a GPU model
        sel = model.select(clip_tensor(clip).to(device), k, p)
        return sel.frame_indices[0].cpu().numpy().astype(np.int64), sel.mask[0].cpu().numpy().astype(bool)
    if k == t:
        indices = np.arange(t, dtype=np.int64)
    else:
        indices = top_k_frames(model.fa.logits(clip_tensor(clip)), k)[0].numpy().astype(np.int64)
    if n >= h * w:
        return indices, np.ones((k, h, w), dtype=bool)
    scores = _sa_logits_uint8(model.sa.net, clip, indices, model.cfg.sa.motion)
    return indices, top_pixels_mask_np(scores, n)
