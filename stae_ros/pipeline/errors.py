"""Errors the camera and edge pipelines raise for bad input (defined with the modes, re-exported here)."""

from __future__ import annotations

from stae_ros.modes.errors import (BudgetError, ClipShapeError, ModelMismatchError, PipelineError, UnknownCodecError,
                                   UnknownModeError)

__all__ = ["PipelineError", "ClipShapeError", "UnknownCodecError", "UnknownModeError", "BudgetError",
           "ModelMismatchError"]
