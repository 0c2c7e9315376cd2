"""The `stae demo --viz` picture: per clip, what the camera saw, what it kept, what the edge rebuilt.

One row group per clip: the T original frames; the kept frames with only their kept pixels
(dropped frames dark, dropped pixels grey); the frames the edge's FR module recovered; and a
title with the label, the truth, K, p and the payload size. No ROS here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stae_ros.plotting import save_figure

__all__ = ["VizClip", "kept_view", "render_demo_strip"]


@dataclass
class VizClip:
    seq: int
    original: np.ndarray | None  #: T,H,W,3 uint8
    kept: np.ndarray | None  #: T,H,W,3 uint8 (see kept_view)
    recovered: np.ndarray | None  #: T,H,W,3 uint8
    label: str
    score: float
    truth: str
    k: int
    p: float
    nbytes: int


def kept_view(zero_filled: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Kept pixels in colour, dropped pixels of kept frames grey, dropped frames near black."""
    out = np.full_like(zero_filled, 128)
    kept_frame = mask.reshape(mask.shape[0], -1).any(axis=1)
    out[~kept_frame] = 24
    m = mask.astype(bool)
    out[m] = zero_filled[m]
    return out


def _strip(clip: np.ndarray | None, frames: int, h: int, w: int) -> np.ndarray:
    if clip is None:
        return np.full((h, frames * w, 3), 255, np.uint8)
    return np.concatenate(list(clip), axis=1)


def split_strip(strip: np.ndarray, frames: int) -> np.ndarray:
    """Undo np.concatenate(frames, axis=1): H x (T*W) x 3 -> T,H,W,3."""
    h, tw = strip.shape[:2]
    w = tw // frames
    return np.stack([strip[:, i * w:(i + 1) * w] for i in range(frames)])


def render_demo_strip(clips: list[VizClip], path: str | Path, frames: int, height: int, width: int) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = 3 * max(1, len(clips))
    aspect = (frames * width) / height  # one strip row is `aspect` times wider than high
    fig_w = 16.0
    row_h = (fig_w - 1.6) / aspect + 0.12
    fig, axes = plt.subplots(rows, 1, figsize=(fig_w, rows * row_h + 0.3 * len(clips) + 0.2), squeeze=False)
    names = ("original", "kept by camera", "recovered on edge")
    for c, clip in enumerate(clips):
        parts = (clip.original, clip.kept, clip.recovered)
        for r, (name, part) in enumerate(zip(names, parts)):
            ax = axes[3 * c + r, 0]
            ax.imshow(_strip(part, frames, height, width), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
            if r == 0:
                ok = "" if not clip.truth else ("  [correct]" if clip.truth == clip.label else "  [wrong]")
                truth = f"truth {clip.truth} | " if clip.truth else ""
                ax.set_title(f"clip {clip.seq}: {truth}label {clip.label} ({clip.score:.2f}){ok} | "
                             f"K={clip.k} of {frames} frames, p={clip.p:g} of pixels, {clip.nbytes} B",
                             fontsize=9, loc="left")
    return save_figure(fig, path, 110, h_pad=0.2)
