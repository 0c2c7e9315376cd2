"""`stae train` mode ``stae-px``: the step-by-step STAE schedule (classifier -> FA -> SA -> FR)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import TrainingError

__all__ = ["train_px"]

_OVERRIDES = ("device", "export", "threads", "init", "init_skip", "stages")


def train_px(config: str | Path, out_dir: str | Path, resume: bool = False, progress: bool = True,
             overrides: dict[str, Any] | None = None, stop_after_steps: int = 0) -> Any:
    """Load a ``config/train_*.yaml`` and run `loop.train`; ``overrides`` are the command line's
    ``device, export, threads, init, init_skip`` (module names) and ``stages`` (comma-separated)."""
    from stae_ros.configio import check_output_file

    from .config import load_train_config
    from .loop import train
    from .stages import parse_stages

    o = dict(overrides or {})
    unknown = sorted(set(o) - set(_OVERRIDES))
    if unknown:
        raise TrainingError(f"mode 'stae-px' has no override(s) {unknown}; known: {list(_OVERRIDES)}")
    cfg = load_train_config(config)
    if o.get("threads") is not None:
        cfg.threads = int(o["threads"])
    if o.get("export"):
        cfg.export = str(o["export"])
    if cfg.export:  # written at the end of the run: a bad target is refused before it starts
        check_output_file(cfg.export, "--export" if o.get("export") else f"{config}: export")
    return train(cfg, out_dir, resume=resume, stages=parse_stages(o.get("stages")), device=o.get("device"),
                 init=o.get("init"), init_skip=list(o.get("init_skip") or []), progress=progress,
                 stop_after_steps=stop_after_steps)
