"""Errors the modes and the pipelines raise for bad input, each naming what was wrong.

They live with the modes (the lower layer); ``stae_ros.pipeline`` re-exports them, so callers of
either package catch the same classes.
"""

from __future__ import annotations

__all__ = ["PipelineError", "ClipShapeError", "UnknownCodecError", "UnknownModeError", "BudgetError",
           "ModelMismatchError"]


class PipelineError(ValueError):
    """Base class: the pipeline refused its input."""


class ClipShapeError(PipelineError):
    """A clip's shape or dtype does not match what the model was trained for."""


class UnknownCodecError(PipelineError):
    """A payload or a command names a mode (codec) this host does not have."""


#: the same error under the interface's word for it
UnknownModeError = UnknownCodecError


class BudgetError(PipelineError):
    """A frame or spatial budget, or a mode setting, is outside what the mode supports."""


class ModelMismatchError(PipelineError):
    """A clip was made for another model than the one this host runs for its mode."""
