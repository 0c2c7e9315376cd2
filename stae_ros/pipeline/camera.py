"""The camera (robot) side: clip -> the active mode's camera half -> what the camera publishes.

One object per camera stream. It holds the active mode, the commanded budget (K, p) and the
mode's settings, and changes them atomically at run time (:meth:`CameraPipeline.prepare` /
:meth:`CameraPipeline.commit`). Every mode comes from the registry (stae_ros.modes): this module
names none of them.

It owns the torch thread setting because a Pi-class host has few cores and the camera node must
leave some for capture and DDS.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from stae_ros import codec as px_codec
from stae_ros.errtext import exc_line
from stae_ros.modes import CameraMode, EncodedClip, ModeContext, Validated, check_mode, make_camera
from stae_ros.planning.fallback import FALLBACK_MODE

from .errors import BudgetError, PipelineError

__all__ = ["CameraPipeline", "EncodedClip", "PreparedChange"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparedChange:
    """A validated change of mode, budget and settings, not yet in force (see CameraPipeline.prepare).

    ``shape`` is the clip shape (T,H,W,C) the camera must cut once it is committed; it differs from
    the pipeline's current shape when the new mode's model takes another clip size.
    """

    mode: str
    k: int
    p: float
    settings: Mapping[str, Any]
    shape: tuple[int, int, int, int]
    camera: CameraMode
    validated: Validated


class CameraPipeline:
    """Encodes clips with the active mode; the mode, K, p and the mode's settings change at run time."""

    def __init__(self, loaded, k: int | None = None, p: float | None = None, codec: str = px_codec.CODEC_NAME,
                 threads: int = 1, layout: str = "fast", zstd_level: int = px_codec.DEFAULT_LEVEL,
                 codec_model: str | None = None, value_bits: int = 8,
                 model_files: Mapping[str, str] | None = None, settings: Mapping[str, Any] | None = None,
                 topk: int = 5) -> None:
        """``codec``: the mode to start in (any registered name). ``model_files``: each mode's own model
        file (mode name -> path; missing or empty = that mode's shipped file); ``codec_model`` is the
        start mode's file, for callers that run one mode. ``settings``: the start mode's knobs.
        ``layout``, ``zstd_level`` and ``value_bits`` are stae-px's options (value_bits < 8 quantises
        kept values, error <= 2**(7-bits)); ``topk``: labels a mode that classifies on the camera gives.
        Modes whose payload is the whole clip keep and check K and p (a command must not fail) but
        send K=T, p=1."""
        self.model = loaded.model.eval()
        self.config = loaded.config
        self.class_names = list(loaded.class_names)
        files = dict(model_files or {})
        if codec_model:
            files[str(codec)] = str(codec_model)
        self._ctx = ModeContext(loaded, files, {"layout": layout, "zstd_level": zstd_level, "value_bits": value_bits,
                                                "topk": topk})
        self._cameras: dict[str, CameraMode] = {}
        self._active: CameraMode | None = None
        if threads > 0:
            torch.set_num_threads(threads)
        self.k = int(self.config.budgets.frame[0])  # the defaults, when k / p are not given
        self.p = float(self.config.budgets.spatial[0])
        self.commit(self.prepare(mode=codec, k=k, p=p, settings=settings or {}))

    # ---- what is in force ---------------------------------------------------------------------
    @property
    def active(self) -> CameraMode:
        """The active mode's camera half."""
        assert self._active is not None
        return self._active

    @property
    def codec(self) -> str:
        """The active mode's name (SemanticClip.codec)."""
        return self.active.name

    mode = codec

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """(T,H,W,C) of the clips the active mode takes."""
        return tuple(self.active.shape)

    @property
    def settings(self) -> Mapping[str, Any]:
        return self.active.settings

    @property
    def model_id(self) -> str:
        return self.active.model_id

    def describe(self) -> str:
        return self.active.describe()

    # ---- changing it: validate everything, then apply everything ------------------------------
    def prepare(self, mode: str | None = None, k: int | None = None, p: float | None = None,
                settings: Mapping[str, Any] | None = None) -> PreparedChange:
        """Check a change of mode, budget and settings and build what it needs, changing nothing.

        ``mode``: a registered mode name; None or "" keeps the active one. ``k``/``p``: None keeps the
        commanded budget (K capped at the target mode's clip length); a K given is checked against
        that length (1..T) and p against (0, 1]. ``settings``: the target mode's knobs over its defaults
        ({} = the defaults); None keeps the knobs the target mode has in force (its defaults the
        first time it is used).

        Loading the target mode's model file happens here (the first time it is used), so a missing
        or broken file is refused now. Raises :class:`PipelineError` with a one-line reason naming
        what is wrong: UnknownCodecError (unknown mode, listing the known ones), BudgetError (K, p or
        a setting), ClipShapeError, or PipelineError (a model file). The pipeline's state is then
        untouched. :meth:`commit` puts the result in force and cannot fail.
        """
        name = self.codec if mode is None or mode == "" else check_mode(mode)
        camera = self._cameras.get(name) or make_camera(name, self._ctx)
        knobs = camera.settings if settings is None else settings
        k = min(int(self.k), camera.shape[0]) if k is None else k
        validated = camera.validate(k, self.p if p is None else p, knobs)
        return PreparedChange(mode=name, k=validated.k, p=validated.p, settings=dict(validated.settings),
                              shape=tuple(camera.shape), camera=camera, validated=validated)

    def commit(self, prepared: PreparedChange) -> None:
        """Put a prepared change in force: mode, K, p and settings together. Does not fail.

        The next :meth:`encode` uses it; a caller that cuts clips must cut ``prepared.shape`` from now on.
        """
        prepared.camera.apply(prepared.validated)
        self._cameras[prepared.mode] = prepared.camera
        changed = self._active is not prepared.camera
        self._active = prepared.camera
        self.k, self.p = prepared.k, prepared.p
        if changed:
            log.info("camera mode now %s", prepared.camera.describe())

    def check_models(self, names: Sequence[str]) -> None:
        """Load the camera halves of ``names`` and refuse, naming the file, one that cannot be loaded or
        that labels other classes than the STAE model (for a node's start-up, like EdgePipeline.check_models)."""
        from stae_ros.modes.base import check_class_list

        for name in names:
            camera = self._loaded(name)
            check_class_list(name, camera.model_id, camera.class_names, self.class_names, "the camera's STAE model")

    def preload(self, names: Sequence[str]) -> dict[str, str | None]:
        """Load the camera halves of ``names`` now, without changing the active mode, so a later switch
        to one of them loads no model file; {name: None if loaded, else why it could not be}."""
        out: dict[str, str | None] = {}
        for name in names:
            try:
                self._loaded(name)
                out[name] = None
            except Exception as exc:  # noqa: BLE001 - reported, not raised
                out[name] = exc_line(exc)
        return out

    def _loaded(self, name: str) -> CameraMode:
        """``name``'s camera half, loaded the first time it is asked for and kept (the active mode is unchanged)."""
        name = check_mode(name)
        if name not in self._cameras:
            self._cameras[name] = make_camera(name, self._ctx)
        return self._cameras[name]

    def set_budget(self, k: int, p: float) -> None:
        """Change the frame budget K and spatial budget p for the next clips (BudgetError if out of range)."""
        self.commit(self.prepare(k=k, p=p))

    def set_codec_settings(self, knobs: Mapping[str, Any]) -> None:
        """The active mode's knobs besides K and p ({} = its defaults); refused knobs change nothing."""
        if not isinstance(knobs, Mapping):
            raise BudgetError(f"codec settings must be a mapping of knob names to values; got {type(knobs).__name__}")
        self.commit(self.prepare(settings=knobs))

    def set_mode(self, mode: str, settings: Mapping[str, Any] | None = None) -> None:
        self.commit(self.prepare(mode=mode, settings=settings))

    # ---- clips --------------------------------------------------------------------------------
    def check_clip(self, clip: np.ndarray) -> None:
        from stae_ros.modes.base import check_clip

        check_clip(clip, self.shape, "model's")

    def select(self, clip: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Frame indices (K,) and pixel mask (K,H,W) the active mode keeps (modes that select pixels only)."""
        select = getattr(self.active, "select", None)
        if select is None:
            raise PipelineError(f"mode {self.codec!r} sends the whole clip; it selects no frames or pixels")
        return select(clip)

    def encode(self, clip: np.ndarray) -> EncodedClip:
        return self.active.encode(clip)

    def label_here(self, clip: np.ndarray, mode: str = FALLBACK_MODE) -> EncodedClip:
        """The camera's own label for a clip cut for the active mode (the deadline fallback): ``mode``'s
        camera half (a mode that classifies on the camera) on the clip, resampled to that mode's clip
        size when the active mode cuts another one. Raises PipelineError if ``mode`` gives no label."""
        from .clips import make_clip

        camera = self._loaded(mode)
        T, H, W, _C = camera.shape
        if tuple(clip.shape) != tuple(camera.shape):
            clip = make_clip(list(clip), T, H, W)
        enc = camera.encode(clip)
        if enc.label is None:
            raise PipelineError(f"mode {mode!r} does not label clips on the camera")
        return enc
