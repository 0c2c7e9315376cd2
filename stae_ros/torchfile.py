"""Reading a user's torch file: one place that turns every way it can fail into one line.

Why: every model, checkpoint and weights file the package reads comes from a user and may be
missing, truncated, or something else entirely. ``torch.load`` raises a dozen exception types for
that, and its weights-only refusal is a paragraph. Each loader keeps its own error class (its
callers catch that) and says which kind of file it wanted; this reads the file with
``weights_only=True``, so no pickled code runs, and gives the cause in one line.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

import torch

from .errtext import exc_line

__all__ = ["read_torch_file", "peek_torch_file"]


def read_torch_file(path: str | Path, error: type[Exception], what: str, raw: bytes | None = None) -> Any:
    """The object stored in ``path``; a missing or unreadable file raises ``error`` naming ``what`` and the path.

    ``raw`` is the file's content when the caller has already read it (to hash it, say), so the
    object and the bytes are the same version of the file.
    """
    path = Path(path)
    if raw is None and not path.is_file():
        raise error(f"{what} not found: {path}")
    try:
        source = io.BytesIO(raw) if raw is not None else path
        return _load(source)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a file that is not what it should be
        raise error(f"{path} is not a readable {what}: {exc_line(exc)}") from exc


def peek_torch_file(path: str | Path) -> Any | None:
    """The object stored in ``path``, or None when it cannot be read.

    For callers that only sniff which kind of file they were given; the loader they then call
    names the problem.
    """
    try:
        return _load(Path(path))
    except Exception:  # noqa: BLE001 - missing, not a torch file, ...
        return None


def _load(source: Any) -> Any:
    """torch.load of tensors and plain containers only, without its warnings: a file that is not what it
    should be (a bare pickle, say) makes torch warn before it raises, and the caller's one-line error
    already says what is wrong with it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.load(source, map_location="cpu", weights_only=True)
