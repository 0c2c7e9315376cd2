"""A folder data set loader: HMDB51, UCF101, a user fold file, or any ``<class>/<video>`` folder.

Users train and evaluate on their own footage (nothing is shipped), so the loader accepts the
common layouts as distributed and falls back to a plain labelled folder. Where the train/test
split comes from (the *split source*), in the order ``source: auto`` tries them:

* **HMDB51**: ``root/<class>/<video>.avi`` and split files ``<class>_test_split<N>.txt`` (lines
  ``"<video> <0|1|2>"``: 1 train, 2 test, 0 unused) in ``root/splits/``,
  ``root/testTrainMulti_7030_splits/`` or ``root/``. The synthetic set is written this way.
* **UCF101**: ``root/<class>/<video>.avi`` (or ``root/UCF-101/<class>/...``) and
  ``ucfTrainTestlist/{trainlist,testlist}0N.txt`` + ``classInd.txt`` (in ``ucfTrainTestlist/``
  or ``root/``).
* **folds**: a CSV with a header and the columns ``clip,class,fold`` (more columns are
  ignored): ``clip`` is the video path relative to the root, ``fold`` a non-negative integer.
  ``test_fold`` is tested, every other fold trains, so running each fold in turn is k-fold
  cross-validation in which every clip is tested once. ``root/folds.csv`` is used when present;
  another file is named with ``folds_file``.
* **seeded**: no split file at all. Every ``root/<class>/<video>`` is split per class (so the
  split is stratified) with a generator seeded by ``(seed, class name)`` over the *sorted* file
  names, so the split is the same on every run and file system, and adding a class or a clip
  of one class does not reshuffle the others.

Each item is ``(clip uint8 T,H,W,3, label)``. Broken files raise :class:`VideoReadError` naming
the file; with ``skip_broken=True`` they are logged, counted in ``.skipped`` and replaced by the
next readable item, so a long training run is not killed by one bad file in 7000.

Videos shorter than the clip length follow ``short_clip`` (see :func:`sample_indices`).
"""

from __future__ import annotations

import csv
import logging
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Literal, Sequence

import numpy as np

from ..errtext import not_text
from .errors import DatasetLayoutError, VideoReadError
from .video_io import read_video

__all__ = [
    "VideoFolderDataset",
    "VideoSample",
    "LoadedClip",
    "SplitSpec",
    "SPLIT_SOURCES",
    "SHORT_CLIP_POLICIES",
    "VIDEO_EXTENSIONS",
    "discover_samples",
    "resolve_source",
    "read_folds_file",
    "list_folds",
    "sample_indices",
    "resize_clip",
]

log = logging.getLogger(__name__)

Sampling = Literal["uniform", "random"]
ShortClip = Literal["loop", "pad", "resample"]
#: where a split can come from (``auto`` tries them in this order)
SPLIT_SOURCES: tuple[str, ...] = ("auto", "hmdb51", "ucf101", "folds", "seeded")
#: what a video shorter than the clip length becomes (:func:`sample_indices`)
SHORT_CLIP_POLICIES: tuple[str, ...] = ("loop", "pad", "resample")
#: file name endings a ``seeded`` split counts as videos
VIDEO_EXTENSIONS: tuple[str, ...] = (".avi", ".mp4", ".mkv", ".mov", ".webm", ".mpg", ".mpeg", ".m4v", ".ogv")
_HMDB_SPLIT_DIRS = ("splits", "testTrainMulti_7030_splits", ".")
_HMDB_SPLIT_RE = re.compile(r"^(?P<cls>.+)_test_split(?P<n>\d+)\.txt$")
_FOLDS_DEFAULT = "folds.csv"
_FOLDS_COLUMNS = ("clip", "class", "fold")


@dataclass(frozen=True)
class SplitSpec:
    """Which split to use: the source and its parameters (the ``data:`` keys of a train config).

    ``split_id`` numbers the HMDB51/UCF101 splits (1-3); ``folds_file`` / ``test_fold`` the fold
    CSV and its tested fold; ``seed`` / ``test_fraction`` the seeded split.
    """

    source: str = "auto"
    split_id: int = 1
    folds_file: str = ""
    test_fold: int = 0
    seed: int = 0
    test_fraction: float = 0.3

    def __post_init__(self) -> None:
        if self.source not in SPLIT_SOURCES:
            raise ValueError(f"split source must be one of {', '.join(SPLIT_SOURCES)}, got {self.source!r}")
        if not 0.0 < float(self.test_fraction) < 1.0:
            raise ValueError(f"test_fraction must be in (0, 1), got {self.test_fraction!r}")
        if int(self.test_fold) < 0:
            raise ValueError(f"test_fold must be >= 0, got {self.test_fold!r}")

    def folds_path(self, root: Path) -> Path:
        """The fold CSV: ``folds_file`` (relative to the root unless absolute), else ``root/folds.csv``."""
        if not self.folds_file:
            return root / _FOLDS_DEFAULT
        p = Path(self.folds_file)
        return p if p.is_absolute() or p.exists() else root / p

    def tag(self, source: str) -> str:
        """A short name of the split actually used (cache file names)."""
        if source == "folds":
            return f"fold{self.test_fold}"
        if source == "seeded":
            return f"seed{self.seed}_{self.test_fraction:g}"
        return str(self.split_id)


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


def _split_file_lines(path: Path) -> list[str]:
    """The lines of a split or class-index file; one that is not readable text is a layout error naming it."""
    try:
        return path.read_text().splitlines()
    except UnicodeDecodeError as exc:
        raise DatasetLayoutError(f"{path} is {not_text(exc)}") from exc
    except OSError as exc:
        raise DatasetLayoutError(f"{path} cannot be read: {exc.strerror or exc}") from exc


def _read_class_ind(ind: Path) -> list[str]:
    """``classInd.txt`` lines ``"<1-based id> <class>"`` -> class names in label order."""
    ids: dict[str, int] = {}
    for lineno, line in enumerate(_split_file_lines(ind), 1):
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
        for lineno, line in enumerate(_split_file_lines(p), 1):
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
    for lineno, line in enumerate(_split_file_lines(lst), 1):
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


def read_folds_file(path: Path) -> list[tuple[str, str, int, int]]:
    """Rows ``(clip, class, fold, line number)`` of a fold CSV; a malformed file raises
    :class:`DatasetLayoutError` naming the file, the line and what is wrong."""
    if not path.is_file():
        raise DatasetLayoutError(f"{path}: fold file does not exist")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetLayoutError(f"{path}: cannot read the fold file ({exc})") from None
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if header is None:
        raise DatasetLayoutError(f"{path}: fold file is empty (expected a header 'clip,class,fold')")
    cols = [h.strip().lower() for h in header]
    missing = [c for c in _FOLDS_COLUMNS if c not in cols]
    if missing:
        raise DatasetLayoutError(f"{path}:1: header {','.join(cols)!r} lacks column(s) {', '.join(missing)} (need clip,class,fold)")
    at = {c: cols.index(c) for c in _FOLDS_COLUMNS}
    rows: list[tuple[str, str, int, int]] = []
    seen: dict[str, int] = {}
    for lineno, rec in enumerate(reader, 2):
        if not rec or all(not f.strip() for f in rec):
            continue
        if len(rec) < len(cols):
            raise DatasetLayoutError(f"{path}:{lineno}: {len(rec)} fields, the header has {len(cols)}")
        clip, cls, fold = (rec[at[c]].strip() for c in _FOLDS_COLUMNS)
        if not clip or not cls:
            raise DatasetLayoutError(f"{path}:{lineno}: empty clip or class")
        if not fold.isdigit():
            raise DatasetLayoutError(f"{path}:{lineno}: fold must be a non-negative integer, got {fold!r}")
        clip = clip.replace("\\", "/")
        if clip in seen:
            raise DatasetLayoutError(f"{path}:{lineno}: clip {clip!r} is listed twice (first on line {seen[clip]})")
        seen[clip] = lineno
        rows.append((clip, cls, int(fold), lineno))
    if not rows:
        raise DatasetLayoutError(f"{path}: fold file lists no clips")
    return rows


def list_folds(root: str | Path, folds_file: str = "") -> list[int]:
    """The folds a fold CSV defines, ascending (for running every fold: cross-validation)."""
    path = SplitSpec(folds_file=folds_file).folds_path(Path(root))
    return sorted({fold for _, _, fold, _ in read_folds_file(path)})


def _discover_folds(root: Path, split: str, spec: SplitSpec) -> tuple[list[str], list[VideoSample]]:
    path = spec.folds_path(root)
    rows = read_folds_file(path)
    folds = sorted({f for _, _, f, _ in rows})
    if spec.test_fold not in folds:
        raise DatasetLayoutError(f"{path}: test_fold {spec.test_fold} is not one of the file's folds {folds}")
    if len(folds) < 2:
        raise DatasetLayoutError(f"{path}: only fold {folds[0]}: need at least two folds (one to test, the rest to train)")
    class_names = sorted({c for _, c, _, _ in rows})
    test = _split_code(split) == 2
    samples = [VideoSample(root / clip, class_names.index(cls), clip)
               for clip, cls, fold, _ in rows if (fold == spec.test_fold) == test]
    return class_names, samples


def _class_videos(root: Path) -> dict[str, list[str]]:
    """``{class: sorted video file names}`` of ``root/<class>/<video>`` (hidden entries skipped)."""
    found: dict[str, list[str]] = {}
    for d in root.iterdir():
        if not d.is_dir() or d.name.startswith("."):
            continue
        vids = sorted(p.name for p in d.iterdir()
                      if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in VIDEO_EXTENSIONS)
        if vids:
            found[d.name] = vids
    return dict(sorted(found.items()))


def _seeded_test_names(names: list[str], cls: str, spec: SplitSpec) -> set[str]:
    """The test videos of one class: a seeded permutation of the sorted names, the first
    ``round(n * test_fraction)`` of it (at least one, and at least one left to train)."""
    n = len(names)
    if n < 2:
        return set()
    n_test = min(n - 1, max(1, int(round(n * spec.test_fraction))))
    rng = np.random.default_rng([int(spec.seed) & 0xFFFFFFFF, zlib.crc32(cls.encode("utf-8"))])
    order = rng.permutation(n)
    return {sorted(names)[i] for i in order[:n_test]}


def _discover_seeded(root: Path, split: str, spec: SplitSpec) -> tuple[list[str], list[VideoSample]]:
    videos = _class_videos(root)
    if not videos:
        raise DatasetLayoutError(
            f"{root}: no split files (HMDB51, UCF101, {_FOLDS_DEFAULT}) and no <class>/<video> folders "
            f"with video files ({', '.join(VIDEO_EXTENSIONS[:4])}, ...)")
    class_names = list(videos)
    test = _split_code(split) == 2
    samples: list[VideoSample] = []
    for label, cls in enumerate(class_names):
        names = videos[cls]
        if len(names) < 2:
            log.warning("%s/%s has one video: it goes to the training split only", root, cls)
        held = _seeded_test_names(names, cls, spec)
        samples += [VideoSample(root / cls / v, label, f"{cls}/{v}") for v in names if (v in held) == test]
    return class_names, samples


def resolve_source(root: Path, spec: SplitSpec) -> str:
    """The split source ``auto`` resolves to for ``root`` (explicit sources are returned as given).

    An explicitly named ``folds_file`` wins over discovered HMDB51/UCF101 files: naming it is a choice.
    """
    if spec.source != "auto":
        return spec.source
    if spec.folds_file:
        return "folds"
    if _hmdb_split_files(root, spec.split_id):
        return "hmdb51"
    if _find_ucf_file(root, "classInd.txt") is not None:
        return "ucf101"
    if (root / _FOLDS_DEFAULT).is_file():
        return "folds"
    return "seeded"


def discover_samples(
    root: str | Path, split: str = "train", split_id: int = 1, layout: str = "auto", spec: SplitSpec | None = None
) -> tuple[str, list[str], list[VideoSample]]:
    """Find the split source, the class names and the samples of one split: ``(source, classes, samples)``.

    ``spec`` carries every split parameter; without it ``layout`` and ``split_id`` build one
    (``layout`` is the split source: auto, hmdb51, ucf101, folds or seeded).
    """
    root = Path(root)
    _split_code(split)
    if not root.is_dir():
        raise DatasetLayoutError(f"data set root {root} is not a directory")
    if spec is None:
        if layout not in SPLIT_SOURCES:
            raise ValueError(f"layout must be one of {', '.join(SPLIT_SOURCES)}, got {layout!r}")
        spec = SplitSpec(source=layout, split_id=split_id)
    source = resolve_source(root, spec)
    if source == "hmdb51":
        if not _hmdb_split_files(root, spec.split_id):
            raise DatasetLayoutError(f"{root}: no HMDB51 split files (*_test_split{spec.split_id}.txt in splits/ or "
                                     "testTrainMulti_7030_splits/ or the root)")
        classes, samples = _discover_hmdb(root, split, spec.split_id)
    elif source == "ucf101":
        classes, samples = _discover_ucf(root, split, spec.split_id)
    elif source == "folds":
        classes, samples = _discover_folds(root, split, spec)
    else:
        classes, samples = _discover_seeded(root, split, spec)
    if not classes:
        raise DatasetLayoutError(f"{root}: no classes found for the {source} split source")
    if not samples:
        raise DatasetLayoutError(f"{root}: the {split} split ({source}, {spec.tag(source)}) lists no videos")
    return source, classes, samples


def sample_indices(num_frames: int, clip_len: int, mode: Sampling = "uniform", rng: np.random.Generator | None = None,
                   short_clip: ShortClip = "loop") -> np.ndarray:
    """Which decoded frames make the clip (length ``clip_len``).

    ``uniform``: evenly spaced over the whole video (the centre of each of ``clip_len`` equal
    segments). ``random``: a random offset inside each segment (TSN-style), seeded by ``rng``.

    Videos shorter than ``clip_len`` follow ``short_clip``:

    * ``pad``: every frame, then the last one repeated (the action stops: still frames at the end);
    * ``loop`` (default): every frame, then again from the first (``0..n-1, 0..``), so the clip
      keeps the video's own frame rate and motion in every frame (stae-px's motion-driven pixel
      selection needs it); with ``random`` the loop starts at a random frame. On whole clips
      ``pad`` measured better on Weizmann (docs/real_footage.md has both figures);
    * ``resample``: the uniform rule stretched over the short video (each frame shown about
      ``clip_len / n`` times): the whole action, slowed down by a clip-dependent factor.
    """
    if num_frames < 1 or clip_len < 1:
        raise ValueError(f"need num_frames >= 1 and clip_len >= 1, got {num_frames}, {clip_len}")
    if mode not in ("uniform", "random"):
        raise ValueError(f"sampling must be 'uniform' or 'random', got {mode!r}")
    if short_clip not in SHORT_CLIP_POLICIES:
        raise ValueError(f"short_clip must be one of {', '.join(SHORT_CLIP_POLICIES)}, got {short_clip!r}")
    if mode == "random" and rng is None:
        raise ValueError("random sampling needs an rng")
    if num_frames <= clip_len and short_clip == "pad":
        return np.concatenate([np.arange(num_frames), np.full(clip_len - num_frames, num_frames - 1)]).astype(np.int64)
    if num_frames <= clip_len and short_clip == "loop":
        start = int(rng.integers(num_frames)) if mode == "random" and rng is not None else 0
        return ((start + np.arange(clip_len)) % num_frames).astype(np.int64)
    edges = np.linspace(0.0, num_frames, clip_len + 1)
    if mode == "uniform":
        idx = np.floor((edges[:-1] + edges[1:]) / 2.0)
    else:
        idx = np.floor(edges[:-1] + rng.uniform(0.0, 1.0, clip_len) * (edges[1:] - edges[:-1]))  # type: ignore[union-attr]
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
    """A labelled video folder (HMDB51, UCF101, fold CSV or seeded split); a map-style data set
    usable by a torch DataLoader.

    ``dataset[i] -> (clip uint8 T,H,W,3, label int)``. ``sampling="random"`` draws new offsets
    per item from ``(seed, index, epoch)``; call :meth:`set_epoch` to vary them between epochs
    while staying reproducible. ``split_spec`` chooses the split (``layout``/``split_id`` are the
    short form for the HMDB51/UCF101 layouts); ``.layout`` says which source was used.
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
        split_spec: SplitSpec | None = None,
        short_clip: ShortClip = "loop",
    ) -> None:
        if clip_len < 1:
            raise ValueError(f"clip_len must be >= 1, got {clip_len}")
        if len(size) != 2 or min(int(size[0]), int(size[1])) < 1:
            raise ValueError(f"size must be (H, W) with positive entries, got {size!r}")
        if sampling not in ("uniform", "random"):
            raise ValueError(f"sampling must be 'uniform' or 'random', got {sampling!r}")
        if short_clip not in SHORT_CLIP_POLICIES:
            raise ValueError(f"short_clip must be one of {', '.join(SHORT_CLIP_POLICIES)}, got {short_clip!r}")
        self.root = Path(root)
        self.split = split
        self.clip_len = int(clip_len)
        self.size = (int(size[0]), int(size[1]))
        self.sampling: Sampling = sampling
        self.short_clip: ShortClip = short_clip
        self.skip_broken = bool(skip_broken)
        self.seed = int(seed)
        self.epoch = 0
        self.split_spec = split_spec if split_spec is not None else SplitSpec(source=layout, split_id=split_id)
        self.layout, self.class_names, samples = discover_samples(self.root, split, spec=self.split_spec)
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
    def split_tag(self) -> str:
        """The split actually used, for cache names: e.g. ``fold2``, ``seed0_0.3`` or ``1``."""
        return self.split_spec.tag(self.layout)

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
        idx = sample_indices(video.shape[0], self.clip_len, self.sampling, rng, self.short_clip)
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
