"""`LatentCodec` (codec name "stae-latent"): camera encode -> bytes, edge decode -> latent -> logits."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch

from stae_ros.models.selection import clip_tensor

from .bitstream import VERSION, decode_symbols, encode_symbols
from .errors import LatentInputError
from .model import LatentModel

__all__ = ["CODEC_NAME", "CODEC_VERSION", "LatentLimits", "LatentCodec"]

CODEC_NAME = "stae-latent"
CODEC_VERSION = VERSION  #: the stae-latent wire format version (bitstream.py)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LatentLimits:
    """Decoder limits: a payload longer than this is refused before any work is done."""

    max_bytes: int = 1 << 20


class LatentCodec:
    """Wraps a trained LatentModel; both ends build identical coding tables from its prior."""

    name = CODEC_NAME
    version = CODEC_VERSION

    def __init__(self, model: LatentModel, limits: LatentLimits = LatentLimits()) -> None:
        self.model = model.eval()
        self.cfg = model.cfg
        self.limits = limits
        self.support = model.prior.support
        self.tables = model.prior.tables()
        self.shape = self.cfg.latent_shape()

    def _check(self, clip: np.ndarray) -> None:
        want = (self.cfg.frames, self.cfg.height, self.cfg.width, 3)
        if not isinstance(clip, np.ndarray) or clip.dtype != np.uint8 or clip.shape != want:
            raise LatentInputError(
                f"clip must be uint8 {want}; got {getattr(clip, 'dtype', type(clip))} {getattr(clip, 'shape', '')}"
            )

    @torch.no_grad()
    def symbols(self, clip: np.ndarray) -> np.ndarray:
        """The quantised latent C,t,h,w int32 the camera sends."""
        self._check(clip)
        x = clip_tensor(clip)
        y = self.model.encoder(x)
        return torch.round(y).clamp_(-self.support, self.support)[0].to(torch.int32).numpy()

    def encode(self, clip: np.ndarray) -> bytes:
        """uint8 T,H,W,3 -> self-contained payload (header + range-coded symbols)."""
        return encode_symbols(self.symbols(clip), self.tables, self.support)

    def decode(self, data: bytes) -> torch.Tensor:
        """payload -> quantised latent 1,C,t,h,w float32, bit-exact to what the camera coded."""
        sym = decode_symbols(data, self.shape, self.tables, self.support, self.limits.max_bytes)
        return torch.from_numpy(sym.astype(np.float32)).unsqueeze(0)

    @torch.no_grad()
    def classify(self, latent: torch.Tensor) -> torch.Tensor:
        """latent B,C,t,h,w -> logits B,num_classes (the edge's classifier)."""
        return self.model.head(latent)

    def decode_classify(self, data: bytes) -> torch.Tensor:
        return self.classify(self.decode(data))
