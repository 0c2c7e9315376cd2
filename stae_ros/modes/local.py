"""local: the camera classifies the clip itself with a small model (stae_ros.local) and sends only the
label. Nothing crosses the link for an edge to classify, so this mode has no edge half.

It is the fallback when the link is down and the baseline offloading has to beat. The model file is
the camera's ``model_files["local"]`` (empty = the shipped ``models/stae_local_default.pt``); its own clip
size sets the clip the camera cuts in this mode.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch

from .base import (EncodedClip, LocalLabel, ModeContext, Timer, Validated, check_budget, check_clip,
                   freeze_settings, load_mode_file)
from .errors import BudgetError

__all__ = ["NAME", "VERSION", "DEFAULT_MODEL", "LocalCamera", "camera", "edge"]

NAME = "local"
VERSION = 1
DEFAULT_MODEL = "models/stae_local_default.pt"


class LocalCamera:
    """Runs the local classifier on the camera's CPU; the EncodedClip carries the label and an empty payload."""

    name = NAME
    version = VERSION
    uses_budget = False

    def __init__(self, ctx: ModeContext) -> None:
        from stae_ros.local import LocalModelError, load_local_model

        self.path, self.file = load_mode_file(NAME, ctx.model_file(NAME) or None, DEFAULT_MODEL, load_local_model,
                                              LocalModelError)
        self.model = self.file.model.eval()
        self.shape = tuple(int(v) for v in self.file.shape)
        self.class_names = list(self.file.class_names)
        self.model_id = str(self.file.model_id)
        self.topk = max(1, min(int(ctx.options.get("topk", 5)), len(self.class_names)))

    @property
    def settings(self) -> Mapping[str, Any]:
        return {}

    def validate(self, k: int, p: float, settings: Mapping[str, Any]) -> Validated:
        knobs = freeze_settings(settings)
        if knobs:
            raise BudgetError(f"{NAME} has no run-time settings (got {sorted(knobs)}); its model file is set at start-up")
        k, p = check_budget(k, p, self.shape[0])  # kept and checked (a command must not fail); nothing is sent
        return Validated(NAME, k, p, {})

    def apply(self, validated: Validated) -> None:
        pass

    @torch.inference_mode()
    def classify(self, clip: np.ndarray) -> LocalLabel:
        x = torch.from_numpy(np.ascontiguousarray(clip)).permute(3, 0, 1, 2).unsqueeze(0).float().div_(255.0)
        probs = torch.softmax(self.model(x).float(), dim=1)[0]
        top_p, top_i = probs.topk(self.topk)
        topk = tuple((int(c), self.class_names[int(c)], float(v)) for c, v in zip(top_i, top_p))
        return LocalLabel(class_id=topk[0][0], label=topk[0][1], score=topk[0][2], topk=topk)

    def encode(self, clip: np.ndarray) -> EncodedClip:
        """select_ms and encode_ms are 0: all the camera's time is the classifier (camera_ms)."""
        check_clip(clip, self.shape, f"{NAME} model's")
        timer = Timer()
        label = self.classify(clip)
        ms = timer.ms()
        frames = self.shape[0]
        return EncodedClip(payload=b"", codec=NAME, codec_version=VERSION, k=frames, p=1.0,
                           frame_indices=tuple(range(frames)), camera_ms=ms, select_ms=0.0, encode_ms=0.0,
                           model_id=self.model_id, settings={}, label=label)

    def describe(self) -> str:
        return f"{NAME} ({self.path}, {self.model_id}; label computed on the camera)"


def camera(ctx: ModeContext) -> LocalCamera:
    return LocalCamera(ctx)


def edge(ctx: ModeContext) -> None:
    return None
