"""Learned latent coding (stae-latent payload): 3D-conv encoder, factorised prior, range coder."""

from .codec import CODEC_NAME, CODEC_VERSION, LatentCodec, LatentLimits
from .entropy import FactorizedLogistic, probability_tables
from .errors import (
    BadMagicError,
    LatentError,
    LatentInputError,
    LatentPayloadError,
    LimitExceededError,
    ModelMismatchError,
    TruncatedPayloadError,
    UnsupportedVersionError,
)
from .io import MODEL_FORMAT, load_latent_codec, load_latent_model, save_latent_model
from .model import LatentConfig, LatentModel
from .train import estimate_bits, train_latent

__all__ = [
    "CODEC_NAME",
    "CODEC_VERSION",
    "LatentCodec",
    "LatentLimits",
    "LatentConfig",
    "LatentModel",
    "FactorizedLogistic",
    "probability_tables",
    "train_latent",
    "MODEL_FORMAT",
    "save_latent_model",
    "load_latent_model",
    "load_latent_codec",
    "estimate_bits",
    "LatentError",
    "LatentInputError",
    "LatentPayloadError",
    "BadMagicError",
    "UnsupportedVersionError",
    "ModelMismatchError",
    "TruncatedPayloadError",
    "LimitExceededError",
]
