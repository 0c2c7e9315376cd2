"""The h264-cd model file (``stae-h264cd-model/1``): what the edge half of the mode loads.

One ``torch.save`` dict of plain types and tensors, read with ``weights_only=True`` (a model file
from the network cannot run code): ``format``, ``config`` (:class:`CDConfig` fields), ``features``
(:class:`FeatureSpec` fields: the clip size the camera cuts and the feature grid), ``class_names``,
``state_dict``, ``meta`` (training metrics, free form), and ``members`` when the file holds an
ensemble of networks of that one configuration (their state dicts under ``members.<i>.``). Every failure to read one is an
:class:`H264CdModelError` naming the file and the field.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch

from ..torchfile import read_torch_file
from .extract import CompressedStreamError, FeatureSpec
from .model import CDConfig, CDEnsemble, CDNet

__all__ = ["FORMAT", "H264CdModelError", "H264CdModelFile", "save_cd_model", "load_cd_model"]

FORMAT = "stae-h264cd-model/1"
#: most networks one file may hold (each costs the edge a network pass per clip)
MAX_MEMBERS = 16


class H264CdModelError(ValueError):
    """An h264-cd model file that cannot be read or does not hold what the mode needs."""


@dataclass
class H264CdModelFile:
    """A loaded model file: the network (eval mode, CPU), its feature spec, classes and identity."""

    path: Path
    model: CDNet | CDEnsemble
    spec: FeatureSpec
    class_names: list[str]
    model_id: str
    meta: dict[str, Any]

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (self.spec.frames, self.spec.height, self.spec.width, 3)


def save_cd_model(path: str | Path, model: CDNet | CDEnsemble, spec: FeatureSpec, class_names: list[str],
                  meta: dict[str, Any] | None = None) -> Path:
    """Write the network (or an ensemble of networks of one configuration: ``members`` > 1)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = {"format": FORMAT, "config": model.cfg.to_dict(), "features": asdict(spec), "class_names": list(class_names),
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}, "meta": dict(meta or {})}
    if isinstance(model, CDEnsemble):
        blob["members"] = len(model.members)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(blob, tmp)
    tmp.replace(path)
    return path


def _typed(cls: type, raw: Any, path: Path, field_name: str) -> Any:
    if not isinstance(raw, dict):
        raise H264CdModelError(f"{path}: field '{field_name}' must be a mapping, got {type(raw).__name__}")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise H264CdModelError(f"{path}: field '{field_name}' has unknown key(s) {unknown}")
    try:
        return cls(**raw)
    except (TypeError, ValueError, CompressedStreamError) as exc:
        raise H264CdModelError(f"{path}: field '{field_name}': {exc}") from exc


def load_cd_model(path: str | Path) -> H264CdModelFile:
    """Read and check a model file; any fault is an H264CdModelError naming the file and the field."""
    path = Path(path)
    if not path.is_file():
        raise H264CdModelError(f"h264-cd model file not found: {path}")
    try:
        raw_bytes = path.read_bytes()
    except OSError as exc:
        raise H264CdModelError(f"cannot read the h264-cd model file {path}: {exc}") from exc
    blob = read_torch_file(path, H264CdModelError, "h264-cd model file", raw=raw_bytes)
    if not isinstance(blob, dict):
        raise H264CdModelError(f"{path} holds a {type(blob).__name__}, not a {FORMAT} dict")
    if blob.get("format") != FORMAT:
        raise H264CdModelError(f"{path}: field 'format' is {blob.get('format')!r}, not {FORMAT!r}")
    for key in ("config", "features", "class_names", "state_dict"):
        if key not in blob:
            raise H264CdModelError(f"{path}: field '{key}' is missing")
    names = blob["class_names"]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise H264CdModelError(f"{path}: field 'class_names' must be a non-empty list of strings")
    cfg = _typed(CDConfig, blob["config"], path, "config")
    spec = _typed(FeatureSpec, blob["features"], path, "features")
    if cfg.num_classes != len(names):
        raise H264CdModelError(f"{path}: field 'config.num_classes' is {cfg.num_classes}; 'class_names' lists {len(names)}")
    if (cfg.frames, cfg.grid_h, cfg.grid_w, cfg.iframe_size) != (spec.frames, *spec.grid, spec.iframe_size):
        raise H264CdModelError(f"{path}: field 'config' (frames {cfg.frames}, grid {cfg.grid_h}x{cfg.grid_w}, "
                               f"iframe {cfg.iframe_size}) disagrees with field 'features' {spec}")
    members = blob.get("members", 1)
    if isinstance(members, bool) or not isinstance(members, int) or not 1 <= members <= MAX_MEMBERS:
        raise H264CdModelError(f"{path}: field 'members' must be an integer in 1..{MAX_MEMBERS}, got {members!r}")
    model = CDNet(cfg) if members == 1 and "members" not in blob else CDEnsemble([CDNet(cfg) for _ in range(members)])
    state = blob["state_dict"]
    if not isinstance(state, dict):
        raise H264CdModelError(f"{path}: field 'state_dict' must be a mapping of tensors")
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, KeyError) as exc:
        raise H264CdModelError(f"{path}: field 'state_dict' does not fit the network: {str(exc).splitlines()[0]}") from exc
    meta = blob.get("meta") if isinstance(blob.get("meta"), dict) else {}
    model_id = f"{path.name}:{hashlib.sha256(raw_bytes).hexdigest()[:12]}"
    return H264CdModelFile(path=path, model=model.eval(), spec=spec, class_names=list(names), model_id=model_id,
                           meta=meta)
