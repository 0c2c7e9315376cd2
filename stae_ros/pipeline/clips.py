"""Turning camera frames into model-sized clips.

Cameras deliver frames of any size and rate; the model wants exactly T frames of H x W RGB.
Keeping this here (not in the nodes) lets the camera node, `stae bag eval` and the benchmarks cut
clips the same way.
"""

from __future__ import annotations

from collections import deque
from typing import Deque, Iterator, Sequence

import cv2
import numpy as np

from .errors import ClipShapeError

__all__ = ["resize_frame", "sample_indices", "make_clip", "ClipCutter"]


def resize_frame(frame: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize an RGB (or mono) uint8 frame to height x width x 3 with area averaging."""
    if frame.ndim == 2:
        frame = np.repeat(frame[:, :, None], 3, axis=2)
    if frame.ndim != 3 or frame.shape[2] not in (1, 3):
        raise ClipShapeError(f"frame must be HxW, HxWx1 or HxWx3; got shape {frame.shape}")
    if frame.shape[2] == 1:
        frame = np.repeat(frame, 3, axis=2)
    if frame.dtype != np.uint8:
        raise ClipShapeError(f"frame must be uint8; got {frame.dtype}")
    if frame.shape[:2] == (height, width):
        return np.ascontiguousarray(frame)
    interp = cv2.INTER_AREA if frame.shape[0] > height else cv2.INTER_LINEAR
    return cv2.resize(frame, (width, height), interpolation=interp)


def sample_indices(available: int, frames: int, mode: str = "uniform") -> np.ndarray:
    """Which of `available` buffered frames make a `frames`-long clip.

    "uniform" spreads the clip over the whole window (the paper's sampling); "last" takes the
    newest frames, for the lowest latency when the camera rate equals the model's.
    """
    if available < 1:
        raise ClipShapeError("cannot sample a clip from zero frames")
    if mode == "uniform":
        return np.linspace(0, available - 1, frames).round().astype(np.int64)
    if mode == "last":
        idx = np.arange(available - frames, available)
        return np.clip(idx, 0, available - 1)
    raise ClipShapeError(f"unknown frame sampling mode {mode!r}; use 'uniform' or 'last'")


def make_clip(frames: Sequence[np.ndarray], length: int, height: int, width: int, mode: str = "uniform") -> np.ndarray:
    """Sample and resize a window of frames into a uint8 clip of shape (length, height, width, 3)."""
    idx = sample_indices(len(frames), length, mode)
    return np.stack([resize_frame(frames[int(i)], height, width) for i in idx])


class ClipCutter:
    """Buffers incoming frames and emits a clip every `stride` frames once `window` frames arrived.

    Frames are resized on arrival so the buffer stays small on a Pi-class host.
    """

    def __init__(self, length: int, height: int, width: int, window: int | None = None,
                 stride: int | None = None, mode: str = "uniform") -> None:
        self.length, self.height, self.width = length, height, width
        self.window = window or length
        self.stride = stride or self.window
        if self.window < 1 or self.stride < 1 or length < 1:
            raise ClipShapeError(f"clip length, window and stride must be >= 1; got {length}, {self.window}, {self.stride}")
        self.mode = mode
        sample_indices(self.window, length, mode)  # validate the mode now, not at the first clip
        self._frames: Deque[np.ndarray] = deque(maxlen=self.window)
        self._stamps: Deque[float] = deque(maxlen=self.window)
        self._since_emit = 0

    def push(self, frame: np.ndarray, stamp: float = 0.0) -> tuple[np.ndarray, np.ndarray] | None:
        """Add one frame; return (clip, frame stamps) when a clip is due, else None."""
        self._frames.append(resize_frame(frame, self.height, self.width))
        self._stamps.append(stamp)
        self._since_emit += 1
        if len(self._frames) < self.window or self._since_emit < self.stride:
            return None
        self._since_emit = 0
        idx = sample_indices(len(self._frames), self.length, self.mode)
        frames = list(self._frames)
        stamps = list(self._stamps)
        return np.stack([frames[int(i)] for i in idx]), np.array([stamps[int(i)] for i in idx])

    def feed(self, frames: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        for frame in frames:
            out = self.push(frame)
            if out is not None:
                yield out[0]
