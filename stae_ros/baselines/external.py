"""Adapters for the stae-roi264 and stae-latent payloads, through their public APIs, so the bench compares them too.

- ``roi`` (``stae_ros.roi.RoiCodec``, payload ``stae-roi264``): block importance from a trained
  importance net (a ``stae-roi-importance/1`` file) steers libx264 at the sweep's CRFs; decodes to
  a clip, so it is scored like every pixel codec.
- ``roi264`` (a ``stae-roi264-model/1`` file, e.g. the shipped ``models/stae_roi264_default.pt``:
  what the nodes load): the file's own codec settings (mode, CRF, importance map) on one x264
  thread; also decodes to a clip and is scored by the bench's adapted ViT like every pixel codec
  (the file's own classifier is not used, so the comparison keeps one classifier).
- ``latent`` (``stae_ros.latent.LatentCodec``, payload ``stae-latent``): the edge classifies from
  the decoded latent with the bundle's own head (there is no clip to give the ViT), so its
  accuracy is that head's, trained end to end with its encoder - not re-fitted like the others.

Model files are looked up by :func:`external_sweep` under ``models/`` (``*roi*.pt``, ``*latent*.pt``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from ..resources import find_data_dir
from .base import ClipCodec, check_clip
from .errors import BaselineDecodeError, ClipFormatError, UnknownCodecError

__all__ = ["ExternalCodec", "external_sweep"]

log = logging.getLogger(__name__)


class ExternalCodec(ClipCodec):
    """``kind`` "roi" (params: path, crf, threshold; a roi264 model file is recognised by its format)
    or "latent" (params: path)."""

    needs_model = True

    def __init__(self, kind: str, path: str, crf: float | None = 30.0, threshold: float = 0.5, loaded: Any = None) -> None:
        super().__init__(kind=kind, path=str(path), crf=crf, threshold=threshold)
        self.kind = kind
        if kind == "roi" and _roi_file_format(path) == "stae-roi264-model/1":
            import dataclasses

            from stae_ros.roi import RoiError
            from stae_ros.roi.node_model import load_roi_model

            self.kind = kind = "roi264"
            self.family = "roi264"
            self._model = load_roi_model(path)
            x264 = self._model.settings.x264
            x264 = dataclasses.replace(x264, threads=1, crf=float(x264.crf if crf is None else crf))
            self._model.settings = dataclasses.replace(self._model.settings, x264=x264)
            self.params["crf"] = x264.crf
            self._codec = self._model.codec()
            self._errors = (RoiError,)
        elif kind == "roi":
            from stae_ros.roi import RoiCodec, RoiSettings, X264Settings, load_importance_net

            self.family = "roi"
            self._model = None
            self._codec = RoiCodec(RoiSettings(threshold=threshold, x264=X264Settings(crf=float(crf), threads=1)),
                                   importance_net=load_importance_net(path))
            self._errors = (__import__("stae_ros.roi", fromlist=["RoiError"]).RoiError,)
        elif kind == "latent":
            from stae_ros.latent import LatentError
            from stae_ros.latent.io import load_latent_codec

            self.family = "latent"
            self._codec = load_latent_codec(path)
            self._errors = (LatentError,)
            self.own_classifier = True
        else:
            raise UnknownCodecError(f"unknown external payload kind {kind!r}; use roi or latent")

    @property
    def name(self) -> str:
        stem = Path(self.params["path"]).stem
        if self.kind in ("roi", "roi264"):
            return f"{self.kind}-{stem}-crf{self.params['crf']:g}"
        return f"latent-{stem}"

    def spec(self) -> dict[str, Any]:
        return {"family": "external", **self.params}

    def encode(self, clip: np.ndarray) -> bytes:
        clip = check_clip(clip)
        try:
            if getattr(self, "_model", None) is not None:  # roi264 model file: its own importance map
                return self._codec.encode(clip, self._model.importance(clip))
            return self._codec.encode(clip)
        except self._errors as exc:
            raise ClipFormatError(f"{self.name}: {exc}") from exc

    def decode(self, data: bytes) -> Any:
        """roi: the clip; latent: the decoded latent tensor (classified by :meth:`classify_payload`)."""
        try:
            return self._codec.decode(bytes(data))
        except self._errors as exc:
            raise BaselineDecodeError(f"{self.name}: {exc}") from exc

    def classify_payload(self, data: bytes) -> Any:
        """latent only: logits from the payload (decode + the bundle's head)."""
        return self._codec.classify(self.decode(data))


def external_sweep(checkpoint: str, tiny: bool = False, root: str | Path | None = None,
                   files: list[str] | None = None, clip_hw: tuple[int, int] | None = None) -> list[dict[str, Any]]:
    """Specs for the roi/latent model files: ``files`` if given (kind from the name: "roi"/"latent"),
    else every ``*roi*.pt`` / ``*latent*.pt`` under ``models/`` (none found: empty list).

    ``clip_hw``: the bench's frame size. A shipped latent bundle built for another size (e.g.
    ``stae_latent_112.pt`` in a 64x64 bench) is left out of the default list rather than failing
    on every clip; a file named in ``files`` is always kept, so its error is reported.
    """
    if files:
        paths = [Path(f) for f in files]
    else:
        base = Path(root) if root else find_data_dir("models")
        paths = sorted(base.glob("*roi*.pt")) + sorted(base.glob("*latent*.pt"))
    specs: list[dict[str, Any]] = []
    for path in paths:
        if "roi" in path.name and _roi_file_format(path) == "stae-roi264-model/1":
            specs.append({"family": "external", "kind": "roi", "path": str(path), "crf": None})  # the file's CRF
        elif "roi" in path.name:
            crfs = (30,) if tiny else (26, 32, 38)
            specs += [{"family": "external", "kind": "roi", "path": str(path), "crf": c} for c in crfs]
        elif "latent" in path.name:
            size = _latent_file_hw(path)
            if not files and clip_hw is not None and size is not None and size != tuple(clip_hw):
                log.info("%s is for %dx%d frames, the bench's are %dx%d: left out", path.name, *size, *clip_hw)
                continue
            specs.append({"family": "external", "kind": "latent", "path": str(path)})
    return specs


def _latent_file_hw(path: str | Path) -> tuple[int, int] | None:
    """(height, width) a latent bundle was built for; None when unreadable (the loader then names the problem)."""
    from ..torchfile import peek_torch_file

    try:
        cfg = peek_torch_file(path)["config"]
        return int(cfg["height"]), int(cfg["width"])
    except Exception:  # noqa: BLE001 - unreadable, not a bundle, ...
        return None


def _roi_file_format(path: str | Path) -> str | None:
    """The ``format`` field of a roi model file (None when unreadable: the loader then names the problem)."""
    from ..torchfile import peek_torch_file

    blob = peek_torch_file(path)
    return blob.get("format") if isinstance(blob, dict) else None
