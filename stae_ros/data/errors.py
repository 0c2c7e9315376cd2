"""Named exceptions of :mod:`stae_ros.data`.

Every message names the offending file or argument so that a user pointing the loader at a
large HMDB51/UCF101 copy can find and fix the one broken entry.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DataError", "VideoReadError", "VideoWriteError", "DatasetLayoutError"]


class DataError(Exception):
    """Base class of every error raised by :mod:`stae_ros.data`."""


class VideoReadError(DataError):
    """A video file is missing, empty, corrupt or truncated.

    ``path`` and ``reason`` are kept as attributes so callers (``skip_broken``) can log them.
    """

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"cannot read video {self.path}: {reason}")


class VideoWriteError(DataError):
    """Frames given to :func:`write_video` have the wrong shape/dtype, or the encoder failed."""


class DatasetLayoutError(DataError):
    """A data set folder does not follow the HMDB51 or UCF101 layout (or a split is empty)."""
