"""Payload modes: one interface (:mod:`.base`), one module per mode, a registry of names (:mod:`.registry`).

The camera and edge pipelines, the nodes, the bench and the profiler reach every mode through
``make_camera(name, ctx)`` / ``make_edge(name, ctx)``; none of them names a mode in its code.
"""

from .base import (CameraMode, Classified, Decoded, EdgeMode, EncodedClip, LocalLabel, ModeContext, Validated,
                   model_identity, state_identity)
from .errors import BudgetError, ClipShapeError, ModelMismatchError, PipelineError, UnknownCodecError, UnknownModeError
from .registry import MODES, check_mode, make_camera, make_edge, mode_names

__all__ = [
    "CameraMode", "EdgeMode", "EncodedClip", "LocalLabel", "Validated", "Decoded", "Classified", "ModeContext",
    "model_identity", "state_identity", "MODES", "mode_names", "check_mode", "make_camera", "make_edge",
    "PipelineError", "ClipShapeError", "UnknownCodecError", "UnknownModeError", "BudgetError", "ModelMismatchError",
]
