"""Every mode's operating points, measured on the same test clips into one profile.

A planner can only trade one mode against another when their accuracies mean the same thing:
the same clips, the same labels, the same edge model behind every offloading mode. So each point
here goes through the deployed path of its mode (CameraPipeline -> bytes -> EdgePipeline, or the
camera's own label for a mode that classifies on the camera) on one array of clips, and records
what the planner needs: accuracy, bytes, camera and edge ms on this host, and camera and edge
FLOPs per clip (counted, so that a preset can turn them into time on a Raspberry Pi).

Which points each mode gets comes from ``config/profile_modes.yaml``; nothing here names a mode.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from stae_ros.configio import ConfigError, load_yaml
from stae_ros.resources import find_data_file

from .flops import count_flops
from .schema import OperatingPoint

__all__ = ["PointSpec", "load_mode_grid", "measure_mode_points", "unknown_mode_error", "DEFAULT_MODES_FILE"]

log = logging.getLogger(__name__)

DEFAULT_MODES_FILE = find_data_file("", "config/profile_modes.yaml")


@dataclass(frozen=True)
class PointSpec:
    """One point to measure: a mode, a budget and the mode's knobs."""

    mode: str
    k: int | None = None  #: None: the clip length (modes that send the whole clip)
    p: float = 1.0
    settings: Mapping[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        knobs = " ".join(f"{key}={value}" for key, value in sorted(self.settings.items()))
        budget = "" if self.k is None else f"K={self.k} p={self.p:g}"
        return " ".join(part for part in (budget, knobs) if part) or "default"


def unknown_mode_error(names: Sequence[str], where: str = "") -> str | None:
    """``unknown mode 'x'{where}; registered modes: ...`` for the first name no mode is registered under;
    None when every name is a mode."""
    from stae_ros.modes import mode_names

    known = mode_names()
    bad = next((name for name in names if name not in known), None)
    return None if bad is None else f"unknown mode {bad!r}{where}; registered modes: {', '.join(sorted(known))}"


def load_mode_grid(path: str | Path = DEFAULT_MODES_FILE, modes: Sequence[str] | None = None,
                   model_budgets: Sequence[tuple[int, float]] = ()) -> list[PointSpec]:
    """The points of ``modes`` (default: every mode in the file), in the file's order.

    Unknown modes (in the file or asked for) and malformed entries raise ConfigError naming them.
    """
    raw = load_yaml(path, allowed=("schema", "modes"))
    table = raw.get("modes")
    if not isinstance(table, dict) or not table:
        raise ConfigError(f"{path}: 'modes' must be a mapping of mode name -> points")
    asked = unknown_mode_error(modes or [], " asked for")  # by the caller (stae profile --modes), not the file
    if asked:
        raise ConfigError(asked)
    written = unknown_mode_error(table)
    if written:
        raise ConfigError(f"{path}: {written}")
    wanted = list(modes) if modes else list(table)
    specs: list[PointSpec] = []
    for name in wanted:
        entry = table.get(name)
        if not isinstance(entry, dict) or not (set(entry) <= {"budgets", "settings"}) or not entry:
            raise ConfigError(f"{path}: modes.{name} must be a mapping with 'budgets' and/or 'settings'")
        budgets = entry.get("budgets")
        settings_list = entry.get("settings", [{}])
        if not isinstance(settings_list, list) or not all(isinstance(s, dict) for s in settings_list):
            raise ConfigError(f"{path}: modes.{name}.settings must be a list of mappings")
        if budgets is None:
            specs += [PointSpec(name, None, 1.0, dict(s)) for s in settings_list]
            continue
        if budgets == "model":
            pairs = list(model_budgets)
        elif isinstance(budgets, list) and all(isinstance(b, list) and len(b) == 2 for b in budgets):
            try:
                pairs = [(int(k), float(p)) for k, p in budgets]
            except (TypeError, ValueError):
                raise ConfigError(f"{path}: modes.{name}.budgets must be 'model' or a list of [K, p]") from None
        else:
            raise ConfigError(f"{path}: modes.{name}.budgets must be 'model' or a list of [K, p]")
        specs += [PointSpec(name, k, p, dict(s)) for k, p in pairs for s in settings_list]
    return specs


def _edge_items(enc: Any) -> tuple[bytes, str, str]:
    return (enc.payload, enc.codec, enc.model_id)


def measure_mode_points(loaded: Any, clips: np.ndarray, labels: np.ndarray, specs: Sequence[PointSpec],
                        model_files: Mapping[str, str] | None = None, edge_device: str = "cpu", edge_batch: int = 1,
                        camera_threads: int = 1, camera_options: Mapping[str, Any] | None = None,
                        progress: bool = True) -> tuple[list[OperatingPoint], dict[str, str]]:
    """(points, skipped mode -> reason) for ``specs`` on ``clips`` (uint8 N,T,H,W,3) with ``labels``.

    Labels are compared by class *name*, so a mode whose model lists the classes in another order
    is still scored right (and one that does not know a class scores 0 on its clips).
    """
    from tqdm import tqdm

    from stae_ros.pipeline import CameraPipeline, EdgePipeline
    from stae_ros.pipeline.errors import PipelineError

    files = dict(model_files or {})
    names = list(loaded.class_names)
    truth = [names[int(i)] for i in np.asarray(labels)]
    clip_shape = tuple(int(v) for v in clips.shape[1:])
    edge = EdgePipeline(loaded, device=edge_device, codec_models=files)
    cameras: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    points: list[OperatingPoint] = []
    for spec in tqdm(specs, desc="profile", disable=not progress):
        if spec.mode in skipped:
            continue
        try:
            camera = cameras.get(spec.mode)
            if camera is None:
                camera = CameraPipeline(loaded, codec=spec.mode, threads=camera_threads, model_files=files,
                                        **dict(camera_options or {}))
                cameras[spec.mode] = camera
            if tuple(camera.shape) != clip_shape:
                skipped[spec.mode] = f"its model takes clips {camera.shape}, the test clips are {clip_shape}"
                continue
            camera.commit(camera.prepare(k=spec.k if spec.k is not None else camera.shape[0], p=spec.p,
                                         settings=spec.settings))
        except PipelineError as exc:
            skipped[spec.mode] = str(exc)
            continue
        point = _measure(camera, edge, clips, truth, spec, edge_batch)
        points.append(point)
        log.info("%s %s: acc=%.3f bytes=%.0f camera=%.1f ms %.3f GFLOP, edge=%.1f ms %s GFLOP", spec.mode, spec.label,
                 point.accuracy, point.bytes_mean, point.camera_ms, point.camera_gflop or 0.0, point.edge_ms,
                 "-" if point.edge_gflop is None else f"{point.edge_gflop:.3f}")
    for mode, why in skipped.items():
        log.warning("profile: mode %s skipped: %s", mode, why)
    return points, skipped


def _measure(camera: Any, edge: Any, clips: np.ndarray, truth: list[str], spec: PointSpec,
             edge_batch: int) -> OperatingPoint:
    """One point: every clip through the camera and (for payload modes) the edge."""
    sizes, cam_ms, edge_ms = [], [], []
    predicted: list[str | None] = [None] * len(truth)
    pending: list[tuple[int, Any]] = []
    first = np.ascontiguousarray(clips[0])
    camera_gflop = count_flops(camera.encode, first).gflop
    edge_gflop: float | None = None

    def flush() -> None:
        results = edge.decode_classify([_edge_items(enc) for _, enc in pending])
        for (i, _), r in zip(pending, results):
            if r.error is not None:
                log.warning("clip %d (%s %s) failed on the edge: %s", i, spec.mode, spec.label, r.error)
                continue
            predicted[i] = r.label
            edge_ms.append(r.decode_ms + r.infer_ms)
        pending.clear()

    for i, clip in enumerate(clips):
        enc = camera.encode(np.ascontiguousarray(clip))
        cam_ms.append(enc.camera_ms)
        if enc.label is not None:  # labelled on the camera: nothing crosses the link
            predicted[i] = enc.label.label
            sizes.append(0)
            continue
        sizes.append(len(enc.payload))
        if edge_gflop is None:
            edge_gflop = count_flops(edge.decode_classify, [_edge_items(enc)]).gflop
        pending.append((i, enc))
        if len(pending) >= edge_batch:
            flush()
    if pending:
        flush()
    sizes_a = np.asarray(sizes, dtype=np.float64)
    correct = np.asarray([p == t for p, t in zip(predicted, truth)])
    only_local = all(s == 0 for s in sizes)
    extra = {"label": spec.label, "bytes_min": float(sizes_a.min()), "bytes_max": float(sizes_a.max()),
             "camera_ms_p95": float(np.percentile(cam_ms, 95)), "edge_batch": int(edge_batch),
             # the model whose answers the accuracy is (a clip names it; the edge labels only with it)
             "model_id": str(camera.model_id)}
    extra.update(spec.settings)
    return OperatingPoint(
        codec=spec.mode, k=int(camera.k), p=float(camera.p), accuracy=float(correct.mean()) if len(truth) else 0.0,
        bytes_mean=float(sizes_a.mean()), bytes_p95=float(np.percentile(sizes_a, 95)),
        camera_ms=float(np.median(cam_ms)), edge_ms=float(np.median(edge_ms)) if edge_ms else 0.0,
        n_clips=len(truth), extra=extra, camera_gflop=round(camera_gflop, 6),
        edge_gflop=None if only_local else (0.0 if edge_gflop is None else round(edge_gflop, 6)),
    )
