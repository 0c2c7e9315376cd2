"""Clips the codec bench runs on: labelled synthetic clips (accuracy) and real footage (bytes, speed).

Synthetic clips come from a data set root in the HMDB51 layout (``--data``, the test split is the
test set and the train split feeds the per-codec fine-tuning) or, without ``--data``, are rendered
in memory with ``stae_ros.data.render_clip`` from seeds no training run uses.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import BenchDataError

__all__ = ["LabelledClips", "synthetic_clips", "load_data_root", "footage_clips", "FOOTAGE_SUFFIXES"]

log = logging.getLogger(__name__)
FOOTAGE_SUFFIXES = (".avi", ".mp4", ".mkv", ".mov", ".webm")
#: base seed of in-memory clips; generate_dataset uses small seeds (0, 1, ...), so these are unseen
BENCH_SEED = 0xBE4C


@dataclass
class LabelledClips:
    clips: np.ndarray  # uint8 N,T,H,W,3
    labels: np.ndarray  # int64 N (indices into the checkpoint's class_names)

    def take(self, per_class: int, seed: int = 0) -> "LabelledClips":
        """A class-balanced subset (at most ``per_class`` clips per label), order shuffled by ``seed``."""
        rng = np.random.default_rng(seed)
        keep: list[int] = []
        for c in np.unique(self.labels):
            idx = np.flatnonzero(self.labels == c)
            keep += list(rng.permutation(idx)[:per_class])
        keep_arr = rng.permutation(np.asarray(keep, dtype=np.int64))
        return LabelledClips(self.clips[keep_arr], self.labels[keep_arr])


def synthetic_clips(class_names: list[str], per_class: int, frames: int, height: int, width: int,
                    seed: int) -> LabelledClips:
    """Render ``per_class`` clips of each checkpoint class that the synthetic generator knows."""
    from stae_ros.data.synthetic import CLASS_NAMES, clip_seed, render_clip

    clips, labels = [], []
    known = {name: i for i, name in enumerate(CLASS_NAMES)}
    usable = [(label, known[name]) for label, name in enumerate(class_names) if name in known]
    if not usable:
        raise BenchDataError(f"none of the checkpoint's classes {class_names} is a synthetic class {list(CLASS_NAMES)}")
    for label, cid in usable:
        for i in range(per_class):
            clips.append(render_clip(cid, clip_seed(BENCH_SEED + seed, cid, i), frames, height, width).frames)
            labels.append(label)
    return LabelledClips(np.stack(clips), np.asarray(labels, dtype=np.int64))


def load_data_root(root: str | Path, split: str, class_names: list[str], frames: int, height: int,
                   width: int, split_spec: Any = None, short_clip: str = "loop", cache: bool = True) -> LabelledClips:
    """One split of a labelled ``<class>/<video>`` root, labels mapped onto the checkpoint's class order.

    ``split_spec`` (a ``stae_ros.data.folder.SplitSpec``): which split (a fold of a fold CSV, ...);
    default: what the folder loader finds (HMDB51/UCF101 split files, a fold CSV, a seeded split)."""
    try:
        from stae_ros.data import load_split_arrays  # type: ignore[attr-defined]
    except ImportError as exc:  # pragma: no cover - depends on the data helper's module
        raise BenchDataError("stae_ros.data.load_split_arrays is not available; run without --data") from exc
    from stae_ros.data.errors import DataError

    try:
        arr = load_split_arrays(root, split, frames, (height, width), cache=cache, split_spec=split_spec,
                                short_clip=short_clip, progress=False)
    except (OSError, DataError) as exc:  # the folder loader's one-line reason
        raise BenchDataError(f"data set {root}: {exc}") from exc
    index = {name: i for i, name in enumerate(class_names)}
    missing = [n for n in arr.class_names if n not in index]
    if missing:
        raise BenchDataError(f"data set {root} has classes the checkpoint does not know: {missing}")
    labels = np.asarray([index[arr.class_names[int(y)]] for y in arr.labels], dtype=np.int64)
    return LabelledClips(np.asarray(arr.clips, dtype=np.uint8), labels)


def _read_frames(path: Path, start: int, count: int) -> list[np.ndarray]:
    import av

    from stae_ros.data.av_frames import FrameConverter

    frames: list[np.ndarray] = []
    rgb = FrameConverter("swscale")  # any colour space/range a user video has
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for i, frame in enumerate(container.decode(stream)):
                if i < start:
                    continue
                frames.append(rgb.to_rgb(frame))
                if len(frames) >= count:
                    break
    except Exception as exc:  # av raises many error types; damaged files still yield frames first
        if len(frames) < count:
            raise BenchDataError(f"cannot read {count} frames from {path} at frame {start}: {exc}") from exc
    if len(frames) < count:
        raise BenchDataError(f"{path} has fewer than {start + count} frames")
    return frames


def footage_clips(folder: str | Path, frames: int, sizes: list[tuple[str, int, int]],
                  clips_per_video: int = 2, max_videos: int = 8) -> dict[str, np.ndarray]:
    """Real-footage clips per size label: ``("resize", H, W)`` resizes whole frames to the model's
    size; ``("crop", H, W)`` takes a centred native-resolution crop (skipped for smaller videos)."""
    import cv2

    folder = Path(folder)
    videos = sorted(p for p in folder.iterdir() if p.suffix.lower() in FOOTAGE_SUFFIXES) if folder.is_dir() else []
    if not videos:
        raise BenchDataError(f"no videos ({', '.join(FOOTAGE_SUFFIXES)}) in {folder}")
    out: dict[str, list[np.ndarray]] = {f"{kind}{h}x{w}": [] for kind, h, w in sizes}
    for path in videos[:max_videos]:
        for c in range(clips_per_video):
            try:
                raw = _read_frames(path, 30 + c * 3 * frames, frames)
            except BenchDataError as exc:
                log.warning("skipping footage: %s", exc)
                continue
            fh, fw = raw[0].shape[:2]
            for kind, h, w in sizes:
                key = f"{kind}{h}x{w}"
                if kind == "resize":
                    out[key].append(np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in raw]))
                elif fh >= h and fw >= w:
                    y0, x0 = (fh - h) // 2, (fw - w) // 2
                    out[key].append(np.stack([f[y0 : y0 + h, x0 : x0 + w] for f in raw]))
    return {k: np.ascontiguousarray(np.stack(v)) for k, v in out.items() if v}
