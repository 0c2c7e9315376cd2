"""Decode a whole split once into numpy arrays, cached as ``.npz`` next to the data.

Why: on a 2-core host, decoding ~2400 videos every epoch costs more than the small model's
forward pass. The trainer therefore loads each split into memory once; the cache file is keyed
by split, clip length and size and invalidated when the listed files change (names and sizes).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .errors import DatasetLayoutError
from .folder import SplitSpec, VideoFolderDataset, VideoSample

__all__ = ["ClipArrays", "load_split_arrays", "cache_path"]

log = logging.getLogger(__name__)

_CACHE_VERSION = 2  #: 2: the short-clip rule is part of the key (default loop; 1 padded short videos)


@dataclass(frozen=True)
class ClipArrays:
    """A decoded split. ``clips`` uint8 ``N,T,H,W,3``; ``labels`` int64 ``N``; ``names`` the
    data-set-relative video names. For the synthetic set (``annotations.json`` present),
    ``boxes`` int32 ``N,T,4`` per-frame actor boxes and ``regions`` int32 ``N,4`` per-clip motion
    regions, both scaled to the clip size (x0,y0,x1,y1, x1/y1 exclusive); otherwise None.
    """

    clips: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    names: list[str]
    boxes: np.ndarray | None = None
    regions: np.ndarray | None = None
    skipped: int = 0

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def cache_path(root: str | Path, split: str, clip_len: int, size: Sequence[int], sampling: str = "uniform", split_id: int | str = 1,
               short_clip: str = "loop") -> Path:
    """Where :func:`load_split_arrays` caches this split (``split_id``: the split's tag, e.g. ``fold2``)."""
    h, w = int(size[0]), int(size[1])
    short = "" if short_clip == "loop" else f"_{short_clip}"
    return Path(root) / ".stae_cache" / f"{split}{split_id}_T{clip_len}_{h}x{w}_{sampling}{short}.npz"


def _fingerprint(samples: list[VideoSample], clip_len: int, size: tuple[int, int], sampling: str) -> str:
    h = hashlib.sha256(f"v{_CACHE_VERSION}|{clip_len}|{size}|{sampling}".encode())
    for s in samples:
        try:
            st = s.path.stat().st_size
        except OSError:
            st = -1
        h.update(f"{s.name}|{s.label}|{st}\n".encode())
    return h.hexdigest()


def _scaled_annotations(root: Path, names: list[str], indices: list[np.ndarray], size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray] | tuple[None, None]:
    ann_path = root / "annotations.json"
    if not ann_path.is_file():
        return None, None
    try:
        ann = json.loads(ann_path.read_text())
        clips = ann["clips"]
        sy, sx = size[0] / float(ann["height"]), size[1] / float(ann["width"])
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring %s: %s", ann_path, exc)
        return None, None
    scale = np.array([sx, sy, sx, sy])
    boxes, regions = [], []
    for name, idx in zip(names, indices):
        entry = clips.get(Path(name).name)
        if entry is None:
            log.warning("%s has no entry for %s; boxes unavailable", ann_path, name)
            return None, None
        b = np.asarray(entry["boxes"], np.float64)[np.minimum(idx, len(entry["boxes"]) - 1)]
        r = np.asarray(entry["region"], np.float64)
        boxes.append(np.concatenate([np.floor(b[:, :2] * scale[:2]), np.ceil(b[:, 2:] * scale[2:])], axis=1))
        regions.append(np.concatenate([np.floor(r[:2] * scale[:2]), np.ceil(r[2:] * scale[2:])]))
    lim = np.array([size[1], size[0], size[1], size[0]])
    b_arr = np.clip(np.stack(boxes), 0, lim).astype(np.int32)
    r_arr = np.clip(np.stack(regions), 0, lim).astype(np.int32)
    return b_arr, r_arr


def load_split_arrays(
    root: str | Path,
    split: str = "train",
    clip_len: int = 16,
    size: Sequence[int] = (64, 64),
    cache: bool = True,
    sampling: str = "uniform",
    skip_broken: bool = True,
    split_id: int = 1,
    progress: bool = True,
    cache_file: str | Path | None = None,
    split_spec: SplitSpec | None = None,
    short_clip: str = "loop",
) -> ClipArrays:
    """Decode every clip of a split into memory (with a tqdm bar), or load the cached copy.

    ``sampling="random"`` is seeded (seed 0), so the cached arrays are still reproducible.
    ``skip_broken`` (default True here: a cache build should survive one bad file) drops broken
    videos and reports how many in ``ClipArrays.skipped``. When the data folder is read-only
    the arrays are returned uncached (with a warning) unless ``cache_file`` points elsewhere.
    ``split_spec`` chooses the split source (folds, seeded, ...; default: HMDB51/UCF101 split
    ``split_id``, else what ``auto`` finds) and ``short_clip`` the rule for short videos.
    """
    from tqdm import tqdm

    root = Path(root)
    ds = VideoFolderDataset(root, split, clip_len, tuple(size), sampling, skip_broken, seed=0, split_id=split_id,  # type: ignore[arg-type]
                            split_spec=split_spec, short_clip=short_clip)  # type: ignore[arg-type]
    size_t = ds.size
    key = _fingerprint(ds.samples, clip_len, size_t, f"{sampling}|{short_clip}")
    path = Path(cache_file) if cache_file is not None else cache_path(root, split, clip_len, size_t, sampling, ds.split_tag, short_clip)
    if cache and path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                if str(z["key"]) == key:
                    log.info("loaded %s split from cache %s", split, path)
                    boxes = z["boxes"] if "boxes" in z.files else None
                    regions = z["regions"] if "regions" in z.files else None
                    return ClipArrays(
                        z["clips"], z["labels"], [str(c) for c in z["class_names"]], [str(n) for n in z["names"]],
                        boxes, regions, int(z["skipped"]),
                    )
                log.info("cache %s is stale (files changed); rebuilding", path)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:  # damaged: rebuilt below
            log.warning("ignoring unreadable cache %s: %s", path, exc)

    n = len(ds)
    clips = np.empty((n, clip_len, size_t[0], size_t[1], 3), np.uint8)
    labels = np.empty(n, np.int64)
    names: list[str] = []
    indices: list[np.ndarray] = []
    kept = 0
    for i in tqdm(range(n), desc=f"decode {split}", unit="clip", disable=not progress):
        item = ds.load_or_skip(i)
        if item is None:
            continue
        clips[kept] = item.clip
        labels[kept] = item.label
        names.append(item.sample.name)
        indices.append(item.frame_indices)
        kept += 1
    if kept == 0:
        raise DatasetLayoutError(f"{root}: no readable video in the {split} split")
    clips, labels = clips[:kept], labels[:kept]
    boxes, regions = _scaled_annotations(root, names, indices, size_t)
    result = ClipArrays(clips, labels, list(ds.class_names), names, boxes, regions, ds.skipped)
    if cache:
        _save(path, result, key)
    return result


def _save(path: Path, arrays: ClipArrays, key: str) -> None:
    extra = {}
    if arrays.boxes is not None and arrays.regions is not None:
        extra = {"boxes": arrays.boxes, "regions": arrays.regions}
    tmp = path.with_name(path.name + f".tmp{os.getpid()}.npz")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(
            tmp, clips=arrays.clips, labels=arrays.labels, class_names=np.array(arrays.class_names),
            names=np.array(arrays.names), key=np.array(key), skipped=np.array(arrays.skipped), **extra,
        )
        os.replace(tmp, path)  # atomic: a crash never leaves a half-written cache behind
        log.info("cached %d clips to %s", len(arrays), path)
    except OSError as exc:
        log.warning("could not write cache %s (%s); continuing uncached", path, exc)
        tmp.unlink(missing_ok=True)
