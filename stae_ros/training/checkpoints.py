"""Save and load STAE checkpoints in one self-describing format (``stae-ckpt/1``).

A checkpoint carries the model config and class names next to the weights, so the camera and
edge hosts can rebuild the exact model from the file alone. Weights are stored float16 when the
float32 state dict would exceed a size limit (the committed default must stay under 20 MB);
loading always gives a float32 model in eval mode.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..errtext import exc_line
from ..resources import shipped_file
from ..torchfile import read_torch_file
from .errors import CheckpointError

__all__ = ["CHECKPOINT_FORMAT", "LoadedModel", "save_checkpoint", "load_model", "load_checkpoint_dict", "state_dict_bytes",
           "load_init_weights"]

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "stae-ckpt/1"
#: float32 state dicts larger than this are stored as float16 when ``half="auto"``
AUTO_HALF_LIMIT_BYTES = 18 * 1024 * 1024
_REQUIRED_KEYS = ("format", "config", "class_names", "state_dict", "stage", "metrics")


@dataclass
class LoadedModel:
    """A model rebuilt from a checkpoint, ready for inference."""

    model: Any  #: stae_ros.models.STAE, float32, eval mode
    config: Any  #: stae_ros.models.ModelConfig
    class_names: list[str]
    meta: dict[str, Any] = field(default_factory=dict)  #: stage, metrics, path, train_state (if any)


def state_dict_bytes(state_dict: dict[str, torch.Tensor]) -> int:
    """Bytes the tensors of ``state_dict`` occupy (what dominates the file size)."""
    return sum(t.numel() * t.element_size() for t in state_dict.values() if torch.is_tensor(t))


def save_checkpoint(
    path: str | Path,
    model: torch.nn.Module,
    cfg: Any,
    class_names: list[str],
    stage: str,
    metrics: dict[str, Any],
    optimizer: torch.optim.Optimizer | None = None,
    train_state: dict[str, Any] | None = None,
    half: bool | str = "auto",
) -> Path:
    """Write ``model`` (+ config, classes, stage, metrics) to ``path`` atomically.

    ``cfg`` is a ModelConfig (anything with ``to_dict``) or a plain dict. ``optimizer`` and
    ``train_state`` make the file resumable. ``half``: True, False or "auto" (fp16 only when the
    float32 weights exceed ~18 MB).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    use_half = half is True or (half == "auto" and state_dict_bytes(state) > AUTO_HALF_LIMIT_BYTES)
    if use_half:
        state = {k: (v.half() if v.is_floating_point() else v) for k, v in state.items()}
    cfg_dict = cfg.to_dict() if hasattr(cfg, "to_dict") else dict(cfg)
    blob: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT,
        "config": cfg_dict,
        "class_names": list(class_names),
        "state_dict": state,
        "stage": str(stage),
        "metrics": dict(metrics),
        "dtype": "float16" if use_half else "float32",
    }
    if optimizer is not None:
        blob["optimizer"] = optimizer.state_dict()
    if train_state is not None:
        blob["train_state"] = train_state
    tmp = path.with_name(path.name + ".tmp")
    torch.save(blob, tmp)
    os.replace(tmp, path)
    log.debug("saved checkpoint %s (stage %s, %s)", path, stage, blob["dtype"])
    return path


def load_checkpoint_dict(path: str | Path) -> dict[str, Any]:
    """Read and validate the raw checkpoint dict (weights still as stored); a relative
    ``models/...`` path outside a checkout is the installed file (:func:`~stae_ros.resources.shipped_file`)."""
    path = shipped_file(path)
    blob = read_torch_file(path, CheckpointError, "checkpoint file")
    if not isinstance(blob, dict) or blob.get("format") != CHECKPOINT_FORMAT:
        got = blob.get("format") if isinstance(blob, dict) else type(blob).__name__
        raise CheckpointError(f"{path} is not a {CHECKPOINT_FORMAT} checkpoint (format: {got!r})")
    missing = [key for key in _REQUIRED_KEYS if key not in blob]
    if missing:
        raise CheckpointError(f"checkpoint {path} is missing key(s): {', '.join(missing)}")
    for key, kind in (("config", dict), ("state_dict", dict), ("class_names", (list, tuple)), ("metrics", dict)):
        if not isinstance(blob[key], kind):
            raise CheckpointError(f"checkpoint {path}: field {key!r} is a {type(blob[key]).__name__}, "
                                  f"not a {'list' if key == 'class_names' else 'mapping'}")
    if not blob["class_names"] or not all(isinstance(n, str) for n in blob["class_names"]):
        raise CheckpointError(f"checkpoint {path}: field 'class_names' must be a non-empty list of strings")
    bad = [k for k, v in blob["state_dict"].items() if not torch.is_tensor(v)]
    if bad:
        raise CheckpointError(f"checkpoint {path}: field 'state_dict' holds non-tensors at {bad[:3]}")
    return blob


def load_model(path: str | Path, device: str | torch.device = "cpu") -> LoadedModel:
    """Rebuild the STAE model stored at ``path``: float32, eval mode, on ``device``.

    Every failure is a CheckpointError naming the file and the field (config, state_dict,
    class_names), so `stae eval` / `stae profile` / the nodes print one line, not a traceback.
    """
    from stae_ros.models import STAE, ModelConfig

    blob = load_checkpoint_dict(path)
    try:
        cfg = ModelConfig.from_dict(blob["config"])
    except Exception as exc:
        raise CheckpointError(f"checkpoint {path}: field 'config' is not a valid model config: {exc}") from exc
    try:
        model = STAE(cfg)
    except Exception as exc:  # noqa: BLE001 - a config that validates field by field but builds no model
        raise CheckpointError(f"checkpoint {path}: field 'config' does not build a model: {type(exc).__name__}: {exc}") from exc
    state = {k: (v.float() if v.is_floating_point() else v) for k, v in blob["state_dict"].items()}
    try:
        model.load_state_dict(state)
    except Exception as exc:  # noqa: BLE001 - RuntimeError (keys, shapes), TypeError
        raise CheckpointError(f"checkpoint {path}: field 'state_dict' does not fit its own config: {exc_line(exc)}") from exc
    head = getattr(cfg, "vit", None)
    n_classes = getattr(head, "num_classes", None)
    if isinstance(n_classes, int) and n_classes != len(blob["class_names"]):
        raise CheckpointError(f"checkpoint {path}: field 'class_names' names {len(blob['class_names'])} classes, "
                              f"the model has {n_classes}")
    model.float().eval().to(device)
    meta = {
        "stage": blob["stage"],
        "metrics": blob["metrics"],
        "path": str(path),
        "dtype": blob.get("dtype", "float32"),
    }
    if "train_state" in blob:
        meta["train_state"] = blob["train_state"]
    return LoadedModel(model=model, config=cfg, class_names=list(blob["class_names"]), meta=meta)


def load_init_weights(model: torch.nn.Module, state_dict: dict[str, torch.Tensor], source: str = "checkpoint") -> list[str]:
    """Start ``model`` from another run's weights; returns the parameters it had to adapt or lacked.

    Two changes of architecture are allowed, both so that the loaded model computes what the
    source did: a parameter the source does not have keeps its fresh initialisation, and a ViT
    patch embedding with more input channels (e.g. ``stem: flow`` after ``stem: diff``) gets the
    source's channels copied and the new ones zeroed. Anything else that disagrees is an error:
    weights of a module this model does not have, or of another shape, mean the config does not
    describe the source's model.
    """
    from stae_ros.models.vit import fit_input_channels

    own = model.state_dict()
    unexpected = sorted(set(state_dict) - set(own))
    if unexpected:
        raise CheckpointError(f"{source} has weights this model lacks: {unexpected[:5]} (check the model config)")
    state = {k: v.float() if v.is_floating_point() else v for k, v in state_dict.items()}
    adapted = []
    for key, value in list(state.items()):
        target = own[key]
        if tuple(value.shape) == tuple(target.shape):
            continue
        growable = key.endswith("patch_embed.proj.weight") or key in ("head.weight", "vit.head.weight")  # stem inputs, motion_stats
        grown = fit_input_channels(value, target) if growable else None
        if grown is not None and value.shape[1] < target.shape[1]:  # growth only: fewer inputs would drop weights
            state[key] = grown
            adapted.append(key)
    wrong = [f"{k}: {tuple(v.shape)} vs {tuple(own[k].shape)}" for k, v in state.items() if tuple(v.shape) != tuple(own[k].shape)]
    if wrong:
        raise CheckpointError(f"{source} has weights of another shape: {wrong[:5]} (check the model config)")
    model.load_state_dict(state, strict=False)
    missing = sorted(set(own) - set(state))
    if missing or adapted:
        log.info("%s: %d parameters kept at their initial values %s, %d grown with zeroed inputs %s",
                 source, len(missing), missing[:8], len(adapted), adapted)
    return adapted + missing
