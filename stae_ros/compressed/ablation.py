"""Architecture and recipe variants of the h264-cd network, chosen on a validation split of the training clips.

    python -m stae_ros.compressed.ablation --config config/train_h264_cd_synth.yaml --run runs/h264_cd_synth \
        --model '{"iframe_context": 8}' --tag ctx8 --out out/cd_ablation.jsonl

Why a tool of its own: ``stae train`` reports the test split, and choosing a variant on the test
split would make the reported accuracy optimistic. Here every ``--val-every``-th training clip
(all its CRF versions) is held out, the network trains on the others with the config's recipe
(any ``--model`` / ``--steps`` / ``--distill`` ... override), and the validation accuracy at the test
CRF decides. The test accuracy is printed as well, for information only.

It reads the compressed-domain feature caches a ``stae train`` run of the same config wrote
(``<run>/features_*.npz``; computed and written there if missing) and caches the edge model's
logits on the raw training clips in ``<run>/teacher_train_logits.pt``.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from ..cli.validate import float_in, int_in
from ..torchfile import peek_torch_file

__all__ = ["run_variant", "main"]

log = logging.getLogger(__name__)


def run_variant(config: str, run: str, model: dict[str, Any], steps: int = 0, distill: float | None = None,
                val_every: int = 5, seed: int = 0, progress: bool = True,
                features: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train one variant on the training clips not held out; return its validation and test accuracy.
    ``features`` overrides the config's ``features:`` (another I-frame size needs its own ``run`` folder)."""
    from tqdm import tqdm

    from stae_ros.compressed.extract import FeatureSpec
    from stae_ros.compressed.model import CDConfig, CDNet, gop_tensors
    from stae_ros.training.h264_cd import (CdTrainSettings, CodecSection, FeatureSection, MODE, OWN_KEYS,
                                           _cached_features, _shift)
    from stae_ros.training.loop import prepare_data
    from stae_ros.training.payload_config import clip_shape, load_payload_config, section
    from stae_ros.training.steps import cosine_lr
    from stae_ros.training.teacher import load_teacher, teacher_logits

    cfg = load_payload_config(config, MODE, OWN_KEYS)
    cs, fs, ts = section(cfg, "codec", CodecSection), section(cfg, "features", FeatureSection), section(
        cfg, "train", CdTrainSettings)
    for key, value in (features or {}).items():
        if not hasattr(fs, key):
            raise ValueError(f"unknown features key {key!r}")
        setattr(fs, key, value)
    clip = clip_shape(cfg, cfg.teacher)
    spec = FeatureSpec(frames=clip[0], height=clip[1], width=clip[2], block=int(fs.block),
                       iframe_size=int(fs.iframe_size) or clip[1] // 2)
    out = Path(run)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    train_arr, test_arr = prepare_data(cfg.data_config(), clip[0], (clip[1], clip[2]))
    parts = [_cached_features(out / f"features_train_crf{int(c)}.npz", train_arr.clips, spec, int(c), cs.preset,
                              progress) for c in cs.train_crfs]
    tr = {k: np.concatenate([p[k] for p in parts]) for k in ("iframe", "mv", "residual")}
    te = _cached_features(out / f"features_test_crf{int(cs.crf)}.npz", test_arr.clips, spec, int(cs.crf), cs.preset,
                          progress)
    n = len(train_arr.labels)
    y_all = np.tile(np.asarray(train_arr.labels, np.int64), len(cs.train_crfs))
    y_test = np.asarray(test_arr.labels, np.int64)
    held = np.arange(n) % val_every == 0
    train_idx = np.concatenate([np.flatnonzero(~held) + j * n for j in range(len(cs.train_crfs))])
    at_test_crf = [int(c) for c in cs.train_crfs].index(int(cs.crf)) if int(cs.crf) in cs.train_crfs else 0
    val_idx = np.flatnonzero(held) + at_test_crf * n
    w = ts.distill if distill is None else float(distill)
    soft = None
    if w > 0 and cfg.teacher:
        cache = out / "teacher_train_logits.pt"
        soft = peek_torch_file(cache) if cache.is_file() else None  # a damaged cache is rebuilt
        if soft is None:
            teacher = load_teacher(cfg.teacher, clip, list(train_arr.class_names), torch.device("cpu"))
            soft = teacher_logits(teacher, train_arr.clips, torch.device("cpu"))
            torch.save(soft, cache)
        soft = soft.repeat(len(cs.train_crfs), 1)
    w = w if soft is not None else 0.0
    spec_model = {**dict(cfg.sections.get("model") or {}), **model}
    net = CDNet(CDConfig(num_classes=len(train_arr.class_names), frames=spec.frames, grid_h=spec.grid[0],
                         grid_w=spec.grid[1], iframe_size=spec.iframe_size, **spec_model))
    opt = torch.optim.AdamW(net.parameters(), lr=ts.lr, weight_decay=ts.weight_decay)
    gen = torch.Generator().manual_seed(seed)
    total = steps or ts.steps

    @torch.no_grad()
    def accuracy(feats: dict[str, Any], idx: np.ndarray, labels: np.ndarray) -> float:
        net.eval()
        hits = 0
        for i in range(0, len(idx), 100):
            j = idx[i : i + 100]
            hits += int((net(*gop_tensors(feats["iframe"][j], feats["mv"][j], feats["residual"][j])).argmax(1).numpy()
                         == labels[j]).sum())
        return hits / max(len(idx), 1)

    t0 = time.perf_counter()
    for step in tqdm(range(total), desc="variant", disable=not progress, mininterval=5.0):
        net.train()
        idx = train_idx[torch.randint(0, len(train_idx), (ts.batch,), generator=gen).numpy()]
        x = gop_tensors(tr["iframe"][idx], tr["mv"][idx], tr["residual"][idx])
        if ts.shift > 0:
            x = _shift(x, ts.shift, spec, gen)
        for g in opt.param_groups:
            g["lr"] = cosine_lr(step, total, ts.lr, ts.warmup_steps)
        logits = net(*x)
        loss = (1.0 - w) * F.cross_entropy(logits, torch.as_tensor(y_all[idx]))
        if w > 0:
            t = ts.temperature
            loss = loss + w * F.kl_div(F.log_softmax(logits / t, 1), F.log_softmax(soft[idx] / t, 1),
                                       reduction="batchmean", log_target=True) * t * t
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if ts.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(net.parameters(), ts.grad_clip)
        opt.step()
    return {"model": spec_model, "features": asdict(spec), "steps": total, "distill": w, "seed": seed, "val_clips": int(held.sum()),
            "val_acc": accuracy(tr, val_idx, y_all), "test_acc": accuracy(te, np.arange(len(y_test)), y_test),
            "train_s": round(time.perf_counter() - t0, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", required=True, help="an h264-cd training config (data, codec, features, recipe)")
    ap.add_argument("--run", required=True, help="folder of the feature caches (a stae train run of that config)")
    ap.add_argument("--model", default="{}", help="JSON overrides of the config's model: section")
    ap.add_argument("--features", default="{}", help="JSON overrides of the config's features: section")
    ap.add_argument("--steps", type=int_in(0), default=0, help="training steps (0 = the config's)")
    ap.add_argument("--distill", type=float_in(0.0, 100.0), default=None, help="distillation weight (default: the config's)")
    ap.add_argument("--val-every", type=int_in(2), default=5, help="hold out every N-th training clip")
    ap.add_argument("--seed", type=int_in(0), default=0)
    ap.add_argument("--tag", default="")
    ap.add_argument("--threads", type=int_in(1, 256), default=1)
    ap.add_argument("--out", default="", help="append the result as one JSON line here")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    torch.set_num_threads(args.threads)
    try:
        model, features = json.loads(args.model), json.loads(args.features)
    except json.JSONDecodeError as exc:
        ap.error(f"--model / --features is not JSON: {exc}")
    if not isinstance(model, dict) or not isinstance(features, dict) or args.val_every < 2:
        ap.error("--model and --features must be JSON objects and --val-every >= 2")
    result = {"tag": args.tag, "config": args.config,
              **run_variant(args.config, args.run, model, args.steps, args.distill, args.val_every, args.seed,
                            features=features)}
    print(json.dumps(result))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        with open(args.out, "a") as f:
            f.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
