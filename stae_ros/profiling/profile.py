"""Measure the accuracy profile: for every (K, p), what it buys (accuracy) and costs (bytes, ms).

Everything goes through the deployed path, not a shortcut: CameraPipeline (FA + SA on one CPU
thread, then the stae-px codec) produces the bytes a camera would publish, and EdgePipeline
(decode, scatter, FR, ViT) labels them. So the profile the controller plans with describes what
the nodes actually do.
"""

from __future__ import annotations

import logging
import math
import platform
import sys
import time
from datetime import datetime, timezone
from typing import Any, Sequence

import numpy as np

from stae_ros.codec import DEFAULT_LEVEL as CODEC_DEFAULT_LEVEL

from .schema import OperatingPoint, Profile

__all__ = ["measure_profile", "compression_ratio", "summarize", "profile_table", "confusion_matrix"]

log = logging.getLogger(__name__)


def compression_ratio(profile: Profile, point: OperatingPoint) -> float:
    """float32 raw clip bytes / mean payload bytes (the paper's compression ratio)."""
    return profile.raw_float32_bytes / point.bytes_mean if point.bytes_mean > 0 else math.inf


def _full_point(profile: Profile) -> OperatingPoint:
    t = profile.clip["frames"]
    full = [pt for pt in profile.points if pt.k == t and pt.p >= 1.0]
    return full[0] if full else max(profile.points, key=lambda pt: (pt.k, pt.p))


def summarize(profile: Profile, tolerance: float = 0.05, target_ratio: float = 104.0) -> dict[str, Any]:
    """Full-budget accuracy, and the highest compression ratio within ``tolerance`` of it."""
    full = _full_point(profile)
    within = [pt for pt in profile.points if pt.accuracy >= full.accuracy - tolerance - 1e-12]
    best = max(within, key=lambda pt: compression_ratio(profile, pt))
    at_target = [pt for pt in profile.points if compression_ratio(profile, pt) >= target_ratio]
    best_at_target = max(at_target, key=lambda pt: pt.accuracy) if at_target else None
    return {
        "full_budget_accuracy": full.accuracy,
        "raw_float32_bytes": profile.raw_float32_bytes,
        "tolerance": tolerance,
        "best_ratio_within_tolerance": compression_ratio(profile, best),
        "best_point_within_tolerance": {"k": best.k, "p": best.p, "accuracy": best.accuracy, "bytes_mean": best.bytes_mean},
        "target_ratio": target_ratio,
        "best_accuracy_at_target_ratio": None if best_at_target is None else {
            "k": best_at_target.k, "p": best_at_target.p, "accuracy": best_at_target.accuracy,
            "ratio": compression_ratio(profile, best_at_target)},
        "target_met": best_at_target is not None and best_at_target.accuracy >= full.accuracy - tolerance - 1e-12,
    }


def profile_table(profile: Profile) -> str:
    """A markdown table of the operating points (for docs and the CLI)."""
    if any(pt.codec != profile.points[0].codec for pt in profile.points):
        return modes_table(profile)
    lines = ["| K | p | accuracy | bytes mean | bytes p95 | ratio vs f32 | camera ms | edge ms |",
             "|---|---|---|---|---|---|---|---|"]
    for pt in sorted(profile.points, key=lambda q: (-q.k, -q.p)):
        lines.append(f"| {pt.k} | {pt.p:g} | {pt.accuracy * 100:.1f}% | {pt.bytes_mean:.0f} | {pt.bytes_p95:.0f} | "
                     f"{compression_ratio(profile, pt):.0f}x | {pt.camera_ms:.1f} | {pt.edge_ms:.1f} |")
    return "\n".join(lines)


def modes_table(profile: Profile) -> str:
    """Every mode's points, most accurate first: what each costs on the camera, the link and the edge."""
    def gflop(v: float | None) -> str:
        return "-" if v is None else f"{v:.3f}"

    lines = ["| mode | setting | accuracy | bytes mean | camera GFLOP | camera ms | edge GFLOP | edge ms |",
             "|---|---|---|---|---|---|---|---|"]
    for pt in sorted(profile.points, key=lambda q: (-q.accuracy, q.bytes_mean)):
        setting = pt.extra.get("label", f"K={pt.k} p={pt.p:g}")
        lines.append(f"| {pt.codec} | {setting} | {pt.accuracy * 100:.1f}% | {pt.bytes_mean:.0f} | {gflop(pt.camera_gflop)} | "
                     f"{pt.camera_ms:.1f} | {gflop(pt.edge_gflop)} | {pt.edge_ms:.1f} |")
    return "\n".join(lines)


def confusion_matrix(labels: Sequence[int], preds: Sequence[int], num_classes: int) -> np.ndarray:
    """Rows: true class, columns: predicted class (counts)."""
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    for t, p in zip(labels, preds):
        if 0 <= int(p) < num_classes:
            cm[int(t), int(p)] += 1
    return cm


def measure_point(camera: Any, edge: Any, clips: np.ndarray, labels: np.ndarray, k: int, p: float,
                  edge_batch: int = 1) -> tuple[OperatingPoint, np.ndarray]:
    """Run every clip through camera -> bytes -> edge at budget (k, p); returns the point and predictions."""
    from stae_ros import codec as px_codec

    camera.set_budget(k, p)
    sizes, cam_ms, edge_ms = [], [], []
    preds = np.full(len(labels), -1, dtype=np.int64)
    pending: list[tuple[int, bytes]] = []

    def flush() -> None:
        results = edge.decode_classify([(data, px_codec.CODEC_NAME) for _, data in pending])
        for (i, _), r in zip(pending, results):
            if r.error is not None:
                log.warning("clip %d at K=%d p=%g failed on the edge: %s", i, k, p, r.error)
                continue
            preds[i] = r.class_id
            edge_ms.append(r.decode_ms + r.infer_ms)
        pending.clear()

    for i, clip in enumerate(clips):
        enc = camera.encode(np.ascontiguousarray(clip))
        sizes.append(len(enc.payload))
        cam_ms.append(enc.camera_ms)
        pending.append((i, enc.payload))
        if len(pending) >= edge_batch:
            flush()
    if pending:
        flush()
    sizes_a = np.asarray(sizes, dtype=np.float64)
    point = OperatingPoint(
        codec=px_codec.CODEC_NAME, k=int(k), p=float(p),
        accuracy=float((preds == labels).mean()) if len(labels) else 0.0,
        bytes_mean=float(sizes_a.mean()), bytes_p95=float(np.percentile(sizes_a, 95)),
        camera_ms=float(np.median(cam_ms)), edge_ms=float(np.median(edge_ms)) if edge_ms else 0.0,
        n_clips=int(len(labels)),
        extra={"codec_version": int(px_codec.CODEC_VERSION), "bytes_min": float(sizes_a.min()),
               "bytes_max": float(sizes_a.max()), "camera_ms_p95": float(np.percentile(cam_ms, 95)),
               "edge_ms_p95": float(np.percentile(edge_ms, 95)) if edge_ms else 0.0, "edge_batch": int(edge_batch)},
    )
    return point, preds


def measure_profile(loaded: Any, clips: np.ndarray, labels: np.ndarray, name: str,
                    budgets: Sequence[tuple[int, float]] | None = None, model_path: str = "", dataset: str = "",
                    command: str = "", edge_device: str = "cpu", edge_batch: int = 1, camera_threads: int = 1,
                    zstd_level: int = CODEC_DEFAULT_LEVEL, value_bits: int = 8, progress: bool = True,
                    specs: Sequence[Any] | None = None, model_files: dict[str, str] | None = None) -> Profile:
    """Measure every (K, p) of the model's budget sets (or ``budgets``) on ``clips`` (uint8 N,T,H,W,C).

    With ``specs`` (:class:`stae_ros.profiling.modes.PointSpec`, e.g. from ``config/profile_modes.yaml``)
    it measures those points of every mode instead, on the same clips, into the same profile.
    """
    import torch
    from tqdm import tqdm

    from stae_ros import codec as px_codec
    from stae_ros.pipeline import CameraPipeline, EdgePipeline

    cfg = loaded.config
    if budgets is None:
        budgets = [(int(k), float(p)) for k in cfg.budgets.frame for p in cfg.budgets.spatial]
    labels = np.asarray(labels, dtype=np.int64)
    t0 = time.perf_counter()
    skipped: dict[str, str] = {}
    if specs is not None:
        from .modes import measure_mode_points

        points, skipped = measure_mode_points(loaded, clips, labels, specs, model_files=model_files,
                                              edge_device=edge_device, edge_batch=edge_batch,
                                              camera_threads=camera_threads,
                                              camera_options={"zstd_level": zstd_level, "value_bits": value_bits},
                                              progress=progress)
        device = edge_device
    else:
        camera = CameraPipeline(loaded, codec=px_codec.CODEC_NAME, threads=camera_threads, zstd_level=zstd_level,
                                value_bits=value_bits)
        edge = EdgePipeline(loaded, device=edge_device)
        device = str(edge.device)
        points = []
        for k, p in tqdm(budgets, desc="profile", disable=not progress):
            point, _ = measure_point(camera, edge, clips, labels, k, p, edge_batch=edge_batch)
            points.append(point)
            log.info("K=%d p=%g acc=%.3f bytes=%.0f camera=%.1fms edge=%.1fms", k, p, point.accuracy,
                     point.bytes_mean, point.camera_ms, point.edge_ms)
    clip = {"frames": cfg.clip.frames, "height": cfg.clip.height, "width": cfg.clip.width, "channels": cfg.clip.channels}
    profile = Profile(
        name=name, clip=clip, points=points, model=model_path, dataset=dataset, command=command,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        host={"machine": platform.machine(), "processor": platform.processor() or platform.machine(),
              "python": sys.version.split()[0], "torch": torch.__version__, "camera_threads": camera_threads,
              "edge_device": device, "edge_threads": torch.get_num_threads(), "edge_batch": edge_batch,
              "zstd_level": zstd_level, "value_bits": value_bits,
              "measure_s": round(time.perf_counter() - t0, 1), **({"skipped_modes": skipped} if skipped else {})},
    )
    for pt in profile.points:
        if pt.bytes_mean > 0:
            pt.extra["compression_ratio"] = round(compression_ratio(profile, pt), 2)
    return profile
