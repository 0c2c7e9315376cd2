"""Benchmarks: codecs side by side (`stae bench codecs`), ROS transport (`stae bench transport`).

Nothing here is imported by the core; ``transport`` imports rclpy lazily, inside its functions.
"""

from .codecs import CodecBenchOptions, completion_curves, equal_accuracy_h264, make_tiny_checkpoint, run_codec_bench
from .errors import BenchDataError, BenchError, ChildProcessError_

__all__ = [
    "CodecBenchOptions",
    "run_codec_bench",
    "make_tiny_checkpoint",
    "equal_accuracy_h264",
    "completion_curves",
    "BenchError",
    "BenchDataError",
    "ChildProcessError_",
]
