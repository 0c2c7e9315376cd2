"""Save / load the local classifier as one self-describing file (arch + class names + shape + weights).

The file is read with ``torch.load(weights_only=True)`` (no pickled code runs) and checked field by
field, so that a camera node refuses a wrong or damaged file with one line naming the file and the
field, instead of failing later inside the network.

An ensemble (`LocalEnsemble`: networks of one architecture from several seeds) is the same format
with a ``members`` list of state dicts in place of ``state_dict``; it loads as one module.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch

from ..torchfile import read_torch_file
from .errors import LocalModelError
from .model import LocalArch, LocalClassifier, LocalEnsemble

__all__ = ["MODEL_FORMAT", "LocalModelFile", "save_local_model", "load_local_model", "networks_from_states",
           "model_file_id"]

MODEL_FORMAT = "stae-local-model/1"


@dataclass
class LocalModelFile:
    """A loaded local model and what the file says about it."""

    model: LocalClassifier | LocalEnsemble  #: in eval mode, on the CPU
    class_names: list[str]
    shape: tuple[int, int, int, int]  #: (T, H, W, C) of the clips it was trained on
    arch: dict[str, Any]
    model_id: str  #: "<file name>:<first 12 hex digits of the file's sha256>"
    extra: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None


def model_file_id(path: str | Path) -> str:
    """``<file name>:<first 12 hex digits of its sha256>``: what `LocalModelFile.model_id` says of the file,
    without building its networks (a trainer that just wrote one needs only this)."""
    path = Path(path)
    return f"{path.name}:{_sha12(path)}"


def _sha12(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:12]


def save_local_model(
    path: str | Path,
    model: LocalClassifier | LocalEnsemble,
    class_names: list[str],
    shape: tuple[int, int, int, int],
    arch: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write `model` with its class names, (T,H,W,C) shape and arch keywords; returns the path.

    `extra` holds plain values only (str, numbers, lists, dicts): training metrics, the FLOP count.
    """
    path = Path(path)
    if len(class_names) != model.num_classes:
        raise LocalModelError(f"{path}: class_names has {len(class_names)} names, the model {model.num_classes} outputs")
    if len(tuple(shape)) != 4:
        raise LocalModelError(f"{path}: shape must be (T,H,W,C), got {shape}")
    path.parent.mkdir(parents=True, exist_ok=True)

    def plain(net: torch.nn.Module) -> dict[str, torch.Tensor]:
        return {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}

    blob: dict[str, Any] = {
        "format": MODEL_FORMAT,
        "class_names": [str(c) for c in class_names],
        "shape": [int(s) for s in shape],
        "arch": dict(arch),
        "extra": dict(extra or {}),
    }
    if isinstance(model, LocalEnsemble):
        blob["members"] = [plain(m) for m in model.members]
    else:
        blob["state_dict"] = plain(model)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(blob, tmp)
    tmp.replace(path)  # atomic: a reader never sees a half-written file
    return path


def _field(path: Path, blob: dict, name: str, kind: type | tuple[type, ...]) -> Any:
    if name not in blob:
        raise LocalModelError(f"{path}: field '{name}' is missing")
    value = blob[name]
    if not isinstance(value, kind):
        raise LocalModelError(f"{path}: field '{name}' has type {type(value).__name__}")
    return value


def networks_from_states(states: Sequence[Any], num_classes: int, t: int, h: int, w: int, arch: dict[str, Any],
                         fields: Sequence[str]) -> list[LocalClassifier]:
    """One LocalClassifier of ``arch`` per state dict, each checked: it must fit the architecture and the
    class count and hold finite weights. Why one place: a model file and a stae-roi264 record store the
    same networks (one, or an ensemble's members) and must refuse the same damage. A failure is a
    LocalModelError naming the field (``fields[i]`` for state ``i``); the caller adds where it was read."""
    nets = []
    for where, state in zip(fields, states):
        try:
            net = LocalClassifier(num_classes, t, h, w, **arch)
        except (TypeError, ValueError) as exc:
            raise LocalModelError(f"field 'arch' is invalid: {exc}") from exc
        try:
            net.load_state_dict(state)
        except (RuntimeError, KeyError, TypeError, AttributeError) as exc:
            first = str(exc).strip().splitlines()
            raise LocalModelError(f"field '{where}' does not match 'arch'/'class_names': {' '.join(first[:2])}") from exc
        for name, tensor in net.state_dict().items():
            if tensor.is_floating_point() and not torch.isfinite(tensor).all():
                raise LocalModelError(f"field '{where}' has non-finite values in {name}")
        nets.append(net)
    return nets


def load_local_model(path: str | Path) -> LocalModelFile:
    """Read a file written by `save_local_model`; every failure raises LocalModelError."""
    path = Path(path)
    blob = read_torch_file(path, LocalModelError, "local model file")
    if not isinstance(blob, dict):
        raise LocalModelError(f"{path}: field 'format' is missing (the file holds a {type(blob).__name__}, not a {MODEL_FORMAT} bundle)")
    fmt = _field(path, blob, "format", str)
    if fmt != MODEL_FORMAT:
        raise LocalModelError(f"{path}: field 'format' is {fmt!r}, expected {MODEL_FORMAT!r}")
    class_names = _field(path, blob, "class_names", list)
    if len(class_names) < 2 or not all(isinstance(c, str) and c for c in class_names):
        raise LocalModelError(f"{path}: field 'class_names' must be a list of >= 2 non-empty strings")
    if len(set(class_names)) != len(class_names):
        raise LocalModelError(f"{path}: field 'class_names' has duplicates")
    shape = _field(path, blob, "shape", (list, tuple))
    if len(shape) != 4 or not all(isinstance(s, int) and s > 0 for s in shape) or shape[3] != 3:
        raise LocalModelError(f"{path}: field 'shape' must be 4 positive ints (T,H,W,3), got {shape}")
    arch = _field(path, blob, "arch", dict)
    if "members" in blob:
        states = _field(path, blob, "members", list)
        if len(states) < 2 or not all(isinstance(m, dict) for m in states):
            raise LocalModelError(f"{path}: field 'members' must be a list of >= 2 state dicts")
    else:
        states = [_field(path, blob, "state_dict", dict)]
    extra = blob.get("extra", {})
    if not isinstance(extra, dict):
        raise LocalModelError(f"{path}: field 'extra' has type {type(extra).__name__}")
    unknown = set(arch) - set(LocalArch.__dataclass_fields__)
    if unknown:
        raise LocalModelError(f"{path}: field 'arch' has unknown keys {sorted(unknown)}")
    t, h, w, _ = shape
    fields = [f"members[{i}]" for i in range(len(states))] if "members" in blob else ["state_dict"]
    try:
        nets = networks_from_states(states, len(class_names), t, h, w, arch, fields)
    except LocalModelError as exc:
        raise LocalModelError(f"{path}: {exc}") from exc
    model = nets[0] if "members" not in blob else LocalEnsemble(nets)
    return LocalModelFile(
        model=model.eval(), class_names=list(class_names), shape=(t, h, w, 3), arch=dict(arch),
        model_id=model_file_id(path), extra=dict(extra), path=path,
    )
