"""`stae train` mode ``h264-cd``: the compressed-domain classifier on the camera's own H.264 GOPs.

1. every training clip, and ``train.views`` augmented copies of it, is coded by the camera's encoder
   (the h264 mode's libx264 settings, at each ``codec.train_crfs``) and read back by the edge's
   compressed-domain reader (:func:`stae_ros.compressed.extract_gop`): I-frame, motion field,
   residual map. This is done once per clip, view and CRF and cached in ``<out>/features_*.npz`` (a
   resumed run reads it back), because libx264 and the reader cost more per clip than a training
   step of the light network;
2. the test clips likewise at ``codec.crf``; their payload sizes are the mode's bytes;
3. with ``teacher:`` (a STAE checkpoint or an edge classifier file of the same classes and clip
   length: the edge model; one of a smaller frame size is fed the decoded frames resized to its
   input, as the edge runs it), the test streams are also fully decoded and scored by it, which is
   the reference this mode is measured against ("the edge model on the same H.264 stream"); with
   ``train.distill`` > 0 the network also learns its answers on the raw training clips and views
   (KL, temperature T);
4. the network trains for ``train.steps`` (resumable phase, ``last.pt`` every ``save_every``
   steps, tqdm bar), then the ``stae-h264cd-model/1`` file is written (``model.pt``, copied to
   ``export`` when set).

``augment:`` is not applied: augmentation that must pass through the encoder is ``train.views``
(pixels, before coding); ``train.shift`` and ``train.flip`` act on the features of each batch. A
flip is off by default because it would swap classes such as walk_left / walk_right.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from .errors import TrainingError
from .payload_config import apply_overrides, clip_shape, export_copy, load_payload_config, section, start_run
from .steps import RunState, cosine_lr, load_run, restore, run_phase, save_run, write_metrics

__all__ = ["MODE", "CodecSection", "FeatureSection", "CdTrainSettings", "train_h264_cd_mode", "encode_features"]

log = logging.getLogger(__name__)

MODE = "h264-cd"
OWN_KEYS = ("codec", "features", "model", "train")


@dataclass
class CodecSection:
    """``codec:``: the camera's libx264 settings (the h264 mode's knobs) for test and training clips."""

    crf: int = 28
    preset: str = "ultrafast"
    train_crfs: list[int] = field(default_factory=lambda: [28])


@dataclass
class FeatureSection:
    """``features:``: the grid the motion and residual are read on, and the I-frame size (0 = H/2)."""

    block: int = 4
    iframe_size: int = 0


@dataclass
class CdTrainSettings:
    """``train:``: the network's schedule."""

    steps: int = 1500
    batch: int = 32
    lr: float = 3e-3
    weight_decay: float = 1e-3
    warmup_steps: int = 50
    distill: float = 0.0  #: with a teacher: weight of KL(edge ViT on the raw training clip || network)
    temperature: float = 2.0
    shift: int = 0  #: random translation of a batch by up to this many grid cells (features and I-frame alike)
    #: mirror each training clip left-right with probability 1/2 (I-frame, maps, and the sign of dx):
    #: only for data sets whose classes do not name a direction (Weizmann's do not; the synthetic
    #: set's walk_left / walk_right do)
    flip: bool = False
    #: augmented copies of every training clip, each coded and read like the clip itself (at every
    #: ``codec.train_crfs``): a zoom of up to ``view_scale``, a start up to ``view_time_shift`` frames
    #: later, brightness and contrast jitter, and (with ``flip``) a mirror. Why in pixels: the
    #: encoder's motion search and quantisation are part of what the network must learn to read,
    #: and a few tens of real clips per class give it too few codings of each action
    views: int = 0
    view_scale: float = 0.2
    view_time_shift: int = 2
    view_brightness: float = 0.1
    view_contrast: float = 0.15
    #: networks trained side by side on the same features (seeds seed, seed + 1, ...), each on its
    #: own batches; the model file holds them all and the edge answers with their mean class
    #: probabilities. Why: on a few tens of clips per class the seed alone moves one network by
    #: several points; the networks cost little next to the parse they share
    members: int = 1
    grad_clip: float = 1.0
    save_every: int = 100
    eval_each_save: bool = True
    eval_batch: int = 64


def encode_features(clips: np.ndarray, spec: Any, crf: int, preset: str, desc: str = "h264-cd features",
                    progress: bool = True, keep_streams: bool = False) -> dict[str, Any]:
    """Every clip through the camera's encoder and the edge's reader: stacked ``iframe``, ``mv``,
    ``residual`` arrays, payload ``bytes`` per clip, and (``keep_streams``) the streams."""
    from tqdm import tqdm

    from stae_ros.baselines.video import H264Codec
    from stae_ros.compressed.extract import extract_gop
    from stae_ros.modes.h264 import pack

    codec = H264Codec(crf=int(crf), preset=preset, stream=True)
    n = len(clips)
    gh, gw = spec.grid
    out = {"iframe": np.empty((n, spec.iframe_size, spec.iframe_size, 3), np.uint8),
           "mv": np.empty((n, spec.frames - 1, 2, gh, gw), np.float16),
           "residual": np.empty((n, spec.frames - 1, 1, gh, gw), np.float16),
           "bytes": np.zeros(n, np.int64)}
    streams: list[bytes] = []
    for i in tqdm(range(n), desc=desc, disable=not progress, leave=False, mininterval=2.0):
        stream = codec.encode(np.ascontiguousarray(clips[i]))
        gop = extract_gop(stream, spec)
        out["iframe"][i], out["mv"][i], out["residual"][i] = gop.iframe, gop.mv, gop.residual
        out["bytes"][i] = len(pack(stream, 1))
        if keep_streams:
            streams.append(stream)
    if keep_streams:
        out["streams"] = streams
    return out


def _cached_features(path: Path, clips: np.ndarray, spec: Any, crf: int, preset: str, progress: bool) -> dict[str, Any]:
    import zipfile
    import zlib

    key = np.asarray([len(clips), *clips.shape[1:4], spec.block, spec.iframe_size, int(crf),
                      zlib.crc32(np.ascontiguousarray(clips).data)], np.int64)
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                if np.array_equal(z["key"], key) and str(z["preset"]) == preset:
                    return {k: z[k] for k in ("iframe", "mv", "residual", "bytes")}
        except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError) as exc:
            log.warning("feature cache %s unreadable (%s): recomputing", path, exc)
    feats = encode_features(clips, spec, crf, preset, desc=f"features {path.stem}", progress=progress)
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez(tmp, key=key, preset=np.asarray(preset), **feats)
    tmp.replace(path)
    return feats


@torch.no_grad()
def _accuracy(model: torch.nn.Module, feats: dict[str, Any], labels: np.ndarray, batch: int,
              device: torch.device | None = None) -> float:
    from stae_ros.compressed.model import gop_tensors

    model.eval()
    correct = 0
    for i in range(0, len(labels), batch):
        x = gop_tensors(feats["iframe"][i : i + batch], feats["mv"][i : i + batch], feats["residual"][i : i + batch],
                        device)
        correct += int((model(*x).argmax(1).cpu().numpy() == labels[i : i + batch]).sum())
    return correct / max(len(labels), 1)


def _decoded_teacher(teacher: torch.nn.Module, clips: np.ndarray, spec: Any, crf: int, preset: str,
                     batch: int, progress: bool) -> tuple[torch.Tensor, float]:
    """(the edge ViT's logits on the fully decoded H.264 clips, mean decode+ViT ms per clip)."""
    from tqdm import tqdm

    from stae_ros.baselines.video import H264Codec
    from stae_ros.modes.h264 import decode_stream

    from .loop import to_float_clips

    codec = H264Codec(crf=int(crf), preset=preset, stream=True)
    logits, t_ms = [], 0.0
    for i in tqdm(range(0, len(clips), batch), desc="edge model on decoded H.264", disable=not progress, leave=False):
        streams = [codec.encode(np.ascontiguousarray(c)) for c in clips[i : i + batch]]
        t0 = time.perf_counter()
        dec = np.stack([decode_stream(s, spec.frames, spec.height, spec.width) for s in streams])
        logits.append(teacher.classify(to_float_clips(dec)).float().cpu())
        t_ms += (time.perf_counter() - t0) * 1000.0
    return torch.cat(logits), t_ms / max(len(clips), 1)


def _shift(x: tuple[torch.Tensor, torch.Tensor], cells: int, spec: Any,
           gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Translate a batch (I-frames and P-frame maps together) by a random whole number of grid cells,
    wrapping around: the action's position in the frame is not its class."""
    iframe, pframes = x
    dy, dx = (int(v) for v in torch.randint(-cells, cells + 1, (2,), generator=gen))
    if dx == 0 and dy == 0:
        return x
    py, px = round(dy * spec.iframe_size / spec.grid[0]), round(dx * spec.iframe_size / spec.grid[1])
    return iframe.roll((py, px), dims=(-2, -1)), pframes.roll((dy, dx), dims=(-2, -1))


def augmented_views(clips: np.ndarray, ts: CdTrainSettings, seed: int) -> list[np.ndarray]:
    """``ts.views`` augmented copies of uint8 clips N,T,H,W,3 (zoom, start jitter, brightness and
    contrast, a mirror when ``ts.flip``), each drawn from its own seeded generator."""
    from stae_ros.local.augment import LocalAugment, augment_local

    from .augment import augment_batch
    from .config import AugmentConfig
    from .loop import to_float_clips

    geo = LocalAugment(scale=ts.view_scale, time_shift=ts.view_time_shift)
    photo = AugmentConfig(shift=0, brightness=ts.view_brightness, contrast=ts.view_contrast, noise=0.0,
                          hflip=0.5 if ts.flip else 0.0)
    views = []
    for v in range(ts.views):
        gen = torch.Generator().manual_seed(seed * 1000 + v)
        x = augment_batch(augment_local(to_float_clips(clips), geo, gen), photo, gen)
        views.append((x.permute(0, 2, 3, 4, 1) * 255.0).round().clamp(0, 255).to(torch.uint8).numpy())
    return views


def _flip(x: tuple[torch.Tensor, torch.Tensor], gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Mirror a random half of the batch left-right: the I-frame, every map, and dx's sign."""
    iframe, pframes = x
    mask = (torch.rand(iframe.shape[0], generator=gen) < 0.5).to(iframe.device)
    if not bool(mask.any()):
        return x
    iframe = torch.where(mask[:, None, None, None], iframe.flip(-1), iframe)
    mirrored = pframes.flip(-1)
    mirrored[:, :, 0] = -mirrored[:, :, 0]
    return iframe, torch.where(mask[:, None, None, None, None], mirrored, pframes)


def train_h264_cd_mode(config: str | Path, out_dir: str | Path, resume: bool = False, progress: bool = True,
                       overrides: dict[str, Any] | None = None, stop_after_steps: int = 0) -> Any:
    """Train an h264-cd model from a ``mode: h264-cd`` config into ``out_dir``; writes ``last.pt``,
    ``metrics.json`` and ``model.pt`` (the stae-h264cd-model/1 file)."""
    from stae_ros.baselines.video import PRESETS
    from stae_ros.compressed.extract import CompressedStreamError, FeatureSpec
    from stae_ros.compressed.io import MAX_MEMBERS, save_cd_model
    from stae_ros.compressed.model import CDConfig, CDEnsemble, CDNet, gop_tensors
    from stae_ros.profiling.flops import count_flops

    from .loop import TrainResult, prepare_data
    from .teacher import load_teacher

    t_start = time.perf_counter()
    cfg = load_payload_config(config, MODE, OWN_KEYS)
    apply_overrides(cfg, overrides)
    cs = section(cfg, "codec", CodecSection)
    fs = section(cfg, "features", FeatureSection)
    ts = section(cfg, "train", CdTrainSettings)
    if cs.preset not in PRESETS or not cs.train_crfs or not all(0 <= int(c) <= 51 for c in [cs.crf, *cs.train_crfs]):
        raise TrainingError(f"{cfg.source}: codec: preset must be one of {PRESETS} and crf / train_crfs in 0..51")
    if ts.steps < 0 or ts.batch < 1 or ts.lr <= 0 or ts.save_every < 1 or not 0.0 <= ts.distill <= 1.0:
        raise TrainingError(f"{cfg.source}: train: steps >= 0, batch >= 1, lr > 0, save_every >= 1, distill in [0, 1]")
    if ts.views < 0 or not 0.0 <= ts.view_scale < 1.0 or ts.view_time_shift < 0:
        raise TrainingError(f"{cfg.source}: train: views >= 0, view_scale in [0, 1), view_time_shift >= 0")
    if not 1 <= ts.members <= MAX_MEMBERS:
        raise TrainingError(f"{cfg.source}: train: members must be in 1..{MAX_MEMBERS}, got {ts.members}")
    clip = clip_shape(cfg, cfg.teacher)
    try:
        spec = FeatureSpec(frames=clip[0], height=clip[1], width=clip[2], block=int(fs.block),
                           iframe_size=int(fs.iframe_size) or clip[1] // 2)
    except CompressedStreamError as exc:
        raise TrainingError(f"{cfg.source}: features: {exc}") from exc
    model_spec = dict(cfg.sections.get("model") or {})
    out, dev = start_run(cfg, out_dir)

    train_arr, test_arr = prepare_data(cfg.data_config(), clip[0], (clip[1], clip[2]))
    class_names = list(train_arr.class_names)
    try:
        ncfg = CDConfig(num_classes=len(class_names), frames=spec.frames, grid_h=spec.grid[0], grid_w=spec.grid[1],
                        iframe_size=spec.iframe_size, **model_spec)
    except (TypeError, ValueError) as exc:
        raise TrainingError(f"{cfg.source}: model: {exc}") from exc
    nets = [CDNet(ncfg).to(dev)]
    for i in range(1, ts.members):  # member i starts from seed + i
        torch.manual_seed(cfg.seed + i)
        nets.append(CDNet(ncfg).to(dev))
    net: CDNet | CDEnsemble = nets[0] if ts.members == 1 else CDEnsemble(nets)
    # an edge model of another frame size classifies the decoded stream resized to its input, as on the edge
    teacher = load_teacher(cfg.teacher, clip, class_names, torch.device("cpu"), resize=True) if cfg.teacher else None

    # 1-2. compressed-domain features, once per clip and CRF (cached in the run folder)
    tr_parts = [_cached_features(out / f"features_train_crf{int(c)}.npz", train_arr.clips, spec, int(c), cs.preset,
                                 progress) for c in cs.train_crfs]
    views = augmented_views(train_arr.clips, ts, cfg.seed)
    for v, view in enumerate(views):
        tr_parts += [_cached_features(out / f"features_train_view{v}_crf{int(c)}.npz", view, spec, int(c), cs.preset,
                                      progress) for c in cs.train_crfs]
    tr = {k: np.concatenate([p[k] for p in tr_parts]) for k in ("iframe", "mv", "residual")}
    te = _cached_features(out / f"features_test_crf{int(cs.crf)}.npz", test_arr.clips, spec, int(cs.crf), cs.preset,
                          progress)
    train_y = np.tile(np.asarray(train_arr.labels, np.int64), len(tr_parts))
    test_y = np.asarray(test_arr.labels, np.int64)
    n_train = len(train_y)
    log.info("h264-cd: train %d feature sets (%d clips x %d views x CRF %s), test %d, %d classes, spec %s", n_train,
             len(train_arr.labels), 1 + ts.views, cs.train_crfs, len(test_y), len(class_names), spec)

    state = RunState(mode=MODE)
    last = out / "last.pt"
    opt_blob = None
    if resume:
        blob = load_run(last, MODE)
        restore(blob, state, {"network": net})
        opt_blob = blob.get("optimizer")
        log.info("resuming at phase %s step %d", state.phase, state.step)

    # 3. the edge model on the same stream: reference accuracy (and distillation targets)
    soft = None
    if teacher is not None:
        if "edge_model_acc" not in state.extra:
            t_logits, t_ms = _decoded_teacher(teacher, test_arr.clips, spec, int(cs.crf), cs.preset, 16, progress)
            state.extra["edge_model_acc"] = float((t_logits.argmax(1).numpy() == test_y).mean())
            state.extra["edge_model_decode_classify_ms"] = t_ms
            log.info("edge model on the decoded H.264 test stream (CRF %d): %.1f%%", cs.crf,
                     100 * state.extra["edge_model_acc"])
        if ts.distill > 0:  # the edge model's answers on the raw clips, the same target at every CRF
            from .teacher import teacher_logits

            soft = torch.cat([teacher_logits(teacher, c, torch.device("cpu")).repeat(len(cs.train_crfs), 1)
                              for c in [train_arr.clips, *views]])
    distill = ts.distill if soft is not None else 0.0

    opt = torch.optim.AdamW(net.parameters(), lr=ts.lr, weight_decay=ts.weight_decay)
    if opt_blob is not None:
        opt.load_state_dict(opt_blob)

    def save() -> None:
        save_run(last, state, {"network": net}, opt)
        write_metrics(out, state, {"config": cfg.to_dict(), "class_names": class_names, "features": asdict(spec)})

    def member_loss(member: CDNet, gen: torch.Generator) -> tuple[torch.Tensor, dict[str, float]]:
        """One member's loss on its own batch (its own draws, shift and flip)."""
        member.train()
        idx = torch.randint(0, n_train, (ts.batch,), generator=gen).numpy()
        x = gop_tensors(tr["iframe"][idx], tr["mv"][idx], tr["residual"][idx], dev)
        if ts.shift > 0:
            x = _shift(x, ts.shift, spec, gen)
        if ts.flip:
            x = _flip(x, gen)
        y = torch.as_tensor(train_y[idx], device=dev)
        logits = member(*x)
        ce = F.cross_entropy(logits, y)
        loss = (1.0 - distill) * ce
        stats = {"ce": ce.item()}
        if distill > 0:
            t = ts.temperature
            kl = F.kl_div(F.log_softmax(logits / t, 1), F.log_softmax(soft[idx].to(dev) / t, 1), reduction="batchmean",
                          log_target=True) * t * t
            loss = loss + distill * kl
            stats["kl"] = kl.item()
        stats["train_acc"] = float((logits.argmax(1) == y).float().mean())
        return loss, stats

    def step_fn(step: int, gen: torch.Generator) -> dict[str, float]:
        for g in opt.param_groups:
            g["lr"] = cosine_lr(step, ts.steps, ts.lr, ts.warmup_steps)
        losses, per_member = zip(*(member_loss(m, gen) for m in nets))
        opt.zero_grad(set_to_none=True)
        torch.stack(list(losses)).sum().backward()  # the members share no parameter: each gets its own gradient
        if ts.grad_clip > 0:
            for m in nets:
                torch.nn.utils.clip_grad_norm_(m.parameters(), ts.grad_clip)
        opt.step()
        return {k: float(np.mean([st[k] for st in per_member])) for k in per_member[0]}

    def evaluate() -> dict[str, float]:
        return {"test_acc": _accuracy(net, te, test_y, ts.eval_batch, dev)}

    finished = run_phase(name="train", index=0, state=state, total=ts.steps, save_every=ts.save_every, seed=cfg.seed,
                         step_fn=step_fn, save=save, evaluate=evaluate if ts.eval_each_save else None,
                         progress=progress, stop_after_steps=stop_after_steps)
    model_path = out / "model.pt"
    final: dict[str, Any] = dict(state.history[-1]) if state.history else {}
    if finished:
        net.cpu().eval()
        sample = gop_tensors(te["iframe"][:1], te["mv"][:1], te["residual"][:1])
        sizes = np.asarray(te["bytes"], np.float64)
        final = {
            "accuracy": _accuracy(net, te, test_y, ts.eval_batch),
            "bytes_mean": float(sizes.mean()) if len(sizes) else 0.0,
            "bytes_p95": float(np.percentile(sizes, 95)) if len(sizes) else 0.0,
            "crf": int(cs.crf), "preset": cs.preset, "train_crfs": [int(c) for c in cs.train_crfs],
            "network_gflop": count_flops(net, *sample).gflop,
            "members": ts.members,
            "member_accuracy": [_accuracy(m, te, test_y, ts.eval_batch) for m in nets] if ts.members > 1 else None,
            "edge_model_acc": state.extra.get("edge_model_acc"),
            "edge_model_decode_classify_ms": state.extra.get("edge_model_decode_classify_ms"),
            "test_clips": len(test_y), "train_clips": len(train_arr.labels),
            "wall_s": round(time.perf_counter() - t_start, 1),
        }
        meta = {"mode": MODE, "config": cfg.source, "teacher": cfg.teacher, "metrics": final}
        save_cd_model(model_path, net, spec, class_names, meta)
        state.extra["final"] = final
        save()
        log.info("h264-cd: %.1f%% at %.0f B/clip (edge model on the same stream: %s)", 100 * final["accuracy"],
                 final["bytes_mean"], final["edge_model_acc"])
        export_copy(model_path, cfg.export)
    return TrainResult(out_dir=out, model_path=model_path, history=state.history, final=final,
                       wall_s=time.perf_counter() - t_start)
