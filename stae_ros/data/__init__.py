"""Data sets for STAE: the procedural synthetic action set, video I/O, folder loaders, controls.

Nothing here imports torch or ROS: items are numpy ``uint8 T,H,W,3`` RGB clips.
"""

from .arrays import ClipArrays, load_split_arrays
from .av_frames import FrameConverter
from .controls import remove_motion_region, single_frame
from .errors import DataError, DatasetLayoutError, VideoReadError, VideoWriteError
from .folder import VideoFolderDataset, sample_indices
from .synthetic import CLASS_NAMES, SyntheticClip, generate_dataset, render_clip
from .video_io import read_video, write_video

__all__ = [
    "CLASS_NAMES",
    "SyntheticClip",
    "render_clip",
    "generate_dataset",
    "read_video",
    "write_video",
    "FrameConverter",
    "VideoFolderDataset",
    "sample_indices",
    "ClipArrays",
    "load_split_arrays",
    "single_frame",
    "remove_motion_region",
    "DataError",
    "DatasetLayoutError",
    "VideoReadError",
    "VideoWriteError",
]
