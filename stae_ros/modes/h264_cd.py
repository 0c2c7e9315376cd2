"""h264-cd: the clip as plain H.264 (exactly the ``h264`` mode's camera and payload), classified on the
edge in the compressed domain: from the GOP's I-frame, motion vectors and residuals, by a light
three-stream network with a spiking temporal modulator (:mod:`stae_ros.compressed`), instead of
by the edge ViT on the reconstructed RGB clip.

Camera: the h264 camera unchanged (libx264 through PyAV, one GOP per clip, ``tune=zerolatency``,
knobs ``crf``, ``preset``, ``scale``) and the h264 wire format (``b"H4"`` header with the scale
and a CRC32, then Annex-B). Only the mode name and the model identity differ: the clip size is
the h264-cd model file's (``model_files["h264-cd"]``, empty = the shipped
``models/stae_h264cd_default.pt``), and the payload names that file as its model.

Edge, per message: header and CRC (the h264 mode's :func:`unpack`), the coded size from the
scale, then one bounded libavcodec pass with ``flags2=+export_mvs``
(:func:`stae_ros.compressed.extract_gop`: NAL count, SPS size and format checked before decoding,
every picture checked before it is read, at most T pictures) -> I-frame, motion field, residual
map. Per batch: the network. No RGB clip is rebuilt, so ``keep_recovered`` has nothing to return.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch

from . import h264
from .base import Classified, Decoded, ModeContext, load_mode_file
from .errors import BudgetError

__all__ = ["NAME", "VERSION", "DEFAULT_MODEL", "H264CdCamera", "H264CdEdge", "H264CdPayloadError", "camera", "edge",
           "trained_codec"]

NAME = "h264-cd"
VERSION = h264.VERSION
DEFAULT_MODEL = "models/stae_h264cd_default.pt"


class H264CdPayloadError(h264.H264PayloadError):
    """An h264-cd payload that is malformed, corrupted or over the compressed-domain reader's limits."""


def _load(ctx: ModeContext) -> Any:
    from stae_ros.compressed.io import H264CdModelError, load_cd_model

    return load_mode_file(NAME, ctx.model_file(NAME) or None, DEFAULT_MODEL, load_cd_model, H264CdModelError)


def trained_codec(meta: Mapping[str, Any]) -> dict[str, Any]:
    """The ``crf`` and ``preset`` a model file's training run coded its clips with (``stae train``
    records them in ``meta.metrics``); what is missing or malformed is left out."""
    metrics = meta.get("metrics") if isinstance(meta, Mapping) else None
    if not isinstance(metrics, Mapping):
        return {}
    crf, preset = metrics.get("crf"), metrics.get("preset")
    out: dict[str, Any] = {}
    if h264.crf_error(crf) is None:
        out["crf"] = int(crf)
    if h264.preset_error(preset) is None:
        out["preset"] = preset
    return out


class H264CdCamera(h264.H264Camera):
    """The h264 camera, cutting clips of the h264-cd model's size and naming that model."""

    name = NAME
    version = VERSION
    clip_owner = f"{NAME} model's"
    classified = "classified in the compressed domain by"

    def __init__(self, ctx: ModeContext) -> None:
        # the h264 camera's state, with the clip size, classes and identity of the h264-cd model file
        self.path, file = _load(ctx)
        self.shape = file.shape
        self.class_names = list(file.class_names)
        self.model_id = file.model_id
        # the encoder settings the network learnt to read (its training run's CRF and preset): the
        # motion search of another preset gives other vectors, so a knob no command sets is that
        self.defaults = {**h264.DEFAULTS, **trained_codec(file.meta)}
        self._settings: dict[str, Any] = {}
        self._codec: Any = None
        self._size = self.shape[1:3]
        self.apply(self.validate(1, 1.0, {}))


class H264CdEdge:
    """Bounded compressed-domain parse per message (CPU); the light network over the batch."""

    name = NAME

    def __init__(self, ctx: ModeContext) -> None:
        self.path, file = _load(ctx)
        self.device = ctx.device if ctx.device is not None else torch.device("cpu")
        self.model = file.model.to(self.device).eval()
        self.spec = file.spec
        self.shape = file.shape
        self.class_names = list(file.class_names)
        self.model_id = file.model_id

    def decode(self, data: bytes) -> Decoded:
        from stae_ros.compressed.extract import CompressedStreamError, extract_gop

        try:
            scale, stream = h264.unpack(bytes(data))
        except h264.H264PayloadError as exc:
            raise H264CdPayloadError(str(exc).replace("h264 ", f"{NAME} ", 1)) from exc
        try:
            h, w = h264._scaled(self.shape, scale)
        except BudgetError as exc:
            raise H264CdPayloadError(f"{NAME} payload header: {exc}") from exc
        try:
            gop = extract_gop(stream, self.spec, h, w)
        except CompressedStreamError as exc:
            raise H264CdPayloadError(f"{NAME} stream refused: {exc}") from exc
        return Decoded(gop, self.shape[0], 1.0)

    @torch.inference_mode()
    def classify(self, items: list[Decoded], keep_recovered: bool = False) -> Classified:
        from stae_ros.compressed.model import gop_tensors

        gops = [d.data for d in items]
        iframe, pframes = gop_tensors(np.stack([g.iframe for g in gops]), np.stack([g.mv for g in gops]),
                                      np.stack([g.residual for g in gops]), self.device)
        return Classified(self.model(iframe, pframes), None)


def camera(ctx: ModeContext) -> H264CdCamera:
    return H264CdCamera(ctx)


def edge(ctx: ModeContext) -> H264CdEdge:
    return H264CdEdge(ctx)
