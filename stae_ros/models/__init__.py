"""STAE models (torch only, no I/O): frame/spatial attention, feature recovery, video ViT.

See docs/CONTRACTS.md for the API and docs/models.md for the design choices and costs.
"""

from .config import (
    BudgetConfig,
    ClipConfig,
    FAConfig,
    FRConfig,
    ModelConfig,
    SAConfig,
    ViTConfig,
    budget_pixels,
)
from .errors import BudgetError, ConfigError, ModelError, PretrainedLoadError, ShapeError, StageError
from .fa import FrameAttention
from .fr import FrameRecovery
from .sa import SpatialAttention
from .camera_select import select_uint8
from .selection import Selection
from .stae import STAE, STAGES
from .temporal import interpolate_missing_frames, kept_frames, neighbour_blend
from .vit import LoadReport, VideoViT

__all__ = [
    "BudgetConfig",
    "ClipConfig",
    "FAConfig",
    "FRConfig",
    "ModelConfig",
    "SAConfig",
    "ViTConfig",
    "budget_pixels",
    "ModelError",
    "ConfigError",
    "BudgetError",
    "ShapeError",
    "StageError",
    "PretrainedLoadError",
    "FrameAttention",
    "SpatialAttention",
    "FrameRecovery",
    "VideoViT",
    "LoadReport",
    "Selection",
    "select_uint8",
    "STAE",
    "STAGES",
    "interpolate_missing_frames",
    "neighbour_blend",
    "kept_frames",
]
