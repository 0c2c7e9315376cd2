"""The camera node's own frame sources: synthetic test clips, video files, V4L2 devices, data sets.

Each source hands out one RGB uint8 frame at a time with, when it is known, the class of the clip
the frame belongs to (so `stae demo` can score labels). No ROS here: the node calls `read()` from
a timer.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Protocol

import numpy as np

from .errors import SourceError

__all__ = ["Frame", "FrameSource", "SynthSource", "VideoFileSource", "DeviceSource", "FolderSource", "open_source"]

log = logging.getLogger(__name__)

#: index of the first test clip per class (= train_per_class) of config/train_synth.yaml's data set
SYNTH_FIRST_TEST_INDEX = 150


@dataclass(frozen=True)
class Frame:
    """One camera frame (H x W x 3 RGB uint8) and the class of its clip when known (-1 otherwise)."""

    rgb: np.ndarray
    truth: int = -1
    truth_name: str = ""


class FrameSource(Protocol):
    def read(self) -> Frame | None:
        """The next frame, or None when the source is exhausted."""

    def close(self) -> None: ...


class _ClipSource:
    """Plays a sequence of labelled clips frame by frame."""

    def __init__(self, loop: bool) -> None:
        self.loop = loop
        self._frames: list[np.ndarray] = []
        self._truth = -1
        self._name = ""
        self._pos = 0

    def _next_clip(self) -> tuple[np.ndarray, int, str] | None:
        raise NotImplementedError

    def read(self) -> Frame | None:
        if self._pos >= len(self._frames):
            nxt = self._next_clip()
            if nxt is None:
                return None
            clip, self._truth, self._name = nxt
            self._frames, self._pos = list(clip), 0
            if not self._frames:
                raise SourceError("source produced an empty clip")
        frame = self._frames[self._pos]
        self._pos += 1
        return Frame(frame, self._truth, self._name)

    def close(self) -> None:
        self._frames = []


class SynthSource(_ClipSource):
    """The synthetic test split of `stae data synth` (labels known), rendered on the fly.

    Clip i has class i % n_classes and is the test clip of index
    ``first_index + i // n_classes`` of a data set generated with ``dataset_seed``: the same pixels
    `generate_dataset(seed=dataset_seed)` writes for its test split (first_index = train_per_class).
    """

    def __init__(self, frames: int, height: int, width: int, dataset_seed: int = 0,
                 first_index: int = SYNTH_FIRST_TEST_INDEX, count: int = 0, loop: bool = True) -> None:
        super().__init__(loop)
        from stae_ros.data import synthetic

        self._synthetic = synthetic
        self.names = list(synthetic.CLASS_NAMES)
        self.frames, self.height, self.width = frames, height, width
        self.dataset_seed, self.first_index, self.count = dataset_seed, first_index, count
        self.i = 0

    def clip(self, i: int) -> tuple[np.ndarray, int, str]:
        """Clip number i of the sequence (frames T,H,W,3, class id, class name)."""
        n = len(self.names)
        cid, idx = i % n, self.first_index + i // n
        seed = self._synthetic.clip_seed(self.dataset_seed, cid, idx)
        return self._synthetic.render_clip(cid, seed, self.frames, self.height, self.width).frames, cid, self.names[cid]

    def _next_clip(self) -> tuple[np.ndarray, int, str] | None:
        if self.count and self.i >= self.count:
            if not self.loop:
                return None
            self.i = 0
        out = self.clip(self.i)
        self.i += 1
        return out


class FolderSource(_ClipSource):
    """The test split of a data set folder in the HMDB51 layout (labels from the folder names)."""

    def __init__(self, root: Path, frames: int, height: int, width: int, loop: bool = True) -> None:
        super().__init__(loop)
        try:
            from stae_ros.data.folder import VideoFolderDataset
        except ImportError as exc:  # pragma: no cover - data.folder is part of the package
            raise SourceError(f"cannot read data set folders: {exc}") from exc
        try:
            self.ds = VideoFolderDataset(root, split="test", clip_len=frames, size=(height, width),
                                         sampling="uniform", skip_broken=True)
        except Exception as exc:  # noqa: BLE001 - any layout error becomes a SourceError with the path
            raise SourceError(f"data set folder {root} cannot be opened: {exc}") from exc
        if len(self.ds) == 0:
            raise SourceError(f"data set folder {root} has no test clips")
        self.names = list(self.ds.class_names)
        self.i = 0

    def _next_clip(self) -> tuple[np.ndarray, int, str] | None:
        if self.i >= len(self.ds):
            if not self.loop:
                return None
            self.i = 0
        clip, label = self.ds[self.i]
        self.i += 1
        return np.asarray(clip), int(label), self.names[int(label)]


class _CaptureSource:
    """OpenCV VideoCapture (files and V4L2 devices), converted to RGB."""

    def __init__(self, target: str | int, what: str, loop: bool) -> None:
        from stae_ros.data.video_io import open_capture

        self.target, self.what, self.loop = target, what, loop
        self._open = open_capture
        self.cap = open_capture(target)
        if not self.cap.isOpened():
            raise SourceError(f"cannot open {what} {target!r} (missing, unreadable or no decoder)")
        self.frames_read = 0

    def read(self) -> Frame | None:
        ok, frame = self.cap.read()
        if not ok and self.loop and self.frames_read > 0 and isinstance(self.target, str):
            self.cap.release()
            self.cap = self._open(self.target)
            ok, frame = self.cap.read()
        if not ok or frame is None:
            return None
        self.frames_read += 1
        if frame.ndim == 2:
            frame = np.repeat(frame[:, :, None], 3, axis=2)
        return Frame(np.ascontiguousarray(frame[:, :, 2::-1]))

    def close(self) -> None:
        self.cap.release()


class VideoFileSource(_CaptureSource):
    def __init__(self, path: Path, loop: bool = True) -> None:
        if not path.is_file():
            raise SourceError(f"video file {path} does not exist")
        super().__init__(str(path), "video file", loop)


class DeviceSource(_CaptureSource):
    def __init__(self, device: str) -> None:
        m = re.fullmatch(r"/dev/video(\d+)", device)
        if not m:
            raise SourceError(f"camera device {device!r} is not of the form /dev/videoN")
        if not Path(device).exists():
            raise SourceError(f"camera device {device} does not exist")
        super().__init__(int(m.group(1)), "camera device", loop=False)


def open_source(spec: str, frames: int, height: int, width: int, *, dataset_seed: int = 0,
                first_index: int = SYNTH_FIRST_TEST_INDEX, loop: bool = True) -> FrameSource:
    """The source named by the camera node's `source` parameter.

    'synth' | 'synth:N' (N clips, then stop or loop) | /dev/videoN | a directory (data set test split)
    | a video file. Raises SourceError naming what could not be opened.
    """
    spec = spec.strip()
    if spec == "synth" or spec.startswith("synth:"):
        count = 0
        if ":" in spec:
            try:
                count = int(spec.split(":", 1)[1])
            except ValueError as exc:
                raise SourceError(f"source {spec!r}: after 'synth:' give a clip count") from exc
        return SynthSource(frames, height, width, dataset_seed=dataset_seed, first_index=first_index, count=count,
                           loop=loop)
    if spec.startswith("/dev/video"):
        return DeviceSource(spec)
    path = Path(spec).expanduser()
    if path.is_dir():
        return FolderSource(path, frames, height, width, loop=loop)
    return VideoFileSource(path, loop=loop)


def iter_frames(source: FrameSource) -> Iterator[Frame]:
    """All frames of a (non-looping) source."""
    while (f := source.read()) is not None:
        yield f
