"""Payload codecs other than stae-px, as the camera and edge pipelines use them.

`stae-px` (the paper's kept pixels + mask) goes through the STAE checkpoint's FA/SA/FR/ViT.
`stae-latent` (issue 6's learned latent) carries its own encoder and classifier head in one model
file, so a camera or edge that speaks it only needs that file: the camera sends the range-coded
latent, and the edge classifies from the decoded latent without rebuilding pixels.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from stae_ros.resources import find_data_file

from .errors import PipelineError, UnknownCodecError

__all__ = ["LATENT_CODEC", "DEFAULT_LATENT_MODEL", "LatentPayload"]

log = logging.getLogger(__name__)

LATENT_CODEC = "stae-latent"
#: shipped model files (relative to the checkout / share/stae_ros): lambda 1e-4 and 1e-3 of docs/payloads.md
DEFAULT_LATENT_MODEL = "models/stae_latent_default.pt"

class LatentPayload:
    """Camera encode and edge classify for the stae-latent codec."""

    def __init__(self, model_path: str | Path | None = None) -> None:
        from stae_ros.latent import CODEC_VERSION, LatentError, load_latent_codec

        path = find_data_file(model_path, DEFAULT_LATENT_MODEL)
        try:
            self.codec = load_latent_codec(path)
        except LatentError as exc:
            raise PipelineError(f"cannot load the stae-latent model {path}: {exc}") from exc
        self.path = path
        self.version = CODEC_VERSION
        cfg = self.codec.cfg
        self.shape = (cfg.frames, cfg.height, cfg.width, 3)
        self.errors = (LatentError,)

    def encode(self, clip: np.ndarray) -> bytes:
        try:
            return self.codec.encode(clip)
        except self.errors as exc:
            raise PipelineError(f"stae-latent cannot encode this clip: {exc}") from exc

    @torch.inference_mode()
    def logits(self, data: bytes) -> torch.Tensor:
        """Logits 1,num_classes for one payload; malformed payloads raise PipelineError."""
        try:
            return self.codec.decode_classify(bytes(data))
        except self.errors as exc:
            raise PipelineError(f"{type(exc).__name__}: {exc}") from exc


def check_codec(codec: str, known: tuple[str, ...]) -> None:
    if codec not in known:
        raise UnknownCodecError(f"unknown codec {codec!r}; this host speaks {', '.join(known)}")
