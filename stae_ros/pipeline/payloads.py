"""Payload codecs other than stae-px, as the camera and edge pipelines use them.

`stae-px` (the paper's kept pixels + mask) goes through the STAE checkpoint's FA/SA/FR/ViT.
`stae-latent` (issue 6's learned latent) carries its own encoder and classifier head in one model
file, so a camera or edge that speaks it only needs that file: the camera sends the range-coded
latent, and the edge classifies from the decoded latent without rebuilding pixels.
`stae-roi264` (issue 6's region coding) likewise: its model file holds the codec settings and the
importance map for the camera, and a classifier fine-tuned on decoded roi clips for the edge
(a classifier trained on clean clips loses points on the grey outside the crop and on CRF blocking).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from stae_ros.resources import DEFAULT_CODEC_MODELS, find_data_file

from .errors import ClipShapeError, PipelineError, UnknownCodecError

__all__ = ["LATENT_CODEC", "DEFAULT_LATENT_MODEL", "LatentPayload", "ROI_CODEC", "DEFAULT_ROI_MODEL", "RoiPayload",
           "check_codec"]

log = logging.getLogger(__name__)

LATENT_CODEC = "stae-latent"
#: shipped model files (relative to the checkout / share/stae_ros): lambda 1e-4 and 1e-3 of docs/payloads.md
DEFAULT_LATENT_MODEL = DEFAULT_CODEC_MODELS["stae-latent"]
ROI_CODEC = "stae-roi264"
#: crop, CRF 38, motion map; classifier fine-tuned on decoded CRF 33 + 38 clips (docs/payloads.md "In the nodes")
DEFAULT_ROI_MODEL = DEFAULT_CODEC_MODELS["stae-roi264"]

def _load_model_file(codec: str, model_path: str | Path | None, default: str, loader, error: type[Exception]):
    """(path, loaded) of a codec's model file; a missing or unreadable file is a PipelineError naming it."""
    path = find_data_file(model_path, default)
    try:
        return path, loader(path)
    except error as exc:
        raise PipelineError(f"cannot load the {codec} model {path}: {exc}") from exc


class LatentPayload:
    """Camera encode and edge classify for the stae-latent codec."""

    def __init__(self, model_path: str | Path | None = None) -> None:
        from stae_ros.latent import CODEC_VERSION, LatentError, load_latent_codec

        self.path, self.codec = _load_model_file(LATENT_CODEC, model_path, DEFAULT_LATENT_MODEL, load_latent_codec, LatentError)
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


class RoiPayload:
    """Camera encode (importance map -> crop/fill -> libx264) and edge decode + classify for stae-roi264.

    The camera half needs only the codec settings and the map; the edge half only the classifier;
    both come from one model file so the classifier always matches the artefacts it is fed.
    """

    def __init__(self, model_path: str | Path | None = None) -> None:
        from stae_ros.roi import CODEC_VERSION, RoiError
        from stae_ros.roi.node_model import load_roi_model

        self.path, self.model = _load_model_file(ROI_CODEC, model_path, DEFAULT_ROI_MODEL, load_roi_model, RoiError)
        self.file_model = self.model  #: the settings as the file has them; knobs apply on top of these
        self.version = CODEC_VERSION
        self.shape = self.model.shape + (3,)
        self.class_names = list(self.model.class_names)
        self.codec = self.model.codec()  # decoder limits = exactly this clip size: nothing larger is decoded
        self.errors = (RoiError,)
        self.device = torch.device("cpu")

    def set_knobs(self, knobs: Mapping[str, Any]) -> None:
        """Realise an operating point: its knobs (crf, threshold, mode, frame_*) over the file's settings;
        {} restores the file's. Bad knobs raise PipelineError and change nothing."""
        from stae_ros.roi import RoiError

        try:
            model = self.file_model.with_knobs(knobs)
        except RoiError as exc:
            raise PipelineError(str(exc)) from exc
        self.model, self.codec = model, model.codec()

    def to(self, device: torch.device) -> "RoiPayload":
        self.model.classifier.to(device)
        self.device = device
        return self

    def importance(self, clip: np.ndarray) -> np.ndarray:
        try:
            return self.model.importance(clip)
        except self.errors as exc:
            raise PipelineError(f"stae-roi264 cannot map this clip: {exc}") from exc

    def encode(self, clip: np.ndarray, importance: np.ndarray | None = None) -> bytes:
        """clip uint8 T,H,W,3 -> payload bytes (the map is computed here unless given)."""
        if importance is None:
            importance = self.importance(clip)
        try:
            return self.codec.encode(clip, importance)
        except self.errors as exc:
            raise PipelineError(f"stae-roi264 cannot encode this clip: {exc}") from exc

    def decode(self, data: bytes) -> np.ndarray:
        """Payload bytes -> uint8 T,H,W,3; malformed payloads raise PipelineError with the reason."""
        data = bytes(data)
        try:
            t, h, w, _crop, _pos = self.codec.parse_header(data)  # checked before any H.264 decoding
            if (t, h, w) != self.model.shape:
                raise ClipShapeError(f"stae-roi264 payload is for clips {t}x{h}x{w}; the roi model codes "
                                     f"{'x'.join(str(v) for v in self.model.shape)}")
            return self.codec.decode(data)
        except self.errors as exc:
            raise PipelineError(f"{type(exc).__name__}: {exc}") from exc

    @torch.inference_mode()
    def logits(self, clips: np.ndarray) -> torch.Tensor:
        """Decoded clips uint8 N,T,H,W,3 -> logits N,num_classes (one batched pass)."""
        x = torch.from_numpy(np.ascontiguousarray(clips)).to(self.device).permute(0, 4, 1, 2, 3).float().div_(255.0)
        return self.model.classifier(x)
