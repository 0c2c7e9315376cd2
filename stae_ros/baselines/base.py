"""The one interface every compared method implements, so the bench treats them alike.

A ``ClipCodec`` turns a whole uint8 clip into one self-contained byte string and back. The bench
counts ``len(encode(clip))`` as the uplink cost, so each codec's bytes must be everything the
edge needs to rebuild the clip (no side channel), and nothing more.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from .errors import ClipFormatError

__all__ = ["ClipCodec", "check_clip"]


def check_clip(clip: Any, *, even: bool = False) -> np.ndarray:
    """Validate a numpy clip (uint8 T,H,W,3) and return it C-contiguous.

    ``even`` is for 4:2:0 video codecs, which need even frame sizes.
    """
    if not isinstance(clip, np.ndarray):
        raise ClipFormatError(f"clip must be a numpy array, got {type(clip).__name__}")
    if clip.dtype != np.uint8:
        raise ClipFormatError(f"clip must be uint8, got {clip.dtype}")
    if clip.ndim != 4 or clip.shape[3] != 3:
        raise ClipFormatError(f"clip must have shape (T,H,W,3), got {clip.shape}")
    t, h, w, _ = clip.shape
    if t < 1 or h < 1 or w < 1:
        raise ClipFormatError(f"clip must be non-empty, got {clip.shape}")
    if even and (h % 2 or w % 2):
        raise ClipFormatError(f"4:2:0 video needs even frame sizes, got {h}x{w}")
    return np.ascontiguousarray(clip)


class ClipCodec(ABC):
    """A method of sending one clip from the camera to the edge.

    ``name`` is unique per operating point (e.g. ``h264-medium-crf28``); ``family`` groups the
    points of one method for tables and plots; ``params`` are the knobs that made this point.
    ``spec()`` is a JSON-able dict that :func:`stae_ros.baselines.make_codec` turns back into an
    equal codec, which lets the bench rebuild it in a child process to measure time and memory.
    """

    family: str = "abstract"
    #: True when encode/decode need torch and a model checkpoint
    needs_model: bool = False

    def __init__(self, **params: Any) -> None:
        self.params: dict[str, Any] = dict(params)

    @property
    @abstractmethod
    def name(self) -> str:
        """Unique, human-readable name of this operating point."""

    @abstractmethod
    def encode(self, clip: np.ndarray) -> bytes:
        """Camera side: uint8 clip (T,H,W,3) -> the bytes sent over the uplink."""

    @abstractmethod
    def decode(self, data: bytes) -> np.ndarray:
        """Edge side: bytes -> uint8 clip (T,H,W,3) the classifier sees; raises BaselineDecodeError."""

    def decode_many(self, payloads: list[bytes]) -> np.ndarray:
        """Decode several clips (N,T,H,W,3); model-based codecs override it to batch the network."""
        return np.stack([self.decode(p) for p in payloads])

    def spec(self) -> dict[str, Any]:
        return {"family": self.family, **self.params}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"
