"""Train the local classifier from a YAML config (``mode: local``), resumably, with progress bars.

The data section is the one every training config uses (stae_ros.training.config.DataConfig) and is
loaded by the same code (stae_ros.training.loop.prepare_data, its stream and its batch order), so
the local classifier sees exactly the clips, splits and folds the other payloads are trained and
tested on. The recipe is what a careful robotics team would use for a small video CNN trained from
scratch: AdamW with decoupled weight decay (none on norms and biases), linear warm-up then cosine
decay, label smoothing, an exponential moving average of the weights (the EMA model is the one
evaluated and exported), gradient clipping, and strong label-preserving augmentation.

Before training, the network's FLOPs per clip are counted and checked against the configured camera
budget preset (config/camera_budgets.yaml): a model that does not fit is refused, not trained.

``mode: edge`` trains the same network family as the *edge* classifier (for the modes that send the
whole clip, e.g. h264): the same file format and recipe, but no camera budget by default (its FLOPs
are still counted and recorded) and the file says ``role: edge``. Why the same family: on a small real
set a CNN with a frame-difference stem trains from scratch far better than the small video ViT, and
one self-describing file format keeps the loaders and tests in one place.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from stae_ros.configio import ConfigError, check_keys, check_output_file, load_yaml
from stae_ros.errtext import exc_line
from stae_ros.torchfile import read_torch_file
from stae_ros.training.config import AugmentConfig, DataConfig, StageConfig, TrainConfig
from stae_ros.training.payload_config import export_copy

from .augment import LocalAugment, augment_local
from .errors import LocalModelError
from .io import model_file_id, save_local_model
from .model import LocalArch, LocalClassifier

__all__ = ["LocalTrainSettings", "LocalTrainConfig", "LocalTrainResult", "LocalTrainError", "load_local_config",
           "train_local", "evaluate_local", "time_local_ms"]

log = logging.getLogger(__name__)

_TOP_KEYS = ("name", "mode", "seed", "clip", "model", "data", "train", "augment", "budget", "eval", "device",
             "threads", "export", "init", "ensemble")
#: config ``mode`` -> the role written into the model file
ROLES = {"local": "local", "edge": "edge"}
_SHARED_AUG = tuple(AugmentConfig.__dataclass_fields__)
_LOCAL_AUG = tuple(LocalAugment.__dataclass_fields__)


class LocalTrainError(ConfigError):
    """A local training config is invalid, or the model does not fit its camera budget."""


@dataclass
class LocalTrainSettings:
    """Optimiser schedule."""

    epochs: int = 20
    steps_per_epoch: int = 0  #: 0 = the whole training split each epoch (must be > 0 with data.stream)
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 0.05
    warmup_steps: int = 100
    label_smoothing: float = 0.1
    grad_clip: float = 2.0
    ema_decay: float = 0.998  #: 0 = no weight averaging

    def validate(self, where: str) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.steps_per_epoch < 0 or self.warmup_steps < 0:
            raise LocalTrainError(f"{where}: train.epochs and train.batch_size must be >= 1, steps_per_epoch and warmup_steps >= 0")
        if self.lr <= 0 or self.weight_decay < 0 or self.grad_clip < 0:
            raise LocalTrainError(f"{where}: train.lr must be > 0, weight_decay and grad_clip >= 0")
        if not 0.0 <= self.label_smoothing < 1.0 or not 0.0 <= self.ema_decay < 1.0:
            raise LocalTrainError(f"{where}: train.label_smoothing and train.ema_decay must be in [0, 1)")


@dataclass
class LocalTrainConfig:
    name: str = "local"
    seed: int = 0
    frames: int = 16
    height: int = 64
    width: int = 64
    arch: dict[str, Any] = field(default_factory=dict)
    data: DataConfig = field(default_factory=DataConfig)
    train: LocalTrainSettings = field(default_factory=LocalTrainSettings)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    local_augment: LocalAugment = field(default_factory=LocalAugment)
    budget_preset: str = "pi4-1core"  #: "" = no budget check
    budgets_file: str = "config/camera_budgets.yaml"
    enforce_budget: bool = True
    eval_batch_size: int = 32
    device: str = "auto"
    threads: int = 1
    export: str = ""
    source: str = ""
    role: str = "local"  #: "local" (camera classifier, budget-checked) or "edge" (no camera budget by default)
    #: start from this model file's weights (a local/edge model file or a run's last.pt); tensors whose
    #: shape differs (e.g. the head of a set with another class count) keep their fresh initialisation
    init: str = ""
    #: train this many runs of the recipe (seeds seed, seed+1, ...) and save them as one ensemble file
    #: (stae_ros.local.ensemble); 1 = one network
    ensemble: int = 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def shared(self) -> TrainConfig:
        """The same run as a TrainConfig, for the shared data code (prepare_data, the stream)."""
        stage = StageConfig(epochs=self.train.epochs, batch_size=self.train.batch_size,
                            max_steps_per_epoch=self.train.steps_per_epoch)
        return TrainConfig(name=self.name, seed=self.seed, data=self.data, stages={"classifier": stage},
                           augment=self.augment, device=self.device, threads=self.threads)


def _section(raw: dict[str, Any], key: str, path: Path) -> dict[str, Any]:
    value = raw.get(key) or {}
    if not isinstance(value, dict):
        raise LocalTrainError(f"{path}: '{key}' must be a mapping")
    return dict(value)


def _build(cls: type, data: dict[str, Any], where: str) -> Any:
    check_keys(data, cls.__dataclass_fields__.keys(), where=where)
    try:
        return cls(**data)
    except TypeError as exc:
        raise LocalTrainError(f"{where}: {exc}") from exc


def load_local_config(source: str | Path | dict[str, Any]) -> LocalTrainConfig:
    """Parse and validate a local training config (a YAML path or an already-loaded mapping)."""
    if isinstance(source, dict):
        raw, path = dict(source), Path(str(source.get("name", "<config>")))
    else:
        path = Path(source)
        raw = load_yaml(path, allowed=_TOP_KEYS)
    check_keys(raw, _TOP_KEYS, where=str(path))
    mode = raw.get("mode", "local")
    if mode not in ROLES:
        raise LocalTrainError(f"{path}: mode is {mode!r}; train_local trains 'mode: local' and 'mode: edge' configs")
    clip = _section(raw, "clip", path)
    check_keys(clip, ("frames", "height", "width"), where=f"{path}: clip")
    arch = _section(raw, "model", path)
    check_keys(arch, LocalArch.__dataclass_fields__.keys(), where=f"{path}: model")
    aug = _section(raw, "augment", path)
    check_keys(aug, _SHARED_AUG + _LOCAL_AUG, where=f"{path}: augment")
    budget = _section(raw, "budget", path)
    check_keys(budget, ("preset", "file", "enforce"), where=f"{path}: budget")
    ev = _section(raw, "eval", path)
    check_keys(ev, ("batch_size",), where=f"{path}: eval")
    cfg = LocalTrainConfig(
        name=str(raw.get("name", path.stem)), seed=int(raw.get("seed", 0)),
        frames=int(clip.get("frames", 16)), height=int(clip.get("height", 64)), width=int(clip.get("width", 64)),
        arch=arch,
        data=_build(DataConfig, _section(raw, "data", path), f"{path}: data"),
        train=_build(LocalTrainSettings, _section(raw, "train", path), f"{path}: train"),
        augment=_build(AugmentConfig, {k: v for k, v in aug.items() if k in _SHARED_AUG}, f"{path}: augment"),
        local_augment=_build(LocalAugment, {k: v for k, v in aug.items() if k in _LOCAL_AUG}, f"{path}: augment"),
        budget_preset=str(budget.get("preset", "pi4-1core" if mode == "local" else "") or ""),
        budgets_file=str(budget.get("file", "config/camera_budgets.yaml")),
        enforce_budget=bool(budget.get("enforce", True)),
        eval_batch_size=int(ev.get("batch_size", 32)),
        device=str(raw.get("device", "auto")), threads=int(raw.get("threads", 1)),
        export=str(raw.get("export", "") or ""), source=str(path), role=ROLES[mode],
        init=str(raw.get("init", "") or ""), ensemble=int(raw.get("ensemble", 1)),
    )
    cfg.train.validate(str(path))
    if cfg.ensemble < 1:
        raise LocalTrainError(f"{path}: ensemble must be >= 1 (networks trained from seeds seed, seed+1, ...), got {cfg.ensemble}")
    try:
        LocalArch(**arch).validate()
    except (TypeError, ValueError) as exc:
        raise LocalTrainError(f"{path}: model: {exc}") from exc
    if cfg.frames < 2 or cfg.height < 8 or cfg.width < 8:
        raise LocalTrainError(f"{path}: clip must be at least 2x8x8, got {cfg.frames}x{cfg.height}x{cfg.width}")
    return cfg


@dataclass
class LocalTrainResult:
    out_dir: Path
    model_path: Path
    history: list[dict[str, Any]] = field(default_factory=list)
    final: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0


def _param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim <= 1 or name.endswith(".bias") else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


@torch.no_grad()
def _ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    for e, m in zip(ema.state_dict().values(), model.state_dict().values()):
        if e.is_floating_point():
            e.lerp_(m, 1.0 - decay)
        else:
            e.copy_(m)


@torch.no_grad()
def evaluate_local(model: torch.nn.Module, clips_u8: torch.Tensor, labels: torch.Tensor, batch_size: int = 32,
                   device: torch.device | str = "cpu") -> dict[str, float]:
    """Accuracy and mean cross-entropy of ``model`` on uint8 B,T,H,W,C clips."""
    from stae_ros.training.loop import to_float_clips

    model.eval()
    correct, loss_sum = 0, 0.0
    for start in range(0, len(labels), batch_size):
        x = to_float_clips(clips_u8[start : start + batch_size], device)
        y = labels[start : start + batch_size].to(device)
        logits = model(x)
        loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
        correct += int((logits.argmax(1) == y).sum())
    n = max(len(labels), 1)
    return {"test_acc": correct / n, "test_loss": loss_sum / n}


@torch.no_grad()
def time_local_ms(model: torch.nn.Module, frames: int, height: int, width: int, repeats: int = 7) -> float:
    """ms per clip on ONE CPU thread of this host (batch 1, minimum of ``repeats`` runs after a warm-up)."""
    model = copy.deepcopy(model).cpu().eval()
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        x = torch.rand(1, 3, frames, height, width)
        model(x)
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            model(x)
            best = min(best, time.perf_counter() - t0)
        return best * 1000.0
    finally:
        torch.set_num_threads(old)


def _check_budget(cfg: LocalTrainConfig, gflop: float) -> dict[str, Any]:
    if not cfg.budget_preset:
        return {}
    from stae_ros.profiling.budgets import camera_budget

    budget = camera_budget(cfg.budget_preset, cfg.budgets_file)
    info = {"preset": budget.name, "budget_gflop_per_clip": budget.budget_gflop_per_clip, "fits": budget.fits(gflop),
            "estimated_ms_on_target": round(budget.ms_per_clip(gflop), 2)}
    if not budget.fits(gflop) and cfg.enforce_budget:
        raise LocalTrainError(f"the local model costs {gflop:.3f} GFLOP per {cfg.frames}x{cfg.height}x{cfg.width} clip, "
                              f"over the {budget.name} budget of {budget.budget_gflop_per_clip} GFLOP (budget.enforce: false to train anyway)")
    return info


_OVERRIDES = ("test_fold", "export", "device", "threads", "init")


def apply_overrides(cfg: LocalTrainConfig, overrides: dict[str, Any] | None) -> LocalTrainConfig:
    """A copy of ``cfg`` with the command line's values (`stae train --fold/--export/--device/--threads/--init`).

    ``test_fold`` sets ``data.split: folds`` too (one fold of a cross-validation); ``export: None`` (a
    fold model is one of k) clears the export. Other keys are refused with a one-line error.
    """
    cfg = copy.deepcopy(cfg)
    for key, value in (overrides or {}).items():
        if key not in _OVERRIDES:
            raise LocalTrainError(f"{cfg.source}: option {key!r} does not apply to {cfg.role} training "
                                  f"(it takes {', '.join(_OVERRIDES)})")
        if key == "test_fold":
            cfg.data.split, cfg.data.test_fold = "folds", int(value)
            cfg.name = f"{cfg.name}_fold{int(value)}"
        elif key == "export":
            cfg.export = str(value or "")
        elif key == "device":
            cfg.device = str(value)
        elif key == "threads":
            cfg.threads = int(value)
        elif key == "init":
            cfg.init = str(value or "")
    if cfg.export:  # written at the end of the run: a bad target is refused before it starts
        check_output_file(cfg.export, "export")
    return cfg


def load_init_state(model: torch.nn.Module, path: str | Path) -> dict[str, int]:
    """Copy the tensors of ``path`` (a local/edge model file, or a run's last.pt: its EMA weights when it
    has them) whose name and shape match into ``model``; {"copied": n, "skipped": m}.

    Why shape-matched: pretraining on another set (e.g. the hard procedural set, 25 classes) then
    fine-tuning on real footage (10 classes) keeps every layer but the head.
    """
    path = Path(path)
    blob = read_torch_file(path, LocalTrainError, "init weights file")
    state = None
    if isinstance(blob, dict):
        state = blob.get("state_dict") or blob.get("ema") or blob.get("model")
    if not isinstance(state, dict):
        raise LocalTrainError(f"init: {path} holds no state_dict / ema / model weights")
    own = model.state_dict()
    copied, skipped = 0, 0
    with torch.no_grad():
        for name, tensor in own.items():
            src = state.get(name)
            if isinstance(src, torch.Tensor) and src.shape == tensor.shape:
                tensor.copy_(src)
                copied += 1
            else:
                skipped += 1
    if copied == 0:
        raise LocalTrainError(f"init: no tensor of {path} matches the model (another architecture?)")
    return {"copied": copied, "skipped": skipped}


def _write_metrics(out_dir: Path, payload: dict[str, Any]) -> None:
    tmp = out_dir / "metrics.json.tmp"
    tmp.write_text(json.dumps(payload, indent=2) + "\n")
    tmp.replace(out_dir / "metrics.json")


def train_local(config: str | Path | dict[str, Any] | LocalTrainConfig, out_dir: str | Path, resume: bool = False,
                progress: bool = True, *, stop_after_steps: int = 0,
                overrides: dict[str, Any] | None = None) -> LocalTrainResult:
    """Train the local (or edge) classifier into ``out_dir`` (last.pt every epoch, model.pt, metrics.json).

    ``overrides``: the command line's options (:func:`apply_overrides`), e.g. ``{"test_fold": 1}``.

    ``resume``: continue after the last finished epoch of ``out_dir/last.pt`` (the batches drawn are
    those of an uninterrupted run). ``stop_after_steps``: stop after that many optimiser steps in
    this call, saving last.pt (tests).
    """
    from tqdm import tqdm

    from stae_ros.profiling.flops import clip_flops
    from stae_ros.training.augment import augment_batch
    from stae_ros.training.loop import (_epoch_batches, _epoch_generator, _lr_at, _open_stream, prepare_data,
                                        resolve_device, to_float_clips)

    t_start = time.perf_counter()
    cfg = config if isinstance(config, LocalTrainConfig) else load_local_config(config)
    cfg = apply_overrides(cfg, overrides)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    if cfg.ensemble > 1:
        from .ensemble import train_ensemble

        return train_ensemble(cfg, out_dir, resume, progress)
    dev = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed % (2**32))
    t, h, w = cfg.frames, cfg.height, cfg.width
    shared = cfg.shared()
    train_arr, test_arr = prepare_data(shared, t, (h, w))
    class_names = [str(c) for c in train_arr.class_names]
    model = LocalClassifier(len(class_names), t, h, w, **cfg.arch)
    arch = model.arch.to_dict()
    gflop = clip_flops(model, t, h, w).per_clip(1)
    budget_info = _check_budget(cfg, gflop)
    params = sum(p.numel() for p in model.parameters())
    log.info("%s classifier: %d parameters, %.4f GFLOP per %dx%dx%d clip, budget %s", cfg.role, params, gflop, t, h, w,
             budget_info or "none")
    init_info: dict[str, Any] = {}
    if cfg.init and not resume:
        init_info = {"from": cfg.init, **load_init_state(model, cfg.init)}
        log.info("initialised from %s: %d tensors copied, %d left fresh", cfg.init, init_info["copied"], init_info["skipped"])
    model.to(dev)
    ema = copy.deepcopy(model).eval() if cfg.train.ema_decay > 0 else None
    opt = torch.optim.AdamW(_param_groups(model, cfg.train.weight_decay), lr=cfg.train.lr)

    train_x = torch.from_numpy(np.ascontiguousarray(train_arr.clips))
    train_y = torch.as_tensor(train_arr.labels, dtype=torch.long)
    test_x = torch.from_numpy(np.ascontiguousarray(test_arr.clips))
    test_y = torch.as_tensor(test_arr.labels, dtype=torch.long)
    n = len(train_y)
    steps = cfg.train.steps_per_epoch or math.ceil(n / cfg.train.batch_size)
    if cfg.data.stream and cfg.train.steps_per_epoch <= 0:
        raise LocalTrainError("data.stream needs train.steps_per_epoch > 0 (a stream has no epoch length)")
    if not cfg.data.stream:
        steps = min(steps, math.ceil(n / cfg.train.batch_size))
    total = steps * cfg.train.epochs
    log.info("train %d clips, test %d clips, %d classes, %d steps/epoch, device %s", n, len(test_y), len(class_names), steps, dev)

    history: list[dict[str, Any]] = []
    start_epoch, global_step = 0, 0
    last_path = out_dir / "last.pt"
    if resume:
        if not last_path.is_file():
            raise LocalTrainError(f"resume asked but {last_path} does not exist")
        blob = read_torch_file(last_path, LocalTrainError, "run checkpoint")
        try:
            model.load_state_dict(blob["model"])
            if ema is not None and blob.get("ema") is not None:
                ema.load_state_dict(blob["ema"])
            opt.load_state_dict(blob["optimizer"])
            history = list(blob["history"])
            start_epoch, global_step = int(blob["epoch"]) + 1, int(blob["step"])
        except Exception as exc:  # noqa: BLE001 - a foreign or damaged run checkpoint fails in many ways
            raise LocalModelError(f"{last_path}: cannot resume from it ({exc_line(exc)})") from exc
        if blob.get("class_names") != class_names:
            raise LocalTrainError(f"{last_path} was trained on classes {blob.get('class_names')}, the data has {class_names}")
        log.info("resuming after epoch %d (step %d)", start_epoch, global_step)

    base = {"config": cfg.to_dict(), "class_names": class_names, "gflop_per_clip": gflop, "params": params,
            "budget": budget_info, "train_clips": n, "test_clips": len(test_y), "role": cfg.role, "init": init_info}
    steps_this_call, stopped = 0, False
    with _open_stream(shared, t, (h, w), class_names) as stream:
        for epoch in range(start_epoch, cfg.train.epochs):
            gen = _epoch_generator(cfg.seed, 0, epoch)
            perm = torch.randperm(n, generator=gen)
            model.train()
            t_epoch = time.perf_counter()
            loss_sum, correct, seen = 0.0, 0, 0
            bar = tqdm(_epoch_batches(shared, stream, cfg.train.batch_size, perm, train_x, train_y, 0, epoch, steps),
                       total=steps, desc=f"{cfg.role} {epoch + 1}/{cfg.train.epochs}", disable=not progress, leave=False)
            for step, (xb, yb) in enumerate(bar):
                if len(yb) == 0:
                    break
                x = augment_local(to_float_clips(xb), cfg.local_augment, gen)
                x = augment_batch(x, cfg.augment, gen).to(dev)
                y = yb.to(dev)
                lr = _lr_at(epoch * steps + step, total, cfg.train.lr, cfg.train.warmup_steps)
                for group in opt.param_groups:
                    group["lr"] = lr
                logits = model(x)
                loss = F.cross_entropy(logits, y, label_smoothing=cfg.train.label_smoothing)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.train.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.train.grad_clip)
                opt.step()
                if ema is not None:
                    # a short warm-up of the average: early steps would otherwise drag random weights along
                    _ema_update(ema, model, min(cfg.train.ema_decay, (1 + global_step) / (10 + global_step)))
                global_step += 1
                steps_this_call += 1
                loss_sum += float(loss.detach()) * len(y)
                correct += int((logits.argmax(1) == y).sum())
                seen += len(y)
                bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.2f}", lr=f"{lr:.1e}")
                if stop_after_steps and steps_this_call >= stop_after_steps:
                    stopped = True
                    break
            bar.close()
            eval_model = ema if ema is not None else model
            row: dict[str, Any] = {"epoch": epoch, "step": global_step, "train_loss": loss_sum / max(seen, 1),
                                   "train_acc": correct / max(seen, 1), "lr": opt.param_groups[0]["lr"],
                                   "epoch_s": round(time.perf_counter() - t_epoch, 2)}
            row.update(evaluate_local(eval_model, test_x, test_y, cfg.eval_batch_size, dev))
            history.append(row)
            log.info("%s", " ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
            state = {"model": model.state_dict(), "ema": ema.state_dict() if ema is not None else None,
                     "optimizer": opt.state_dict(), "epoch": epoch, "step": global_step, "history": history,
                     "class_names": class_names, "partial": stopped}
            torch.save(state, out_dir / "last.pt.tmp")
            (out_dir / "last.pt.tmp").replace(last_path)
            _write_metrics(out_dir, {**base, "history": history})
            if stopped:
                break

    eval_model = (ema if ema is not None else model).cpu().eval()
    final = dict(history[-1]) if history else {}
    final["ms_per_clip_1thread"] = round(time_local_ms(eval_model, t, h, w), 3)
    final["gflop_per_clip"] = gflop
    final["accuracy"] = final.get("test_acc")  # the key `stae train --fold` pools
    final["test_clips"] = len(test_y)
    model_path = save_local_model(out_dir / "model.pt", eval_model, class_names, (t, h, w, 3), arch,
                                  extra={"name": cfg.name, "role": cfg.role, "gflop_per_clip": gflop, "params": params, "budget": budget_info,
                                         "test_acc": final.get("test_acc"), "epochs": len(history), "data_root": cfg.data.root})
    final["model_id"] = model_file_id(model_path)
    wall = time.perf_counter() - t_start
    if not stopped:
        export_copy(model_path, cfg.export)
    _write_metrics(out_dir, {**base, "history": history, "final": final, "wall_s": round(wall, 1), "device": str(dev),
                             "threads": torch.get_num_threads()})
    return LocalTrainResult(out_dir=out_dir, model_path=model_path, history=history, final=final, wall_s=wall)
