"""`stae bench codecs`: every method side by side - bytes, accuracy, camera/edge ms, peak RSS.

One run: (1) per operating point, encode + decode the labelled test clips and the fine-tuning
clips (train split) in this process, adapt the classifier to that codec's reconstructions (by
default every ViT weight, the same steps on the same clips for every point; see ``finetune``)
and score it; (2) then, with nothing else of ours running, time the camera side and the edge
side of every point: ``repeats`` runs, each run of each side its own one-thread child process,
runs interleaved over the points; each clip is timed several times and its minimum CPU time
kept, the run's number is the median over clips, the headline the median over runs and the ±
the runs' half-range (see ``child``); (3) bytes and speed on real footage, resized to the
model's size and as native crops; (4) derived numbers (ratios, H.264 at equal accuracy, timing
stability, STAE vs x264 on the camera, the ≥104× target, completion time vs uplink rate), then
JSON + Markdown + PNG plots.
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

from ..errtext import exc_line
from ..resources import find_data_file
from .child import run_child
from .errors import BenchDataError
from .plots import fastest_bands

__all__ = ["CodecBenchOptions", "run_codec_bench", "half_range_spread", "make_tiny_checkpoint", "equal_accuracy_h264", "completion_curves",
           "timing_stability", "camera_vs_x264", "compression_target"]

log = logging.getLogger(__name__)

#: the ROI and latent payloads that are STAE's own (camera-side comparisons include them with the paper's)
STAE_PAYLOAD_FAMILIES = ("roi", "roi264", "latent")

RATES_BPS = [float(r) for r in np.logspace(math.log10(0.1e6), math.log10(100e6), 61)]


@dataclass
class CodecBenchOptions:
    model: str | None = "models/stae_default.pt"
    data: str | None = None
    real_footage: str | None = None
    out: str = "out/bench"
    tiny: bool = False
    repeats: int = 3  #: timing runs per side and point (separate child processes, interleaved)
    reps_per_clip: int = 5  #: samples per clip within a run (at least); the minimum is kept
    min_run_s: float = 1.5  #: sampling rounds go on until a run has lasted this long (wall s)
    min_sample_ms: float = 2.0  #: faster calls are repeated back to back within one sample
    probe_tolerance: float = 0.08  #: a run whose host probe is this much above the median is redone (0: never)
    probe_redo_rounds: int = 2  #: at most this many redo rounds, each after all runs
    test_per_class: int = 25  #: 0: the whole test split
    ft_per_class: int = 20
    timing_clips: int = 12
    adapt: str = "full"  #: "full" (every ViT weight) or "head" (frozen backbone)
    adapt_steps: int | None = None  #: None: 150 (full) / 300 (head)
    adapt_batch: int = 16
    edge_threads: int = 1
    footage_clips_per_video: int = 2
    only: list[str] = field(default_factory=list)  # restrict to these families (debugging)
    external: bool = True  # include the roi/latent payloads when their packages are usable
    external_models: list[str] = field(default_factory=list)  # explicit roi/latent model files
    summary: str | None = None  #: results summary file (None: results/summary.json, or OUT/summary.json for --tiny/--only)
    #: the camera-budget classifier (a stae_ros.local file) scored on the same test clips as a
    #: ``local`` point; None: the shipped models/stae_local_default.pt when it labels the
    #: checkpoint's classes; "" : none. With ``fold``: a ``{fold}`` pattern or a cv folder.
    local_model: str | None = None
    #: cross-validation over the data set's fold CSV: "all" or fold numbers "0,2" (None: one split);
    #: ``model`` (and ``local_model``, ``external_models``) then name per-fold files (see ``folds``)
    fold: str | None = None
    folds_file: str = ""  #: the fold CSV (default: <data>/folds.csv)
    short_clip: str = "loop"  #: what a video shorter than the clip becomes (stae_ros.data.folder)
    #: the local classifier's own rule for short videos when it was trained with another than
    #: ``short_clip`` (None: ``short_clip``); its test clips are then the same videos cut its way
    local_short_clip: str | None = None
    #: the classifier adapted per codec and scored: None = the STAE checkpoint's ViT; else an edge
    #: model file (stae_ros.local format, e.g. ``stae train`` with ``mode: edge``); ``{fold}`` with ``fold``
    edge_model: str | None = None
    #: "default" (the classic and semantic sweeps) or "rate" (libx264 CRFs at full and down-scaled
    #: sizes, the STAE method at ``stae_points`` only: rate-accuracy curves on real footage)
    sweep: str = "default"
    stae_points: list[str] = field(default_factory=list)  #: "K:p" points of the rate sweep (default: see folds)


# ---------------------------------------------------------------------------------------- setup
def make_tiny_checkpoint(path: str | Path, frames: int = 8, size: int = 32, seed: int = 0, classes: int = 4) -> Path:
    """A random, tiny STAE checkpoint (for tests and ``--tiny``): 8x32x32 clips, a 1-block ViT,
    the first ``classes`` synthetic classes."""
    import torch
    import yaml

    from stae_ros.data import CLASS_NAMES
    from stae_ros.models import STAE, ModelConfig
    from stae_ros.training import save_checkpoint

    cfg_path = find_data_file("", "config/model_default.yaml")
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


def _specs(ckpt: str, opts: CodecBenchOptions, frames: int | None = None, loaded: Any = None,
           clip_hw: tuple[int, int] | None = None) -> list[dict[str, Any]]:
    from stae_ros.baselines import classic_sweep, make_codec, semantic_sweep

    if opts.sweep == "rate":
        from .folds import rate_sweep

        specs = rate_sweep(ckpt, opts.tiny, frames=frames, points=opts.stae_points or None)
    else:
        specs = classic_sweep(opts.tiny) + semantic_sweep(ckpt, opts.tiny, frames=frames)
    if opts.external:
        try:
            from stae_ros.baselines.external import external_sweep

            if opts.external_models or not opts.tiny:  # the shipped files are for 16x64x64 clips, not tiny ones
                specs += external_sweep(ckpt, opts.tiny, files=opts.external_models or None, clip_hw=clip_hw)
        except Exception as exc:  # the roi/latent packages are optional
            log.warning("roi/latent payloads left out: %s", exc)
    if opts.only:  # families ("h264"), modes ("stae"), kinds ("latent") or point names ("stae-k4-p0.05-fast")
        def wanted(s: dict[str, Any]) -> bool:
            if s["family"] in opts.only or s.get("mode") in opts.only or s.get("kind") in opts.only:
                return True
            try:
                codec = make_codec(s, loaded=loaded) if s["family"] == "semantic" else make_codec(s)
            except Exception:
                return False
            return codec.name in opts.only or codec.family in opts.only

        kept = [s for s in specs if wanted(s)]
        if not kept:
            families = sorted({str(s["family"]) for s in specs} | {str(s["mode"]) for s in specs if s.get("mode")})
            raise BenchDataError(f"--only {' '.join(opts.only)}: no operating point matches; families and modes: "
                                 f"{', '.join(families)} (or a point's name)")
        specs = kept
    return specs


# --------------------------------------------------------------------------------- measurement
def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape != b.shape:
        return float("nan")
    mse = float(np.mean((a.astype(np.float32) - b.astype(np.float32)) ** 2))
    return 99.0 if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


_SCORE_CACHE: dict[tuple, dict[str, Any]] = {}


def _accuracy_row(spec: dict[str, Any], loaded: Any, test: Any, ft: Any, ft_cfg: Any,
                  classifier: Any = None) -> dict[str, Any]:
    from stae_ros.baselines import make_codec

    from .finetune import adapt_and_score

    c0 = time.process_time()
    codec = make_codec(spec, loaded=loaded)
    payloads = [codec.encode(c) for c in test.clips]
    if getattr(codec, "own_classifier", False):  # learned latent: classified by its own head
        return _own_classifier_row(codec, spec, payloads, test) | {"accuracy_cpu_s": time.process_time() - c0}
    sizes = np.asarray([len(p) for p in payloads], dtype=np.float64)
    row = {"name": codec.name, "family": codec.family, "spec": spec,
           "bytes_mean": float(sizes.mean()), "bytes_p95": float(np.percentile(sizes, 95)),
           "bytes_min": float(sizes.min()), "bytes_max": float(sizes.max())}
    # lossless stae-px layouts decode to the same clip: score each selection once
    key = None
    if getattr(codec, "lossless", False):
        key = (codec.mode, codec.k, codec.p, codec.params.get("seed"))
        if key in _SCORE_CACHE:
            return row | _SCORE_CACHE[key] | {"accuracy_shared_with_lossless_layout": True,
                                              "accuracy_cpu_s": time.process_time() - c0}
    dec_test = codec.decode_many(payloads)
    dec_ft = codec.decode_many([codec.encode(c) for c in ft.clips])
    scores = adapt_and_score(classifier if classifier is not None else loaded.model.vit, dec_ft, ft.labels, dec_test,
                             test.labels, ft_cfg)
    scores["psnr_db"] = float(np.mean([_psnr(a, b) for a, b in zip(test.clips, dec_test)]))
    if key is not None:
        _SCORE_CACHE[key] = scores
    return row | scores | {"accuracy_cpu_s": time.process_time() - c0}


def _own_classifier_row(codec: Any, spec: dict[str, Any], payloads: list[bytes], test: Any) -> dict[str, Any]:
    import torch

    with torch.inference_mode():
        pred = np.asarray([int(codec.classify_payload(p).argmax(dim=1)[0]) for p in payloads])
    acc = float(np.mean(pred == test.labels))
    sizes = np.asarray([len(p) for p in payloads], dtype=np.float64)
    return {"name": codec.name, "family": codec.family, "spec": spec, "bytes_mean": float(sizes.mean()),
            "bytes_p95": float(np.percentile(sizes, 95)), "bytes_min": float(sizes.min()), "bytes_max": float(sizes.max()),
            "acc_zero_shot": acc, "acc": acc, "psnr_db": None, "note": "own head on the decoded latent (not re-fitted)"}


def _aggregate(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Several runs of one side of one point -> the headline (median over runs) and its spread."""
    ms = [r["ms"] for r in runs]
    return {"ms": float(np.median(ms)), "ms_runs": ms, "ms_spread": half_range_spread(ms),
            "ms_per_clip_runs": [r["ms_per_clip"] for r in runs], "wall_ms": float(np.median([r["wall_ms"] for r in runs])),
            "inner": max(r.get("inner", 1) for r in runs), "threads_seen": max(r.get("threads_seen", 0) for r in runs),
            "peak_rss_mb": max(r.get("peak_rss_mb", 0.0) for r in runs)}


def _side_fields(side: str, agg: dict[str, Any]) -> dict[str, Any]:
    return {f"{side}_ms": agg["ms"], f"{side}_ms_runs": agg["ms_runs"], f"{side}_ms_spread": agg["ms_spread"],
            f"{side}_ms_per_clip_runs": agg["ms_per_clip_runs"], f"{side}_wall_ms": agg["wall_ms"],
            f"{side}_inner_calls": agg["inner"], f"{side}_threads_seen": agg["threads_seen"],
            f"{side}_peak_rss_mb": agg["peak_rss_mb"]}


def _timing_job(opts: CodecBenchOptions) -> dict[str, Any]:
    return {"reps": opts.reps_per_clip, "min_sample_ms": opts.min_sample_ms, "min_run_s": opts.min_run_s, "warmup": 2}


def _timing_runs(specs: list[dict[str, Any]], ckpt: str, clips_path: str, opts: CodecBenchOptions,
                 tmp: Path, names: list[str] | None = None
                 ) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """``opts.repeats`` runs of every point's camera side and edge side, each run its own pair of
    child processes (one thread, fresh interpreter). The runs are interleaved - run 1 over all
    points, then run 2 in reverse order, run 3 forward again - so a slow phase of the host hits
    different points in different runs instead of all runs of one point. Runs that a slow phase of
    the host hit (their host probe says so) are redone afterwards (``_redo_slow_runs``). Returns
    per-spec timing fields, the ViT classification timing on the camera (1 thread) and on the
    edge, and the redo records."""
    from tqdm import tqdm

    job = _timing_job(opts)
    runs: list[dict[str, Any]] = [{"camera": [], "edge": []} for _ in specs]
    cls_runs: list[dict[str, Any]] = []
    edge_cls_runs: list[dict[str, Any]] = []
    bar = tqdm(total=opts.repeats * len(specs), desc="camera/edge timing runs", unit="point")

    def one_run(i: int, run: int) -> bool:
        payloads = str(tmp / f"payloads_{i}_{run}.bin")
        try:
            cam = run_child(job | {"side": "camera", "spec": specs[i], "clips": clips_path, "payloads": payloads,
                                   "threads": 1})
            edge = run_child(job | {"side": "edge", "spec": specs[i], "payloads": payloads,
                                    "threads": opts.edge_threads})
        except Exception as exc:
            log.warning("timing of %s failed: %s", specs[i], exc)
            runs[i]["error"] = str(exc)[-500:]
            return False
        runs[i]["camera"][run], runs[i]["edge"][run] = cam, edge
        return True

    for r in runs:
        r["camera"], r["edge"] = [None] * opts.repeats, [None] * opts.repeats
    for run in range(opts.repeats):
        order = list(range(len(specs)))
        if run % 2:
            order.reverse()
        cls_runs.append(run_child(job | {"side": "classify", "checkpoint": ckpt, "clips": clips_path, "threads": 1}))
        if opts.edge_threads != 1:
            edge_cls_runs.append(run_child(job | {"side": "classify", "checkpoint": ckpt, "clips": clips_path,
                                                  "threads": opts.edge_threads}))
        for i in order:
            bar.update()
            if "error" not in runs[i]:
                one_run(i, run)
    bar.close()
    redone = _redo_slow_runs(runs, names or [str(sp) for sp in specs], opts, one_run)
    timings = []
    for r in runs:
        if "error" in r:
            timings.append({"timing_error": r["error"]})
        else:
            timings.append(_side_fields("camera", _aggregate(r["camera"])) | _side_fields("edge", _aggregate(r["edge"])))
    local = _aggregate(cls_runs)
    return timings, local, (_aggregate(edge_cls_runs) if edge_cls_runs else local), redone


def slow_runs(runs: list[dict[str, Any]], tolerance: float) -> tuple[list[tuple[int, int]], dict[str, float]]:
    """(point, run) pairs whose camera or edge child saw a host probe more than ``tolerance``
    above that side's median probe over every run, and the medians. A run that a slow phase of
    the host hit says nothing about the codec; its redo, later, does."""
    medians: dict[str, float] = {}
    for side in ("camera", "edge"):
        probes = [c["host_probe_ms"] for r in runs if "error" not in r for c in r[side] if c and "host_probe_ms" in c]
        if probes:
            medians[side] = float(np.median(probes))
    slow = []
    for i, r in enumerate(runs):
        if "error" in r:
            continue
        for run in range(len(r["camera"])):
            if any(r[side][run] and side in medians and r[side][run].get("host_probe_ms", 0.0) > (1 + tolerance) * medians[side]
                   for side in ("camera", "edge")):
                slow.append((i, run))
    return slow, medians


def _redo_slow_runs(runs: list[dict[str, Any]], names: list[str], opts: CodecBenchOptions,
                    one_run: Any) -> list[dict[str, Any]]:
    """Redo the runs a slow host phase hit, after all runs (so not in the same phase), in rounds.

    Returns one record per redone run (point, run, probe ms before the redo and after it, the
    median probes); a run still slow after the last round is kept as it is."""
    redone: list[dict[str, Any]] = []
    if opts.probe_tolerance <= 0:
        return redone
    for round_ in range(max(0, opts.probe_redo_rounds)):
        slow, medians = slow_runs(runs, opts.probe_tolerance)
        if not slow:
            break
        log.info("redo round %d: %d runs were timed in a slow phase of the host (probe > +%.0f%% of median %s)",
                 round_ + 1, len(slow), 100 * opts.probe_tolerance, {k: round(v, 3) for k, v in medians.items()})
        for i, run in slow:
            before = {side: runs[i][side][run].get("host_probe_ms") for side in ("camera", "edge")}
            ms_before = {side: runs[i][side][run].get("ms") for side in ("camera", "edge")}
            if one_run(i, run):
                redone.append({"point": names[i], "run": run, "round": round_ + 1,
                               "probe_ms_before": before, "ms_before": ms_before,
                               "probe_ms_after": {side: runs[i][side][run].get("host_probe_ms") for side in ("camera", "edge")},
                               "median_probe_ms": medians})
    return redone


def _timing_shared(rows: list[dict[str, Any]], clips_path: str, opts: CodecBenchOptions, tmp: Path) -> None:
    """Tiny runs: per run, every spec's camera side in one child and edge side in another (RSS is shared)."""
    specs = [r["spec"] for r in rows]
    job = _timing_job(opts)
    cams: list[list[dict[str, Any]]] = [[] for _ in rows]
    edges: list[list[dict[str, Any]]] = [[] for _ in rows]
    for run in range(opts.repeats):
        paths = [str(tmp / f"payloads_{i}_{run}.bin") for i in range(len(rows))]
        cam = run_child(job | {"side": "camera", "specs": specs, "clips": clips_path, "payloads": paths, "threads": 1})
        edge = run_child(job | {"side": "edge", "specs": specs, "payloads": paths, "threads": opts.edge_threads})
        for i, (c, e) in enumerate(zip(cam["per_spec"], edge["per_spec"])):
            cams[i].append(c)
            edges[i].append(e)
    for r, c, e in zip(rows, cams, edges):
        r.update(_side_fields("camera", _aggregate(c)) | _side_fields("edge", _aggregate(e)) | {"rss_shared": True})


def _footage(specs: list[dict[str, Any]], opts: CodecBenchOptions, tmp: Path, shape: tuple[int, int, int]) -> dict[str, Any]:
    """Bytes and 1-thread CPU ms on real footage (one run): resized to the model's size, and native crops."""
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
        res = run_child(_timing_job(opts) | {"side": "sweep", "specs": fspecs, "clips": path, "threads": 1}, timeout_s=3600)
        footage[key] = {"clips": int(arr.shape[0]), "shape": list(arr.shape[1:]), "rows": res["rows"]}
    return footage


def _classify_in_process(loaded: Any, clips: np.ndarray, opts: CodecBenchOptions) -> dict[str, Any]:
    import torch

    from .child import _peak_rss_mb, _summary, _time_each

    from stae_ros.models.selection import clip_tensor

    xs = [clip_tensor(c) for c in clips]

    def classify(x: Any) -> Any:
        with torch.inference_mode():
            return loaded.model.classify(x)

    t, _ = _time_each(classify, xs, reps=opts.reps_per_clip, warmup=1, min_sample_ms=opts.min_sample_ms,
                      min_run_s=opts.min_run_s)
    return _aggregate([_summary(t) | {"peak_rss_mb": _peak_rss_mb()}])


def own_head_timing(rows: list[dict[str, Any]], loaded: Any, clips: np.ndarray, opts: CodecBenchOptions) -> None:
    """Payloads classified by their own head (stae-latent): the whole edge side (decode + head) on
    one thread, timed in this process (``opts.repeats`` runs, per-clip minimum, median over clips),
    as ``edge_classify_ms``; the timing children see the decode only."""
    import torch

    from stae_ros.baselines import make_codec

    from .child import _summary, _time_each

    for r in rows:
        spec = r.get("spec") or {}
        if "error" in r or spec.get("family") != "external" or spec.get("kind") != "latent":
            continue
        try:
            codec = make_codec(spec, loaded=loaded)
            payloads = [codec.encode(c) for c in clips]

            def classify(data: bytes) -> Any:
                with torch.inference_mode():
                    return codec.classify_payload(data)

            runs = [_summary(_time_each(classify, payloads, reps=opts.reps_per_clip, warmup=1,
                                        min_sample_ms=opts.min_sample_ms, min_run_s=opts.min_run_s)[0])
                    for _ in range(max(1, opts.repeats))]
        except Exception as exc:  # the point keeps its decode-only edge time
            log.warning("edge side of %s not timed: %s", r.get("name"), exc)
            continue
        agg = _aggregate([x | {"peak_rss_mb": 0.0} for x in runs])
        r.update(edge_classify_ms=agg["ms"], edge_classify_ms_runs=agg["ms_runs"], edge_classify_ms_spread=agg["ms_spread"])


def edge_classifier(path: str | Path, class_names: list[str], shape: tuple[int, int, int]) -> Any:
    """An edge model file (a ``stae_ros.local`` classifier trained for the edge, e.g. by
    ``stae train`` with ``mode: edge``) as the classifier the bench adapts per codec, instead of the
    STAE checkpoint's ViT: a module with ``features``, ``head`` and ``forward`` on float N,3,T,H,W
    clips, its logits in the checkpoint's class order."""
    import torch

    f = _load_classifier_file(path, "edge model", class_names, shape)
    order = torch.as_tensor([list(f.class_names).index(c) for c in class_names])

    class _Reorder(torch.nn.Module):
        def forward(self, x: Any) -> Any:
            return x[:, order]

    class _Edge(torch.nn.Module):
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model
            self.head = torch.nn.Sequential(model.fc, _Reorder())  # fit_head re-fits a copy of this

        def features(self, x: Any) -> Any:
            return self.model.features(x)

        def forward(self, x: Any) -> Any:
            return self.head(self.model.dropout(self.features(x)))

    return _Edge(f.model).eval()


def edge_model_timing(path: str | Path, clips: np.ndarray, opts: CodecBenchOptions) -> tuple[dict[str, Any], dict[str, Any]]:
    """The edge model's one-thread classify time, in the shape of the ViT's (``_aggregate``), and
    what the report records about it (path, GFLOP per clip)."""
    t = local_model_timing(path, clips, opts)
    agg = {"ms": t["camera_ms"], "ms_runs": t["camera_ms_runs"], "ms_spread": t["camera_ms_spread"], "peak_rss_mb": 0.0}
    return agg, {"path": str(path), "gflop": t["camera_gflop"], "ms": t["camera_ms"], "ms_spread": t["camera_ms_spread"]}


def _load_classifier_file(path: str | Path, role: str, class_names: list[str], shape: Any) -> Any:
    """A classifier file (stae_ros.local format) that labels ``class_names`` on clips of ``shape``
    (T, H, W); anything else is a BenchDataError naming the file, so a wrong --edge-model or
    --local-model stops the bench before any point is measured."""
    from stae_ros.local import LocalModelError, load_local_model

    try:
        f = load_local_model(path)
    except LocalModelError as exc:
        raise BenchDataError(str(exc)) from exc
    if sorted(f.class_names) != sorted(class_names):
        raise BenchDataError(f"{role} {path} labels {f.class_names}, the bench's checkpoint {class_names}")
    if tuple(f.shape[:3]) != tuple(shape):
        raise BenchDataError(f"{role} {path} takes {tuple(f.shape[:3])} clips, the bench's are {tuple(shape)}")
    return f


def default_local_model(class_names: list[str]) -> str | None:
    """The shipped local classifier when it labels exactly ``class_names`` (else None)."""
    path = find_data_file("", "models/stae_local_default.pt")
    if not path.is_file():
        return None
    try:
        from stae_ros.local import load_local_model

        return str(path) if list(load_local_model(path).class_names) == list(class_names) else None
    except Exception as exc:  # an unreadable shipped file: the bench goes on without the point
        log.warning("local classifier %s left out: %s", path, exc)
        return None


def local_model_accuracy(path: str | Path, class_names: list[str], test: Any, batch: int = 32) -> dict[str, Any]:
    """The local classifier of ``path`` on the test clips: accuracy and its file's identity.

    Its labels are mapped onto the checkpoint's class order by name; a file of other classes or
    another clip size is a BenchDataError naming the file."""
    import torch

    f = _load_classifier_file(path, "local model", class_names, test.clips.shape[1:4])
    to_ckpt = np.asarray([class_names.index(c) for c in f.class_names])
    preds = []
    with torch.inference_mode():
        for i in range(0, len(test.clips), batch):
            x = torch.from_numpy(np.ascontiguousarray(test.clips[i : i + batch])).permute(0, 4, 1, 2, 3).float().div_(255.0)
            preds.append(to_ckpt[f.model(x).argmax(dim=1).numpy()])
    pred = np.concatenate(preds)
    return {"path": str(path), "model_id": f.model_id, "n": int(len(pred)), "correct": int(np.sum(pred == test.labels)),
            "acc": float(np.mean(pred == test.labels))}


def local_model_timing(path: str | Path, clips: np.ndarray, opts: CodecBenchOptions) -> dict[str, Any]:
    """One-thread CPU ms per clip of the local classifier (``opts.repeats`` in-process runs, the
    bench's per-clip minimum / median rule) and its GFLOP per clip (stae_ros.profiling.flops)."""
    import torch

    from stae_ros.local import load_local_model
    from stae_ros.profiling.flops import count_flops

    from .child import _peak_rss_mb, _summary, _time_each

    model = load_local_model(path).model.eval()
    xs = [torch.from_numpy(np.ascontiguousarray(c)).permute(3, 0, 1, 2).unsqueeze(0).float().div_(255.0) for c in clips]

    def classify(x: Any) -> Any:
        with torch.inference_mode():
            return model(x)

    runs = []
    for _ in range(max(1, opts.repeats)):
        t, _ = _time_each(classify, xs, reps=opts.reps_per_clip, warmup=1, min_sample_ms=opts.min_sample_ms,
                          min_run_s=opts.min_run_s)
        runs.append(_summary(t) | {"peak_rss_mb": _peak_rss_mb()})
    agg = _aggregate(runs)
    return {"camera_ms": agg["ms"], "camera_ms_runs": agg["ms_runs"], "camera_ms_spread": agg["ms_spread"],
            "camera_gflop": count_flops(model, xs[0]).gflop, "threads": torch.get_num_threads()}


def half_range_spread(values: list[float]) -> float:
    """Half the max-min range as a fraction of the median: the '±' of a few repeated runs
    (timing runs within a bench, and whole bench runs in :mod:`.compare`)."""
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
    offload = [f for f in curves if f != "local"]
    return {"rates_bps": RATES_BPS, "curves": curves,
            "winner_bands": fastest_bands(RATES_BPS, curves, list(curves), key="family"),
            "winner_bands_offload": fastest_bands(RATES_BPS, curves, offload, key="family"), "accuracy_within": within}


def timing_stability(rows: list[dict[str, Any]], tolerance: float = 0.10) -> dict[str, Any]:
    """How many camera/edge timings have a run-to-run spread (± half-range / median) within ``tolerance``."""
    items = [(r["name"], side, float(r[f"{side}_ms"]), float(r[f"{side}_ms_spread"]))
             for r in rows for side in ("camera", "edge") if r.get(f"{side}_ms_spread") is not None]
    spreads = [it[3] for it in items]
    worst = sorted(items, key=lambda it: -it[3])[:8]
    return {"tolerance": tolerance, "total": len(items),
            "within": sum(sp <= tolerance + 1e-12 for sp in spreads),
            "within_2x": sum(sp <= 2 * tolerance + 1e-12 for sp in spreads),
            "median_spread": float(np.median(spreads)) if spreads else None,
            "max_spread": float(max(spreads)) if spreads else None,
            "worst": [{"point": n, "side": sd, "ms": ms, "spread": sp} for n, sd, ms, sp in worst]}


def _verdict(a_ms: float, a_sp: float, b_ms: float, b_sp: float) -> str:
    """'a' / 'b' when one is faster in every run's range, else 'tie'."""
    if a_ms * (1 + a_sp) < b_ms * (1 - b_sp):
        return "a"
    if b_ms * (1 + b_sp) < a_ms * (1 - a_sp):
        return "b"
    return "tie"


def camera_vs_x264(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Camera-side CPU ms of every STAE camera point (the paper's payload and STAE's own H.264 ROI
    and latent payloads) against every libx264 ``ultrafast`` point.

    Both were timed on the same clips (the same ``.npy`` file), in one-thread child processes, in
    the same runs; the per-clip comparison pairs clip i of one with clip i of the other (median
    over runs per clip). ``winner`` is a method only when the run-to-run ranges do not overlap.
    """
    stae = [r for r in rows if (str(r.get("family", "")).startswith("stae") or r.get("family") in STAE_PAYLOAD_FAMILIES)
            and "camera_ms" in r]
    x264 = [r for r in rows if r.get("family") == "h264" and (r.get("spec") or {}).get("preset") == "ultrafast"
            and "camera_ms" in r]
    out = []
    for s in stae:
        for h in x264:
            s_clip = np.median(np.asarray(s["camera_ms_per_clip_runs"]), axis=0)
            h_clip = np.median(np.asarray(h["camera_ms_per_clip_runs"]), axis=0)
            n = min(len(s_clip), len(h_clip))
            v = _verdict(s["camera_ms"], s["camera_ms_spread"], h["camera_ms"], h["camera_ms_spread"])
            out.append({"stae_point": s["name"], "x264_point": h["name"], "stae_ms": s["camera_ms"],
                        "stae_spread": s["camera_ms_spread"], "x264_ms": h["camera_ms"], "x264_spread": h["camera_ms_spread"],
                        "ratio": s["camera_ms"] / h["camera_ms"] if h["camera_ms"] > 0 else None,
                        "clips": int(n), "stae_faster_clips": int(np.sum(s_clip[:n] < h_clip[:n])),
                        "threads": 1, "winner": {"a": "stae", "b": "x264", "tie": "tie"}[v]})
    return out


def compression_target(rows: list[dict[str, Any]], ratio: float = 104.0, within: float = 0.05) -> dict[str, Any]:
    """The core issue's target: a STAE point at >= ``ratio`` x fewer bytes than the float32 clip whose
    (adapted) accuracy is within ``within`` of the full budget (K = T, p = 1: the raw clip's accuracy)."""
    raw = next((r for r in rows if r.get("family") == "raw" and "acc" in r), None)
    if raw is None:
        return {}
    ref = raw["acc"]
    pts = [r for r in rows if str(r.get("family", "")).startswith("stae") and "acc" in r]
    high = [r for r in pts if r.get("ratio_vs_float32", 0) >= ratio]
    ok = [r for r in high if r["acc"] >= ref - within - 1e-9]
    best = max(ok, key=lambda r: r["ratio_vs_float32"]) if ok else (max(high, key=lambda r: r["acc"]) if high else None)
    return {"ratio": ratio, "within": within, "full_budget_point": raw["name"], "full_budget_acc": ref, "met": bool(ok),
            "points_meeting": [r["name"] for r in ok],
            "best": None if best is None else {"point": best["name"], "acc": best["acc"], "bytes": best["bytes_mean"],
                                               "ratio_vs_float32": best["ratio_vs_float32"]}}


# ----------------------------------------------------------------------------------------- run
def build_report(opts: CodecBenchOptions, ckpt: str, loaded: Any, rows: list[dict[str, Any]], shape: tuple[int, int, int],
                 test_clips: int, finetune_clips: Any, ft_cfg: Any, local: dict[str, Any], edge_cls: dict[str, Any],
                 redone: list[dict[str, Any]], footage: dict[str, Any], phases: dict[str, float],
                 local_models: list[dict[str, Any]], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The report of a run from its measured rows and timings: ratios, H.264 at equal accuracy,
    timing stability, STAE vs x264 on the camera, the compression target, completion curves."""
    import torch

    frames, h, w = shape
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
        "format": "stae-bench-codecs/2",
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "wall_s": None,
        "host": {"machine": platform.machine(), "python": platform.python_version(), "torch": torch.__version__,
                 "cpu_count": __import__("os").cpu_count(), "loadavg_end": list(__import__("os").getloadavg())},
        "options": asdict(opts),
        "checkpoint": ckpt, "checkpoint_stage": loaded.meta.get("stage"),
        "class_names": loaded.class_names,
        "clip": {"frames": frames, "height": h, "width": w, "float32_bytes": float_bytes, "uint8_bytes": raw_bytes},
        "test_clips": int(test_clips), "finetune_clips": finetune_clips,
        "finetune": ft_cfg.as_dict(),
        "timing": {"runs": opts.repeats, "clips": int(min(opts.timing_clips, test_clips)), "reps_per_clip": opts.reps_per_clip,
                   "min_sample_ms": opts.min_sample_ms, "min_run_s": opts.min_run_s, "threads": 1, "edge_threads": opts.edge_threads,
                   "method": (f"per run and side a fresh one-thread child process; each clip timed at least {opts.reps_per_clip} "
                              "times, round-robin over the clips"
                              + (f", for at least {opts.min_run_s:g} s per run" if opts.min_run_s > 0 else "")
                              + f" (calls under "
                              f"{opts.min_sample_ms:g} ms repeated back to back per sample), minimum CPU time "
                              "(process_time) per clip, median over clips; headline = median over runs, ± = half-range "
                              "over runs / median; runs interleaved over the points (forward, reverse, forward...)"
                              + (f"; a run whose host probe was > +{100 * opts.probe_tolerance:.0f}% of the median was "
                                 f"redone after all runs (at most {opts.probe_redo_rounds} rounds)" if opts.probe_tolerance > 0 else ""))},
        "timing_redone": redone,
        "classify_ms": {"local_camera_1thread": local["ms"], "edge": edge_cls["ms"], "runs": local["ms_runs"],
                        "spread": local["ms_spread"], "camera_peak_rss_mb": local["peak_rss_mb"]},
        "rows": rows,
        "timing_stability": timing_stability(rows),
        "camera_vs_x264": camera_vs_x264(rows),
        "compression_target": compression_target(rows),
        "completion": curves,
        "footage": footage,
        "phases": phases,
        "local_models": local_models,
    } | (extra or {})
    return report


def apply_tiny(opts: CodecBenchOptions) -> None:
    """``--tiny``: one or two clips, steps and samples everywhere (tests)."""
    if opts.tiny:
        opts.test_per_class, opts.ft_per_class = min(opts.test_per_class or 1, 1), min(opts.ft_per_class, 1)
        opts.timing_clips, opts.repeats = min(opts.timing_clips, 1), min(opts.repeats, 2)
        opts.adapt_steps = min(opts.adapt_steps or 2, 2)
        opts.adapt_batch = min(opts.adapt_batch, 4)
        opts.reps_per_clip, opts.min_sample_ms = min(opts.reps_per_clip, 2), min(opts.min_sample_ms, 0.5)
        opts.min_run_s = 0.0


def write_outputs(report: dict[str, Any], out: Path) -> None:
    """codecs.json, codecs.md, the PNG plots, and the data set's entry in the results summary."""
    from .plots import write_plots
    from .report import write_markdown
    from .summary import bench_summary_path, record_bench

    (out / "codecs.json").write_text(json.dumps(report, indent=1))
    write_markdown(report, out / "codecs.md")
    write_plots(report, out)
    # kept in memory only (codecs.json is written): the CLI exits non-zero when the summary could not be written
    report["summary_written"] = record_bench(report, bench_summary_path(report["options"])) is not None


def run_codec_bench(opts: CodecBenchOptions) -> dict[str, Any]:
    """Run the whole codec benchmark; write JSON/Markdown/PNGs under ``opts.out``; return the report.

    With ``opts.fold`` the run is cross-validated over the data set's folds (:mod:`.folds`)."""
    if opts.fold:
        from .folds import run_fold_bench

        return run_fold_bench(opts)
    if opts.edge_model:
        raise BenchDataError("--edge-model needs --fold (a labelled folder with a fold CSV and one edge model per fold)")
    import resource

    import torch
    from tqdm import tqdm

    from stae_ros.training import load_model

    from .dataset import load_data_root, synthetic_clips
    from .finetune import FinetuneConfig

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
    if opts.repeats < 1:
        raise BenchDataError(f"--repeats must be >= 1, got {opts.repeats}")
    apply_tiny(opts)
    if opts.data:
        test = load_data_root(opts.data, "test", loaded.class_names, frames, h, w, short_clip=opts.short_clip)
        if opts.test_per_class > 0:
            test = test.take(opts.test_per_class, 0)
        ft = load_data_root(opts.data, "train", loaded.class_names, frames, h, w, short_clip=opts.short_clip)
        if opts.ft_per_class > 0:
            ft = ft.take(opts.ft_per_class, 1)
    else:
        test = synthetic_clips(loaded.class_names, opts.test_per_class or 25, frames, h, w, seed=0)
        ft = synthetic_clips(loaded.class_names, opts.ft_per_class, frames, h, w, seed=1)
    if opts.local_model:  # named by the user: a file that cannot serve stops the bench now, not after it
        _load_classifier_file(opts.local_model, "--local-model", loaded.class_names, test.clips.shape[1:4])
    ft_cfg = FinetuneConfig(mode=opts.adapt, steps=opts.adapt_steps, batch=opts.adapt_batch)
    _SCORE_CACHE.clear()
    specs = _specs(ckpt, opts, frames, loaded, clip_hw=(h, w))
    log.info("codec bench: %d operating points, %d test clips, %d fine-tuning clips, model %s; adaptation: %s",
             len(specs), len(test.clips), len(ft.clips), ckpt, ft_cfg.describe())
    phases: dict[str, float] = {}

    with tempfile.TemporaryDirectory(prefix="stae-bench-") as tmpd:
        tmp = Path(tmpd)
        clips_path = str(tmp / "timing_clips.npy")
        np.save(clips_path, test.clips[: opts.timing_clips])
        # accuracy first, timing afterwards: timing runs alone, so our own training steps on the
        # other core cannot inflate the children's CPU time through shared caches and memory
        t0, c0 = time.time(), time.process_time()
        rows: list[dict[str, Any]] = []
        for spec in tqdm(specs, desc="accuracy per codec", unit="point"):
            try:
                rows.append(_accuracy_row(spec, loaded, test, ft, ft_cfg))
            except Exception as exc:  # noqa: BLE001 - one point's failure is a row of the report, not the end of the bench
                log.error("operating point %s failed: %s", spec, exc_line(exc))
                log.debug("operating point %s failed", spec, exc_info=True)
                rows.append({"name": str(spec), "family": spec.get("family"), "spec": spec, "error": exc_line(exc)})
        phases.update(accuracy_wall_s=time.time() - t0, accuracy_cpu_s=time.process_time() - c0)
        if all("error" in r for r in rows):
            raise BenchDataError(f"every operating point failed; the first: {rows[0]['name']}: {rows[0]['error']}")
        log.info("accuracy pass done at %.0f s", time.time() - t_start)
        t0 = time.time()
        ch0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        redone: list[dict[str, Any]] = []
        if opts.tiny:
            _timing_shared([r for r in rows if "error" not in r], clips_path, opts, tmp)
            local = _classify_in_process(loaded, test.clips[: opts.timing_clips], opts)
            edge_cls = local
        else:
            ok = [i for i, r in enumerate(rows) if "error" not in r]
            timings, local, edge_cls, redone = _timing_runs([rows[i]["spec"] for i in ok], ckpt, clips_path, opts, tmp,
                                                            names=[rows[i]["name"] for i in ok])
            for i, t in zip(ok, timings):
                rows[i].update(t)
        ch1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        phases.update(timing_wall_s=time.time() - t0,
                      timing_children_cpu_s=(ch1.ru_utime + ch1.ru_stime) - (ch0.ru_utime + ch0.ru_stime))
        t0 = time.time()
        footage = _footage(specs, opts, tmp, (frames, h, w)) if opts.real_footage else {}
        phases["footage_wall_s"] = time.time() - t0
    log.info("timing pass done at %.0f s", time.time() - t_start)

    own_head_timing(rows, loaded, test.clips[: opts.timing_clips], opts)
    local_models = []
    local_path = default_local_model(loaded.class_names) if opts.local_model is None else opts.local_model
    if local_path:
        try:
            local_models.append(local_model_accuracy(local_path, loaded.class_names, test)
                                | local_model_timing(local_path, test.clips[: opts.timing_clips], opts))
        except BenchDataError as exc:
            log.warning("local classifier left out: %s", exc)
    report = build_report(opts, ckpt, loaded, rows, (frames, h, w), len(test.clips), len(ft.clips), ft_cfg,
                          local, edge_cls, redone, footage, phases, local_models)
    report["wall_s"] = time.time() - t_start
    write_outputs(report, out)
    log.info("codec bench written to %s (%.0f s)", out, report["wall_s"])
    return report
