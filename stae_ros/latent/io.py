"""Save / load a trained latent model as one self-describing file (config + weights)."""

from __future__ import annotations

from pathlib import Path

import torch

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
    """A bundle written by `save_latent_model`, or a bare state_dict when `cfg` is given."""
    try:
        blob = torch.load(Path(path), map_location="cpu", weights_only=True)
    except FileNotFoundError as exc:
        raise LatentError(f"latent model file not found: {path}") from exc
    if isinstance(blob, dict) and blob.get("format") == MODEL_FORMAT:
        cfg, state = LatentConfig(**blob["config"]), blob["state_dict"]
    elif cfg is not None:
        state = blob
    else:
        raise LatentError(f"{path} is not a {MODEL_FORMAT} bundle; pass the LatentConfig of its bare state_dict")
    model = LatentModel(cfg)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise LatentError(f"{path} does not match the latent config: {exc}") from exc
    return model.eval()


def load_latent_codec(path: str | Path, limits: LatentLimits = LatentLimits()) -> LatentCodec:
    return LatentCodec(load_latent_model(path), limits)
