"""Save / load a trained latent model as one self-describing file (config + weights)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..torchfile import read_torch_file
from .codec import LatentCodec, LatentLimits
from .errors import LatentError
from .model import LatentConfig, LatentModel

__all__ = ["MODEL_FORMAT", "save_latent_model", "load_latent_model", "load_latent_codec"]

MODEL_FORMAT = "stae-latent-model/1"


def save_latent_model(path: str | Path, model: LatentModel, meta: dict | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"format": MODEL_FORMAT, "config": model.cfg.to_dict(), "state_dict": model.state_dict(), "meta": meta or {}}, path)
    return path


def load_latent_model(path: str | Path, cfg: LatentConfig | None = None) -> LatentModel:
    """A bundle written by `save_latent_model`, or a bare state_dict when `cfg` is given.

    Every failure (missing, unreadable or truncated file, another kind of file, a bad field) is a
    LatentError naming the file and the field, so an edge refuses the file at start-up instead of
    failing on its first stae-latent clip.
    """
    path = Path(path)
    blob = read_torch_file(path, LatentError, "latent model file")
    if isinstance(blob, dict) and "format" in blob:
        if blob["format"] != MODEL_FORMAT:
            raise LatentError(f"{path} is a {blob['format']!r} file, not a {MODEL_FORMAT} bundle")
        for key in ("config", "state_dict"):
            if not isinstance(blob.get(key), dict):
                raise LatentError(f"{path}: field {key!r} is missing or not a mapping")
        try:
            cfg = LatentConfig(**blob["config"])
        except (TypeError, ValueError) as exc:
            raise LatentError(f"{path}: field 'config' is not a valid latent config: {exc}") from exc
        for name in ("frames", "height", "width", "num_classes", "latent_channels", "support"):
            v = getattr(cfg, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise LatentError(f"{path}: field 'config.{name}' is {v!r}; expected a positive integer")
        state = blob["state_dict"]
    elif cfg is not None and isinstance(blob, dict):
        state = blob
    else:
        raise LatentError(f"{path} is not a {MODEL_FORMAT} bundle; pass the LatentConfig of its bare state_dict")
    try:
        model = LatentModel(cfg)
        model.load_state_dict(state)
    except Exception as exc:  # noqa: BLE001 - RuntimeError (shapes, keys), TypeError, ValueError (config)
        raise LatentError(f"{path}: field 'state_dict' does not match the latent config: {type(exc).__name__}: {exc}") from exc
    return model.eval()


def load_latent_codec(path: str | Path, limits: LatentLimits = LatentLimits()) -> LatentCodec:
    """The codec of a model file; a prior whose coding tables are not finite probabilities is a
    LatentError naming the file (field 'state_dict.prior')."""
    codec = LatentCodec(load_latent_model(path), limits)
    if not np.isfinite(codec.tables).all() or (codec.tables <= 0).any():
        raise LatentError(f"{path}: field 'state_dict.prior' gives coding tables that are not finite positive probabilities")
    return codec
