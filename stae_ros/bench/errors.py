"""Named exceptions of stae_ros.bench."""

from __future__ import annotations

__all__ = ["BenchError", "ChildProcessError_", "BenchDataError"]


class BenchError(Exception):
    """Base of all errors raised by stae_ros.bench."""


class BenchDataError(BenchError, ValueError):
    """The evaluation data (data set root, footage folder, checkpoint) is missing or unusable."""


class ChildProcessError_(BenchError, RuntimeError):
    """A measurement child process failed; the message carries its stderr tail."""
