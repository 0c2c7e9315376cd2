"""Mode name -> the module that implements it. A new mode is one module plus one line in ``MODES``.

Each module named here defines ``NAME`` (the name on the wire), ``camera(ctx) -> CameraMode`` and
``edge(ctx) -> EdgeMode | None`` (None: the mode sends nothing for an edge to classify). Modules
are imported on first use, so a host never pays for (or needs the libraries of) a mode it does
not run.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .base import CameraMode, EdgeMode, ModeContext
from .errors import PipelineError, UnknownModeError

__all__ = ["MODES", "mode_names", "mode_module", "check_mode", "make_camera", "make_edge"]

#: wire name -> module; the order is the order modes are listed in messages and help
MODES: dict[str, str] = {
    "local": "stae_ros.modes.local",
    "h264": "stae_ros.modes.h264",
    "stae-px": "stae_ros.modes.stae_px",
    "stae-latent": "stae_ros.modes.stae_latent",
    "stae-roi264": "stae_ros.modes.stae_roi264",
    "h264-cd": "stae_ros.modes.h264_cd",
}


def mode_names() -> tuple[str, ...]:
    return tuple(MODES)


def check_mode(name: object) -> str:
    """``name`` if it is a registered mode, else UnknownModeError listing the known ones."""
    if not isinstance(name, str) or name not in MODES:
        raise UnknownModeError(f"unknown mode {name!r}; this host speaks {', '.join(MODES)}")
    return name


def mode_module(name: str) -> ModuleType:
    module = importlib.import_module(MODES[check_mode(name)])
    if getattr(module, "NAME", None) != name:
        raise PipelineError(f"mode module {module.__name__} names itself {getattr(module, 'NAME', None)!r}, "
                            f"registered as {name!r}")
    return module


def make_camera(name: str, ctx: ModeContext) -> CameraMode:
    """The camera half of mode ``name`` (loading its model file); PipelineError naming what failed."""
    return mode_module(name).camera(ctx)


def make_edge(name: str, ctx: ModeContext) -> EdgeMode:
    """The edge half of mode ``name``; PipelineError when the mode has none (its label is made on the camera)."""
    edge = mode_module(name).edge(ctx)
    if edge is None:
        raise PipelineError(f"mode {name!r} labels clips on the camera; its messages carry no payload for an edge")
    return edge
