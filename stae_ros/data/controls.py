"""Control inputs that must leave a good action classifier near chance.

They prove that the synthetic task is about *motion in a small region*: a model trained and
tested on :func:`single_frame` clips sees appearance but no motion; one trained and tested on
:func:`remove_motion_region` clips sees all the clutter, distractor motion, drift and noise but
not the actor. Both work on numpy clips ``T,H,W,C`` or batches ``N,T,H,W,C`` (any dtype).
"""

from __future__ import annotations

import numpy as np

__all__ = ["single_frame", "remove_motion_region"]


def _batched(clips: np.ndarray) -> tuple[np.ndarray, bool]:
    arr = np.asarray(clips)
    if arr.ndim == 4:
        return arr[None], True
    if arr.ndim == 5:
        return arr, False
    raise ValueError(f"clips must be T,H,W,C or N,T,H,W,C, got shape {arr.shape}")


def single_frame(clips: np.ndarray, index: int | str | None = None, seed: int = 0) -> np.ndarray:
    """Each clip becomes one of its frames repeated over time (same shape, no motion).

    ``index``: a frame index (negative counts from the end), None for the middle frame, or
    ``"random"`` for a per-clip random frame drawn from ``seed``.
    """
    arr, single = _batched(clips)
    n, t = arr.shape[:2]
    if index is None:
        idx = np.full(n, t // 2)
    elif isinstance(index, str):
        if index != "random":
            raise ValueError(f"index must be an int, None or 'random', got {index!r}")
        idx = np.random.default_rng(seed).integers(0, t, n)
    else:
        if not -t <= int(index) < t:
            raise ValueError(f"frame index {index} out of range for {t} frames")
        idx = np.full(n, int(index) % t)
    out = np.repeat(arr[np.arange(n), idx][:, None], t, axis=1)
    return out[0] if single else out


def _box_masks(boxes: np.ndarray, n: int, t: int, h: int, w: int, margin: int) -> np.ndarray:
    """Boolean ``N,T,H,W`` masks: True inside the (margin-expanded) boxes."""
    b = np.asarray(boxes)
    if b.shape[-1] != 4:
        raise ValueError(f"boxes must end in 4 (x0,y0,x1,y1), got shape {b.shape}")
    if b.ndim == 1:
        b = np.broadcast_to(b, (n, t, 4))
    elif b.ndim == 2:
        if b.shape[0] == n and (n != 1 or t == 1):  # one region per clip
            b = np.broadcast_to(b[:, None], (n, t, 4))
        elif b.shape[0] == t:  # per-frame boxes of one clip
            b = np.broadcast_to(b[None], (n, t, 4))
        else:
            raise ValueError(f"boxes of shape {b.shape} match neither N={n} clips nor T={t} frames")
    elif b.ndim == 3:
        if b.shape[:2] != (n, t):
            raise ValueError(f"per-frame boxes must be N,T,4 = {(n, t, 4)}, got {b.shape}")
    else:
        raise ValueError(f"boxes must be (4,), (N,4), (T,4) or (N,T,4), got {b.shape}")
    x0 = np.clip(b[..., 0] - margin, 0, w)[..., None, None]
    y0 = np.clip(b[..., 1] - margin, 0, h)[..., None, None]
    x1 = np.clip(b[..., 2] + margin, 0, w)[..., None, None]
    y1 = np.clip(b[..., 3] + margin, 0, h)[..., None, None]
    ys = np.arange(h)[None, None, :, None]
    xs = np.arange(w)[None, None, None, :]
    return (ys >= y0) & (ys < y1) & (xs >= x0) & (xs < x1)


def _blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur ``H,W,C`` float32; wide kernels run on a downscaled copy (same result, cheap)."""
    import cv2

    h, w = img.shape[:2]
    f = int(max(1, min(sigma // 3, h // 4, w // 4)))
    small = img if f == 1 else cv2.resize(img, (w // f, h // f), interpolation=cv2.INTER_AREA)
    out = cv2.GaussianBlur(small, (0, 0), sigma / f, borderType=cv2.BORDER_REFLECT)
    if f > 1:
        out = cv2.resize(out, (w, h), interpolation=cv2.INTER_LINEAR)
    return out.reshape(h, w, -1)


def _spatial_fill(frame: np.ndarray, hole: np.ndarray, den_cache: dict) -> np.ndarray:
    """Fill ``hole`` pixels of one frame by normalised Gaussian blur of the pixels around it."""
    keep = (~hole).astype(np.float32)
    key = hole.tobytes()
    if key not in den_cache:
        if not keep.any():
            den_cache[key] = (None, 0.0)
        else:
            ys, xs = np.nonzero(hole)
            sigma = max(2.0, 0.5 * max(ys.max() - ys.min() + 1, xs.max() - xs.min() + 1))
            den_cache[key] = (_blur(keep[..., None], sigma), sigma)
    den, sigma = den_cache[key]
    if den is None:
        return np.zeros(frame.shape, np.float32)
    img = frame.astype(np.float32)
    num = _blur(img * keep[..., None], sigma)
    mean = (img * keep[..., None]).sum(axis=(0, 1)) / keep.sum()
    return np.where(den > 1e-4, num / np.maximum(den, 1e-4), mean)


def remove_motion_region(clips: np.ndarray, boxes: np.ndarray, margin: int = 2, fill: str = "median") -> np.ndarray:
    """Replace the actor/motion region of every frame by background.

    ``boxes``: ``(N,4)`` one region per clip (recommended for the control: the synthetic set's
    ``regions`` are placed independently of the class, so neither the hole nor its fill can
    give the class away), or ``(N,T,4)`` per-frame boxes (the hole then moves with the actor,
    which by itself reveals the motion). Unbatched ``(4,)``/``(T,4)`` go with one clip.

    ``fill="median"``: each hidden pixel takes its temporal median over the frames where it is
    visible (the background behind a moving actor); pixels hidden in every frame fall back to
    ``"blur"``: a normalised Gaussian blur of the surrounding visible pixels of that frame.
    """
    if fill not in ("median", "blur"):
        raise ValueError(f"fill must be 'median' or 'blur', got {fill!r}")
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    arr, single = _batched(clips)
    n, t, h, w, c = arr.shape
    masks = _box_masks(boxes, n, t, h, w, int(margin))
    out = arr.copy()
    for i in range(n):
        clip = arr[i].astype(np.float32)
        hidden = masks[i]
        if not hidden.any():
            continue
        filled = clip.copy()
        always = hidden.all(axis=0)
        rest = hidden & always[None] if fill == "median" else hidden
        if fill == "median":
            part = hidden.any(axis=0) & ~always  # hidden in some frames, visible in others
            if part.any():
                vals = clip[:, part]  # T,P,C
                vis = ~hidden[:, part]  # T,P
                med = np.nanmedian(np.where(vis[..., None], vals, np.nan), axis=0)  # every column has a visible frame
                for k in range(t):
                    sel = hidden[k][part]
                    if sel.any():
                        fk = filled[k][part]
                        fk[sel] = med[sel]
                        filled[k][part] = fk
        cache: dict = {}
        for k in range(t):
            if rest[k].any():
                filled[k][rest[k]] = _spatial_fill(arr[i, k], hidden[k], cache)[rest[k]]
        if np.issubdtype(arr.dtype, np.integer):
            info = np.iinfo(arr.dtype)
            filled = np.clip(np.round(filled), info.min, info.max)
        out[i] = filled.astype(arr.dtype)
    return out[0] if single else out
