"""SA-guided region coding: a block importance map steers libx264 (stae-roi264 payload)."""

from .codec import CODEC_NAME, CODEC_VERSION, RoiCodec, RoiLimits, RoiSettings
from .errors import (
    BadMagicError,
    BitstreamDecodeError,
    LimitExceededError,
    RoiError,
    RoiInputError,
    RoiPayloadError,
    TruncatedPayloadError,
    UnsupportedVersionError,
)

from .h264 import X264Settings
from .importance import ImportanceNet, load_importance_net, save_importance_net
from .node_model import RoiModel, RoiModelError, load_roi_model, save_roi_model

__all__ = [
    "CODEC_NAME",
    "CODEC_VERSION",
    "RoiCodec",
    "RoiSettings",
    "RoiLimits",
    "X264Settings",
    "ImportanceNet",
    "save_importance_net",
    "load_importance_net",
    "RoiModel",
    "RoiModelError",
    "load_roi_model",
    "save_roi_model",
    "RoiError",
    "RoiInputError",
    "RoiConfigError",
    "RoiPayloadError",
    "BadMagicError",
    "UnsupportedVersionError",
    "TruncatedPayloadError",
    "LimitExceededError",
    "BitstreamDecodeError",
]
