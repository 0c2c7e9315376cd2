"""PNG plots of a profile (accuracy vs bytes, accuracy vs budget) and of a confusion matrix."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from .schema import Profile
from ..plotting import save_figure

__all__ = ["plot_accuracy_vs_bytes", "plot_accuracy_vs_budget", "plot_confusion"]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_accuracy_vs_bytes(profile: Profile, path: str | Path) -> Path:
    """Accuracy against mean payload bytes (log x), one line per frame budget K."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for k in sorted({pt.k for pt in profile.points}, reverse=True):
        pts = sorted((pt for pt in profile.points if pt.k == k), key=lambda q: q.bytes_mean)
        ax.plot([q.bytes_mean for q in pts], [q.accuracy * 100 for q in pts], marker="o", label=f"K={k}")
    raw = profile.raw_float32_bytes
    for ratio in (104,):
        ax.axvline(raw / ratio, color="grey", ls="--", lw=0.8)
        ax.text(raw / ratio, 2, f" {ratio}x vs float32", color="grey", fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("payload bytes per clip (mean)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 102)
    ax.set_title(f"{profile.name}: accuracy vs bytes")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path, 120)


def plot_accuracy_vs_budget(profile: Profile, path: str | Path) -> Path:
    """Heat map of accuracy over the (K, p) grid, each cell annotated with accuracy and bytes."""
    plt = _plt()
    ks = sorted({pt.k for pt in profile.points}, reverse=True)
    ps = sorted({pt.p for pt in profile.points}, reverse=True)
    acc = np.full((len(ks), len(ps)), np.nan)
    nbytes = np.full_like(acc, np.nan)
    for pt in profile.points:
        acc[ks.index(pt.k), ps.index(pt.p)] = pt.accuracy * 100
        nbytes[ks.index(pt.k), ps.index(pt.p)] = pt.bytes_mean
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    im = ax.imshow(acc, vmin=0, vmax=100, cmap="viridis")
    for i in range(len(ks)):
        for j in range(len(ps)):
            if not np.isnan(acc[i, j]):
                ax.text(j, i, f"{acc[i, j]:.0f}%\n{nbytes[i, j]:.0f}B", ha="center", va="center", fontsize=7,
                        color="white" if acc[i, j] < 60 else "black")
    ax.set_xticks(range(len(ps)), [f"{p:g}" for p in ps])
    ax.set_yticks(range(len(ks)), [str(k) for k in ks])
    ax.set_xlabel("spatial budget p")
    ax.set_ylabel("frame budget K")
    ax.set_title(f"{profile.name}: accuracy by budget")
    fig.colorbar(im, ax=ax, label="test accuracy (%)")
    return save_figure(fig, path, 120)


def plot_confusion(matrix: np.ndarray, class_names: Sequence[str], path: str | Path, title: str = "confusion") -> Path:
    """Row-normalised confusion matrix (true rows, predicted columns)."""
    plt = _plt()
    m = np.asarray(matrix, dtype=np.float64)
    norm = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    n = len(class_names)
    fig, ax = plt.subplots(figsize=(1.0 + 0.45 * n, 0.8 + 0.4 * n))
    ax.imshow(norm, vmin=0, vmax=1, cmap="Blues")
    for i in range(n):
        for j in range(n):
            if m[i, j]:
                ax.text(j, i, str(int(m[i, j])), ha="center", va="center", fontsize=7,
                        color="white" if norm[i, j] > 0.6 else "black")
    ax.set_xticks(range(n), class_names, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(n), class_names, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    return save_figure(fig, path, 120)
