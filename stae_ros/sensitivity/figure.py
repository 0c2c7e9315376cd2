"""A picture of what each map keeps: a few clips, their motion map, the edge's map, and the clip
as stae-roi264 sends it with either.

Why a picture: a bytes-vs-accuracy curve says *that* one map is cheaper, not *why*. Seeing the
motion map light up on moving clutter that the classifier ignores, and the edge's map stay on the
actor, is what tells a user whether the map will pay on their scenes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from stae_ros.plotting import save_figure

__all__ = ["draw_map_comparison"]


def draw_map_comparison(path: str | Path, clips: Sequence[np.ndarray], own: Sequence[np.ndarray],
                        edge_maps: Sequence[np.ndarray], mixed: Sequence[np.ndarray],
                        code: Callable[[np.ndarray, np.ndarray], tuple[int, np.ndarray]], threshold: float,
                        mix_label: str) -> Path:
    """One row per clip: its middle frame, the motion map, the edge's map (both block grids in
    [0, 1]), and the middle frame of the clip as decoded after coding with the motion map and with
    ``mixed`` at ``threshold``. ``code(clip, importance) -> (bytes, decoded uint8 T,H,W,3)``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = len(clips)
    if rows == 0:
        raise ValueError("no clips to draw")
    fig, axes = plt.subplots(rows, 5, figsize=(10, 2.1 * rows), squeeze=False)
    titles = ("clip (middle frame)", "motion map", "edge's map", f"sent, motion map (th {threshold:g})",
              f"sent, {mix_label}")
    for r, (clip, o, g, m) in enumerate(zip(clips, own, edge_maps, mixed)):
        mid = clip.shape[0] // 2
        panels: list[tuple[np.ndarray, str]] = [(clip[mid], ""), (np.asarray(o).max(axis=0), ""),
                                                (np.asarray(g), "")]
        for imp in (o, m):
            nbytes, decoded = code(clip, imp)
            panels.append((decoded[mid], f"{nbytes} B"))
        for c, (img, note) in enumerate(panels):
            ax = axes[r][c]
            if img.ndim == 2:
                ax.imshow(img, cmap="magma", vmin=0.0, vmax=1.0, interpolation="nearest")
            else:
                ax.imshow(img, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(titles[c], fontsize=8)
            if note:
                ax.set_xlabel(note, fontsize=8)
    return save_figure(fig, path, 90)
