"""One way to finish a matplotlib figure, for every plot the package draws.

Why: each plot ends the same way (lay out, make the folder, write the PNG, close the figure), and a
figure left open keeps its memory for the rest of a long bench or training run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["save_figure"]


def save_figure(fig: Any, path: str | Path, dpi: int = 110, **layout: Any) -> Path:
    """``fig.tight_layout(**layout)``, write it to ``path`` (its folder made) and close it; returns the path."""
    import matplotlib.pyplot as plt

    fig.tight_layout(**layout)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return out
