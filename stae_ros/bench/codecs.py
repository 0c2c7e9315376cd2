"""`stae bench codecs`: every method side by side - bytes, accuracy, camera/edge ms, peak RSS.

One run: (1) per operating point, encode + decode the labelled test clips and the fine-tuning
clips in this process, adapt the classifier head to that codec's reconstructions (see
``finetune``) and score it; (2) per point, time the camera side and the edge side, each in its
own child process on one thread, ``repeats`` passes, with peak RSS; (3) bytes and speed on real
footage, resized to the model's size and as native crops; (4) derived numbers (ratios, H.264 at
equal accuracy, completion time vs uplink rate), then JSON + Markdown + PNG plots.
"""

from __future__ import annotations

import json
import logging
import math
import platform
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .child import run_child
from .errors import BenchDataError

__all__ = ["CodecBenchOptions", "run_codec_bench", "make_tiny_checkpoint", "equal_accuracy_h264", "completion_curves"]

log = logging.getLogger(__name__)

RATES_BPS = [float(r) for r in np.logspace(math.log10(0.1e6), math.log10(100e6), 61)]


@dataclass
class CodecBenchOptions:
    model: str | None = "models/stae_default.pt"
    data: str | None = None
    real_footage: str | None = None
    out: str = "out/bench"
    tiny: bool = False
    repeats: int = 3
    test_per_class: int = 10
    ft_per_class: int = 8
    timing_clips: int = 8
    ft_steps: int = 300
    edge_threads: int = 1
    footage_clips_per_video: int = 2
    only: list[str] = field(default_factory=list)  # restrict to these families (debugging)
    external: bool = True  # include issue-6 payloads (roi, latent) when their packages are usable
    external_models: list[str] = field(default_factory=list)  # explicit roi/latent model files


# ---------------------------------------------------------------------------------------- setup
def make_tiny_checkpoint(path: str | Path, frames: int = 8, size: int = 32, seed: int = 0, classes: int = 4) -> Path:
    """A random, tiny STAE checkpoint (for tests and ``--tiny``): 8x32x32 clips, a 1-block ViT,
    the first ``classes`` synthetic classes."""
    import torch
    import yaml

    from stae_ros.data import CLASS_NAMES
    from stae_ros.models import STAE, ModelConfig
    from stae_ros.training import save_checkpoint

    root = Path(__file__).resolve().parents[2]
    cfg_path = root / "config" / "model_default.yaml"
    d = yaml.safe_load(cfg_path.read_text()) if cfg_path.is_file() else {}
    d["clip"] = {"frames": frames, "height": size, "width": size, "channels": 3}
    d["budgets"] = {"frame": [k for k in (8, 4, 2, 1) if k <= frames], "spatial": [1.0, 0.25, 0.1]}
    vit = dict(d.get("vit", {}))
    vit.update(tubelet=[2, 8, 8], dim=32, depth=1, heads=2, num_classes=classes)
    d["vit"] = vit
    cfg = ModelConfig.from_dict(d)
    torch.manual_seed(seed)
    model = STAE(cfg)
    return save_checkpoint(path, model, cfg, list(CLASS_NAMES[:classes]), stage="random", metrics={})


def _specs(ckpt: str, opts: CodecBenchOptions) -> list[dict[str, Any]]:
    from stae_ros.baselines import classic_sweep, semantic_sweep

    specs = classic_sweep(opts.tiny) + semantic_sweep(ckpt, opts.tiny)
    if opts.external:
        try:
            from stae_ros.baselines.external import external_sweep

            specs += external_sweep(ckpt, opts.tiny, files=opts.external_models or None)
        except Exception as exc:  # the issue-6 packages are optional and may be mid-development
            log.warning("issue-6 payloads (roi/latent) left out: %s", exc)
    if opts.only:
        from stae_ros.baselines import make_codec  # noqa: F401  (family names come from specs)

        specs = [s for s in specs if s["family"] in opts.only or s.get("mode") in opts.only or s.get("kind") in opts.only]
    return specs


# --------------------------------------------------------------------------------- measurement
def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape != b.shape:
        return float("nan")
    mse = float(np.mean((a.astype(np.float32) - b.astype(np.float32)) ** 2))
    return 99.0 if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


_SCORE_CACHE: dict[tuple, dict[str, Any]] = {}


def _accuracy_row(spec: dict[str, Any], loaded: Any, test: Any, ft: Any, ft_cfg: Any) -> dict[str, Any]:
    from stae_ros.baselines import make_codec

    from .finetune import accuracy, clip_features, fit_head

    codec = make_codec(spec, loaded=loaded)
    payloads = [codec.encode(c) for c in test.clips]
    if getattr(codec, "own_classifier", False):  # learned latent: classified by its own head
        return _own_classifier_row(codec, spec, payloads, test)
    sizes = np.asarray([len(p) for p in payloads], dtype=np.float64)
    row = {"name": codec.name, "family": codec.family, "spec": spec,
           "bytes_mean": float(sizes.mean()), "bytes_p95": float(np.percentile(sizes, 95)),
           "bytes_min": float(sizes.min()), "bytes_max": float(sizes.max())}
    # lossless stae-px layouts decode to the same clip: score each selection once
    key = None
    if getattr(codec, "lossless", False):
        key = (codec.mode, codec.k, codec.p, codec.params.get("seed"))
        if key in _SCORE_CACHE:
            return row | _SCORE_CACHE[key] | {"accuracy_shared_with_lossless_layout": True}
    dec_test = codec.decode_many(payloads)
    dec_ft = codec.decode_many([codec.encode(c) for c in ft.clips])
    vit = loaded.model.vit
    f_test = clip_features(vit, dec_test, ft_cfg.batch)
    f_ft = clip_features(vit, dec_ft, ft_cfg.batch)
    head = fit_head(vit, f_ft, ft.labels, ft_cfg)
    scores = {"acc_zero_shot": accuracy(vit.head, f_test, test.labels), "acc": accuracy(head, f_test, test.labels),
              "psnr_db": float(np.mean([_psnr(a, b) for a, b in zip(test.clips, dec_test)]))}
    if key is not None:
        _SCORE_CACHE[key] = scores
    return row | scores


def _own_classifier_row(codec: Any, spec: dict[str, Any], payloads: list[bytes], test: Any) -> dict[str, Any]:
    import torch

    with torch.inference_mode():
        pred = np.asarray([int(codec.classify_payload(p).argmax(dim=1)[0]) for p in payloads])
    acc = float(np.mean(pred == test.labels))
    sizes = np.asarray([len(p) for p in payloads], dtype=np.float64)
    return {"name": codec.name, "family": codec.family, "spec": spec, "bytes_mean": float(sizes.mean()),
            "bytes_p95": float(np.percentile(sizes, 95)), "bytes_min": float(sizes.min()), "bytes_max": float(sizes.max()),
            "acc_zero_shot": acc, "acc": acc, "psnr_db": None, "note": "own head on the decoded latent (not re-fitted)"}


def _timing(spec: dict[str, Any], clips_path: str, opts: CodecBenchOptions, tmp: Path) -> dict[str, Any]:
    payloads = str(tmp / "payloads.bin")
    cam = run_child({"side": "camera", "spec": spec, "clips": clips_path, "payloads": payloads,
                     "repeats": opts.repeats, "threads": 1})
    edge = run_child({"side": "edge", "spec": spec, "payloads": payloads, "repeats": opts.repeats,
                      "threads": opts.edge_threads})
    return {
        "camera_ms": cam["ms"], "camera_ms_passes": cam["ms_passes"], "camera_ms_spread": _spread(cam["ms_passes"]),
        "camera_peak_rss_mb": cam["peak_rss_mb"], "camera_wall_ms": cam["wall_ms"], "edge_wall_ms": edge["wall_ms"],
        "edge_ms": edge["ms"], "edge_ms_passes": edge["ms_passes"], "edge_ms_spread": _spread(edge["ms_passes"]),
        "edge_peak_rss_mb": edge["peak_rss_mb"],
    }


def _timing_shared(rows: list[dict[str, Any]], clips_path: str, opts: CodecBenchOptions, tmp: Path) -> None:
    """Tiny runs: every spec's camera side in one child and edge side in another (RSS is shared)."""
    specs = [r["spec"] for r in rows]
    paths = [str(tmp / f"payloads_{i}.bin") for i in range(len(rows))]
    cam = run_child({"side": "camera", "specs": specs, "clips": clips_path, "payloads": paths,
                     "repeats": opts.repeats, "threads": 1})["per_spec"]
    edge = run_child({"side": "edge", "specs": specs, "payloads": paths, "repeats": opts.repeats,
                      "threads": opts.edge_threads})["per_spec"]
    for r, c, e in zip(rows, cam, edge):
        r.update(camera_ms=c["ms"], camera_ms_passes=c["ms_passes"], camera_ms_spread=_spread(c["ms_passes"]),
                 camera_peak_rss_mb=c["peak_rss_mb"], camera_wall_ms=c["wall_ms"], edge_wall_ms=e["wall_ms"], edge_ms=e["ms"], edge_ms_passes=e["ms_passes"],
                 edge_ms_spread=_spread(e["ms_passes"]), edge_peak_rss_mb=e["peak_rss_mb"], rss_shared=True)


def _timing_and_footage(specs: list[dict[str, Any]], ckpt: str, clips_path: str, opts: CodecBenchOptions, tmp: Path,
                        shape: tuple[int, int, int]) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Per spec camera + edge children, the classifier child(ren), then real footage."""
    from tqdm import tqdm

    timings: list[dict[str, Any]] = []
    for spec in tqdm(specs, desc="camera/edge timing", unit="point", position=1):
        try:
            timings.append(_timing(spec, clips_path, opts, tmp))
        except Exception as exc:
            log.warning("timing of %s failed: %s", spec, exc)
            timings.append({"timing_error": str(exc)[-500:]})
    local = run_child({"side": "classify", "checkpoint": ckpt, "clips": clips_path, "repeats": opts.repeats, "threads": 1})
    edge_cls = local if opts.edge_threads == 1 else run_child(
        {"side": "classify", "checkpoint": ckpt, "clips": clips_path, "repeats": opts.repeats, "threads": opts.edge_threads})
    footage = _footage(specs, opts, tmp, shape) if opts.real_footage else {}
    return timings, local, edge_cls, footage


def _footage(specs: list[dict[str, Any]], opts: CodecBenchOptions, tmp: Path, shape: tuple[int, int, int]) -> dict[str, Any]:
    """Bytes and 1-thread CPU ms on real footage: resized to the model's size, and native crops."""
    from .dataset import footage_clips

    frames, h, w = shape
    sizes = [("resize", h, w)] + ([] if opts.tiny else [("crop", 112, 112), ("crop", 224, 224)])
    try:
        fclips = footage_clips(opts.real_footage, frames, sizes, opts.footage_clips_per_video)
    except BenchDataError as exc:
        log.warning("real footage left out: %s", exc)
        return {}
    classic = ("raw", "jpeg", "h264", "h265")
    footage: dict[str, Any] = {}
    for key, arr in fclips.items():
        path = str(tmp / f"footage_{key}.npy")
        np.save(path, arr)
        fspecs = [s for s in specs if s["family"] in classic]
        if key.startswith("resize"):  # the STAE model only takes its own clip size
            fspecs += [s for s in specs if s["family"] not in classic]
        res = run_child({"side": "sweep", "specs": fspecs, "clips": path, "repeats": opts.repeats, "threads": 1}, timeout_s=3600)
        footage[key] = {"clips": int(arr.shape[0]), "shape": list(arr.shape[1:]), "rows": res["rows"]}
    return footage


def _classify_in_process(loaded: Any, clips: np.ndarray, repeats: int) -> dict[str, Any]:
    import torch

    from .child import _peak_rss_mb, _time_each

    xs = [torch.from_numpy(c).permute(3, 0, 1, 2).unsqueeze(0).float().div(255.0) for c in clips]

    def classify(x: Any) -> Any:
        with torch.inference_mode():
            return loaded.model.classify(x)

    medians, _, wall = _time_each(classify, xs, repeats, 1)
    return {"ms": float(np.median(medians)), "ms_passes": medians, "wall_ms": float(np.median(wall)), "peak_rss_mb": _peak_rss_mb()}


def _spread(values: list[float]) -> float:
    """Half the max-min range as a fraction of the median: the '±' of a few repeated runs."""
    med = float(np.median(values))
    return 0.0 if med <= 0 else float((max(values) - min(values)) / 2.0 / med)


# ------------------------------------------------------------------------------------- derived
def equal_accuracy_h264(rows: list[dict[str, Any]], tolerance: float = 0.01) -> None:
    """Add ``h264_bytes_at_acc`` and ``ratio_vs_h264``: the cheapest H.264 point (either preset)
    whose accuracy is at least this row's minus ``tolerance``; ratio > 1 means fewer bytes than H.264."""
    h264 = [r for r in rows if r.get("family") == "h264" and "acc" in r]
    for r in rows:
        if "acc" not in r:
            continue
        ok = [h for h in h264 if h["acc"] >= r["acc"] - tolerance]
        if ok:
            best = min(ok, key=lambda h: h["bytes_mean"])
            r["h264_bytes_at_acc"] = best["bytes_mean"]
            r["h264_point_at_acc"] = best["name"]
            r["ratio_vs_h264"] = best["bytes_mean"] / r["bytes_mean"]
        else:
            r["h264_bytes_at_acc"] = None
            r["h264_point_at_acc"] = None
            r["ratio_vs_h264"] = None  # more accurate than every H.264 point tried


def _representatives(rows: list[dict[str, Any]], raw_acc: float, within: float) -> dict[str, dict[str, Any]]:
    """Per family, the point the completion-time figure uses: the fewest bytes among points whose
    accuracy is within ``within`` of the raw clip's; else the most accurate point."""
    reps: dict[str, dict[str, Any]] = {}
    for fam in dict.fromkeys(r["family"] for r in rows if "camera_ms" in r):
        pts = [r for r in rows if r["family"] == fam and "camera_ms" in r]
        good = [r for r in pts if r.get("acc", 0.0) >= raw_acc - within]
        reps[fam] = min(good, key=lambda r: r["bytes_mean"]) if good else max(pts, key=lambda r: r.get("acc", 0.0))
    return reps


def completion_curves(rows: list[dict[str, Any]], classify_edge_ms: float, local_ms: float,
                      raw_acc: float, within: float = 0.05) -> dict[str, Any]:
    """Time per clip (camera + uplink + edge decode + edge classify) vs uplink rate, per family."""
    reps = _representatives(rows, raw_acc, within)
    curves = {}
    for fam, r in reps.items():
        t = [(r["camera_ms"] + r["bytes_mean"] * 8.0 / rate * 1e3 + r["edge_ms"] + classify_edge_ms) for rate in RATES_BPS]
        curves[fam] = {"point": r["name"], "acc": r.get("acc"), "bytes": r["bytes_mean"], "ms": t}
    curves["local"] = {"point": "ViT on the camera (1 thread)", "acc": raw_acc, "bytes": 0.0, "ms": [local_ms] * len(RATES_BPS)}
    return {"rates_bps": RATES_BPS, "curves": curves, "winner_bands": _bands(curves, list(curves)),
            "winner_bands_offload": _bands(curves, [f for f in curves if f != "local"]), "accuracy_within": within}


def _bands(curves: dict[str, Any], fams: list[str]) -> list[dict[str, Any]]:
    """Contiguous rate ranges over which one of ``fams`` has the lowest completion time."""
    bands: list[dict[str, Any]] = []
    for i, rate in enumerate(RATES_BPS):
        fam = min(fams, key=lambda f: curves[f]["ms"][i])
        if not bands or bands[-1]["family"] != fam:
            bands.append({"family": fam, "from_bps": rate, "to_bps": rate})
        bands[-1]["to_bps"] = rate
    return bands


# ----------------------------------------------------------------------------------------- run
def run_codec_bench(opts: CodecBenchOptions) -> dict[str, Any]:
    """Run the whole codec benchmark; write JSON/Markdown/PNGs under ``opts.out``; return the report."""
    import torch
    from tqdm import tqdm

    from stae_ros.training import load_model

    from .dataset import load_data_root, synthetic_clips
    from .finetune import FinetuneConfig
    from .plots import write_plots
    from .report import write_markdown

    t_start = time.time()
    # one thread in this process too: on a loaded host, torch's second thread spin-waits and made
    # FR/FA 7-20x slower here; the per-side timings come from the single-thread children anyway
    torch.set_num_threads(1)
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = opts.model
    if opts.tiny and (ckpt is None or not Path(ckpt).is_file()):
        ckpt = str(make_tiny_checkpoint(out / "tiny_model.pt"))
    if ckpt is None or not Path(ckpt).is_file():
        raise BenchDataError(f"checkpoint {ckpt} not found (train one with `stae train`, or pass --model / --tiny)")
    ckpt = str(Path(ckpt).resolve())
    loaded = load_model(ckpt)
    loaded.model.eval()
    c = loaded.config.clip
    frames, h, w = c.frames, c.height, c.width
    if opts.tiny:
        opts.test_per_class, opts.ft_per_class = min(opts.test_per_class, 1), min(opts.ft_per_class, 1)
        opts.timing_clips, opts.ft_steps = min(opts.timing_clips, 1), min(opts.ft_steps, 20)
        opts.repeats = min(opts.repeats, 2)
    if opts.data:
        test = load_data_root(opts.data, "test", loaded.class_names, frames, h, w).take(opts.test_per_class, 0)
        ft = load_data_root(opts.data, "train", loaded.class_names, frames, h, w).take(opts.ft_per_class, 1)
    else:
        test = synthetic_clips(loaded.class_names, opts.test_per_class, frames, h, w, seed=0)
        ft = synthetic_clips(loaded.class_names, opts.ft_per_class, frames, h, w, seed=1)
    ft_cfg = FinetuneConfig(steps=opts.ft_steps)
    _SCORE_CACHE.clear()
    specs = _specs(ckpt, opts)
    log.info("codec bench: %d operating points, %d test clips, %d fine-tuning clips, model %s",
             len(specs), len(test.clips), len(ft.clips), ckpt)

    import concurrent.futures as cf

    with tempfile.TemporaryDirectory(prefix="stae-bench-") as tmpd:
        tmp = Path(tmpd)
        clips_path = str(tmp / "timing_clips.npy")
        np.save(clips_path, test.clips[: opts.timing_clips])
        # timing (child processes, CPU time) runs in a background thread while this thread scores
        # accuracy: CPU-time medians of a single-threaded child are not changed by the overlap
        pool = cf.ThreadPoolExecutor(max_workers=1)
        timing_future = None if opts.tiny else pool.submit(
            _timing_and_footage, specs, ckpt, clips_path, opts, tmp, (frames, h, w))
        rows: list[dict[str, Any]] = []
        for spec in tqdm(specs, desc="accuracy per codec", unit="point"):
            try:
                rows.append(_accuracy_row(spec, loaded, test, ft, ft_cfg))
            except Exception as exc:
                log.exception("operating point %s failed", spec)
                rows.append({"name": str(spec), "family": spec.get("family"), "spec": spec, "error": f"{type(exc).__name__}: {exc}"})
        log.info("accuracy pass done at %.0f s", time.time() - t_start)
        if opts.tiny:
            _timing_shared([r for r in rows if "error" not in r], clips_path, opts, tmp)
            local = _classify_in_process(loaded, test.clips[: opts.timing_clips], opts.repeats)
            edge_cls, footage = local, {}
            if opts.real_footage:
                footage = _footage(specs, opts, tmp, (frames, h, w))
        else:
            timings, local, edge_cls, footage = timing_future.result()
            for r, t in zip(rows, timings):
                if "error" not in r:
                    r.update(t)
        pool.shutdown()
    log.info("timing pass done at %.0f s", time.time() - t_start)

    float_bytes = frames * h * w * 3 * 4
    raw_bytes = frames * h * w * 3
    for r in rows:
        if "bytes_mean" in r:
            r["ratio_vs_float32"] = float_bytes / r["bytes_mean"]
            r["ratio_vs_uint8"] = raw_bytes / r["bytes_mean"]
            r["kbit_per_clip"] = r["bytes_mean"] * 8 / 1000.0
    equal_accuracy_h264(rows)
    raw_row = next((r for r in rows if r.get("family") == "raw" and "acc" in r), None)
    raw_acc = raw_row["acc"] if raw_row else max((r.get("acc", 0.0) for r in rows), default=0.0)
    curves = completion_curves(rows, edge_cls["ms"], local["ms"], raw_acc)
    report = {
        "format": "stae-bench-codecs/1",
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "wall_s": None,
        "host": {"machine": platform.machine(), "python": platform.python_version(), "torch": torch.__version__,
                 "cpu_count": __import__("os").cpu_count()},
        "options": asdict(opts),
        "checkpoint": ckpt, "checkpoint_stage": loaded.meta.get("stage"),
        "class_names": loaded.class_names,
        "clip": {"frames": frames, "height": h, "width": w, "float32_bytes": float_bytes, "uint8_bytes": raw_bytes},
        "test_clips": int(len(test.clips)), "finetune_clips": int(len(ft.clips)),
        "finetune": asdict(ft_cfg) | {"recipe": "frozen ViT backbone; head re-fit on the codec's decoded clips (full-batch AdamW)"},
        "classify_ms": {"local_camera_1thread": local["ms"], "edge": edge_cls["ms"], "passes": local["ms_passes"],
                        "camera_peak_rss_mb": local["peak_rss_mb"]},
        "rows": rows,
        "completion": curves,
        "footage": footage,
    }
    report["wall_s"] = time.time() - t_start
    (out / "codecs.json").write_text(json.dumps(report, indent=1))
    write_markdown(report, out / "codecs.md")
    write_plots(report, out)
    log.info("codec bench written to %s (%.0f s)", out, report["wall_s"])
    return report
