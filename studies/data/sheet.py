"""A contact sheet PNG of the hard set: one row per class, a few frames of one clip each.

Why: a person should be able to look at the actions and check that they read as what their
names say, and that the backgrounds, camera motion and distractors look plausible.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from stae_ros.data.articulated.backgrounds import BackgroundPool
from stae_ros.data.articulated.classes import CLASS_NAMES
from stae_ros.data.articulated.clip import render_clip

__all__ = ["contact_sheet"]


def contact_sheet(path: str | Path, seed: int = 0, frames: int = 16, size: int = 112, columns: int = 6,
                  backgrounds: BackgroundPool | None = None, classes: list[int] | None = None,
                  cell: int = 72, boxes: bool = False, blocks: int = 1,
                  colours: int = 0) -> Path:
    """Write a PNG grid: rows = classes, columns = evenly spaced frames of one clip; ``blocks``
    side-by-side blocks of rows keep a sheet of many classes roughly square; ``colours`` > 0
    writes a palette PNG with that many colours (smaller file)."""
    import cv2

    ids = list(range(len(CLASS_NAMES))) if classes is None else classes
    label_w, pad = 96, 2
    rows = []
    for cid in ids:
        clip = render_clip(cid, seed + 1000 * cid, frames, size, size, backgrounds)
        row = np.full((cell + 2 * pad, label_w + columns * (cell + pad), 3), 255, np.uint8)
        cv2.putText(row, CLASS_NAMES[cid], (3, cell // 2 + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.33, (0, 0, 0), 1, cv2.LINE_AA)
        for c, t in enumerate(np.linspace(0, frames - 1, columns).round().astype(int)):
            img = clip.frames[t].copy()
            if boxes:
                x0, y0, x1, y1 = clip.boxes[t]
                cv2.rectangle(img, (int(x0), int(y0)), (int(x1) - 1, int(y1) - 1), (255, 255, 0), 1)
            img = cv2.resize(img, (cell, cell), interpolation=cv2.INTER_AREA)
            x = label_w + c * (cell + pad)
            row[pad : pad + cell, x : x + cell] = img
        rows.append(row)
    per_block = -(-len(rows) // blocks)
    blank = np.full_like(rows[0], 255)
    cols = [np.concatenate((rows[i : i + per_block] + [blank] * per_block)[:per_block], axis=0)
            for i in range(0, len(rows), per_block)]
    sheet = np.concatenate(cols, axis=1)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    if colours:  # an adaptive palette: a few hundred kB instead of over a MB of camera noise
        from PIL import Image  # installed with matplotlib

        Image.fromarray(sheet).quantize(colours, method=Image.Quantize.MEDIANCUT).save(out, optimize=True)
    elif not cv2.imwrite(str(out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {out}")
    return out
