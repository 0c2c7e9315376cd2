"""Camera and edge pipelines: what the ROS nodes, `stae bag eval` and the benchmarks call.

They run whichever payload mode is active through the mode interface (stae_ros.modes), so the
nodes hold no algorithm and no mode names.
"""

from .camera import CameraPipeline, EncodedClip, PreparedChange
from .clips import ClipCutter, make_clip, resize_frame, sample_indices
from .edge import EdgePipeline, EdgeResult, FailureCounts, pick_device
from .errors import (BudgetError, ClipShapeError, ModelMismatchError, PipelineError, UnknownCodecError,
                     UnknownModeError)

__all__ = [
    "CameraPipeline", "EncodedClip", "PreparedChange", "EdgePipeline", "EdgeResult", "FailureCounts", "pick_device",
    "ClipCutter", "make_clip", "resize_frame", "sample_indices",
    "PipelineError", "ClipShapeError", "UnknownCodecError", "UnknownModeError", "BudgetError", "ModelMismatchError",
]
