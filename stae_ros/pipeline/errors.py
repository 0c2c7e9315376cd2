"""Errors the camera and edge pipelines raise for bad input, each naming what was wrong."""

from __future__ import annotations

__all__ = ["PipelineError", "ClipShapeError", "UnknownCodecError", "BudgetError"]


class PipelineError(ValueError):
    """Base class: the pipeline refused its input."""


class ClipShapeError(PipelineError):
    """A clip's shape or dtype does not match what the model was trained for."""


class UnknownCodecError(PipelineError):
    """A payload names a codec this edge host does not have."""


class BudgetError(PipelineError):
    """A frame or spatial budget is outside what the model supports."""
