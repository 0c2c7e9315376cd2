"""The sensitivity map as the camera receives it, and the scene signature that dates it.

Why a signature and not only an age: a map says where the action *was*; after a cut, a pan or a
new actor it points at the wrong place while still young. The signature is the clip's temporal
mean colour over a coarse grid (4x4x3 bytes by default): cheap on the camera (one mean over the
clip it already holds), robust to the motion inside a scene, and changed by a new scene.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import SensitivityError

__all__ = ["SensitivityMap", "scene_signature", "signature_distance", "MAX_GRID", "MAX_SIGNATURE"]

MAX_GRID = 64  #: largest grid side a map may have
MAX_SIGNATURE = 16  #: largest signature grid side


@dataclass(frozen=True)
class SensitivityMap:
    """``values`` gh,gw float32 in [0,1] (1 = the most important cell); ``seq`` the clip it came from;
    ``stamp_ns`` when the edge made it; ``model_id`` the edge model it explains; ``signature`` the
    scene signature (uint8 s,s,3) of that clip; ``mode`` the payload mode it was made for."""

    values: np.ndarray
    seq: int
    stamp_ns: int
    model_id: str
    signature: np.ndarray
    mode: str = ""

    def __post_init__(self) -> None:
        v = np.asarray(self.values)
        if v.ndim != 2 or not (1 <= v.shape[0] <= MAX_GRID and 1 <= v.shape[1] <= MAX_GRID):
            raise SensitivityError(f"map grid {v.shape} must be 2-D with sides in 1..{MAX_GRID}")
        if not np.all(np.isfinite(v)) or v.min() < 0 or v.max() > 1:
            raise SensitivityError("map values must be finite and in [0, 1]")
        s = np.asarray(self.signature)
        if s.dtype != np.uint8 or s.ndim != 3 or s.shape[2] != 3 or not 1 <= s.shape[0] <= MAX_SIGNATURE \
                or not 1 <= s.shape[1] <= MAX_SIGNATURE:
            raise SensitivityError(f"scene signature must be uint8 s,s,3 with s <= {MAX_SIGNATURE}; got {s.dtype} {s.shape}")

    @property
    def grid(self) -> tuple[int, int]:
        return int(self.values.shape[0]), int(self.values.shape[1])

    def upsample(self, h: int, w: int) -> np.ndarray:
        """The map at h,w (nearest cell; float32): cells are the unit the edge measured, so no
        interpolation invents detail between them."""
        gh, gw = self.grid
        rows = np.minimum((np.arange(h) * gh) // h, gh - 1)
        cols = np.minimum((np.arange(w) * gw) // w, gw - 1)
        return np.asarray(self.values, np.float32)[rows[:, None], cols[None, :]]


def scene_signature(clip: np.ndarray, size: int = 4) -> np.ndarray:
    """uint8 T,H,W,3 -> uint8 size,size,3: the clip's temporal mean colour per grid cell."""
    if not isinstance(clip, np.ndarray) or clip.ndim != 4 or clip.shape[3] != 3:
        raise SensitivityError(f"scene signature needs a T,H,W,3 clip; got {getattr(clip, 'shape', type(clip).__name__)}")
    if not 1 <= size <= MAX_SIGNATURE:
        raise SensitivityError(f"signature size must be in 1..{MAX_SIGNATURE}, got {size}")
    t, h, w, _ = clip.shape
    mean = clip.reshape(t, h, w, 3).mean(axis=0, dtype=np.float32)
    rows = np.array_split(np.arange(h), size)
    cols = np.array_split(np.arange(w), size)
    out = np.empty((size, size, 3), np.float32)
    for i, r in enumerate(rows):
        band = mean[r[0]: r[-1] + 1]
        for j, c in enumerate(cols):
            out[i, j] = band[:, c[0]: c[-1] + 1].mean(axis=(0, 1))
    return np.rint(out).astype(np.uint8)


def signature_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two signatures in [0, 1] (1.0 when their grids differ)."""
    if a.shape != b.shape:
        return 1.0
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean() / 255.0)
