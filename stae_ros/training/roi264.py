"""`stae train` mode ``stae-roi264``: the importance map and the edge classifier adapted to decoded roi clips.

The camera keeps the important blocks (a motion map, or a trained `ImportanceNet`), fills or
crops the rest away and codes the clip with libx264; the edge decodes it and classifies. The
classifier is only right for the artefacts it was trained on, so this mode:

1. starts the classifier from the edge model (``init:`` or ``teacher:``: a STAE checkpoint's ViT,
   or an edge classifier file's CNN) or, without one, trains the payload studies' small classifier
   on raw clips (``base_steps``);
2. trains the importance map when ``importance.kind`` is ``learned`` (CE through the
   differentiable composite + beta * kept area, `stae_ros.roi.train_map`);
3. codes every training clip at each ``roi.train_crfs`` through the real codec and decodes it;
4. fine-tunes the classifier on those decoded clips (CE, plus with a teacher the KL to the
   teacher's logits on the *raw* clip: the adapted model should say what the edge model says on
   clean video);
5. scores it on the test clips coded at ``roi.crf`` and writes the `stae-roi264-model/1` file
   that the camera and edge load (`load_roi_model`).

Steps 1 and 4 are resumable phases (``last.pt``); step 3 is recomputed on resume (libx264 is
repeatable here, see stae_ros.roi.h264).
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from .adapt import AdaptSettings
from .errors import TrainingError
from .payload_config import apply_overrides, clip_shape, export_copy, load_payload_config, section, start_run
from .steps import RunState, cosine_lr, load_run, optimizer_step, restore, run_phase, save_run, write_metrics

__all__ = ["MODE", "RoiSection", "ImportanceSection", "RoiTrainSettings", "train_roi264_mode"]

log = logging.getLogger(__name__)

MODE = "stae-roi264"
OWN_KEYS = ("roi", "importance", "classifier", "train")


@dataclass
class RoiSection:
    """``roi:``: the codec settings stored in the model file, and the CRFs the classifier adapts to."""

    crf: float = 38.0
    train_crfs: list[float] = field(default_factory=lambda: [33.0, 38.0])
    threshold: float = 0.5
    mode: str = "crop"
    bg_block: int = 16
    background: str = "mean"


@dataclass
class ImportanceSection:
    """``importance:``: the camera's block map (motion energy, or a trained ImportanceNet)."""

    kind: str = "motion"
    block: int = 8
    dilate: int = 1
    steps: int = 200  #: learned: map training steps
    beta: float = 1.0  #: learned: weight of the kept area against CE
    batch: int = 8
    lr: float = 3e-3
    distill_steps: int = 100  #: learned: steps regressing the net onto the motion map first


@dataclass
class RoiTrainSettings(AdaptSettings):
    """``train:``: the classifier's schedule (fine-tuning on decoded clips, and without a start model the
    raw-clip steps before it)."""

    base_steps: int = 600  #: own classifier only: raw-clip steps before adaptation
    base_lr: float = 2e-3


def _settings(r: RoiSection, crf: float) -> Any:
    from stae_ros.roi.codec import RoiSettings
    from stae_ros.roi.h264 import X264Settings
    from stae_ros.roi.node_model import RoiModelError, settings_from_dict, settings_to_dict

    s = RoiSettings(threshold=float(r.threshold), background=r.background, bg_block=int(r.bg_block), mode=r.mode,
                    x264=X264Settings(crf=float(crf)))
    try:
        return settings_from_dict(settings_to_dict(s))  # the model file's own checks
    except (RoiModelError, TypeError, ValueError) as exc:
        raise TrainingError(f"roi: {exc}") from exc


def _transcode(settings: Any, importance: Any, clips: np.ndarray, desc: str, progress: bool) -> tuple[np.ndarray, np.ndarray]:
    """Every clip through the real codec: (decoded clips, payload bytes)."""
    from tqdm import tqdm

    from stae_ros.roi.codec import RoiCodec

    codec = RoiCodec(settings)
    out = np.empty_like(clips)
    sizes = np.zeros(len(clips), np.int64)
    for i in tqdm(range(len(clips)), desc=desc, disable=not progress, leave=False, mininterval=2.0):
        data = codec.encode(np.ascontiguousarray(clips[i]), importance(clips[i]))
        sizes[i] = len(data)
        out[i] = codec.decode(data)
    return out, sizes


def train_roi264_mode(config: str | Path, out_dir: str | Path, resume: bool = False, progress: bool = True,
                      overrides: dict[str, Any] | None = None, stop_after_steps: int = 0) -> Any:
    """Train a stae-roi264 model from a ``mode: stae-roi264`` config into ``out_dir``.

    Writes ``last.pt`` (resumable), ``metrics.json`` and ``model.pt`` (the stae-roi264 model
    file), and copies it to ``export`` when set.
    """
    from stae_ros.latent.model import LatentConfig
    from stae_ros.roi.classifier_file import EdgeViTClassifier
    from stae_ros.roi.importance import ImportanceNet, motion_importance
    from stae_ros.roi.node_model import make_classifier, save_roi_model

    from .adapt import accuracy, adaptation_step
    from .augment import augment_batch
    from .loop import TrainResult, prepare_data, to_float_clips
    from .teacher import edge_network, load_teacher, teacher_logits, trainable_copy

    t_start = time.perf_counter()
    cfg = load_payload_config(config, MODE, OWN_KEYS)
    apply_overrides(cfg, overrides)
    r = section(cfg, "roi", RoiSection)
    imp_cfg = section(cfg, "importance", ImportanceSection)
    ts = section(cfg, "train", RoiTrainSettings)
    if imp_cfg.kind not in ("motion", "learned"):
        raise TrainingError(f"{cfg.source}: importance.kind must be 'motion' or 'learned', got {imp_cfg.kind!r}")
    if not r.train_crfs:
        raise TrainingError(f"{cfg.source}: roi.train_crfs must name at least one CRF")
    _settings(r, r.crf)
    if imp_cfg.kind == "learned" and imp_cfg.block not in (8, 16):
        raise TrainingError(f"{cfg.source}: importance.block of a learned map must be 8 or 16, got {imp_cfg.block}")
    out, dev = start_run(cfg, out_dir)

    start_ckpt = cfg.init or cfg.teacher
    clip = clip_shape(cfg, start_ckpt)
    if imp_cfg.block < 1 or clip[1] % imp_cfg.block or clip[2] % imp_cfg.block or clip[1] % r.bg_block or clip[2] % r.bg_block:
        raise TrainingError(f"{cfg.source}: importance.block {imp_cfg.block} and roi.bg_block {r.bg_block} must divide "
                            f"the {clip[1]}x{clip[2]} frame")
    train_arr, test_arr = prepare_data(cfg.data_config(), clip[0], (clip[1], clip[2]))
    class_names = list(train_arr.class_names)
    teacher = load_teacher(cfg.teacher, clip, class_names, dev) if cfg.teacher else None
    own_classifier = not start_ckpt
    if own_classifier:
        spec = dict(cfg.sections.get("classifier") or {})
        try:
            lcfg = LatentConfig(frames=clip[0], height=clip[1], width=clip[2], num_classes=len(class_names), **spec)
        except (TypeError, ValueError) as exc:
            raise TrainingError(f"{cfg.source}: classifier: {exc}") from exc
        classifier: torch.nn.Module = make_classifier(lcfg.to_dict())
    else:
        start = teacher if cfg.init in ("", cfg.teacher) and teacher is not None else load_teacher(start_ckpt, clip, class_names, dev)
        classifier = trainable_copy(start)
        log.info("edge classifier starts from the edge model of %s (%s)", start_ckpt, type(classifier).__name__)
    classifier.to(dev)
    net = ImportanceNet(block=imp_cfg.block) if imp_cfg.kind == "learned" else None

    train_x = torch.from_numpy(np.ascontiguousarray(train_arr.clips))
    train_y = torch.as_tensor(train_arr.labels, dtype=torch.long)
    n_train = len(train_y)
    log.info("stae-roi264: train %d clips, test %d, %d classes, classifier %s, map %s, device %s", n_train,
             len(test_arr.labels), len(class_names), type(classifier).__name__, imp_cfg.kind, dev)

    modules: dict[str, torch.nn.Module] = {"classifier": classifier}
    if net is not None:
        modules["importance"] = net
    state = RunState(mode=MODE)
    last = out / "last.pt"
    resume_opt: tuple[str, Any] | None = None
    if resume:
        blob = load_run(last, MODE)
        restore(blob, state, modules)
        if "optimizer" in blob:
            resume_opt = (state.phase, blob["optimizer"])
        log.info("resuming at phase %s step %d (done: %s)", state.phase, state.step, state.done)
    current: dict[str, torch.optim.Optimizer | None] = {"opt": None}

    def save() -> None:
        save_run(last, state, modules, current["opt"])
        write_metrics(out, state, {"config": cfg.to_dict(), "class_names": class_names})

    def make_opt(phase: str, lr: float) -> torch.optim.AdamW:
        opt = torch.optim.AdamW(classifier.parameters(), lr=lr, weight_decay=ts.weight_decay)
        if resume_opt is not None and resume_opt[0] == phase and state.phase == phase:
            opt.load_state_dict(resume_opt[1])
        current["opt"] = opt
        return opt

    def sgd_step(opt: torch.optim.Optimizer, loss: torch.Tensor) -> None:
        optimizer_step(opt, loss, classifier.parameters(), ts.grad_clip)

    # 1. own classifier on raw clips
    if own_classifier and ts.base_steps > 0:
        opt = make_opt("base", ts.base_lr)

        def base_step(step: int, gen: torch.Generator) -> dict[str, float]:
            classifier.train()
            idx = torch.randint(0, n_train, (ts.batch,), generator=gen)
            x = augment_batch(to_float_clips(train_x[idx]), cfg.augment, gen).to(dev)
            y = train_y[idx].to(dev)
            for g in opt.param_groups:
                g["lr"] = cosine_lr(step, ts.base_steps, ts.base_lr, ts.warmup_steps)
            logits = classifier(x)
            loss = F.cross_entropy(logits, y)
            sgd_step(opt, loss)
            return {"loss": loss.item(), "train_acc": float((logits.argmax(1) == y).float().mean())}

        if not run_phase(name="base", index=0, state=state, total=ts.base_steps, save_every=ts.save_every, seed=cfg.seed,
                         step_fn=base_step, save=save, progress=progress, stop_after_steps=stop_after_steps):
            return TrainResult(out_dir=out, model_path=out / "model.pt", history=state.history,
                               wall_s=time.perf_counter() - t_start)

    # 2. the learned importance map (one unit: it is minutes at most)
    if net is not None and "map" not in state.done:
        from stae_ros.roi.map_training import MapTraining
        from stae_ros.roi.train_map import train_importance

        mt = MapTraining(steps=imp_cfg.steps, beta=imp_cfg.beta, batch=imp_cfg.batch, lr=imp_cfg.lr, block=imp_cfg.block,
                         seed=cfg.seed, progress=progress)
        trained, stats = train_importance(copy.deepcopy(classifier).cpu(), train_arr.clips, train_arr.labels, mt,
                                          bg_block=r.bg_block, distill_steps=imp_cfg.distill_steps)
        net.load_state_dict(trained.state_dict())
        state.extra["map_stats"] = stats
        state.done.append("map")
        save()
    if net is not None:
        net.cpu().eval()
        importance = net.importance
        importance_spec: dict[str, Any] = {"kind": "learned", "block": imp_cfg.block}
    else:
        importance = lambda c: motion_importance(c, imp_cfg.block, imp_cfg.dilate)  # noqa: E731
        importance_spec = {"kind": "motion", "block": imp_cfg.block, "dilate": imp_cfg.dilate}

    # 3. decoded clips: every training CRF, and the test clips at the file's CRF
    decoded, train_bytes = [], {}
    for c in r.train_crfs:
        x, sizes = _transcode(_settings(r, c), importance, train_arr.clips, f"roi train CRF {c:g}", progress)
        decoded.append(x)
        train_bytes[f"{c:g}"] = float(sizes.mean()) if len(sizes) else 0.0
    dec_x = torch.from_numpy(np.concatenate(decoded))
    del decoded
    test_dec, test_sizes = _transcode(_settings(r, r.crf), importance, test_arr.clips, f"roi test CRF {r.crf:g}", progress)
    soft = teacher_logits(teacher, train_arr.clips, dev) if teacher is not None and ts.distill > 0 else None
    distill = ts.distill if soft is not None else 0.0
    if "start_acc_decoded" not in state.extra:
        state.extra["start_acc_decoded"] = accuracy(classifier, test_dec, test_arr.labels, ts.eval_batch, dev)
        state.extra["start_acc_raw"] = accuracy(classifier, test_arr.clips, test_arr.labels, ts.eval_batch, dev)
        if teacher is not None:
            state.extra["teacher_acc"] = accuracy(edge_network(teacher), test_arr.clips, test_arr.labels, ts.eval_batch, dev)
        log.info("before adaptation: %s", {k: v for k, v in state.extra.items() if k.endswith("acc") or "_acc_" in k})

    # 4. fine-tune on decoded clips
    opt = make_opt("finetune", ts.lr)
    ft_step = adaptation_step(classifier, opt, dec_x, train_y, soft, distill, ts, cfg.augment, dev)

    evaluate = ((lambda: {"test_acc": accuracy(classifier, test_dec, test_arr.labels, ts.eval_batch, dev)})
                if ts.eval_each_save else None)
    finished = run_phase(name="finetune", index=1, state=state, total=ts.steps, save_every=ts.save_every, seed=cfg.seed,
                         step_fn=ft_step, save=save, evaluate=evaluate, progress=progress, stop_after_steps=stop_after_steps)
    model_path = out / "model.pt"
    final: dict[str, Any] = dict(state.history[-1]) if state.history else {}
    if finished:
        classifier.cpu().eval()
        final = {
            "accuracy": accuracy(classifier, test_dec, test_arr.labels, ts.eval_batch, torch.device("cpu")),
            "bytes_mean": float(test_sizes.mean()) if len(test_sizes) else 0.0,
            "bytes_p95": float(np.percentile(test_sizes, 95)) if len(test_sizes) else 0.0,
            "crf": float(r.crf), "train_crfs": [float(c) for c in r.train_crfs], "train_bytes_mean": train_bytes,
            "acc_before_adaptation": state.extra.get("start_acc_decoded"),
            "start_acc_raw": state.extra.get("start_acc_raw"), "teacher_acc": state.extra.get("teacher_acc"),
            "classifier": "own PixelClassifier" if own_classifier else (
                "edge ViT" if isinstance(classifier, EdgeViTClassifier) else "edge CNN"),
            "test_clips": len(test_arr.labels), "wall_s": round(time.perf_counter() - t_start, 1),
        }
        meta = {"mode": MODE, "config": cfg.source, "teacher": cfg.teacher, "init": cfg.init, "metrics": final}
        save_roi_model(model_path, _settings(r, r.crf), importance_spec, clip, class_names, classifier, meta,
                       importance_net=net)
        state.extra["final"] = final
        save()
        log.info("stae-roi264: %.1f%% at %.0f B/clip (before adaptation %.1f%%)", 100 * final["accuracy"],
                 final["bytes_mean"], 100 * (final["acc_before_adaptation"] or 0.0))
        export_copy(model_path, cfg.export)
    return TrainResult(out_dir=out, model_path=model_path, history=state.history, final=final,
                       wall_s=time.perf_counter() - t_start)
