"""Camera motion over a clip: pan, zoom and hand-held shake, as one affine map per frame.

Why: a robot's camera moves. With the scene moving as a whole, "the actor moved left" can only
be told from the actor's motion *relative to the background*, not from its image position, and a
frame difference alone no longer isolates the actor. The camera is drawn from one distribution
for every class, before and independently of the actor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CameraPath"]


@dataclass(frozen=True)
class CameraPath:
    """World (canvas pixel) -> image pixel maps ``T,2,3``: ``img = zoom_t * (world - centre_t) + c``."""

    centre: np.ndarray  # T,2 world point at the image centre
    zoom: np.ndarray  # T
    out_size: tuple[int, int]  # H, W

    @staticmethod
    def sample(rng: np.random.Generator, frames: int, height: int, width: int, canvas: tuple[int, int]) -> "CameraPath":
        """Pan up to a quarter of the view sideways (less vertically), zoom by up to +-20 %
        over the clip, and with probability 1/2 a hand-held shake (smoothed random jitter)."""
        u = np.linspace(0.0, 1.0, frames)
        ch, cw = canvas
        pan = np.array([rng.uniform(-0.25, 0.25) * width, rng.uniform(-0.08, 0.08) * height])
        zoom0 = rng.uniform(0.95, 1.15)
        zoom1 = zoom0 * np.exp(rng.uniform(-0.2, 0.2))
        ease = u if rng.uniform() < 0.5 else u * u * (3 - 2 * u)
        zoom = zoom0 * (zoom1 / zoom0) ** ease
        shake_sigma = rng.uniform(0.004, 0.02) * min(height, width) if rng.uniform() < 0.5 else 0.0
        jitter = rng.normal(0.0, 1.0, (frames, 2))
        jitter = (jitter + np.roll(jitter, 1, axis=0)) / np.sqrt(2.0)  # a little temporal correlation
        centre = np.array([cw / 2.0, ch / 2.0]) + (ease[:, None] - 0.5) * pan + shake_sigma * jitter
        return CameraPath(centre, zoom, (height, width))

    def matrix(self, t: int) -> np.ndarray:
        """The 2x3 affine map of frame ``t`` (for cv2.warpAffine and point transforms)."""
        h, w = self.out_size
        z = float(self.zoom[t])
        cx, cy = self.centre[t]
        return np.array([[z, 0.0, w / 2.0 - z * cx], [0.0, z, h / 2.0 - z * cy]])

    def apply(self, t: int, pts: np.ndarray) -> np.ndarray:
        """World points ``...,2`` -> image points of frame ``t``."""
        h, w = self.out_size
        return (pts - self.centre[t]) * self.zoom[t] + np.array([w / 2.0, h / 2.0])
