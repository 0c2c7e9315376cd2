"""The edge classifier inside a stae-roi264 model file: which kinds there are and how each is stored.

Three kinds, each taking a decoded clip B,3,T,H,W in [0,1] and giving logits:

- ``pixel`` (the record has ``latent_config``): the payload studies' small `PixelClassifier`;
- ``stae-vit`` (the record has ``kind: stae-vit`` and ``model_config``): the edge model itself, a
  trained STAE checkpoint's ViT fine-tuned on decoded roi clips. Why: stae-roi264 is then scored
  by the edge model adapted to its decoded clips, not by a small classifier of its own;
- ``edge-classifier`` (``arch``, ``clip``, ``num_classes``): an edge classifier file's network
  (`stae train` with ``mode: edge``, the stae_ros.local family) fine-tuned the same way, for data
  sets whose edge model is that CNN rather than a STAE ViT.

Records hold plain types and tensors only, so a file loads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["CLASSIFIER_KINDS", "EdgeViTClassifier", "classifier_record", "classifier_from_record", "record_shape"]

CLASSIFIER_KINDS = ("pixel", "stae-vit", "edge-classifier")


class EdgeViTClassifier(nn.Module):
    """The edge model's ViT as a decoded-clip classifier; ``model_config`` is its STAE ModelConfig dict."""

    def __init__(self, model_config: dict[str, Any]) -> None:
        super().__init__()
        from stae_ros.models import ModelConfig
        from stae_ros.models.vit import VideoViT

        cfg = ModelConfig.from_dict(dict(model_config))
        self.model_config = cfg.to_dict()
        self.vit = VideoViT(cfg.vit, cfg.clip)

    @classmethod
    def from_stae(cls, stae: nn.Module) -> EdgeViTClassifier:
        """A copy of a STAE model's ViT (its weights included)."""
        clf = cls(stae.cfg.to_dict())
        clf.vit.load_state_dict(stae.vit.state_dict())
        return clf

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        return self.vit(clip)


def classifier_record(classifier: nn.Module) -> dict[str, Any]:
    """What the model file stores for ``classifier``; ValueError for a classifier of no known kind."""
    from dataclasses import asdict

    from stae_ros.local.model import LocalClassifier, LocalEnsemble

    if isinstance(classifier, EdgeViTClassifier):
        return {"kind": "stae-vit", "model_config": dict(classifier.model_config), "state_dict": classifier.state_dict()}
    if isinstance(classifier, (LocalClassifier, LocalEnsemble)):
        record = {"kind": "edge-classifier", "arch": asdict(classifier.arch), "num_classes": int(classifier.num_classes),
                  "clip": [int(classifier.frames), int(classifier.height), int(classifier.width)]}
        if isinstance(classifier, LocalEnsemble):  # each member's weights; the ensemble's own head derives from them
            return {**record, "members": [m.state_dict() for m in classifier.members]}
        return {**record, "state_dict": classifier.state_dict()}
    latent_cfg = getattr(classifier, "latent_config", None)
    if latent_cfg is None:
        raise ValueError("classifier has no latent_config: build it with stae_ros.roi.node_model.make_classifier "
                         "or use stae_ros.roi.classifier_file.EdgeViTClassifier")
    return {"latent_config": dict(latent_cfg), "state_dict": classifier.state_dict()}


def record_shape(record: dict[str, Any]) -> tuple[tuple[int, int, int], int]:
    """((frames, height, width), classes) the stored classifier was built for; KeyError/TypeError/ValueError if malformed."""
    if record.get("kind") == "edge-classifier":
        t, h, w = (int(v) for v in record["clip"])
        return (t, h, w), int(record["num_classes"])
    if record.get("kind", "pixel") == "stae-vit":
        mc = record["model_config"]
        clip, classes = mc["clip"], int(mc["vit"]["num_classes"])
        return (int(clip["frames"]), int(clip["height"]), int(clip["width"])), classes
    lc = record["latent_config"]
    return (int(lc["frames"]), int(lc["height"]), int(lc["width"])), int(lc["num_classes"])


def classifier_from_record(record: dict[str, Any]) -> nn.Module:
    """Rebuild the classifier of a record (eval mode). Errors: ValueError for an unknown kind,
    RuntimeError/TypeError/KeyError when the weights do not fit the stored config."""
    kind = record.get("kind", "pixel")
    if kind not in CLASSIFIER_KINDS:
        raise ValueError(f"classifier kind {kind!r}; known: {list(CLASSIFIER_KINDS)}")
    if kind == "stae-vit":
        clf: nn.Module = EdgeViTClassifier(record["model_config"])
    elif kind == "edge-classifier":
        from stae_ros.local.errors import LocalModelError
        from stae_ros.local.io import networks_from_states
        from stae_ros.local.model import LocalClassifier, LocalEnsemble

        (t, h, w), classes = record_shape(record)
        if "members" in record:
            members = record["members"]
            if not isinstance(members, (list, tuple)) or len(members) < 2:
                raise ValueError("classifier members must be a list of >= 2 state dicts")
            try:  # the checks of an edge classifier file, member by member
                nets = networks_from_states(members, classes, t, h, w, dict(record["arch"]),
                                            [f"members[{i}]" for i in range(len(members))])
            except LocalModelError as exc:
                raise RuntimeError(str(exc)) from exc
            return LocalEnsemble(nets).eval()
        clf = LocalClassifier(classes, t, h, w, **dict(record["arch"]))
    else:
        from .node_model import make_classifier

        clf = make_classifier(dict(record["latent_config"]))
    clf.load_state_dict(record["state_dict"])
    return clf.eval()
