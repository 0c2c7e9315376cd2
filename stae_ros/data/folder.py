"""A folder data set loader for the HMDB51 and UCF101 layouts.

Users train and evaluate on their own copies of these sets (they are not shipped), so the loader
accepts the layouts as distributed:

* **HMDB51**: ``root/<class>/<video>.avi`` and split files ``<class>_test_split<N>.txt`` (lines
  ``"<video> <0|1|2>"``: 1 train, 2 test, 0 unused) in ``root/splits/``,
  ``root/testTrainMulti_7030_splits/`` or ``root/``. The synthetic set is written this way.
* **UCF101**: ``root/<class>/<video>.avi`` (or ``root/UCF-101/<class>/...``) and
  ``ucfTrainTestlist/{trainlist,testlist}0N.txt`` + ``classInd.txt`` (in ``ucfTrainTestlist/``
  or ``root/``).

Each item is ``(clip uint8 T,H,W,3, label)``. Broken files raise :class:`VideoReadError` naming
the file; with ``skip_broken=True`` they are logged, counted in ``.skipped`` and replaced by the
next readable item, so a long training run is not killed by one bad file in 7000.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Literal, Sequence

import numpy as np

from .errors import DatasetLayoutError, VideoReadError
from .video_io import read_video

__all__ = [
    "VideoFolderDataset",
    "VideoSample",
    "LoadedClip",
    "discover_samples",
    "sample_indices",
    "resize_clip",
]

log = logging.getLogger(__name__)

Sampling = Literal["uniform", "random"]
_HMDB_SPLIT_DIRS = ("splits", "testTrainMulti_7030_splits", ".")
_HMDB_SPLIT_RE = re.compile(r"^(?P<cls>.+)_test_split(?P<n>\d+)\.txt$")


@dataclass(frozen=True)
class VideoSample:
    """One entry of a split: the file, its label and a name unique within the data set."""

    path: Path
    label: int
    name: str


@dataclass(frozen=True)
class LoadedClip:
    """A decoded item plus where it came from (``frame_indices`` index the decoded video)."""

    clip: np.ndarray
    label: int
    sample: VideoSample
    frame_indices: np.ndarray
    num_frames: int


def _split_code(split: str) -> int:
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return 1 if split == "train" else 2


def _hmdb_split_files(root: Path, split_id: int) -> list[Path]:
    for sub in _HMDB_SPLIT_DIRS:
        d = root / sub
        if d.is_dir():
            found = sorted(p for p in d.glob(f"*_test_split{split_id}.txt") if _HMDB_SPLIT_RE.match(p.name))
            if found:
                return found
    return []


def _find_ucf_file(root: Path, name: str) -> Path | None:
    for cand in (root / "ucfTrainTestlist" / name, root / name):
        if cand.is_file():
            return cand
    return None


def _ucf_video_path(root: Path, rel: str) -> Path:
    direct = root / rel
    if direct.exists():
        return direct
    nested = root / "UCF-101" / rel
    return nested if nested.exists() else direct


def _read_class_ind(ind: Path) -> list[str]:
    """``classInd.txt`` lines ``"<1-based id> <class>"`` -> class names in label order."""
    ids: dict[str, int] = {}
    for lineno, line in enumerate(ind.read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or not parts[0].isdigit():
            raise DatasetLayoutError(f"{ind}:{lineno}: expected '<id> <class>', got {line!r}")
        ids[parts[1]] = int(parts[0]) - 1
    if sorted(ids.values()) != list(range(len(ids))):
        raise DatasetLayoutError(f"{ind}: class ids must be 1..{len(ids)} without gaps or repeats")
    return [n for n, _ in sorted(ids.items(), key=lambda kv: kv[1])]


def _discover_hmdb(root: Path, split: str, split_id: int) -> tuple[list[str], list[VideoSample]]:
    files = _hmdb_split_files(root, split_id)
    class_names = sorted(_HMDB_SPLIT_RE.match(p.name).group("cls") for p in files)  # type: ignore[union-attr]
    ordered = _read_class_ind(root / "classInd.txt") if (root / "classInd.txt").is_file() else None
    if ordered is not None and sorted(ordered) == class_names:
        class_names = ordered  # the synthetic set's label order (HMDB51 itself has no classInd)
    code = _split_code(split)
    samples: list[VideoSample] = []
    for p in files:
        cls = _HMDB_SPLIT_RE.match(p.name).group("cls")  # type: ignore[union-attr]
        label = class_names.index(cls)
        for lineno, line in enumerate(p.read_text().splitlines(), 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
                raise DatasetLayoutError(f"{p}:{lineno}: expected '<video> <0|1|2>', got {line!r}")
            if int(parts[1]) == code:
                samples.append(VideoSample(root / cls / parts[0], label, f"{cls}/{parts[0]}"))
    return class_names, samples


def _discover_ucf(root: Path, split: str, split_id: int) -> tuple[list[str], list[VideoSample]]:
    ind = _find_ucf_file(root, "classInd.txt")
    if ind is None:
        raise DatasetLayoutError(f"{root}: UCF101 layout needs classInd.txt (in ucfTrainTestlist/ or the root)")
    class_names = _read_class_ind(ind)
    ids = {n: i for i, n in enumerate(class_names)}
    list_name = f"{'trainlist' if split == 'train' else 'testlist'}{split_id:02d}.txt"
    lst = _find_ucf_file(root, list_name)
    if lst is None:
        raise DatasetLayoutError(f"{root}: UCF101 layout has no {list_name} (in ucfTrainTestlist/ or the root)")
    samples: list[VideoSample] = []
    for lineno, line in enumerate(lst.read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        rel = parts[0].replace("\\", "/")
        cls = rel.split("/")[0] if "/" in rel else None
        if cls is None or cls not in ids:
            raise DatasetLayoutError(f"{lst}:{lineno}: {rel!r} is not '<class>/<video>' with a class from {ind.name}")
        label = ids[cls]
        if len(parts) > 1 and parts[1].isdigit() and int(parts[1]) - 1 != label:
            raise DatasetLayoutError(f"{lst}:{lineno}: label {parts[1]} disagrees with classInd.txt for {cls}")
        samples.append(VideoSample(_ucf_video_path(root, rel), label, rel))
    return class_names, samples


def discover_samples(
    root: str | Path, split: str = "train", split_id: int = 1, layout: str = "auto"
) -> tuple[str, list[str], list[VideoSample]]:
    """Find the layout, the class names and the samples of one split: ``(layout, classes, samples)``."""
    root = Path(root)
    _split_code(split)
    if not root.is_dir():
        raise DatasetLayoutError(f"data set root {root} is not a directory")
    if layout not in ("auto", "hmdb51", "ucf101"):
        raise ValueError(f"layout must be 'auto', 'hmdb51' or 'ucf101', got {layout!r}")
    if layout == "auto":
        if _hmdb_split_files(root, split_id):
            layout = "hmdb51"
        elif _find_ucf_file(root, "classInd.txt") is not None:
            layout = "ucf101"
        else:
            raise DatasetLayoutError(
                f"{root}: no HMDB51 split files (*_test_split{split_id}.txt in splits/ or "
                "testTrainMulti_7030_splits/) and no UCF101 ucfTrainTestlist/classInd.txt"
            )
    if layout == "hmdb51":
        classes, samples = _discover_hmdb(root, split, split_id)
    else:
        classes, samples = _discover_ucf(root, split, split_id)
    if not classes:
        raise DatasetLayoutError(f"{root}: no classes found for the {layout} layout, split {split_id}")
    if not samples:
        raise DatasetLayoutError(f"{root}: the {split} split {split_id} ({layout}) lists no videos")
    return layout, classes, samples


def sample_indices(num_frames: int, clip_len: int, mode: Sampling = "uniform", rng: np.random.Generator | None = None) -> np.ndarray:
    """Which decoded frames make the clip (ascending; length ``clip_len``).

    ``uniform``: evenly spaced over the whole video (the centre of each of ``clip_len`` equal
    segments). ``random``: a random offset inside each segment (TSN-style), seeded by ``rng``.
    Videos shorter than ``clip_len`` take every frame and repeat the last one (stretching would
    change the action's speed; looping would invent motion).
    """
    if num_frames < 1 or clip_len < 1:
        raise ValueError(f"need num_frames >= 1 and clip_len >= 1, got {num_frames}, {clip_len}")
    if mode not in ("uniform", "random"):
        raise ValueError(f"sampling must be 'uniform' or 'random', got {mode!r}")
    if num_frames <= clip_len:
        return np.concatenate([np.arange(num_frames), np.full(clip_len - num_frames, num_frames - 1)]).astype(np.int64)
    edges = np.linspace(0.0, num_frames, clip_len + 1)
    if mode == "uniform":
        idx = np.floor((edges[:-1] + edges[1:]) / 2.0)
    else:
        if rng is None:
            raise ValueError("random sampling needs an rng")
        idx = np.floor(edges[:-1] + rng.uniform(0.0, 1.0, clip_len) * (edges[1:] - edges[:-1]))
    return np.clip(idx, 0, num_frames - 1).astype(np.int64)


def resize_clip(clip: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize ``T,H,W,3`` frames to ``size=(H, W)`` (area filter down, bilinear up)."""
    import cv2

    h, w = int(size[0]), int(size[1])
    if clip.shape[1:3] == (h, w):
        return clip
    interp = cv2.INTER_AREA if h * w < clip.shape[1] * clip.shape[2] else cv2.INTER_LINEAR
    return np.stack([cv2.resize(f, (w, h), interpolation=interp) for f in clip])


class VideoFolderDataset:
    """HMDB51/UCF101-layout video data set; a map-style data set usable by a torch DataLoader.

    ``dataset[i] -> (clip uint8 T,H,W,3, label int)``. ``sampling="random"`` draws new offsets
    per item from ``(seed, index, epoch)``; call :meth:`set_epoch` to vary them between epochs
    while staying reproducible.
    """

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        clip_len: int = 16,
        size: tuple[int, int] | Sequence[int] = (64, 64),
        sampling: Sampling = "uniform",
        skip_broken: bool = False,
        seed: int = 0,
        split_id: int = 1,
        layout: str = "auto",
    ) -> None:
        if clip_len < 1:
            raise ValueError(f"clip_len must be >= 1, got {clip_len}")
        if len(size) != 2 or min(int(size[0]), int(size[1])) < 1:
            raise ValueError(f"size must be (H, W) with positive entries, got {size!r}")
        if sampling not in ("uniform", "random"):
            raise ValueError(f"sampling must be 'uniform' or 'random', got {sampling!r}")
        self.root = Path(root)
        self.split = split
        self.clip_len = int(clip_len)
        self.size = (int(size[0]), int(size[1]))
        self.sampling: Sampling = sampling
        self.skip_broken = bool(skip_broken)
        self.seed = int(seed)
        self.epoch = 0
        self.layout, self.class_names, samples = discover_samples(self.root, split, split_id, layout)
        self.skipped_paths: list[Path] = []
        self._broken: set[int] = set()
        self.samples: list[VideoSample] = []
        for s in samples:
            if s.path.is_file():
                self.samples.append(s)
            elif skip_broken:
                self._note_skip(s.path, "file does not exist")
            else:
                self.samples.append(s)  # raises, naming the file, when read
        if not self.samples:
            raise DatasetLayoutError(f"{self.root}: every video of the {split} split is missing or broken")

    @property
    def skipped(self) -> int:
        """How many listed videos were skipped as missing or unreadable (``skip_broken=True``)."""
        return len(self.skipped_paths)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def labels(self) -> np.ndarray:
        return np.array([s.label for s in self.samples], np.int64)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.samples)

    def _note_skip(self, path: Path, reason: str) -> None:
        self.skipped_paths.append(path)
        log.warning("skipping %s: %s (%d skipped so far)", path, reason, len(self.skipped_paths))

    def load(self, index: int) -> LoadedClip:
        """Decode item ``index`` (no skipping): raises :class:`VideoReadError` naming the file."""
        s = self.samples[index]
        video = read_video(s.path)
        rng = np.random.default_rng([self.seed, index, self.epoch]) if self.sampling == "random" else None
        idx = sample_indices(video.shape[0], self.clip_len, self.sampling, rng)
        clip = resize_clip(video[idx], self.size)
        return LoadedClip(np.ascontiguousarray(clip), s.label, s, idx, int(video.shape[0]))

    def load_or_skip(self, index: int) -> LoadedClip | None:
        """Like :meth:`load`, but with ``skip_broken`` a broken file is counted and gives None."""
        if index in self._broken:
            return None
        try:
            return self.load(index)
        except VideoReadError as exc:
            if not self.skip_broken:
                raise
            self._broken.add(index)
            self._note_skip(exc.path, exc.reason)
            return None

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} items")
        index %= len(self)
        for step in range(len(self)):
            item = self.load_or_skip((index + step) % len(self))
            if item is not None:
                return item.clip, item.label
        raise DatasetLayoutError(f"{self.root}: every video of the {self.split} split is broken")

    def __iter__(self) -> Iterator[tuple[np.ndarray, int]]:
        for i in range(len(self)):
            item = self.load_or_skip(i)
            if item is not None:
                yield item.clip, item.label
