"""Colour conversion between numpy RGB frames and libav frames, with one converter kept per stream.

Why: PyAV's ``frame.to_ndarray(format=...)`` and ``frame.reformat(...)`` build a fresh libswscale
context for every frame. At the clip sizes STAE works at, that set-up is most of the cost: decoding
a 16x64x64 H.264 clip to RGB took 2.96 ms that way and 0.78 ms with one converter (the decoding
itself is 0.19 ms), and converting the frames for libx264 ultrafast took half of its 5.6 ms per
clip. A :class:`FrameConverter` keeps its context for as long as sizes and formats repeat
(``sws_getCachedContext``) and gives the same pixels, so every codec that goes through it, the
H.264/H.265 baselines and STAE's own H.264 payloads alike, is timed without that overhead.

Decoded yuv420p frames go to RGB through OpenCV (``method="opencv"``, the default), not libswscale:
at 64x64 libswscale's yuv420p->rgb24 took 0.35-0.58 ms per 16 frames depending on the process
(14 fresh processes; the same code, so the memory layout), which made sub-millisecond H.264 decode
timings swing by 25% from run to run; ``cv2.cvtColor(..., COLOR_YUV2RGB_I420)`` took 0.13 ms
±2% in 8 processes. Both are BT.601 limited range; they differ by at most 3 grey levels (chroma
upsampling). The RGB -> yuv420p direction stays on libswscale, whose chroma downsampling the
encoders were measured with (OpenCV's differs by up to 115 levels on noise). ``method="swscale"``
keeps libswscale both ways, e.g. for user videos in other colour spaces and ranges.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["FrameConverter"]


class FrameConverter:
    """RGB numpy <-> libav frames, one per stream and thread of use: RGB -> libav through one reused
    libswscale context; decoded yuv420p -> RGB through OpenCV (``method="opencv"``) or the same
    libswscale context (``method="swscale"``, and for every other pixel format)."""

    def __init__(self, method: str = "opencv") -> None:
        from av.video.reformatter import VideoReformatter

        if method not in ("opencv", "swscale"):
            raise ValueError(f"FrameConverter method must be 'opencv' or 'swscale', got {method!r}")
        self.method = method
        self._reformatter = VideoReformatter()

    def from_rgb(self, rgb: np.ndarray, format: str = "yuv420p") -> Any:
        """A libav VideoFrame in ``format`` from a uint8 H,W,3 RGB array."""
        import av

        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        return self._reformatter.reformat(frame, format=format)

    def to_rgb(self, frame: Any) -> np.ndarray:
        """A decoded libav VideoFrame as a uint8 H,W,3 RGB array."""
        if self.method == "opencv" and frame.format.name == "yuv420p" and frame.width % 2 == 0 and frame.height % 2 == 0:
            import cv2

            return cv2.cvtColor(frame.to_ndarray(), cv2.COLOR_YUV2RGB_I420)
        return self._reformatter.reformat(frame, format="rgb24").to_ndarray()
