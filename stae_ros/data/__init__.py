"""Data sets for STAE: the procedural synthetic action set, video I/O and folder loaders."""

from .errors import DataError, DatasetLayoutError, VideoReadError, VideoWriteError
from .synthetic import CLASS_NAMES, SyntheticClip, generate_dataset, render_clip
from .video_io import read_video, write_video

__all__ = [
    "CLASS_NAMES",
    "SyntheticClip",
    "render_clip",
    "generate_dataset",
    "read_video",
    "write_video",
    "DataError",
    "DatasetLayoutError",
    "VideoReadError",
    "VideoWriteError",
]
