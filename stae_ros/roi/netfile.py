"""One file format for the small importance-map networks: a format id, the constructor's
hyper-parameters, the weights and free-form metadata, loadable with ``weights_only=True``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..torchfile import read_torch_file
from .errors import RoiError

__all__ = ["save_net_file", "load_net_file"]


def save_net_file(path: str | Path, fmt: str, net: nn.Module, hparams: dict[str, Any], meta: dict | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"format": fmt, **hparams, "state_dict": net.state_dict(), "meta": meta or {}}, path)
    return path


def load_net_file(path: str | Path, fmt: str, what: str) -> dict[str, Any]:
    """The saved blob; a missing file or another format is a RoiError naming the file."""
    blob = read_torch_file(path, RoiError, f"{what} file")
    if not isinstance(blob, dict) or blob.get("format") != fmt:
        raise RoiError(f"{path} is not a {fmt} file")
    return blob
