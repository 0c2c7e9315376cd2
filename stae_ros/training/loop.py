"""Run the step-by-step schedule: data, per-stage optimisers, evaluation, checkpoints, metrics.

Resumable: after every epoch ``<out>/last.pt`` holds the weights, the optimiser and where the
schedule stands (stage, epoch, step); ``--resume`` continues from the epoch after it. Every
epoch's random stream is derived from (seed, stage, epoch), so a resumed run draws the same
batches as an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ..errtext import exc_line
from ..torchfile import read_torch_file
from .augment import augment_batch
from .checkpoints import load_checkpoint_dict, load_init_weights, save_checkpoint
from .config import STAGES, TrainConfig
from .errors import TrainingError
from .payload_config import export_copy
from .stages import predict, sample_budget, stage_loss

__all__ = ["TrainResult", "resolve_device", "prepare_data", "build_model_config", "train", "evaluate_accuracy", "to_float_clips", "budget_key"]

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    out_dir: Path
    model_path: Path
    history: list[dict[str, Any]] = field(default_factory=list)
    final: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0


def resolve_device(name: str | None) -> torch.device:
    """``auto`` -> CUDA when present, else CPU; ``cuda`` without CUDA is an error."""
    name = (name or "auto").lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise TrainingError("device 'cuda' requested but torch.cuda.is_available() is False")
    return torch.device(name)


def budget_key(k: int, p: float) -> str:
    return f"acc_k{k}_p{p:g}"


def to_float_clips(clips_u8: np.ndarray | torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 ``B,T,H,W,C`` -> float32 ``B,C,T,H,W`` in [0,1] on ``device``."""
    t = torch.as_tensor(clips_u8).to(device)
    return t.permute(0, 4, 1, 2, 3).float().div_(255.0)


def prepare_data(cfg: TrainConfig, clip_len: int, size: tuple[int, int]) -> tuple[Any, Any]:
    """Load (generating first, if configured and missing) the train and test splits as arrays."""
    from stae_ros.data.arrays import load_split_arrays

    root = Path(cfg.data.root)
    if cfg.data.render_in_memory:
        if cfg.data.generate is None:
            raise TrainingError("data.render_in_memory needs a data.generate section")
        train, test = render_synthetic_splits(cfg.data.generate, clip_len, size)
        return _limit(train, cfg.data.train_limit, cfg.seed), _limit(test, cfg.data.test_limit, cfg.seed + 1)
    if not root.exists():
        if cfg.data.generate is None:
            raise TrainingError(f"data root {root} does not exist and the config has no data.generate section")
        from stae_ros.data.synthetic import generate_dataset

        log.info("data root %s missing: generating the synthetic set with %s", root, cfg.data.generate)
        generate_dataset(root, **cfg.data.generate)
    split = {"split_spec": cfg.data.split_spec(), "short_clip": cfg.data.short_clip}
    train = load_split_arrays(root, "train", clip_len, size, cache=cfg.data.cache, **split)
    test = load_split_arrays(root, "test", clip_len, size, cache=cfg.data.cache, **split)
    if len(train.labels) == 0 or len(test.labels) == 0:
        raise TrainingError(f"data root {root} has an empty train or test split")
    if list(train.class_names) != list(test.class_names):
        raise TrainingError(f"train and test splits of {root} disagree on the class list")
    return _limit(train, cfg.data.train_limit, cfg.seed), _limit(test, cfg.data.test_limit, cfg.seed + 1)


def _render_one(job: tuple[int, int, int, int, int], distractors: str = "muted") -> tuple[Any, Any, Any]:
    from stae_ros.data.synthetic import render_clip

    cid, seed, frames, height, width = job
    clip = render_clip(cid, seed, frames, height, width, distractors)
    return clip.frames, clip.boxes, clip.region


def render_synthetic_splits(generate: dict[str, Any], clip_len: int, size: tuple[int, int]) -> tuple[Any, Any]:
    """The synthetic train/test splits rendered in memory with the seeds `generate_dataset` uses."""
    import multiprocessing as mp
    import os

    from stae_ros.data.arrays import ClipArrays
    from stae_ros.data.synthetic import CLASS_NAMES, clip_seed

    seed = int(generate.get("seed", 0))
    n_train, n_test = int(generate.get("train_per_class", 200)), int(generate.get("test_per_class", 50))
    frames, height, width = int(generate.get("frames", 16)), int(generate.get("height", 64)), int(generate.get("width", 64))
    if (frames, height, width) != (clip_len, size[0], size[1]):
        raise TrainingError(f"data.generate renders {frames}x{height}x{width} clips but the model wants {clip_len}x{size[0]}x{size[1]}")
    jobs = [(cid, clip_seed(seed, cid, idx), frames, height, width, idx, name)
            for cid, name in enumerate(CLASS_NAMES) for idx in range(n_train + n_test)]
    render = functools.partial(_render_one, distractors=str(generate.get("distractors", "muted")))
    workers = max(1, min(len(os.sched_getaffinity(0)), 32))
    with mp.get_context("fork").Pool(workers) as pool:
        rendered = pool.map(render, [j[:5] for j in jobs], chunksize=8)
    out = []
    for is_train in (True, False):
        sel = [i for i, j in enumerate(jobs) if (j[5] < n_train) == is_train]
        out.append(ClipArrays(
            clips=np.stack([rendered[i][0] for i in sel]), labels=np.array([jobs[i][0] for i in sel], dtype=np.int64),
            class_names=list(CLASS_NAMES), names=[f"{jobs[i][6]}/{jobs[i][6]}_{jobs[i][5]:04d}.avi" for i in sel],
            boxes=np.stack([np.asarray(rendered[i][1], dtype=np.int32) for i in sel]),
            regions=np.stack([np.asarray(rendered[i][2], dtype=np.int32) for i in sel])))
    log.info("rendered %d train + %d test synthetic clips in memory", len(out[0].labels), len(out[1].labels))
    return out[0], out[1]


def _limit(arrays: Any, limit: int, seed: int) -> Any:
    """Keep a seeded, class-balanced-ish subset of at most ``limit`` clips (tests, quick runs)."""
    n = len(arrays.labels)
    if not limit or limit >= n:
        return arrays
    idx = np.sort(np.random.default_rng(seed).permutation(n)[:limit])
    import dataclasses

    names = [arrays.names[i] for i in idx] if getattr(arrays, "names", None) is not None else None
    return dataclasses.replace(arrays, clips=arrays.clips[idx], labels=arrays.labels[idx], names=names)


def _stored_seeds(cfg: TrainConfig) -> frozenset[int]:
    """Seeds of every stored synthetic clip, so a stream never renders a test clip.

    From the data set's annotations when it is on disk, else from the ``data.generate`` recipe
    that renders it (``render_in_memory``)."""
    ann = Path(cfg.data.root) / "annotations.json"
    if ann.is_file():
        clips = json.loads(ann.read_text()).get("clips", {}).values()
        return frozenset(int(c["seed"]) & 0xFFFFFFFF for c in clips if "seed" in c)
    gen = cfg.data.generate or {}
    from stae_ros.data.synthetic import CLASS_NAMES, clip_seed

    per_class = int(gen.get("train_per_class", 200)) + int(gen.get("test_per_class", 50))
    return frozenset(clip_seed(int(gen.get("seed", 0)), cid, idx) & 0xFFFFFFFF
                     for cid in range(len(CLASS_NAMES)) for idx in range(per_class))


def stream_class_weights(cfg: TrainConfig, class_names: list[str]) -> tuple[float, ...]:
    """Per-class-id stream weights from ``data.stream_class_weights`` (empty when not set)."""
    named = cfg.data.stream_class_weights or {}
    if not named:
        return ()
    unknown = sorted(set(named) - set(class_names))
    if unknown:
        raise TrainingError(f"data.stream_class_weights names unknown classes {unknown}; classes: {class_names}")
    if not cfg.data.stream:
        raise TrainingError("data.stream_class_weights needs data.stream: true (it weights the rendered classes)")
    return tuple(float(named.get(name, 1.0)) for name in class_names)


def _open_stream(cfg: TrainConfig, t: int, size: tuple[int, int], class_names: list[str]) -> Any:
    """A context manager giving the ``data.stream`` batch renderer, or None when not streaming."""
    if not cfg.data.stream:
        return contextlib.nullcontext(None)
    from stae_ros.data.stream import StreamSpec, SyntheticBatchStream
    from stae_ros.data.synthetic import CLASS_NAMES

    if class_names != list(CLASS_NAMES)[: len(class_names)]:
        raise TrainingError("data.stream renders the synthetic classes, but the data set's classes are "
                            f"{class_names[:4]}...: streaming works only with the synthetic set")
    batch = max(st.batch_size for st in cfg.stages.values())
    spec = StreamSpec(batch_size=batch, frames=t, height=size[0], width=size[1], num_classes=len(class_names),
                      seed=cfg.seed, excluded_seeds=_stored_seeds(cfg), class_weights=stream_class_weights(cfg, class_names),
                      distractors=str((cfg.data.generate or {}).get("distractors", "muted")))
    log.info("data.stream: fresh clips every batch (%d render worker(s), %d stored seeds excluded)",
             cfg.data.stream_workers, len(spec.excluded_seeds))
    return SyntheticBatchStream(spec, workers=cfg.data.stream_workers)


def _epoch_batches(cfg: TrainConfig, stream: Any, batch_size: int, perm: torch.Tensor, train_x: torch.Tensor,
                   train_y: torch.Tensor, stage_index: int, epoch: int, steps: int):
    """(uint8 clips, labels) of each step of one epoch: from the stored split or the stream."""
    if stream is None:
        for step in range(steps):
            idx = perm[step * batch_size : (step + 1) * batch_size]
            yield train_x[idx], train_y[idx]
        return
    for clips, labels in stream.batches((stage_index, epoch, step) for step in range(steps)):
        yield torch.from_numpy(clips[:batch_size]), torch.from_numpy(labels[:batch_size])


def build_model_config(cfg: TrainConfig, num_classes: int) -> Any:
    from stae_ros.models import ModelConfig

    model_dict = dict(cfg.model)
    model_dict["vit"] = dict(model_dict.get("vit", {}), num_classes=int(num_classes))
    return ModelConfig.from_dict(model_dict)


@torch.no_grad()
def evaluate_accuracy(model: torch.nn.Module, stage: str, clips_u8: torch.Tensor, labels: torch.Tensor,
                      budgets: list[tuple[int, float]], batch_size: int, device: torch.device) -> dict[str, float]:
    """Accuracy of the hard inference path of ``stage`` at each budget on the given split."""
    model.eval()
    correct = {b: 0 for b in budgets}
    for start in range(0, len(labels), batch_size):
        x = to_float_clips(clips_u8[start : start + batch_size], device)
        y = labels[start : start + batch_size].to(device)
        for k, p in budgets:
            correct[(k, p)] += int((predict(model, stage, x, k, p).argmax(1) == y).sum())
    n = max(len(labels), 1)
    return {budget_key(k, p): correct[(k, p)] / n for k, p in budgets}


def _stage_budgets(stage: str, cfg: TrainConfig, t: int) -> list[tuple[int, float]]:
    full = (t, 1.0)
    if stage == "classifier":
        return [full]
    budgets = [full] + [b for b in cfg.eval_budgets if b != full]
    if stage == "fa":
        budgets = sorted({(k, 1.0) for k, _ in budgets}, reverse=True)
    return budgets


def _set_train_mode(model: torch.nn.Module) -> None:
    """Train mode only for parts that learn: frozen parts keep eval (no dropout/BN drift)."""
    model.train()
    for module in model.children():
        if not any(p.requires_grad for p in module.parameters()):
            module.eval()


def _lr_at(step: int, total: int, base: float, warmup: int) -> float:
    warm = min(1.0, (step + 1) / warmup) if warmup > 0 else 1.0
    return base * warm * 0.5 * (1.0 + math.cos(math.pi * min(step, total) / max(total, 1)))


def _epoch_generator(seed: int, stage_index: int, epoch: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed) * 1_000_003 + stage_index * 10_007 + epoch)


def _write_metrics(out_dir: Path, history: list[dict[str, Any]], extra: dict[str, Any]) -> None:
    keys: list[str] = []
    for row in history:
        keys += [k for k in row if k not in keys]
    with open(out_dir / "metrics.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys)
        writer.writeheader()
        writer.writerows(history)
    (out_dir / "metrics.json").write_text(json.dumps({"history": history, **extra}, indent=2) + "\n")


def train(cfg: TrainConfig, out_dir: str | Path, resume: bool = False, stages: list[str] | None = None,
          device: str | None = None, init: str | Path | None = None, init_skip: list[str] | None = None,
          progress: bool = True,
          stop_after_steps: int = 0, on_epoch: Callable[[dict[str, Any]], None] | None = None) -> TrainResult:
    """Run the configured stages into ``out_dir``; returns where the final model went.

    ``stages``: subset of STAGES to run (schedule order kept). ``init``: start from this
    checkpoint's weights (e.g. to run ``fa`` after a separate ``classifier`` run), except the
    modules named in ``init_skip`` (``fa``, ``sa``, ``fr``, ``vit``), which start fresh.
    ``stop_after_steps``: stop (after saving) once this many optimiser steps ran in this call (tests).
    """
    from tqdm import tqdm

    from stae_ros.models import STAE

    t_start = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    dev = resolve_device(device or cfg.device)
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed % (2**32))
    run_stages = list(stages) if stages else list(STAGES)

    clip = cfg.model.get("clip", {})
    t, h, w = int(clip.get("frames", 16)), int(clip.get("height", 64)), int(clip.get("width", 64))
    train_arr, test_arr = prepare_data(cfg, t, (h, w))
    class_names = list(train_arr.class_names)
    model_cfg = build_model_config(cfg, len(class_names))
    model = STAE(model_cfg).to(dev)
    frames_set = [int(k) for k in model_cfg.budgets.frame]
    spatial_set = [float(p) for p in model_cfg.budgets.spatial]

    train_x = torch.from_numpy(np.ascontiguousarray(train_arr.clips))
    train_y = torch.as_tensor(train_arr.labels, dtype=torch.long)
    test_x = torch.from_numpy(np.ascontiguousarray(test_arr.clips))
    test_y = torch.as_tensor(test_arr.labels, dtype=torch.long)
    log.info("train %d clips, test %d clips, %d classes, device %s", len(train_y), len(test_y), len(class_names), dev)

    history: list[dict[str, Any]] = []
    start_stage, start_epoch, global_step = 0, 0, 0
    resume_blob: dict[str, Any] | None = None
    last_path = out_dir / "last.pt"
    if resume:
        if not last_path.is_file():
            raise TrainingError(f"--resume given but {last_path} does not exist")
        resume_blob = load_checkpoint_dict(last_path)
        state = resume_blob.get("train_state") or {}
        try:
            model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in resume_blob["state_dict"].items()})
        except (RuntimeError, KeyError, AttributeError) as exc:  # another model's run folder, or a damaged file
            raise TrainingError(f"--resume: {last_path} does not fit this config's model: {exc_line(exc)}") from exc
        history = list(state.get("history", []))
        start_stage = STAGES.index(state["stage"])
        start_epoch = int(state["epoch"]) + 1
        global_step = int(state.get("step", 0))
        log.info("resuming after stage %s epoch %d (step %d)", state["stage"], start_epoch, global_step)
    elif init:
        blob = load_checkpoint_dict(init)
        skip = list(init_skip or [])
        parts = [name for name, _ in model.named_children()]
        bad = [m for m in skip if m not in parts]
        if bad:
            raise TrainingError(f"init_skip names unknown modules {bad}; expected some of {', '.join(parts)}")
        state = {k: v for k, v in blob["state_dict"].items() if k.split(".", 1)[0] not in skip}
        load_init_weights(model, state, source=str(init))
        log.info("initialised weights from %s (stage %s)", init, blob["stage"])
    elif cfg.pretrained:
        path = Path(cfg.pretrained)
        if not path.is_file():
            raise TrainingError(f"pretrained ViT weights not found: {path} (nothing is downloaded; point 'pretrained' at a local file)")
        blob = read_torch_file(path, TrainingError, "pretrained ViT weights file")
        if isinstance(blob, dict) and "state_dict" in blob and isinstance(blob["state_dict"], dict):
            blob = blob["state_dict"]
        elif isinstance(blob, dict) and "model" in blob and isinstance(blob["model"], dict):
            blob = blob["model"]
        report = model.vit.load_pretrained(blob)
        log.info("loaded pretrained ViT weights from %s: %s", path, report)
    elif run_stages[0] != "classifier":
        log.warning("running %s without --init/--resume: earlier stages start from random weights", run_stages)

    weights = stream_class_weights(cfg, class_names)
    logit_bias = torch.log(torch.tensor(weights, dtype=torch.float32)).to(dev) if weights else None
    with _open_stream(cfg, t, (h, w), class_names) as stream:
        steps_this_call = 0
        stopped = False
        for si, stage in enumerate(STAGES):
            if stage not in run_stages or si < start_stage:
                continue
            scfg = cfg.stages[stage]
            first_epoch = start_epoch if si == start_stage else 0
            model.freeze(stage)
            for pname, param in model.named_parameters():
                if any(pname.startswith(prefix) for prefix in scfg.also_freeze):
                    param.requires_grad_(False)
            params = [p for p in model.parameters() if p.requires_grad]
            if not params:
                raise TrainingError(f"stage {stage}: model.freeze left no trainable parameters")
            opt = torch.optim.AdamW(params, lr=scfg.lr, weight_decay=scfg.weight_decay)
            if resume_blob is not None and si == start_stage and first_epoch > 0 and "optimizer" in resume_blob:
                opt.load_state_dict(resume_blob["optimizer"])
            n = len(train_y)
            steps_per_epoch = math.ceil(n / scfg.batch_size)
            if scfg.max_steps_per_epoch > 0:
                steps_per_epoch = min(steps_per_epoch, scfg.max_steps_per_epoch)
            if cfg.data.stream:
                if scfg.max_steps_per_epoch <= 0:
                    raise TrainingError(f"data.stream needs stages.{stage}.max_steps_per_epoch > 0 (a stream has no epoch length)")
                steps_per_epoch = scfg.max_steps_per_epoch
            total = steps_per_epoch * scfg.epochs
            budgets_eval = _stage_budgets(stage, cfg, t)
            for epoch in range(first_epoch, scfg.epochs):
                gen = _epoch_generator(cfg.seed, si, epoch)
                perm = torch.randperm(n, generator=gen)
                _set_train_mode(model)
                t_epoch = time.perf_counter()
                loss_sum, correct, seen = 0.0, 0, 0
                bar = tqdm(_epoch_batches(cfg, stream, scfg.batch_size, perm, train_x, train_y, si, epoch, steps_per_epoch),
                           total=steps_per_epoch, desc=f"{stage} {epoch + 1}/{scfg.epochs}", disable=not progress, leave=False)
                for step, (xb, yb) in enumerate(bar):
                    if len(yb) == 0:
                        break
                    x = augment_batch(to_float_clips(xb), cfg.augment, gen).to(dev)
                    y = yb.to(dev)
                    budget = sample_budget(stage, frames_set, spatial_set, t, scfg, gen)
                    for group in opt.param_groups:
                        group["lr"] = _lr_at(epoch * steps_per_epoch + step, total, scfg.lr, scfg.warmup_steps)
                    loss, logits = stage_loss(model, stage, x, y, budget, scfg, logit_bias)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    if scfg.grad_clip > 0:
                        torch.nn.utils.clip_grad_norm_(params, scfg.grad_clip)
                    opt.step()
                    global_step += 1
                    steps_this_call += 1
                    loss_sum += loss.item() * len(y)
                    correct += int((logits.argmax(1) == y).sum())
                    seen += len(y)
                    bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.2f}", k=budget.k, p=budget.p)
                    if stop_after_steps and steps_this_call >= stop_after_steps:
                        stopped = True
                        break
                bar.close()
                row: dict[str, Any] = {
                    "stage": stage, "epoch": epoch, "step": global_step,
                    "train_loss": loss_sum / max(seen, 1), "train_acc": correct / max(seen, 1),
                    "lr": opt.param_groups[0]["lr"], "epoch_s": round(time.perf_counter() - t_epoch, 2),
                }
                if not stopped and (cfg.eval_each_epoch or epoch == scfg.epochs - 1):
                    row.update(evaluate_accuracy(model, stage, test_x, test_y, budgets_eval, cfg.eval_batch_size, dev))
                history.append(row)
                log.info("%s", " ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
                train_state = {"stage": stage, "epoch": epoch, "step": global_step, "history": history, "partial": stopped}
                save_checkpoint(last_path, model, model_cfg, class_names, stage, row, optimizer=opt, train_state=train_state, half=False)
                _write_metrics(out_dir, history, {"config": cfg.to_dict(), "class_names": class_names})
                if on_epoch is not None:
                    on_epoch(row)
                if stopped:
                    break
            if stopped:
                break
            save_checkpoint(out_dir / f"stage_{stage}.pt", model, model_cfg, class_names, stage, history[-1] if history else {}, half=cfg.half)

        final = history[-1] if history else {}
        last_stage = final.get("stage", run_stages[-1])
        model_path = out_dir / "model.pt"
        save_checkpoint(model_path, model, model_cfg, class_names, last_stage, final, half=cfg.half)
        wall = time.perf_counter() - t_start
        if not stopped:
            export_copy(model_path, cfg.export)
        _write_metrics(out_dir, history, {"config": cfg.to_dict(), "class_names": class_names, "wall_s": round(wall, 1),
                                          "device": str(dev), "threads": torch.get_num_threads()})
        return TrainResult(out_dir=out_dir, model_path=model_path, history=history, final=final, wall_s=wall)
