"""`stae train` mode ``stae-latent``: split computing trained against the edge model.

The camera runs the latent model's small bottleneck encoder (its cost is the camera's whole
job) and the range coder; the edge decodes the latent and runs the head. With ``teacher:`` (a
trained STAE checkpoint) the head is a transformer of the edge ViT's sizes, started from the
ViT's blocks, and the pair is trained by distillation from the ViT on the same clips:

    loss = distill * T^2 * KL(teacher(x)/T || student(x)/T) + (1 - distill) * CE + lambda * bits

so the payload's accuracy follows the edge model rather than what a small head could learn;
``lambda`` weighs the estimated bits per clip of the entropy model (`FactorizedLogistic`)
against it. Without a teacher it is the plain rate-accuracy training (CE + lambda * bits).

After training, the coding tables are refitted to the symbols the encoder emits, every test clip
goes through the real range coder (bytes are the actual payload lengths), and the model file
(`stae-latent-model/1`, what `load_latent_codec` and the camera/edge nodes load) is written.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from .errors import TrainingError
from .payload_config import apply_overrides, clip_shape, export_copy, load_payload_config, section, start_run
from .steps import RunState, cosine_lr, load_run, optimizer_step, restore, run_phase, save_run, write_metrics

__all__ = ["MODE", "LatentTrainSettings", "train_latent_mode", "build_latent_config"]

log = logging.getLogger(__name__)

MODE = "stae-latent"
OWN_KEYS = ("model", "train")


@dataclass
class LatentTrainSettings:
    """The ``train:`` section of a stae-latent config."""

    steps: int = 2000
    batch: int = 16
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    prior_lr_scale: float = 25.0  #: the prior's per-channel parameters learn this much faster (see latent.train)
    lam: float = 1e-4  #: YAML ``lambda``: weight of the estimated bits per clip
    lambda_warmup_steps: int = 0  #: ramp lambda from 0 over these steps (the encoder first learns what matters)
    distill: float = 0.7  #: weight of the teacher's KL term (0..1); needs ``teacher:``
    temperature: float = 4.0
    grad_clip: float = 1.0
    save_every: int = 100  #: steps between checkpoints (last.pt) and metric rows
    eval_each_save: bool = True  #: test accuracy and estimated bytes at every checkpoint
    eval_batch: int = 32
    refit_prior_steps: int = 300  #: ML fit of the coding tables to the trained encoder's symbols
    head_from_teacher: bool = True  #: a vit head starts from the teacher ViT's blocks
    #: the teacher's logits computed once on the un-augmented training clips (True) or on every
    #: augmented batch (False). Why the default: on a CPU the edge model's forward pass costs more
    #: than the student's training step, and a few pixels of shift do not change its answer.
    teacher_cache: bool = True

    def validate(self, where: str) -> None:
        if self.steps < 0 or self.batch < 1 or self.lr <= 0 or self.save_every < 1:
            raise TrainingError(f"{where}: train.steps >= 0, batch >= 1, lr > 0 and save_every >= 1 are required")
        if not 0.0 <= self.distill <= 1.0:
            raise TrainingError(f"{where}: train.distill must be in [0, 1], got {self.distill}")
        if self.temperature <= 0 or self.lam < 0:
            raise TrainingError(f"{where}: train.temperature must be > 0 and train.lambda >= 0")


def build_latent_config(model: dict[str, Any], clip: tuple[int, int, int], num_classes: int,
                        teacher: torch.nn.Module | None) -> Any:
    """The LatentConfig of the run: the ``model:`` section, the data's clip size and classes, and
    (for a ``vit`` head with a teacher) the teacher ViT's block sizes where the section is silent."""
    from stae_ros.latent.model import LatentConfig

    spec = dict(model)
    for key in ("frames", "height", "width", "num_classes"):
        if key in spec:
            raise TrainingError(f"model.{key} comes from the data (clip: / the data set); remove it from model:")
    if teacher is not None:
        # a ViT teacher lends its block sizes to a vit head; a CNN edge classifier has none to lend
        spec.setdefault("head_kind", "vit" if hasattr(teacher, "vit") else "conv")
        if spec["head_kind"] == "vit" and hasattr(teacher, "vit"):
            vc = teacher.vit.cfg
            spec.setdefault("head_dim", int(vc.dim))
            spec.setdefault("head_depth", int(vc.depth))
            spec.setdefault("head_heads", int(vc.heads))
            spec.setdefault("head_mlp_ratio", float(vc.mlp_ratio))
            spec.setdefault("head_pool", "max" if vc.pool == "max" else "mean")
    try:
        return LatentConfig(frames=clip[0], height=clip[1], width=clip[2], num_classes=num_classes, **spec)
    except (TypeError, ValueError) as exc:
        raise TrainingError(f"model: {exc}") from exc


@torch.no_grad()
def _evaluate(model: torch.nn.Module, clips: torch.Tensor, labels: torch.Tensor, batch: int,
              device: torch.device) -> dict[str, float]:
    """Test accuracy of the rounded latent and its estimated bytes per clip (no range coder)."""
    from .loop import to_float_clips

    model.eval()
    correct, bits = 0, 0.0
    for i in range(0, len(labels), batch):
        logits, b = model(to_float_clips(clips[i : i + batch], device))
        correct += int((logits.argmax(1).cpu() == labels[i : i + batch]).sum())
        bits += float(b.sum())
    n = max(len(labels), 1)
    return {"test_acc": correct / n, "test_bytes_est": bits / 8.0 / n}


def _measure_codec(model: torch.nn.Module, clips: np.ndarray, labels: np.ndarray,
                   teacher_pred: np.ndarray | None) -> dict[str, float]:
    """Every test clip through the real coder: payload bytes, accuracy of decode -> classify."""
    from stae_ros.latent.codec import LatentCodec

    codec = LatentCodec(model.cpu().eval())
    sizes, pred = [], []
    for clip in clips:
        data = codec.encode(np.ascontiguousarray(clip))
        sizes.append(len(data))
        pred.append(int(codec.decode_classify(data).argmax(1).item()))
    s, p = np.asarray(sizes, np.float64), np.asarray(pred)
    out = {"accuracy": float((p == labels).mean()) if len(p) else 0.0,
           "bytes_mean": float(s.mean()) if len(s) else 0.0,
           "bytes_p95": float(np.percentile(s, 95)) if len(s) else 0.0}
    if teacher_pred is not None and len(p):
        out["teacher_agreement"] = float((p == teacher_pred).mean())
    return out


def train_latent_mode(config: str | Path, out_dir: str | Path, resume: bool = False, progress: bool = True,
                      overrides: dict[str, Any] | None = None, stop_after_steps: int = 0) -> Any:
    """Train a stae-latent model from a ``mode: stae-latent`` config into ``out_dir``.

    Writes ``last.pt`` (resumable), ``metrics.json`` and ``model.pt`` (the stae-latent model
    file), and copies it to ``export`` when set. ``overrides``: ``device``, ``export``,
    ``threads`` from the command line.
    """
    from stae_ros.latent.io import load_latent_model, save_latent_model
    from stae_ros.latent.model import LatentModel
    from stae_ros.latent.train import latent_optimizer, refit_prior

    from .augment import augment_batch
    from .loop import TrainResult, prepare_data, to_float_clips
    from .teacher import count_gflop, distill_kl, load_teacher, teacher_logits

    t_start = time.perf_counter()
    cfg = load_payload_config(config, MODE, OWN_KEYS)
    apply_overrides(cfg, overrides)
    ts = section(cfg, "train", LatentTrainSettings, renames={"lambda": "lam"})
    ts.validate(cfg.source)
    out, dev = start_run(cfg, out_dir)

    clip = clip_shape(cfg, cfg.teacher)
    train_arr, test_arr = prepare_data(cfg.data_config(), clip[0], (clip[1], clip[2]))
    class_names = list(train_arr.class_names)
    teacher = load_teacher(cfg.teacher, clip, class_names, dev) if cfg.teacher else None
    if ts.distill > 0 and teacher is None:
        log.info("no teacher: training with cross-entropy and the rate term only")
    lcfg = build_latent_config(dict(cfg.sections.get("model") or {}), clip, len(class_names), teacher)
    model = LatentModel(lcfg)
    if cfg.init:
        src = load_latent_model(cfg.init)
        try:
            model.load_state_dict(src.state_dict())
        except RuntimeError as exc:
            raise TrainingError(f"init {cfg.init} does not fit the configured latent model: {exc}") from exc
        log.info("initialised from %s", cfg.init)
    elif teacher is not None and lcfg.head_kind == "vit" and ts.head_from_teacher and hasattr(teacher, "vit"):
        log.info("vit head started from the teacher's %s", ", ".join(model.head.init_from_vit(teacher.vit)) or "nothing")
    model.to(dev)
    opt = latent_optimizer(model, ts.lr, ts.prior_lr_scale, ts.weight_decay)
    base_lrs = [g["lr"] for g in opt.param_groups]

    train_x = torch.from_numpy(np.ascontiguousarray(train_arr.clips))
    train_y = torch.as_tensor(train_arr.labels, dtype=torch.long)
    test_x = torch.from_numpy(np.ascontiguousarray(test_arr.clips))
    test_y = torch.as_tensor(test_arr.labels, dtype=torch.long)
    log.info("stae-latent: train %d clips, test %d, %d classes, latent %s, device %s", len(train_y), len(test_y),
             len(class_names), lcfg.latent_shape(), dev)

    state = RunState(mode=MODE)
    last = out / "last.pt"
    if resume:
        blob = load_run(last, MODE)
        restore(blob, state, {"model": model})
        if "optimizer" in blob:
            opt.load_state_dict(blob["optimizer"])
        log.info("resuming at phase %s step %d", state.phase, state.step)
    teacher_pred = None
    if teacher is not None:
        teacher_pred = teacher_logits(teacher, test_x, dev).argmax(1)
        state.extra["teacher_acc"] = float((teacher_pred == test_y).float().mean()) if len(test_y) else 0.0
        log.info("teacher (edge model on raw clips): %.1f%% on %d test clips", 100 * state.extra["teacher_acc"], len(test_y))

    def save() -> None:
        save_run(last, state, {"model": model}, opt)
        write_metrics(out, state, {"config": cfg.to_dict(), "class_names": class_names, "latent": lcfg.to_dict()})

    temp = ts.temperature
    distill = ts.distill if teacher is not None else 0.0
    cached = None
    if distill > 0 and ts.teacher_cache and state.step < ts.steps:
        cached = teacher_logits(teacher, train_x, dev)
        log.info("teacher logits cached for %d training clips", len(cached))

    def step_fn(step: int, gen: torch.Generator) -> dict[str, float]:
        model.train()
        idx = torch.randint(0, len(train_y), (ts.batch,), generator=gen)
        x = augment_batch(to_float_clips(train_x[idx]), cfg.augment, gen).to(dev)
        y = train_y[idx].to(dev)
        for group, base in zip(opt.param_groups, base_lrs):
            group["lr"] = cosine_lr(step, ts.steps, base, ts.warmup_steps)
        lam = ts.lam * (min(1.0, (step + 1) / ts.lambda_warmup_steps) if ts.lambda_warmup_steps > 0 else 1.0)
        logits, bits = model(x)
        ce = F.cross_entropy(logits, y)
        loss = (1.0 - distill) * ce + lam * bits.mean()
        stats = {"ce": ce.item(), "bits": bits.mean().item()}
        if distill > 0:
            if cached is not None:
                t_logits = cached[idx].to(dev)
            else:
                with torch.no_grad():
                    t_logits = teacher.classify(x)
            kl = distill_kl(logits, t_logits, temp)
            loss = loss + distill * kl
            stats["kl"] = kl.item()
        optimizer_step(opt, loss, model.parameters(), ts.grad_clip)
        stats["loss"] = loss.item()
        stats["train_acc"] = float((logits.argmax(1) == y).float().mean())
        return stats

    evaluate = (lambda: _evaluate(model, test_x, test_y, ts.eval_batch, dev)) if ts.eval_each_save else None
    finished = run_phase(name="train", index=0, state=state, total=ts.steps, save_every=ts.save_every, seed=cfg.seed,
                         step_fn=step_fn, save=save, evaluate=evaluate, progress=progress, stop_after_steps=stop_after_steps)
    model_path = out / "model.pt"
    final: dict[str, Any] = dict(state.history[-1]) if state.history else {}
    if finished:
        model.cpu().eval()
        if "refit" not in state.done and ts.refit_prior_steps > 0 and len(train_arr.clips):
            state.extra["refit_bits_train"] = refit_prior(model, train_arr.clips, steps=ts.refit_prior_steps)
            state.done.append("refit")
            save()
        t_pred = teacher_pred.numpy() if teacher_pred is not None else None
        final = _measure_codec(model, test_arr.clips, test_arr.labels, t_pred)
        x1 = torch.zeros(1, 3, *clip)
        final.update(
            encoder_params=model.encoder_params(), head_params=model.head_params(),
            camera_gflop=count_gflop(model.encoder, x1),
            edge_gflop=count_gflop(model.head, torch.zeros(1, *lcfg.latent_shape())),
            teacher_acc=state.extra.get("teacher_acc"), test_clips=len(test_arr.labels), lam=ts.lam,
            distill=distill, wall_s=round(time.perf_counter() - t_start, 1))
        if teacher is not None:
            final["teacher_gflop"] = count_gflop(teacher.classify, x1.to(dev))
        meta = {"mode": MODE, "class_names": class_names, "metrics": final, "config": cfg.source, "teacher": cfg.teacher}
        save_latent_model(model_path, model, meta)
        state.extra["final"] = final
        save()
        log.info("stae-latent: %.1f%% at %.1f B/clip (teacher on raw clips: %s)", 100 * final["accuracy"],
                 final["bytes_mean"], "-" if final["teacher_acc"] is None else f"{100 * final['teacher_acc']:.1f}%")
        export_copy(model_path, cfg.export)
    return TrainResult(out_dir=out, model_path=model_path, history=state.history, final=final,
                       wall_s=time.perf_counter() - t_start)


def describe_settings() -> dict[str, Any]:
    """The ``train:`` keys and their defaults (for docs and error messages)."""
    d = asdict(LatentTrainSettings())
    d["lambda"] = d.pop("lam")
    return d
