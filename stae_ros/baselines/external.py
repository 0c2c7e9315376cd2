"""Adapters for the issue-6 payloads, through their public APIs, so the bench compares them too.

- ``roi`` (``stae_ros.roi.RoiCodec``, payload ``stae-roi264``): block importance from a trained
  importance net steers libx264; decodes to a clip, so it is scored like every pixel codec.
- ``latent`` (``stae_ros.latent.LatentCodec``, payload ``stae-latent``): the edge classifies from
  the decoded latent with the bundle's own head (there is no clip to give the ViT), so its
  accuracy is that head's, trained end to end with its encoder - not re-fitted like the others.

Model files are looked up by :func:`external_sweep` under ``models/`` (``*roi*.pt``, ``*latent*.pt``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .base import ClipCodec, check_clip
from .errors import BaselineDecodeError, ClipFormatError, UnknownCodecError

__all__ = ["ExternalCodec", "external_sweep"]


class ExternalCodec(ClipCodec):
    """``kind`` "roi" (params: net, crf, threshold) or "latent" (params: bundle)."""

    needs_model = True

    def __init__(self, kind: str, path: str, crf: float = 30.0, threshold: float = 0.5, loaded: Any = None) -> None:
        super().__init__(kind=kind, path=str(path), crf=crf, threshold=threshold)
        self.kind = kind
        if kind == "roi":
            from stae_ros.roi import RoiCodec, RoiSettings, X264Settings, load_importance_net

            self.family = "roi"
            self._codec = RoiCodec(RoiSettings(threshold=threshold, x264=X264Settings(crf=float(crf), threads=1)),
                                   importance_net=load_importance_net(path))
            self._errors: tuple[type[BaseException], ...] = (__import__("stae_ros.roi", fromlist=["RoiError"]).RoiError,)
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
        return f"roi-{stem}-crf{self.params['crf']:g}" if self.kind == "roi" else f"latent-{stem}"

    def spec(self) -> dict[str, Any]:
        return {"family": "external", **self.params}

    def encode(self, clip: np.ndarray) -> bytes:
        clip = check_clip(clip)
        try:
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
                   files: list[str] | None = None) -> list[dict[str, Any]]:
    """Specs for the issue-6 model files: ``files`` if given (kind from the name: "roi"/"latent"),
    else every ``*roi*.pt`` / ``*latent*.pt`` under ``models/`` (none found: empty list)."""
    if files:
        paths = [Path(f) for f in files]
    else:
        base = Path(root) if root else Path(__file__).resolve().parents[2] / "models"
        paths = sorted(base.glob("*roi*.pt")) + sorted(base.glob("*latent*.pt"))
    specs: list[dict[str, Any]] = []
    for path in paths:
        if "roi" in path.name:
            crfs = (30,) if tiny else (26, 32, 38)
            specs += [{"family": "external", "kind": "roi", "path": str(path), "crf": c} for c in crfs]
        elif "latent" in path.name:
            specs.append({"family": "external", "kind": "latent", "path": str(path)})
    return specs
