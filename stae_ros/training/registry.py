"""Which function trains which payload: the ``mode:`` key of a training config -> a train function.

Why a registry of import paths: `stae train --config X.yaml` must train every payload from the
same kind of YAML file, and a payload's training code must not be imported (torch models,
libx264 ...) unless that payload is trained. A new mode is one line in `MODES`. Every train
function is called as ``fn(config_path, out_dir, resume=..., progress=...)``; those that take
``overrides`` also get the command line's ``--device/--export/--init`` (and stae-px its
``--stages/--init-skip``), and those that take ``stop_after_steps`` can be cut short by tests.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any, Callable

from stae_ros.configio import load_yaml

from .errors import TrainConfigError, TrainingError

__all__ = ["DEFAULT_MODE", "MODES", "config_mode", "resolve_mode", "run_mode"]

DEFAULT_MODE = "stae-px"

#: mode name -> "module:function" that trains it
MODES: dict[str, str] = {
    "stae-px": "stae_ros.training.px:train_px",
    "stae-latent": "stae_ros.training.latent:train_latent_mode",
    "stae-roi264": "stae_ros.training.roi264:train_roi264_mode",
    "stae-px-edge": "stae_ros.training.px_edge:train_px_edge_mode",  # stae-px's edge classifier on FR's output
    "local": "stae_ros.local:train_local",
    "edge": "stae_ros.local:train_local",  # the edge classifier of the whole-clip modes (same family, no camera budget)
    "h264-cd": "stae_ros.training.h264_cd:train_h264_cd_mode",
}


def config_mode(path: str | Path) -> tuple[str, str]:
    """(mode, run name) of a training config; an unknown mode is a one-line TrainConfigError."""
    raw = load_yaml(path)
    mode = raw.get("mode", DEFAULT_MODE)
    if mode not in MODES:
        raise TrainConfigError(f"{path}: key 'mode' is {mode!r}; allowed modes: {', '.join(MODES)}")
    return str(mode), str(raw.get("name") or Path(path).stem)


def resolve_mode(mode: str) -> Callable[..., Any]:
    """The train function of ``mode`` (imported now); a mode whose module is missing is a TrainingError."""
    if mode not in MODES:
        raise TrainConfigError(f"unknown training mode {mode!r}; allowed modes: {', '.join(MODES)}")
    module_name, _, attr = MODES[mode].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise TrainingError(f"mode {mode!r} is trained by {MODES[mode]}, which does not import here: {exc}") from exc
    fn = getattr(module, attr, None)
    if fn is None:
        raise TrainingError(f"mode {mode!r} is trained by {MODES[mode]}, but {module_name} has no {attr}")
    return fn


def run_mode(config: str | Path, out_dir: str | Path | None = None, resume: bool = False, progress: bool = True,
             overrides: dict[str, Any] | None = None, stop_after_steps: int = 0) -> Any:
    """Train the payload that ``config``'s ``mode:`` names into ``out_dir`` (default runs/<name>)."""
    mode, name = config_mode(config)
    fn = resolve_mode(mode)
    params = inspect.signature(fn).parameters
    kwargs: dict[str, Any] = {"resume": resume, "progress": progress}
    given = {k: v for k, v in (overrides or {}).items() if v not in (None, "", [], ())}
    if "threads" in given and "overrides" not in params:  # every mode honours --threads
        import torch

        torch.set_num_threads(int(given.pop("threads")))
    if given:
        if "overrides" not in params:
            raise TrainingError(f"mode {mode!r} takes no command-line override(s) {', '.join(sorted(given))}; "
                                f"set them in {config}")
        kwargs["overrides"] = given
    if stop_after_steps:
        if "stop_after_steps" not in params:
            raise TrainingError(f"mode {mode!r} cannot be stopped after a number of steps")
        kwargs["stop_after_steps"] = stop_after_steps
    return fn(str(config), str(out_dir or f"runs/{name}"), **kwargs)
