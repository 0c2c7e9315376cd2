"""The edge model as teacher: a trained STAE checkpoint's ViT, frozen, checked against the data.

Why a helper: the payload modes are trained *against the edge model* (stae-latent distils it,
stae-roi264 fine-tunes it on decoded clips), so each loads the same checkpoint, checks that it
sees the same clips and classes as the data set, and scores it on raw clips as the reference.
The edge model is either a STAE checkpoint (its ViT) or an edge classifier file (`stae train` with
``mode: edge``, the stae_ros.local format): both answer ``classify(x)``.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from ..torchfile import peek_torch_file
from .errors import TrainingError

__all__ = ["load_teacher", "teacher_logits", "distill_kl", "count_gflop", "is_classifier_file", "edge_network", "trainable_copy"]

log = logging.getLogger(__name__)


class _ClassifierTeacher(torch.nn.Module):
    """An edge classifier file's network behind the STAE model's ``classify`` (it has no ``vit``)."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class _ResizedTeacher(torch.nn.Module):
    """A teacher fed clips of another frame size: each clip is area-resized to the teacher's own
    size first, as an edge host does when the camera's stream is larger than its model's input."""

    def __init__(self, teacher: torch.nn.Module, size: tuple[int, int]) -> None:
        super().__init__()
        self.teacher = teacher
        self.size = size

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.nn.functional.interpolate(x, size=(x.shape[2], *self.size), mode="area")
        return self.teacher.classify(x)


def _check_shape(path: str, shape: tuple[int, int, int], clip: tuple[int, int, int], resize: bool) -> bool:
    """Whether the teacher must be fed resized clips; a TrainingError when it cannot take the run's."""
    if tuple(shape) == tuple(clip):
        return False
    if resize and shape[0] == clip[0]:
        log.info("teacher %s classifies %dx%d frames: the run's %dx%d clips are resized for it", path, shape[1],
                 shape[2], clip[1], clip[2])
        return True
    raise TrainingError(f"teacher {path} classifies {shape[0]}x{shape[1]}x{shape[2]} clips; the run uses "
                        f"{clip[0]}x{clip[1]}x{clip[2]} (set clip: or the data's size to match)")


def edge_network(teacher: torch.nn.Module) -> torch.nn.Module:
    """The network inside a loaded teacher that maps a clip to logits: the STAE model's ViT, or the
    edge classifier file's CNN. Why: stae-roi264 fine-tunes a copy of exactly that network."""
    return teacher.net if isinstance(teacher, _ClassifierTeacher) else teacher.vit


def trainable_copy(teacher: torch.nn.Module) -> torch.nn.Module:
    """A trainable copy of the teacher's network that a stae-roi264 model file can store: the edge
    classifier file's CNN as it is, a STAE model's ViT wrapped as `EdgeViTClassifier`."""
    if isinstance(teacher, _ClassifierTeacher):
        import copy

        return copy.deepcopy(teacher.net).requires_grad_(True)
    from stae_ros.roi.classifier_file import EdgeViTClassifier

    return EdgeViTClassifier.from_stae(teacher)


def is_classifier_file(path: str) -> bool:
    """Whether ``path`` is a stae_ros.local model file (an edge or local classifier), not a STAE checkpoint."""
    from stae_ros.local.io import MODEL_FORMAT

    blob = peek_torch_file(path)  # an unreadable file is reported by the STAE loader
    return isinstance(blob, dict) and blob.get("format") == MODEL_FORMAT


def _load_classifier_teacher(path: str, clip: tuple[int, int, int], class_names: list[str],
                             device: torch.device, resize: bool = False) -> torch.nn.Module:
    from stae_ros.local import LocalModelError, load_local_model

    try:
        file = load_local_model(path)
    except LocalModelError as exc:
        raise TrainingError(f"teacher: {exc}") from exc
    resized = _check_shape(path, tuple(file.shape[:3]), clip, resize)
    if list(file.class_names) != list(class_names):
        raise TrainingError(f"teacher {path} has classes {file.class_names[:4]}... ({len(file.class_names)}); "
                            f"the data set has {list(class_names)[:4]}... ({len(class_names)})")
    model = _ClassifierTeacher(file.model).to(device).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    log.info("teacher: %s (edge classifier file, %s)", path, file.extra.get("role", "?"))
    return _ResizedTeacher(model, tuple(file.shape[1:3])) if resized else model


def load_teacher(path: str, clip: tuple[int, int, int], class_names: list[str], device: torch.device,
                 resize: bool = False) -> torch.nn.Module:
    """The STAE model of checkpoint ``path`` (its ``classify`` is the edge ViT), frozen, eval mode.

    A clip shape or class list other than the data set's is a TrainingError naming both; with
    ``resize``, a teacher of the same clip length but another frame size is fed resized clips
    instead (the caller then only needs ``classify``). An edge classifier file (stae_ros.local
    format) is wrapped so that ``classify`` runs it (no ``vit``)."""
    from .checkpoints import load_model
    from .errors import CheckpointError

    if is_classifier_file(path):
        return _load_classifier_teacher(path, clip, class_names, device, resize)
    try:
        loaded = load_model(path, device)
    except CheckpointError as exc:
        raise TrainingError(f"teacher: {exc}") from exc
    c = loaded.config.clip
    resized = _check_shape(path, (c.frames, c.height, c.width), clip, resize)
    if list(loaded.class_names) != list(class_names):
        raise TrainingError(f"teacher {path} has classes {loaded.class_names[:4]}... ({len(loaded.class_names)}); "
                            f"the data set has {list(class_names)[:4]}... ({len(class_names)})")
    model = loaded.model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    log.info("teacher: %s (stage %s)", path, loaded.meta.get("stage"))
    return _ResizedTeacher(model, (c.height, c.width)) if resized else model


@torch.no_grad()
def teacher_logits(teacher: torch.nn.Module, clips_u8: np.ndarray | torch.Tensor, device: torch.device,
                   batch: int = 32) -> torch.Tensor:
    """The edge model's logits on raw uint8 clips ``N,T,H,W,3`` (CPU tensor ``N,classes``)."""
    from .loop import to_float_clips

    out = [teacher.classify(to_float_clips(clips_u8[i : i + batch], device)).float().cpu()
           for i in range(0, len(clips_u8), batch)]
    return torch.cat(out) if out else torch.zeros(0)


def distill_kl(logits: torch.Tensor, t_logits: torch.Tensor, temp: float) -> torch.Tensor:
    """KL(teacher || student) at temperature ``temp``, scaled by ``temp**2`` (Hinton et al.) so its
    gradients keep their size whatever the temperature."""
    import torch.nn.functional as F

    return F.kl_div(F.log_softmax(logits / temp, dim=1), F.log_softmax(t_logits / temp, dim=1),
                    reduction="batchmean", log_target=True) * temp * temp


def count_gflop(fn, *args) -> float:
    """GFLOP of one call of ``fn(*args)`` as counted by torch.utils.flop_counter (convs, matmuls)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        fn(*args)
    return counter.get_total_flops() / 1e9
