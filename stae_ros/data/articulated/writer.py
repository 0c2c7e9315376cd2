"""Write the hard set to disk in the layout of ``stae data synth`` (HMDB51-style split files,
``classInd.txt``, ``annotations.json``, lossless FFV1 clips), so every loader and
``stae train/profile/bench`` reads it unchanged.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import numpy as np

from ..layout import check_counts, clip_jobs, run_jobs, write_layout
from .backgrounds import BackgroundPool
from .classes import CLASS_DESCRIPTIONS, CLASS_NAMES
from .clip import check_args
from .controls import CONTROLS, render_control

__all__ = ["generate_hard_dataset", "clip_seed", "ANNOTATIONS_FORMAT"]

log = logging.getLogger(__name__)

ANNOTATIONS_FORMAT = "stae-hard/1"

_POOL: BackgroundPool | None = None  # set before the worker processes fork (shared, read-only)


def clip_seed(base_seed: int, class_id: int, index: int) -> int:
    """The per-clip seed (stable across runs and platforms)."""
    return int(np.random.SeedSequence([int(base_seed) & 0xFFFFFFFF, int(class_id), int(index), 0x4A5D]).generate_state(1)[0])


def _job(job: tuple[Path, int, int, int, int, int, int, str]) -> tuple[str, list[list[int]], list[int]]:
    from stae_ros.data.video_io import write_video

    path, class_id, seed, frames, height, width, fps, control = job
    clip = render_control(control, class_id, seed, frames, height, width, _POOL)
    write_video(path, clip.frames, fps=fps)
    return path.name, clip.boxes.tolist(), clip.region.tolist()


def generate_hard_dataset(
    root: str | Path,
    seed: int = 0,
    train_per_class: int = 40,
    test_per_class: int = 10,
    frames: int = 16,
    height: int = 112,
    width: int = 112,
    fps: int = 25,
    backgrounds: str | Path | None = None,
    control: str = "none",
    workers: int | None = None,
    progress: bool = True,
) -> Path:
    """Render and write the set; return ``root``.

    ``backgrounds``: a folder of videos to cut backgrounds from (missing/empty/None: procedural
    backgrounds, logged). ``control``: ``"none"``, ``"single_frame"`` or ``"actor_removed"``
    writes that control of the very same clips (same seeds, same split). The same arguments and
    background folder give byte-identical files.
    """
    global _POOL
    check_args(0, frames, height, width)
    if control not in CONTROLS:
        raise ValueError(f"control must be one of {', '.join(CONTROLS)}, got {control!r}")
    check_counts(train_per_class, test_per_class)
    root = Path(root)
    (root / "splits").mkdir(parents=True, exist_ok=True)
    _POOL = BackgroundPool.from_folder(backgrounds, short_side=2 * max(height, width))
    per_class = train_per_class + test_per_class
    jobs = clip_jobs(root, CLASS_NAMES, per_class, lambda cid, idx: clip_seed(seed, cid, idx),
                     frames, height, width, fps, control)
    if workers is None:
        workers = 2 if len(jobs) > 200 and (os.cpu_count() or 1) >= 2 else 1
    t0 = time.perf_counter()
    # "fork": the workers inherit the decoded background pool
    results = run_jobs(_job, jobs, workers, progress, "synth hard", chunksize=8, start_method="fork")
    dt = time.perf_counter() - t0
    log.info("hard set: %d clips in %.1f s (%.1f clips/s, %d worker(s))", len(jobs), dt, len(jobs) / max(dt, 1e-9), workers)

    ann = {
        "format": ANNOTATIONS_FORMAT,
        "classes": list(CLASS_NAMES),
        "descriptions": CLASS_DESCRIPTIONS,
        "seed": int(seed),
        "frames": frames,
        "height": height,
        "width": width,
        "fps": fps,
        "codec": "ffv1",
        "control": control,
        "train_per_class": train_per_class,
        "test_per_class": test_per_class,
        "backgrounds": {"kind": _POOL.kind, "folder": None if backgrounds is None else str(backgrounds),
                        "videos": sorted({s.split("#")[0] for s in _POOL.sources}), "frames": len(_POOL.frames)},
        "box_format": "x0,y0,x1,y1 pixels, x1/y1 exclusive; actor box per frame; region = union of the boxes",
    }
    write_layout(root, CLASS_NAMES, train_per_class, per_class, jobs, results, ann)
    log.info("wrote %d clips (%d classes, control %s) to %s", len(jobs), len(CLASS_NAMES), control, root)
    return root
