"""`stae bench codecs --fold`: the codec bench cross-validated over a data set's fold CSV.

Why: a real labelled set is small (Weizmann: 93 clips), so one train/test split tests a third of
it and its figures swing by several points with the split. With a fold CSV (``clip,class,fold``)
every fold is tested once by the edge model trained without it, and every clip is tested once.

Per fold ``f``: the fold's own edge checkpoint (``--model`` with ``{fold}``, or a cross-validation
folder holding ``cv.json`` / ``fold<f>/model.pt`` as ``stae train --fold all`` writes it) is
adapted to every codec on that fold's training clips only (the other folds, through the codec),
and scored on fold ``f``'s clips. A point's accuracy is then pooled over all test clips (correct
answers / clips), and its bytes are the mean over all test clips. The local classifier
(``--local-model``, same patterns) and per-fold latent bundles (``--external-models`` with
``{fold}``) are scored the same way. Camera and edge times do not depend on which fold's weights
run (same architecture), so they are timed once, with the first fold's files.

The ``rate`` sweep (``--sweep rate``) is the rate-accuracy comparison with libx264 on real footage:
several CRFs at the full clip size and at down-scaled sizes (the camera codes 3/4 or 1/2 of each
side, the edge scales back up), a few H.265 and JPEG points, and the STAE method at a few (K, p).
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from .errors import BenchDataError

__all__ = ["fold_file", "parse_folds", "rate_sweep", "pool_rows", "run_fold_bench", "RATE_STAE_POINTS"]

log = logging.getLogger(__name__)

#: (K, p) of the rate sweep's STAE points (the fold models' FR is trained for K = 16)
RATE_STAE_POINTS: tuple[tuple[int, float], ...] = ((16, 0.5), (16, 0.25), (16, 0.1), (16, 0.05), (8, 0.25))


def fold_file(pattern: str, fold: int) -> Path:
    """The file of one fold: ``pattern`` with ``{fold}`` filled in; or, for a folder, the model
    its ``cv.json`` names for that fold, else ``<folder>/fold<fold>/model.pt``."""
    if "{fold}" in pattern:
        path = Path(pattern.format(fold=fold))
    else:
        folder = Path(pattern)
        if not folder.is_dir():
            raise BenchDataError(f"{pattern}: with --fold, a model is a pattern with {{fold}} or a cross-validation folder")
        path = folder / f"fold{fold}" / "model.pt"
        cv = folder / "cv.json"
        if cv.is_file():
            try:
                named = json.loads(cv.read_text(encoding="utf-8"))["folds"][str(fold)]["model"]
            except (OSError, ValueError, KeyError, TypeError):
                named = None
            if named and Path(named).is_file():
                path = Path(named)
    if not path.is_file():
        raise BenchDataError(f"fold {fold}: model file {path} not found (from {pattern})")
    return path


def parse_folds(spec: str, available: list[int]) -> list[int]:
    """``all`` -> every fold of the CSV; ``0,2`` -> those folds (each must exist)."""
    if spec.strip().lower() == "all":
        return list(available)
    try:
        folds = [int(x) for x in spec.split(",") if x.strip()]
    except ValueError:
        raise BenchDataError(f"--fold must be 'all' or fold numbers like 0,2; got {spec!r}") from None
    bad = [f for f in folds if f not in available]
    if not folds or bad:
        raise BenchDataError(f"--fold {spec}: the fold file defines folds {available}")
    return folds


def rate_sweep(checkpoint: str, tiny: bool = False, frames: int | None = None,
               points: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Specs of the rate-accuracy sweep: raw; libx264 ``medium`` at CRF 18-48 on the full clip,
    CRF 23-43 at 3/4 of each side and 18-38 at 1/2; two ``ultrafast`` points; H.265 ``medium``
    28/36; JPEG q50; the STAE method (auto layout) at ``points`` ("K:p") and the camera node's
    default layout (fast, 6-bit values) at K=16, p=0.1."""
    if tiny:
        return [{"family": "raw"}, {"family": "h264", "crf": 30, "preset": "medium"},
                {"family": "h264", "crf": 30, "preset": "medium", "scale": 0.5},
                {"family": "semantic", "mode": "stae", "k": 4, "p": 0.25, "checkpoint": checkpoint}]
    specs: list[dict[str, Any]] = [{"family": "raw"}]
    specs += [{"family": "h264", "crf": c, "preset": "medium"} for c in (18, 23, 28, 33, 38, 43, 48)]
    specs += [{"family": "h264", "crf": c, "preset": "medium", "scale": 0.75} for c in (23, 28, 33, 38, 43)]
    specs += [{"family": "h264", "crf": c, "preset": "medium", "scale": 0.5} for c in (18, 23, 28, 33, 38)]
    specs += [{"family": "h264", "crf": c, "preset": "ultrafast"} for c in (28, 38)]
    specs += [{"family": "h265", "crf": c, "preset": "medium"} for c in (28, 36)]
    specs += [{"family": "jpeg", "quality": 50}]
    kp = list(RATE_STAE_POINTS) if points is None else [_kp(s) for s in points]
    kp = [(k, p) for k, p in kp if frames is None or k <= frames]
    specs += [{"family": "semantic", "mode": "stae", "k": k, "p": p, "checkpoint": checkpoint} for k, p in kp]
    if (frames is None or frames >= 16) and (16, 0.1) in kp:
        specs.append({"family": "semantic", "mode": "stae", "k": 16, "p": 0.1, "checkpoint": checkpoint,
                      "layout": "fast", "bits": 6})
    return specs


def _kp(text: str) -> tuple[int, float]:
    try:
        k, p = str(text).split(":")
        return int(k), float(p)
    except ValueError:
        raise BenchDataError(f"a STAE point is K:p (e.g. 16:0.1), got {text!r}") from None


def pool_rows(per_fold: dict[int, list[dict[str, Any]]], sizes: dict[int, int]) -> list[dict[str, Any]]:
    """One row per operating point over every fold: accuracy = correct answers / test clips over
    the folds, bytes = mean over every test clip; per-fold figures kept under ``folds``. A point
    that failed (or is missing) in any fold is an error row."""
    order: list[str] = []
    for rows in per_fold.values():
        order += [r["name"] for r in rows if r["name"] not in order]
    total = sum(sizes.values())
    pooled = []
    for name in order:
        got = {f: next((r for r in rows if r["name"] == name), None) for f, rows in per_fold.items()}
        first = next(r for r in got.values() if r is not None)
        bad = {f: (r or {}).get("error", "not measured in this fold") for f, r in got.items() if r is None or "error" in r}
        if bad:
            pooled.append({"name": name, "family": first.get("family"), "spec": first.get("spec"),
                           "error": "; ".join(f"fold {f}: {e}" for f, e in bad.items())})
            continue
        row = {k: v for k, v in first.items() if k not in ("acc", "acc_zero_shot", "bytes_mean", "bytes_p95",
                                                            "bytes_min", "bytes_max", "psnr_db", "adapt_loss_first",
                                                            "adapt_loss_last", "adapt_cpu_s", "accuracy_cpu_s")}
        w = {f: sizes[f] / total for f in got}
        row["acc"] = float(sum(got[f]["acc"] * w[f] for f in got))
        if all(got[f].get("acc_zero_shot") is not None for f in got):
            row["acc_zero_shot"] = float(sum(got[f]["acc_zero_shot"] * w[f] for f in got))
        row["bytes_mean"] = float(sum(got[f]["bytes_mean"] * w[f] for f in got))
        row["bytes_min"] = float(min(got[f]["bytes_min"] for f in got))
        row["bytes_max"] = float(max(got[f]["bytes_max"] for f in got))
        if all("bytes_p95" in got[f] for f in got):  # the largest fold's p95: an upper bound of the pooled one
            row["bytes_p95"] = float(max(got[f]["bytes_p95"] for f in got))
        psnr = [got[f].get("psnr_db") for f in got]
        row["psnr_db"] = None if any(v is None for v in psnr) else float(sum(v * w[f] for v, f in zip(psnr, got)))
        row["folds"] = {str(f): {"acc": got[f]["acc"], "acc_zero_shot": got[f].get("acc_zero_shot"),
                                 "bytes_mean": got[f]["bytes_mean"], "test_clips": sizes[f],
                                 "checkpoint": (got[f].get("spec") or {}).get("checkpoint") or (got[f].get("spec") or {}).get("path")}
                        for f in got}
        pooled.append(row)
    return pooled


def _fold_external(opts: Any, fold: int) -> list[str]:
    out = []
    for pattern in opts.external_models:
        path = Path(pattern.format(fold=fold)) if "{fold}" in pattern else Path(pattern)
        if path.is_file():
            out.append(str(path))
        else:
            log.warning("fold %d: %s not found; left out", fold, path)
    return out


def run_fold_bench(opts: Any) -> dict[str, Any]:
    """The codec bench over the folds of ``opts.data`` (see the module docstring); writes the same
    outputs as one run (codecs.json, codecs.md, PNGs, the results summary's entry) and returns the report."""
    import resource

    import torch
    from tqdm import tqdm

    from stae_ros.data.folder import SplitSpec, list_folds
    from stae_ros.training import load_model

    from . import codecs as cb
    from .dataset import load_data_root
    from .finetune import FinetuneConfig

    t_start = time.time()
    torch.set_num_threads(1)  # see run_codec_bench
    if not opts.data:
        raise BenchDataError("--fold needs --data: a labelled <class>/<video> folder with a fold CSV")
    if opts.repeats < 1:
        raise BenchDataError(f"--repeats must be >= 1, got {opts.repeats}")
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        available = list_folds(opts.data, opts.folds_file)
    except Exception as exc:  # DatasetLayoutError: a one-line reason naming the file
        raise BenchDataError(str(exc)) from exc
    folds = parse_folds(str(opts.fold), available)
    if not opts.model:
        raise BenchDataError("--fold needs --model: a per-fold checkpoint pattern with {fold} or a cross-validation folder")
    ckpts = {f: str(fold_file(opts.model, f).resolve()) for f in folds}
    local_paths = {f: str(fold_file(opts.local_model, f)) for f in folds} if opts.local_model else {}
    cb.apply_tiny(opts)
    ft_cfg = FinetuneConfig(mode=opts.adapt, steps=opts.adapt_steps, batch=opts.adapt_batch)
    per_fold: dict[int, list[dict[str, Any]]] = {}
    sizes: dict[int, int] = {}
    ft_sizes: dict[int, int] = {}
    local_acc: dict[int, dict[str, Any]] = {}
    edge_paths: dict[int, str] = {}
    first = folds[0]
    phases: dict[str, float] = {}
    t0, c0 = time.time(), time.process_time()
    class_names: list[str] | None = None
    for f in folds:
        loaded = load_model(ckpts[f])
        loaded.model.eval()
        if class_names is None:
            class_names = list(loaded.class_names)
        elif list(loaded.class_names) != class_names:
            raise BenchDataError(f"fold {f}: {ckpts[f]} labels {loaded.class_names}, fold {first}'s model {class_names}")
        c = loaded.config.clip
        shape = (c.frames, c.height, c.width)
        spec = SplitSpec(source="folds", folds_file=opts.folds_file, test_fold=f)
        test = load_data_root(opts.data, "test", loaded.class_names, *shape, split_spec=spec, short_clip=opts.short_clip,
                              cache=False)
        ft = load_data_root(opts.data, "train", loaded.class_names, *shape, split_spec=spec, short_clip=opts.short_clip,
                            cache=False)
        if opts.tiny:
            test, ft = test.take(1, 0), ft.take(1, 1)
        elif opts.ft_per_class > 0:
            ft = ft.take(opts.ft_per_class, 1)
        sizes[f], ft_sizes[f] = len(test.clips), len(ft.clips)
        ext = _fold_external(opts, f)  # per-fold files only: the shipped ones label the synthetic classes
        fold_opts = _with(opts, external_models=ext, external=bool(ext) and opts.external)
        specs = cb._specs(ckpts[f], fold_opts, c.frames, loaded, clip_hw=(c.height, c.width))
        cb._SCORE_CACHE.clear()  # lossless layouts share a score within one fold only
        log.info("fold %d: %d operating points, %d test clips, %d adaptation clips, model %s", f, len(specs), sizes[f],
                 ft_sizes[f], ckpts[f])
        classifier = None
        if opts.edge_model:
            edge_paths[f] = str(fold_file(opts.edge_model, f))
            classifier = cb.edge_classifier(edge_paths[f], loaded.class_names, shape)
        rows = []
        for s in tqdm(specs, desc=f"fold {f}: accuracy per codec", unit="point"):
            try:
                rows.append(cb._accuracy_row(s, loaded, test, ft, ft_cfg, classifier))
            except Exception as exc:
                log.exception("fold %d: operating point %s failed", f, s)
                rows.append({"name": str(s), "family": s.get("family"), "spec": s, "error": f"{type(exc).__name__}: {exc}"})
        per_fold[f] = rows
        if f in local_paths:
            local_test = test
            if opts.local_short_clip and opts.local_short_clip != opts.short_clip:  # the same videos, cut its way
                local_test = load_data_root(opts.data, "test", loaded.class_names, *shape, split_spec=spec,
                                            short_clip=opts.local_short_clip, cache=False)
                if opts.tiny:
                    local_test = local_test.take(1, 0)
            local_acc[f] = cb.local_model_accuracy(local_paths[f], loaded.class_names, local_test)
            local_acc[f]["short_clip"] = opts.local_short_clip or opts.short_clip
        if f == first:
            timing_specs, timing_clips, first_loaded = specs, test.clips[: opts.timing_clips], loaded
    phases.update(accuracy_wall_s=time.time() - t0, accuracy_cpu_s=time.process_time() - c0)
    rows = pool_rows(per_fold, sizes)
    names_ok = {r["name"] for r in rows if "error" not in r}

    with tempfile.TemporaryDirectory(prefix="stae-bench-") as tmpd:
        tmp = Path(tmpd)
        clips_path = str(tmp / "timing_clips.npy")
        np.save(clips_path, timing_clips)
        t0 = time.time()
        ch0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        from stae_ros.baselines import make_codec

        def name_of(s: dict[str, Any]) -> str:
            return make_codec(s, loaded=first_loaded).name

        timed = [(s, name_of(s)) for s in timing_specs]
        timed = [(s, n) for s, n in timed if n in names_ok]
        redone: list[dict[str, Any]] = []
        if opts.tiny:
            tiny_rows = [{"name": n, "spec": s} for s, n in timed]
            cb._timing_shared(tiny_rows, clips_path, opts, tmp)
            timings = [{k: v for k, v in r.items() if k not in ("name", "spec")} for r in tiny_rows]
            local = cb._classify_in_process(first_loaded, timing_clips, opts)
            edge_cls = local
        else:
            timings, local, edge_cls, redone = cb._timing_runs([s for s, _ in timed], ckpts[first], clips_path, opts, tmp,
                                                               names=[n for _, n in timed])
        by_name = {n: t for (_, n), t in zip(timed, timings)}
        for r in rows:
            r.update(by_name.get(r["name"], {}))
        ch1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        phases.update(timing_wall_s=time.time() - t0,
                      timing_children_cpu_s=(ch1.ru_utime + ch1.ru_stime) - (ch0.ru_utime + ch0.ru_stime))
    extra: dict[str, Any] = {}
    if edge_paths:  # the classifier is the edge model: its time replaces the ViT's on both sides
        edge_cls, extra["edge_classifier"] = cb.edge_model_timing(edge_paths[first], timing_clips, opts)
        local = edge_cls
        extra["edge_classifier"]["pattern"] = opts.edge_model
    cb.own_head_timing(rows, first_loaded, timing_clips, opts)
    local_models = []
    if local_acc:
        n = sum(a["n"] for a in local_acc.values())
        entry = {"path": opts.local_model, "n": n, "correct": sum(a["correct"] for a in local_acc.values()),
                 "acc": sum(a["correct"] for a in local_acc.values()) / n,
                 "folds": {str(f): a for f, a in local_acc.items()}}
        local_models.append(entry | cb.local_model_timing(local_paths[first], timing_clips, opts))
    fold_info = {"folds": folds, "folds_file": opts.folds_file or "folds.csv", "checkpoints": {str(f): ckpts[f] for f in folds},
                 "test_clips": {str(f): sizes[f] for f in folds}, "finetune_clips": {str(f): ft_sizes[f] for f in folds},
                 "timed_with_fold": first}
    ft_text = (f"{min(ft_sizes.values())}-{max(ft_sizes.values())} per fold (the other folds)"
               if len(set(ft_sizes.values())) > 1 else f"{ft_sizes[first]} per fold (the other folds)")
    report = cb.build_report(opts, ckpts[first], first_loaded, rows, shape, sum(sizes.values()), ft_text, ft_cfg, local,
                             edge_cls, redone, {}, phases, local_models, extra={"crossval": fold_info} | extra)
    report["wall_s"] = time.time() - t_start
    cb.write_outputs(report, out)
    log.info("fold codec bench written to %s (%.0f s)", out, report["wall_s"])
    return report


def _with(opts: Any, **changes: Any) -> Any:
    import dataclasses

    return dataclasses.replace(opts, **changes)
