"""In-memory synthetic clips for the payload studies, rendered once and cached as .npz.

Why not read the .avi set: the clips are rendered with the same seeds as
`stae_ros.data.generate_dataset` (`clip_seed(seed, class, index)`, FFV1 is lossless), so the
arrays are identical, and rendering straight to memory avoids a dependency on a data set
having been generated first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

__all__ = ["PayloadData", "load_payload_data"]

log = logging.getLogger(__name__)


@dataclass
class PayloadData:
    """Train/test clips uint8 N,T,H,W,3, labels int64 N, per-frame actor boxes N,T,4, class names."""

    train_clips: np.ndarray
    train_labels: np.ndarray
    test_clips: np.ndarray
    test_labels: np.ndarray
    test_boxes: np.ndarray
    class_names: list[str]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def load_payload_data(
    cache_dir: str | Path = "out/payloads",
    train_per_class: int = 100,
    test_per_class: int = 40,
    frames: int = 16,
    height: int = 64,
    width: int = 64,
    seed: int = 0,
) -> PayloadData:
    """Render (or load the cached) synthetic set; train = indices [0, n_train), test after them."""
    from stae_ros.data.synthetic import CLASS_NAMES, clip_seed, render_clip

    cache = Path(cache_dir) / f"synth_s{seed}_{train_per_class}_{test_per_class}_{frames}x{height}x{width}.npz"
    if cache.exists():
        z = np.load(cache)
        return PayloadData(z["xtr"], z["ytr"], z["xte"], z["yte"], z["bte"], list(CLASS_NAMES))
    per = train_per_class + test_per_class
    xtr, ytr, xte, yte, bte = [], [], [], [], []
    for cid in tqdm(range(len(CLASS_NAMES)), desc="render synthetic", leave=False):
        for idx in range(per):
            c = render_clip(cid, clip_seed(seed, cid, idx), frames, height, width)
            if idx < train_per_class:
                xtr.append(c.frames)
                ytr.append(cid)
            else:
                xte.append(c.frames)
                yte.append(cid)
                bte.append(c.boxes)
    data = PayloadData(
        np.stack(xtr), np.array(ytr, np.int64), np.stack(xte), np.array(yte, np.int64), np.stack(bte), list(CLASS_NAMES)
    )
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, xtr=data.train_clips, ytr=data.train_labels, xte=data.test_clips, yte=data.test_labels, bte=data.test_boxes)
    log.info("rendered %d train / %d test clips to %s", len(ytr), len(yte), cache)
    return data
