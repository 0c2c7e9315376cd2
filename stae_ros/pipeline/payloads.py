"""The stae-latent and stae-roi264 model-file wrappers, under the names scripts import them by.

They live in their modes (stae_ros.modes.stae_latent, stae_ros.modes.stae_roi264); this module only
re-exports them.
"""

from __future__ import annotations

from stae_ros.modes.registry import check_mode
from stae_ros.modes.stae_latent import DEFAULT_MODEL as DEFAULT_LATENT_MODEL
from stae_ros.modes.stae_latent import NAME as LATENT_CODEC
from stae_ros.modes.stae_latent import LatentPayload
from stae_ros.modes.stae_roi264 import DEFAULT_MODEL as DEFAULT_ROI_MODEL
from stae_ros.modes.stae_roi264 import NAME as ROI_CODEC
from stae_ros.modes.stae_roi264 import RoiPayload

from .errors import UnknownCodecError

__all__ = ["LATENT_CODEC", "DEFAULT_LATENT_MODEL", "LatentPayload", "ROI_CODEC", "DEFAULT_ROI_MODEL", "RoiPayload",
           "check_codec"]


def check_codec(codec: str, known: tuple[str, ...] | None = None) -> None:
    """UnknownCodecError unless ``codec`` is in ``known`` (default: every registered mode)."""
    if known is None:
        check_mode(codec)
    elif codec not in known:
        raise UnknownCodecError(f"unknown codec {codec!r}; this host speaks {', '.join(known)}")
