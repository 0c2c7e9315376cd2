"""The payload interface: what every mode gives the camera and the edge.

A *mode* is one way of getting a clip's label: code the clip on the camera and classify it on the
edge (stae-px, stae-latent, stae-roi264, h264), or classify it on the camera and send only the
label (local). Each mode is one module with two halves:

- the camera half (:class:`CameraMode`) turns a uint8 clip T,H,W,3 into an :class:`EncodedClip`:
  the payload bytes plus everything a message needs to name what it carries (mode, format
  version, model identity, budget or settings, timings; the label itself for a local mode);
- the edge half (:class:`EdgeMode`) turns one payload into a decoded item on the CPU
  (:meth:`EdgeMode.decode`, per message, so a bad payload fails alone) and a list of decoded items
  into logits (:meth:`EdgeMode.classify`, one batched pass on the edge's device).

Why two steps for settings (:meth:`CameraMode.validate` then :meth:`CameraMode.apply`): a budget
command changes a mode, K, p and codec knobs at once, and it must change all of them or none.
``validate`` does all the work that can fail (range checks, loading or rebuilding the encoder)
and touches nothing; ``apply`` only swaps in what ``validate`` built, so it cannot fail halfway.

Nothing here knows a mode by name: the pipelines look modes up in :mod:`stae_ros.modes.registry`.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

from .errors import BudgetError, ClipShapeError, PipelineError

__all__ = [
    "EncodedClip", "LocalLabel", "Validated", "Decoded", "Classified", "ModeContext", "CameraMode", "EdgeMode",
    "model_identity", "state_identity", "check_clip", "check_budget", "freeze_settings", "Timer", "load_mode_file",
    "check_class_list",
]

Shape = tuple[int, int, int, int]


@dataclass(frozen=True)
class LocalLabel:
    """A label computed on the camera (local mode): top-1 and top-k, best first."""

    class_id: int
    label: str
    score: float
    topk: tuple[tuple[int, str, float], ...]


@dataclass(frozen=True)
class EncodedClip:
    """What the camera sends for one clip.

    ``codec`` is the mode's name (the SemanticClip field of that name carries it; ``mode`` is the
    same string). ``model_id`` names the model the payload was made for (the edge refuses a clip
    whose model it does not run). ``k``/``p`` are the budget the payload realises (K=T, p=1 for
    modes that send the whole clip); ``settings`` the mode's other knobs in force. ``label`` is
    set by modes that classify on the camera; their payload is then empty.
    """

    payload: bytes
    codec: str
    codec_version: int
    k: int
    p: float
    frame_indices: tuple[int, ...]
    camera_ms: float
    select_ms: float
    encode_ms: float
    model_id: str = ""
    settings: Mapping[str, Any] = field(default_factory=dict)
    label: LocalLabel | None = None

    @property
    def mode(self) -> str:
        return self.codec


@dataclass(frozen=True)
class Validated:
    """A checked change of a camera mode's budget and settings, not yet in force.

    ``state`` is whatever the mode built while validating (e.g. an encoder with the new knobs);
    :meth:`CameraMode.apply` only installs it.
    """

    mode: str
    k: int
    p: float
    settings: Mapping[str, Any]
    state: Any = None


@dataclass
class Decoded:
    """One payload after the edge's per-message step: mode-private ``data`` plus the budget it carried."""

    data: Any
    k: int
    p: float


@dataclass
class Classified:
    """Logits N,C of one classify pass, and the clips the classifier saw (uint8 N,T,H,W,3) when asked."""

    logits: Any
    recovered: Sequence[np.ndarray] | None = None


@dataclass
class ModeContext:
    """What a mode factory may use: the STAE checkpoint every host loads, each mode's own model file
    (mode name -> path; empty = the mode's shipped default), per-mode options (e.g. stae-px's zstd
    level), and the edge's torch device."""

    loaded: Any
    model_files: Mapping[str, str] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    device: Any = None

    def model_file(self, mode: str) -> str:
        return str(self.model_files.get(mode) or "")

    @property
    def stae_shape(self) -> Shape:
        c = self.loaded.config.clip
        return (int(c.frames), int(c.height), int(c.width), int(c.channels))


@runtime_checkable
class CameraMode(Protocol):
    """The camera half of a mode. ``uses_budget``: whether K and p change the payload."""

    name: str
    version: int
    shape: Shape
    class_names: list[str]
    model_id: str
    uses_budget: bool

    def validate(self, k: int, p: float, settings: Mapping[str, Any]) -> Validated:
        """Check K, p and the settings (the mode's knobs over its defaults; {} = the defaults) and build
        what they need, changing nothing; raise :class:`PipelineError` (BudgetError for K/p) naming
        what is wrong."""
        ...

    def apply(self, validated: Validated) -> None:
        """Put a :meth:`validate` result in force. Must not fail."""
        ...

    @property
    def settings(self) -> Mapping[str, Any]:
        """The knobs in force (as given to validate)."""
        ...

    def encode(self, clip: np.ndarray) -> EncodedClip:
        """uint8 clip of ``shape`` -> what the camera sends."""
        ...

    def describe(self) -> str:
        """One line for logs: the mode, its model file and what is in force."""
        ...


@runtime_checkable
class EdgeMode(Protocol):
    """The edge half of a mode."""

    name: str
    shape: Shape
    class_names: list[str]
    model_id: str

    def decode(self, data: bytes) -> Decoded:
        """One payload -> a decoded item (CPU, per message); any malformed payload raises."""
        ...

    def classify(self, items: list[Decoded], keep_recovered: bool = False) -> Classified:
        """Decoded items -> logits N,C on the edge's device, in one pass where the model allows."""
        ...


# ---- helpers the modes share -------------------------------------------------------------------

_ID_CACHE: dict[tuple[str, int, int], str] = {}


def model_identity(path: str | Path) -> str:
    """``<file name>:<first 12 hex digits of the file's sha256>``: the same file gives the same id on
    every host, wherever it is installed, and a retrained file of the same name gives another."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError as exc:
        raise PipelineError(f"cannot read the model file {p}: {exc}") from exc
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _ID_CACHE:
        h = hashlib.sha256()
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _ID_CACHE[key] = f"{p.name}:{h.hexdigest()[:12]}"
    return _ID_CACHE[key]


def state_identity(loaded: Any) -> str:
    """The id of a loaded STAE checkpoint: its file's (:func:`model_identity`) when it came from a file,
    else a digest of its weights (a model built in memory)."""
    path = (getattr(loaded, "meta", None) or {}).get("path")
    if path and os.path.isfile(path):
        return model_identity(path)
    h = hashlib.sha256()
    for name, tensor in sorted(loaded.model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return f"in-memory:{h.hexdigest()[:12]}"


def check_clip(clip: Any, shape: Shape, who: str) -> None:
    """A uint8 numpy clip of exactly ``shape``, or ClipShapeError naming what differs."""
    if not isinstance(clip, np.ndarray) or clip.dtype != np.uint8:
        raise ClipShapeError(f"clip must be a uint8 numpy array; got {type(clip).__name__} {getattr(clip, 'dtype', '')}")
    if clip.shape != tuple(shape):
        raise ClipShapeError(f"clip shape {clip.shape} does not match the {who} (T,H,W,C) {tuple(shape)}")


def check_budget(k: Any, p: Any, frames: int) -> tuple[int, float]:
    """K in 1..frames and p in (0, 1], as (int, float); BudgetError naming the bad one."""
    try:
        k_i, p_f = int(k), float(p)
    except (TypeError, ValueError) as exc:
        raise BudgetError(f"budget K={k!r} p={p!r} is not a number: {exc}") from exc
    if k_i != k and not (isinstance(k, float) and k.is_integer()):
        raise BudgetError(f"frame budget K={k!r} must be an integer")
    if not 1 <= k_i <= frames:
        raise BudgetError(f"frame budget K={k_i} must be between 1 and the clip length {frames}")
    if not 0.0 < p_f <= 1.0:  # also false for nan
        raise BudgetError(f"spatial budget p={p} must be in (0, 1]")
    return k_i, p_f


def freeze_settings(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """A plain dict copy of a settings mapping (None = {}); PipelineError if it is not a mapping of str keys."""
    if settings is None:
        return {}
    if not isinstance(settings, Mapping):
        raise BudgetError(f"mode settings must be a mapping of knob names to values; got {type(settings).__name__}")
    bad = [k for k in settings if not isinstance(k, str)]
    if bad:
        raise BudgetError(f"mode setting names must be strings; got {bad!r}")
    return dict(settings)


class Timer:
    """Milliseconds since construction (``ms()``); what the modes time their stages with."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self.t0 = clock()

    def ms(self) -> float:
        return (self._clock() - self.t0) * 1000.0


def load_mode_file(mode: str, model_path: str | Path | None, default_rel: str, loader: Callable[[Path], Any],
                   errors: type[BaseException] | tuple[type[BaseException], ...]) -> tuple[Path, Any]:
    """(path, loaded) of a mode's model file (empty = its shipped ``default_rel``; a relative ``models/...``
    outside a checkout = the installed file); a missing or unreadable file is a PipelineError naming the
    mode and the file."""
    from stae_ros.resources import named_or_shipped

    path = named_or_shipped(model_path, default_rel)
    try:
        return path, loader(path)
    except errors as exc:
        raise PipelineError(f"cannot load the {mode} model {path}: {exc}") from exc


def check_class_list(mode: str, model_id: str, names: Sequence[str], reference: Sequence[str], where: str) -> None:
    """Refuse (ModelMismatchError, one line) a mode's model that labels other classes, or the same in
    another order, than ``reference``: its class ids would name other actions than every other
    mode's labels on the same topic."""
    from .errors import ModelMismatchError

    if list(names) != list(reference):
        extra = sorted(set(names) - set(reference))[:3]
        missing = sorted(set(reference) - set(names))[:3]
        detail = (f"not in {where}: {extra}; " if extra else "") + (f"missing: {missing}; " if missing else "")
        raise ModelMismatchError(f"the {mode} model {model_id} labels {len(names)} classes, {where} {len(reference)} "
                                 f"({detail or 'same classes in another order; '}all modes must share one class list)")
