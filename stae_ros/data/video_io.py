"""Read and write short RGB video clips.

PyAV is the primary backend (it decodes every codec FFmpeg knows and gives exact frame counts);
OpenCV is the fallback, because some user data sets contain files PyAV rejects but OpenCV's
own FFmpeg build tolerates. Every failure becomes a :class:`VideoReadError` that names the file
and says why (missing, empty, corrupt, truncated), so a bad entry in a 7000-file data set is
found in seconds instead of surfacing as a shape error deep inside a training loop.
"""

from __future__ import annotations

import logging
import os
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from .errors import VideoReadError, VideoWriteError

__all__ = ["read_video", "write_video", "probe_frame_count", "open_capture", "LOSSLESS_CODEC"]

log = logging.getLogger(__name__)

#: codec used for generated data sets: FFV1 in bgr0 is bit-exact for 8-bit RGB
LOSSLESS_CODEC = "ffv1"


def open_capture(target: str | int) -> Any:
    """``cv2.VideoCapture(target)`` with FFmpeg's own log off, unless the user set OPENCV_FFMPEG_LOGLEVEL:
    a file it cannot open is reported once, by the caller's error naming it, not also by a libav line
    ("moov atom not found") on stderr."""
    import cv2

    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    return cv2.VideoCapture(target)


def _check_file(path: Path) -> None:
    if not path.exists():
        raise VideoReadError(path, "file does not exist")
    if not path.is_file():
        raise VideoReadError(path, "not a regular file")
    if path.stat().st_size == 0:
        raise VideoReadError(path, "file is empty (0 bytes)")


def _read_pyav(path: Path, max_frames: int | None) -> np.ndarray:
    import av  # local: keep `import stae_ros.data` light

    from .av_frames import FrameConverter

    frames: list[np.ndarray] = []
    rgb = FrameConverter("swscale")  # any colour space/range a user video has
    with av.open(str(path), mode="r") as container:
        if not container.streams.video:
            raise VideoReadError(path, "container has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "NONE"  # deterministic, and the host has few cores to spare
        declared = int(stream.frames or 0)
        for frame in container.decode(stream):
            frames.append(rgb.to_rgb(frame))
            if max_frames is not None and len(frames) >= max_frames:
                break
    if not frames:
        raise VideoReadError(path, "no decodable frames (corrupt or truncated)")
    wanted = declared if max_frames is None else min(declared, max_frames)
    # FFmpeg decodes a cut-off AVI silently; the header's frame count reveals it. A frame or two
    # (2 %) of slack: real HMDB51/UCF101 headers are sometimes off by one.
    if declared and wanted - len(frames) > max(1, int(0.02 * declared)):
        raise _Truncated(path, f"truncated: decoded {len(frames)} of the {declared} frames its header declares")
    return np.stack(frames)


class _Truncated(VideoReadError):
    """Raised by the PyAV path; not retried with OpenCV (it would silently return the prefix)."""


def _read_opencv(path: Path, max_frames: int | None) -> np.ndarray:
    import cv2

    cap = open_capture(str(path))
    try:
        if not cap.isOpened():
            raise VideoReadError(path, "OpenCV cannot open it (unknown container or corrupt)")
        frames: list[np.ndarray] = []
        while max_frames is None or len(frames) < max_frames:
            ok, bgr = cap.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    finally:
        cap.release()
    if not frames:
        raise VideoReadError(path, "no decodable frames (corrupt or truncated)")
    return np.stack(frames)


def read_video(path: str | Path, max_frames: int | None = None) -> np.ndarray:
    """Decode a video file into ``uint8 N,H,W,3`` RGB.

    Tries PyAV first, then OpenCV. ``max_frames`` stops decoding early (long user videos).
    Raises :class:`VideoReadError` (naming the file) when it is missing or empty, when no frame
    decodes (corrupt), or when clearly fewer frames decode than the header declares (truncated;
    one frame or 2 % of slack is allowed, as real data set headers are sometimes off by one).
    """
    p = Path(path)
    _check_file(p)
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"max_frames must be >= 1 or None, got {max_frames}")
    reasons: list[str] = []
    try:
        return _read_pyav(p, max_frames)
    except _Truncated as exc:
        raise VideoReadError(p, exc.reason) from None
    except VideoReadError as exc:
        reasons.append(f"PyAV: {exc.reason}")
    except Exception as exc:  # av.error.* and friends: corrupt headers, truncated packets
        reasons.append(f"PyAV: {type(exc).__name__}: {exc}")
    try:
        frames = _read_opencv(p, max_frames)
        log.warning("PyAV could not read %s (%s); decoded with OpenCV instead", p, reasons[0])
        return frames
    except VideoReadError as exc:
        reasons.append(f"OpenCV: {exc.reason}")
    except Exception as exc:
        reasons.append(f"OpenCV: {type(exc).__name__}: {exc}")
    raise VideoReadError(p, "corrupt or truncated; " + "; ".join(reasons))


def probe_frame_count(path: str | Path) -> int:
    """Number of frames, by decoding (container headers of user files are often wrong)."""
    return int(read_video(path).shape[0])


def write_video(
    path: str | Path,
    frames: np.ndarray,
    fps: float = 25.0,
    codec: str = LOSSLESS_CODEC,
    pix_fmt: str | None = None,
) -> Path:
    """Write ``uint8 N,H,W,3`` RGB frames to ``path`` (container from the suffix, e.g. ``.avi``).

    The default FFV1/bgr0 is lossless, so a classifier trained on the written files sees exactly
    the rendered pixels. Other codecs (``libx264``, ``mpeg4``) are accepted for tests and
    interoperability; they default to ``yuv420p`` (which needs even H and W).
    Output is deterministic for the same frames and PyAV/FFmpeg build: no wall-clock metadata.
    """
    import av

    arr = np.asarray(frames)
    if arr.ndim != 4 or arr.shape[-1] != 3 or arr.shape[0] < 1:
        raise VideoWriteError(f"frames must be N,H,W,3 with N >= 1, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        raise VideoWriteError(f"frames must be uint8, got {arr.dtype}")
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    if pix_fmt is None:
        pix_fmt = "bgr0" if codec == "ffv1" else "yuv420p"
    rate = Fraction(fps).limit_denominator(1001)
    try:
        with av.open(str(p), mode="w") as container:
            stream = container.add_stream(codec, rate=rate)
            stream.width = int(arr.shape[2])
            stream.height = int(arr.shape[1])
            stream.pix_fmt = pix_fmt
            stream.thread_type = "NONE"
            stream.thread_count = 1
            if codec == "ffv1":
                # slices/threads change the bitstream; pin them so output is byte-identical
                stream.options = {"threads": "1", "level": "1", "g": "1"}
            for i, img in enumerate(arr):
                vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
                vf.pts = i
                for packet in stream.encode(vf):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
    except VideoWriteError:
        raise
    except Exception as exc:
        raise VideoWriteError(f"failed to write {p} with codec {codec}/{pix_fmt}: {exc}") from exc
    return p
