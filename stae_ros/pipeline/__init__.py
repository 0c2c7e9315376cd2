"""Camera and edge pipelines: what the ROS nodes, `stae bag eval` and the benchmarks call.

They join the models (torch) and the codec (bytes) so the nodes hold no algorithm.
"""

from .camera import CameraPipeline, EncodedClip
from .clips import ClipCutter, make_clip, resize_frame, sample_indices
from .edge import EdgePipeline, EdgeResult, pick_device
from .errors import BudgetError, ClipShapeError, PipelineError, UnknownCodecError

__all__ = [
    "CameraPipeline", "EncodedClip", "EdgePipeline", "EdgeResult", "pick_device",
    "ClipCutter", "make_clip", "resize_frame", "sample_indices",
    "PipelineError", "ClipShapeError", "UnknownCodecError", "BudgetError",
]
