"""A resumable, step-counted training phase for the payload modes (stae-latent, stae-roi264).

Why not the stae-px loop: that one walks the four STAE stages by epochs of one model; the payload
modes train other networks in phases of a given number of steps. What they share with it is the
contract: ``<out>/last.pt`` after every ``save_every`` steps holds the weights, the optimiser
and where the run stands; ``--resume`` continues from there; every chunk's random stream is
derived from (seed, phase, chunk), so a run resumed at a chunk boundary draws the same batches
as an uninterrupted one; a tqdm bar shows the steps; ``metrics.json`` is rewritten after every chunk.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import torch

from ..errtext import exc_line
from ..torchfile import read_torch_file
from .errors import TrainingError

__all__ = ["RUN_FORMAT", "RunState", "chunk_generator", "cosine_lr", "run_phase", "save_run", "load_run", "write_metrics", "optimizer_step"]

log = logging.getLogger(__name__)

RUN_FORMAT = "stae-payload-run/1"


@dataclass
class RunState:
    """Where a payload run stands: finished phases, the current phase's step, the metric rows."""

    mode: str
    phase: str = ""
    step: int = 0
    done: list[str] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  #: small mode-specific facts (e.g. teacher accuracy)


def chunk_generator(seed: int, phase_index: int, chunk: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed) * 1_000_003 + phase_index * 10_007 + chunk)


def optimizer_step(opt: torch.optim.Optimizer, loss: torch.Tensor, params: Iterable[torch.nn.Parameter],
                   grad_clip: float) -> None:
    """One step on ``loss``, gradients clipped to norm ``grad_clip`` first when it is > 0."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(params, grad_clip)
    opt.step()


def cosine_lr(step: int, total: int, base: float, warmup: int) -> float:
    """Linear warm-up, then cosine decay to zero over ``total`` steps."""
    warm = min(1.0, (step + 1) / warmup) if warmup > 0 else 1.0
    return base * warm * 0.5 * (1.0 + math.cos(math.pi * min(step, total) / max(total, 1)))


def save_run(path: Path, state: RunState, modules: dict[str, torch.nn.Module],
             optimizer: torch.optim.Optimizer | None) -> None:
    """Write ``last.pt`` atomically (weights, optimiser, state)."""
    blob: dict[str, Any] = {
        "format": RUN_FORMAT, "mode": state.mode, "phase": state.phase, "step": state.step, "done": list(state.done),
        "history": state.history, "extra": state.extra,
        "modules": {name: {k: v.detach().cpu() for k, v in m.state_dict().items()} for name, m in modules.items()},
    }
    if optimizer is not None:
        blob["optimizer"] = optimizer.state_dict()
    tmp = path.with_name(path.name + ".tmp")
    torch.save(blob, tmp)
    os.replace(tmp, path)


def load_run(path: Path, mode: str) -> dict[str, Any]:
    """The raw ``last.pt`` of a run of ``mode``; a missing file or another mode is a TrainingError."""
    if not path.is_file():
        raise TrainingError(f"--resume given but {path} does not exist")
    blob = read_torch_file(path, TrainingError, "run checkpoint")
    if not isinstance(blob, dict) or blob.get("format") != RUN_FORMAT:
        raise TrainingError(f"{path} is not a {RUN_FORMAT} checkpoint (was this run trained with another mode?)")
    if blob.get("mode") != mode:
        raise TrainingError(f"{path} is a checkpoint of mode {blob.get('mode')!r}, not {mode!r}")
    return blob


def restore(blob: dict[str, Any], state: RunState, modules: dict[str, torch.nn.Module]) -> None:
    """Load a ``last.pt`` blob into ``state`` and ``modules`` (the optimiser is restored by its owner)."""
    state.phase, state.step = str(blob["phase"]), int(blob["step"])
    state.done, state.history, state.extra = list(blob["done"]), list(blob["history"]), dict(blob.get("extra", {}))
    for name, module in modules.items():
        if name in blob["modules"]:
            try:
                module.load_state_dict(blob["modules"][name])
            except (RuntimeError, KeyError, AttributeError, TypeError) as exc:  # another config's run folder
                raise TrainingError(f"resume: the run's {name} does not fit this config: {exc_line(exc)}") from exc


def write_metrics(out_dir: Path, state: RunState, extra: dict[str, Any]) -> Path:
    path = out_dir / "metrics.json"
    path.write_text(json.dumps({"mode": state.mode, "history": state.history, **state.extra, **extra}, indent=2, default=str))
    return path


def run_phase(
    *,
    name: str,
    index: int,
    state: RunState,
    total: int,
    save_every: int,
    seed: int,
    step_fn: Callable[[int, torch.Generator], dict[str, float]],
    save: Callable[[], None],
    evaluate: Callable[[], dict[str, float]] | None = None,
    progress: bool = True,
    stop_after_steps: int = 0,
) -> bool:
    """Run steps ``state.step .. total`` of phase ``name`` (``state.step`` is 0 unless resuming it).

    ``step_fn(step, gen)`` does one optimiser step and returns stats to average per chunk; after
    every ``save_every`` steps ``evaluate()`` (optional) adds test metrics, a history row is
    appended and ``save()`` writes ``last.pt``. Returns False when ``stop_after_steps`` cut the
    phase short (tests), True when it finished.
    """
    from tqdm import tqdm

    if name in state.done:
        return True
    if state.phase != name:
        state.phase, state.step = name, 0
    save_every = max(1, save_every)
    bar = tqdm(total=total, initial=state.step, desc=name, disable=not progress, leave=False)
    ran = 0
    while state.step < total:
        chunk = state.step // save_every
        gen = chunk_generator(seed, index, chunk)
        end = min(total, (chunk + 1) * save_every)
        sums: dict[str, float] = {}
        n = 0
        t0 = time.perf_counter()
        for step in range(state.step, end):
            stats = step_fn(step, gen)
            for k, v in stats.items():
                sums[k] = sums.get(k, 0.0) + float(v)
            n += 1
            ran += 1
            bar.update(1)
            bar.set_postfix({k: f"{v / n:.3g}" for k, v in sums.items()}, refresh=False)
            if stop_after_steps and ran >= stop_after_steps:
                end = step + 1
                break
        state.step = end
        row: dict[str, Any] = {"phase": name, "step": end, **{k: v / max(n, 1) for k, v in sums.items()},
                               "chunk_s": round(time.perf_counter() - t0, 2)}
        partial = bool(stop_after_steps and ran >= stop_after_steps and end < total)
        if evaluate is not None and not partial:
            row.update(evaluate())
        state.history.append(row)
        log.info("%s", " ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
        if state.step >= total:
            state.done.append(name)
        save()
        if partial:
            bar.close()
            return False
    bar.close()
    if name not in state.done:
        state.done.append(name)
        save()
    return True
