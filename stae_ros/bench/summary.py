"""One results file, ``results/summary.json``: every data set's measured points in one small schema.

Why a second file next to the bench's own ``codecs.json``: the bench report is large (per-clip
timings, runs, footage, plots' data) and its layout follows the bench. Users, the README and other
tools need one short, stable table per data set: for each mode and setting, accuracy, bytes per
clip, and camera and edge cost. This module builds that table from a bench report, validates it,
merges several data sets (or runs) into one file, and writes the README's results table from it.

Schema (all numbers per 16-frame clip; ms are CPU ms on one thread of the host that ran it)::

    {"command": str, "date": "YYYY-MM-DD", "host": str,
     "sets": {NAME: {"kind": "real" | "procedural", "classes": int, "test_clips": int,
                     "camera_budget_gflop": float | null,
                     "command": str, "date": "YYYY-MM-DD", "host": str,      # optional: this set's run
                     "points": [{"mode": MODE, "setting": str, "accuracy": 0..1, "bytes_mean": >= 0,
                                 "camera_gflop": float | null, "camera_ms": float | null,
                                 "edge_gflop": float | null, "edge_ms": float | null,
                                 "note": str}]}}}                               # note: optional

``MODE`` is one of :data:`BASE_MODES` or the name of a mode in the mode registry. ``null`` means
"not measured" (a camera side whose arithmetic is not torch, which the FLOP counter cannot see, or
an edge time the bench did not take); it is never a stand-in for zero. ``edge_ms`` is the whole
edge side: decoding plus classification. GFLOP are counted on one clip of the set's shape with
``stae_ros.profiling.flops`` (torch operations only); the budget is the default camera preset.

From a bench report: raw, JPEG, H.264 and H.265 rows keep their family as the mode; every stae-px
layout (auto, fast, 6-bit, WebP) is ``stae-px``; the ROI and latent payloads are ``stae-roi264``
and ``stae-latent``; the ViT timed on the camera is ``local``. The ablations (FA only, FA with
random pixels, FA + SA without recovery) are not modes a node can run, so they stay in the bench
report only.

Merging keeps one entry per data set: a set that a newer run measured replaces the older entry.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import re
import shlex
import sys
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from ..cli.validate import float_in, int_in
from ..errtext import exc_line

__all__ = ["BASE_MODES", "SET_KINDS", "SummaryError", "known_modes", "validate", "from_bench_report", "merge",
           "load_summary", "write_summary", "record_bench", "bench_summary_path", "bench_command", "results_table", "replace_block",
           "readme_block", "current_block", "bench_flop_counter", "DEFAULT_PATH", "BEGIN", "END", "register_summary_args", "register_readme_args",
           "run_summary", "run_readme", "register_completion_args", "run_completion", "replace_modes"]

log = logging.getLogger(__name__)

#: the modes every summary may name (more come from the mode registry, see :func:`known_modes`)
BASE_MODES: tuple[str, ...] = ("raw", "local", "h264", "h265", "jpeg", "stae-px", "stae-latent", "stae-roi264")
SET_KINDS: tuple[str, ...] = ("real", "procedural")
DEFAULT_PATH = Path("results/summary.json")
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"

#: bench row family -> summary mode; families not listed (the ablations) are left out
FAMILY_MODES: dict[str, str] = {
    "raw": "raw", "jpeg": "jpeg", "h264": "h264", "h265": "h265",
    "stae": "stae-px", "stae_fast": "stae-px", "stae_fast_b6": "stae-px", "stae_webp": "stae-px",
    "roi264": "stae-roi264", "roi": "stae-roi264", "latent": "stae-latent",
}
_NULLABLE = ("camera_gflop", "camera_ms", "edge_gflop", "edge_ms")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

#: FLOP counter hook: (bench row or None for the local classifier, report) -> (camera GFLOP, edge GFLOP)
FlopCounter = Callable[[Mapping[str, Any] | None, Mapping[str, Any]], "tuple[float | None, float | None]"]


class SummaryError(ValueError):
    """A summary that does not follow the schema; the message names the field."""


# ------------------------------------------------------------------------------------ validation
def known_modes() -> set[str]:
    """:data:`BASE_MODES` plus the names in the mode registry, when that package is importable.

    Why the registry: a new mode is one module plus one registry line; its bench points must be
    accepted here without editing this list."""
    names = set(BASE_MODES)
    try:
        from stae_ros.modes.registry import mode_names
    except Exception:  # no registry, or one that fails to import: the base modes still validate
        return names
    names.update(str(n) for n in mode_names())
    return names


def _number(value: Any, where: str, *, nullable: bool = False, low: float | None = None,
            high: float | None = None) -> None:
    if value is None:
        if nullable:
            return
        raise SummaryError(f"{where}: missing (null) but it must be measured")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
        raise SummaryError(f"{where}: {value!r} is not a finite number")
    if low is not None and value < low:
        raise SummaryError(f"{where}: {value!r} is below {low:g}")
    if high is not None and value > high:
        raise SummaryError(f"{where}: {value!r} is above {high:g}")


def _text(obj: Mapping[str, Any], key: str, where: str, *, optional: bool = False) -> None:
    if key not in obj:
        if optional:
            return
        raise SummaryError(f"{where}.{key}: missing")
    if not isinstance(obj[key], str) or not obj[key].strip():
        raise SummaryError(f"{where}.{key}: {obj[key]!r} is not a non-empty string")


def _date(obj: Mapping[str, Any], where: str, *, optional: bool = False) -> None:
    _text(obj, "date", where, optional=optional)
    if "date" in obj and not _DATE.match(obj["date"]):
        raise SummaryError(f"{where}.date: {obj['date']!r} is not YYYY-MM-DD")


def validate(summary: Any, modes: Iterable[str] | None = None) -> None:
    """Raise :class:`SummaryError` naming the first field that breaks the schema."""
    allowed = set(modes) if modes is not None else known_modes()
    if not isinstance(summary, Mapping):
        raise SummaryError(f"summary: expected an object, got {type(summary).__name__}")
    _text(summary, "command", "summary")
    _date(summary, "summary")
    _text(summary, "host", "summary")
    sets = summary.get("sets")
    if not isinstance(sets, Mapping) or not sets:
        raise SummaryError("summary.sets: expected a non-empty object of data sets")
    for name, s in sets.items():
        where = f"sets.{name}"
        if not isinstance(s, Mapping):
            raise SummaryError(f"{where}: expected an object")
        if s.get("kind") not in SET_KINDS:
            raise SummaryError(f"{where}.kind: {s.get('kind')!r} is not one of {', '.join(SET_KINDS)}")
        for key in ("classes", "test_clips"):
            v = s.get(key)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise SummaryError(f"{where}.{key}: {v!r} is not a positive integer")
        if "camera_budget_gflop" not in s:
            raise SummaryError(f"{where}.camera_budget_gflop: missing (null when no budget is set)")
        _number(s["camera_budget_gflop"], f"{where}.camera_budget_gflop", nullable=True, low=0.0)
        _text(s, "command", where, optional=True)
        _date(s, where, optional=True)
        _text(s, "host", where, optional=True)
        points = s.get("points")
        if not isinstance(points, list) or not points:
            raise SummaryError(f"{where}.points: expected a non-empty list")
        for i, p in enumerate(points):
            pw = f"{where}.points[{i}]"
            if not isinstance(p, Mapping):
                raise SummaryError(f"{pw}: expected an object")
            if p.get("mode") not in allowed:
                raise SummaryError(f"{pw}.mode: {p.get('mode')!r} is not a known mode ({', '.join(sorted(allowed))})")
            _text(p, "setting", pw)
            for key in ("accuracy", "bytes_mean", *_NULLABLE):
                if key not in p:
                    raise SummaryError(f"{pw}.{key}: missing" + (" (null when not measured)" if key in _NULLABLE else ""))
            _number(p["accuracy"], f"{pw}.accuracy", low=0.0, high=1.0)
            _number(p["bytes_mean"], f"{pw}.bytes_mean", low=0.0)
            for key in _NULLABLE:
                _number(p[key], f"{pw}.{key}", nullable=True, low=0.0)
            _text(p, "note", pw, optional=True)


# --------------------------------------------------------------------------------- from a bench
def bench_command(options: Mapping[str, Any]) -> str:
    """The `stae bench codecs` command line that reproduces a report's options (defaults left out)."""
    from .codecs import CodecBenchOptions

    default = CodecBenchOptions()
    flags = {"model": "--model", "data": "--data", "real_footage": "--real-footage", "out": "--out", "repeats": "--repeats",
             "reps_per_clip": "--reps-per-clip", "min_run_s": "--min-run-s", "min_sample_ms": "--min-sample-ms",
             "probe_tolerance": "--probe-tolerance", "test_per_class": "--test-per-class", "ft_per_class": "--ft-per-class",
             "adapt": "--adapt", "adapt_steps": "--adapt-steps", "adapt_batch": "--adapt-batch",
             "timing_clips": "--timing-clips", "edge_threads": "--edge-threads", "local_model": "--local-model",
             "fold": "--fold", "folds_file": "--folds-file", "short_clip": "--short-clip", "sweep": "--sweep",
             "edge_model": "--edge-model", "local_short_clip": "--local-short-clip"}
    parts = ["stae", "bench", "codecs"]
    if options.get("tiny"):
        parts.append("--tiny")
    for key, flag in flags.items():
        if key not in options or options[key] is None:
            continue
        if key == "model" or options[key] != getattr(default, key):  # the model is always named
            parts += [flag, str(options[key])]
    if options.get("only"):
        parts += ["--only", *map(str, options["only"])]
    if options.get("external") is False:
        parts.append("--no-external")
    if options.get("external_models"):
        parts += ["--external-models", *map(str, options["external_models"])]
    if options.get("stae_points"):
        parts += ["--stae-points", *map(str, options["stae_points"])]
    return shlex.join(parts)


def _host(report: Mapping[str, Any]) -> str:
    h = report.get("host") or {}
    bits = [str(h.get("machine", "unknown machine"))]
    if h.get("cpu_count"):
        bits.append(f"{h['cpu_count']} CPUs")
    if h.get("python"):
        bits.append(f"Python {h['python']}")
    if h.get("torch"):
        bits.append(f"torch {h['torch']}")
    return ", ".join(bits)


def _set_identity(report: Mapping[str, Any]) -> tuple[str, str]:
    """(name, kind) of the data set a bench report ran on: the data root's folder name, and
    ``procedural`` for in-memory synthetic clips or a root that ``stae data synth`` wrote
    (it leaves ``annotations.json``), else ``real``."""
    data = (report.get("options") or {}).get("data")
    if not data:
        return "synthetic", "procedural"
    root = Path(str(data))
    kind = "procedural" if (root / "annotations.json").is_file() else "real"
    return root.name or str(root), kind


def _no_flops(row: Mapping[str, Any] | None, report: Mapping[str, Any]) -> tuple[None, None]:
    return None, None


#: bench families whose camera side is not torch (libjpeg, libx264, libx265, a numpy map + libx264):
#: the FLOP counter sees none of their arithmetic, so their camera GFLOP stays null (not measured)
UNCOUNTED_CAMERA = ("jpeg", "h264", "h265", "roi264", "roi")


#: modes whose camera side is not torch: a profile's 0 GFLOP there means "not counted", so null
UNCOUNTED_CAMERA_MODES = ("jpeg", "h264", "h265", "stae-roi264", "h264-cd")


def bench_flop_counter(report: Mapping[str, Any]) -> FlopCounter:
    """A :data:`FlopCounter` for a bench report's points, with the profiler's counter
    (``stae_ros.profiling.flops.count_flops``) on one clip of the report's shape.

    Camera side: the codec's ``encode``; edge side: its ``decode`` (FR for stae-px) plus the
    classifier on the decoded clip (the ViT), or the payload's own head; ``local``: the ViT on the
    camera. Only torch operations are counted, so JPEG/x264/x265 coding and entropy coding add
    nothing, and a camera side that is not torch at all reads null. Without torch, the profiler or
    the model files, every point reads null."""
    try:
        import numpy as np
        import torch

        from stae_ros.baselines import make_codec
        from stae_ros.models.selection import clip_tensor
        from stae_ros.profiling.flops import count_flops
        from stae_ros.training import load_model

        loaded = load_model(str(report["checkpoint"]))
        loaded.model.eval()
        clip_shape = report["clip"]
        t, h, w = int(clip_shape["frames"]), int(clip_shape["height"]), int(clip_shape["width"])
    except Exception as exc:  # no torch, no profiler, a moved checkpoint: "not measured", never a guess
        log.warning("FLOPs not counted: %s", exc)
        return _no_flops
    try:
        from .dataset import synthetic_clips

        clip = synthetic_clips(loaded.class_names, 1, t, h, w, seed=0).clips[0]
    except Exception:  # classes the procedural renderer does not know: any clip of the shape will do
        clip = np.random.default_rng(0).integers(0, 256, (t, h, w, 3), dtype=np.uint8)
    cache: dict[str, tuple[float | None, float | None]] = {}

    edge_model = report.get("edge_classifier") or {}

    def vit_gflop(decoded: Any) -> float:
        if edge_model.get("gflop") is not None:  # the run's classifier was an edge model file, counted by the bench
            return float(edge_model["gflop"])
        x = decoded if torch.is_tensor(decoded) else clip_tensor(np.asarray(decoded, dtype=np.uint8))
        return count_flops(loaded.model.classify, x).gflop

    def counter(row: Mapping[str, Any] | None, _report: Mapping[str, Any]) -> tuple[float | None, float | None]:
        if row is None:  # local: the ViT on the camera, nothing on the edge
            return vit_gflop(clip), 0.0
        key = json.dumps(row.get("spec"), sort_keys=True, default=str)
        if key in cache:
            return cache[key]
        try:
            spec = dict(row["spec"])
            codec = make_codec(spec, loaded=loaded) if spec.get("family") == "semantic" else make_codec(spec)
            camera = count_flops(codec.encode, clip)
            payload = codec.encode(clip)
            if getattr(codec, "own_classifier", False):
                edge = count_flops(codec.classify_payload, payload).gflop
            else:
                edge = count_flops(codec.decode, payload).gflop + vit_gflop(codec.decode(payload))
            result = (None if row.get("family") in UNCOUNTED_CAMERA else camera.gflop, edge)
        except Exception as exc:
            log.warning("FLOPs of %s not counted: %s", row.get("name"), exc)
            result = (None, None)
        cache[key] = result
        return result

    return counter


def default_flop_counter(report: Mapping[str, Any] | None = None) -> FlopCounter:
    """:func:`bench_flop_counter` for ``report`` (None: a counter that reports "not measured")."""
    return _no_flops if report is None else bench_flop_counter(report)


def _camera_budget() -> float | None:
    """The default camera preset's budget in GFLOP per clip (``config/camera_budgets.yaml``)."""
    try:
        from stae_ros.profiling.budgets import camera_budget

        return float(camera_budget().budget_gflop_per_clip)
    except Exception as exc:
        log.warning("camera budget not read: %s", exc)
        return None


def from_bench_report(report: Mapping[str, Any], set_name: str | None = None, kind: str | None = None,
                      camera_budget_gflop: float | None = None, flop_counter: FlopCounter | None = None,
                      command: str | None = None) -> dict[str, Any]:
    """A one-set summary of a `stae bench codecs` report (see the module docstring for the mapping).

    ``command`` overrides the command line rebuilt from the report's options."""
    flops = flop_counter or _no_flops
    name, auto_kind = _set_identity(report)
    name, kind = set_name or name, kind or auto_kind
    rows = [r for r in report.get("rows", []) if "error" not in r and "acc" in r and "bytes_mean" in r]
    classify = report.get("classify_ms") or {}
    edge_classify = classify.get("edge")
    points: list[dict[str, Any]] = []
    modes = known_modes()
    for r in rows:
        mode = r.get("mode") if r.get("mode") in modes else FAMILY_MODES.get(str(r.get("family")))
        if mode is None:
            continue
        cam_g, edge_g = flops(r, report)
        own_head = r.get("psnr_db", 0.0) is None and "own head" in str(r.get("note", ""))
        point = {"mode": mode, "setting": str(r["name"]), "accuracy": float(r["acc"]), "bytes_mean": float(r["bytes_mean"]),
                 "camera_gflop": cam_g, "camera_ms": r.get("camera_ms"), "edge_gflop": edge_g, "edge_ms": None}
        if r.get("edge_ms") is not None and edge_classify is not None and not own_head:
            point["edge_ms"] = float(r["edge_ms"]) + float(edge_classify)
        elif own_head and r.get("edge_classify_ms") is not None:  # decode + its own head, timed together
            point["edge_ms"] = float(r["edge_classify_ms"])
            point["note"] = "classified by its own head (the edge half); edge ms = decode + head"
        elif own_head:
            point["note"] = (f"classified by its own head; the bench timed the edge decode only "
                             f"({float(r['edge_ms']):.3f} ms)" if r.get("edge_ms") is not None else
                             "classified by its own head; edge time not measured")
        points.append(point)
    raw = next((r for r in rows if r.get("family") == "raw"), None)
    if classify.get("local_camera_1thread") is not None and raw is not None:
        cam_g, _ = flops(None, report)
        on_camera = "edge model on the camera" if report.get("edge_classifier") else "edge ViT on the camera"
        points.append({"mode": "local", "setting": on_camera, "accuracy": float(raw["acc"]),
                       "bytes_mean": 0.0, "camera_gflop": cam_g, "camera_ms": float(classify["local_camera_1thread"]),
                       "edge_gflop": 0.0, "edge_ms": 0.0,
                       "note": "the camera classifies and sends only the label; accuracy is the raw clip's"})
    for lm in report.get("local_models") or []:  # the camera-budget classifier, on the same test clips
        points.append({"mode": "local", "setting": f"local classifier {Path(str(lm['path'])).name}",
                       "accuracy": float(lm["acc"]), "bytes_mean": 0.0, "camera_gflop": lm.get("camera_gflop"),
                       "camera_ms": lm.get("camera_ms"), "edge_gflop": 0.0, "edge_ms": 0.0,
                       "note": "the camera classifies with its own small model and sends only the label"})
    date = str(report.get("created_utc", ""))[:10]
    cmd = command or bench_command(report.get("options") or {})
    entry = {"kind": kind, "classes": len(report.get("class_names") or []), "test_clips": int(report.get("test_clips", 0)),
             "camera_budget_gflop": camera_budget_gflop, "command": cmd, "date": date, "host": _host(report),
             "points": points}
    summary = {"command": cmd, "date": date, "host": _host(report), "sets": {name: entry}}
    validate(summary)
    return summary


def _profile_points(profile: Any) -> dict[tuple[str, str], dict[str, Any]]:
    """A profile's points in the summary's schema, keyed by (mode, setting), with their clip count."""
    points: dict[tuple[str, str], dict[str, Any]] = {}
    for pt in profile.points:
        label = pt.extra.get("label") if isinstance(pt.extra, dict) else None
        camera_gflop = pt.camera_gflop
        if pt.codec in UNCOUNTED_CAMERA_MODES and not camera_gflop:  # libx264 / numpy: the counter saw nothing
            camera_gflop = None
        setting = str(label or f"K={pt.k} p={pt.p:g}")
        points[(pt.codec, setting)] = {
            "mode": pt.codec, "setting": setting, "accuracy": float(pt.accuracy), "bytes_mean": float(pt.bytes_mean),
            "camera_gflop": camera_gflop, "camera_ms": float(pt.camera_ms),
            "edge_gflop": pt.edge_gflop if pt.bytes_mean > 0 else 0.0,
            "edge_ms": float(pt.edge_ms) if pt.bytes_mean > 0 else 0.0, "_clips": int(pt.n_clips)}
    return points


def _pool(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One point from the same point of every fold: each number weighted by the fold's test clips
    (accuracy over every tested clip, bytes and ms per clip over every tested clip)."""
    n = sum(r["_clips"] for r in rows)
    out = {k: v for k, v in rows[0].items() if k != "_clips"}
    for key in ("accuracy", "bytes_mean", "camera_gflop", "camera_ms", "edge_gflop", "edge_ms"):
        values = [r[key] for r in rows]
        out[key] = None if any(v is None for v in values) else sum(v * r["_clips"] for v, r in zip(values, rows)) / n
    return out


def from_profile(profile: Any, set_name: str, kind: str, classes: int, camera_budget_gflop: float | None = None) -> dict[str, Any]:
    """A one-set summary of `stae profile --modes` profiles: every mode's points as the nodes run
    them (shipped model files, no per-mode fine-tuning), measured on the same test clips.

    ``profile`` is one profile, or a list of one profile per cross-validation fold (each fold's
    models on that fold's test clips): their points are pooled over every tested clip, and every
    fold must have measured the same points."""
    profiles = list(profile) if isinstance(profile, (list, tuple)) else [profile]
    if not profiles:
        raise SummaryError("from_profile: no profile given")
    per_fold = [_profile_points(p) for p in profiles]
    for i, pts in enumerate(per_fold[1:], start=1):
        if set(pts) != set(per_fold[0]):
            diff = sorted(set(pts) ^ set(per_fold[0]))
            raise SummaryError(f"profile {i + 1} of {len(profiles)} has other points than the first "
                               f"(e.g. {diff[0][0]} {diff[0][1]!r}): pooled folds must measure the same points")
    points = [_pool([pts[key] for pts in per_fold]) for key in per_fold[0]]
    n = sum(max((pt.n_clips for pt in p.points), default=0) for p in profiles)
    first = profiles[0]
    host = first.host or {}
    host_text = ", ".join(str(v) for v in (host.get("machine"), f"Python {host.get('python')}" if host.get("python") else None,
                                           f"torch {host.get('torch')}" if host.get("torch") else None) if v)
    date = str(first.created)[:10]
    command = " ; ".join(str(p.command) for p in profiles)
    entry = {"kind": kind, "classes": int(classes), "test_clips": int(n), "camera_budget_gflop": camera_budget_gflop,
             "command": command, "date": date, "host": host_text, "points": points}
    summary = {"command": command, "date": date, "host": host_text, "sets": {set_name: entry}}
    validate(summary)
    return summary


# ------------------------------------------------------------------------------- merge and files
def merge(*summaries: Mapping[str, Any]) -> dict[str, Any]:
    """One summary from several, oldest first: a data set measured again is replaced by the newest
    entry; the top-level command, date and host are the newest summary's."""
    if not summaries:
        raise SummaryError("merge: nothing to merge")
    out: dict[str, Any] = {"command": "", "date": "", "host": "", "sets": {}}
    for s in summaries:
        validate(s)
        for name, entry in s["sets"].items():
            entry = dict(entry)
            for key in ("command", "date", "host"):  # each set keeps the run that measured it
                entry.setdefault(key, s[key])
            out["sets"][name] = entry
        out.update(command=s["command"], date=s["date"], host=s["host"])
    out["sets"] = dict(sorted(out["sets"].items()))
    validate(out)
    return out


def replace_modes(existing: Mapping[str, Any], update: Mapping[str, Any], modes: Iterable[str],
                  note: str | None = None, keep: Iterable[str] = ()) -> dict[str, Any]:
    """``existing`` with the points of ``modes`` in ``update``'s one set replaced by ``update``'s.

    Why: when a model file changes, re-measuring only its payloads keeps every other point of the
    set as measured (same clips, same adaptation recipe) instead of a full rerun; the entry's
    command names both runs and its date becomes the update's. Points whose setting is in ``keep``
    stay as they were (e.g. a point the later run measured again under other host conditions)."""
    modes = set(modes)
    (name, new), = update["sets"].items()
    if name not in existing.get("sets", {}):
        raise SummaryError(f"sets.{name}: not in the summary file, so there is nothing to update (leave out --modes)")
    got = {p["mode"] for p in new["points"]} & modes
    if got != modes:
        raise SummaryError(f"sets.{name}: the report has no points of mode(s) {', '.join(sorted(modes - got))}")
    old = dict(existing["sets"][name])
    keep = set(keep)
    added = [dict(p) for p in new["points"] if p["mode"] in modes and p["setting"] not in keep]
    if note:  # e.g. how the later run's conditions differ from the set's other points
        for p in added:
            p["note"] = f"{p['note']}; {note}" if p.get("note") else note
    again = any(p["mode"] in modes for p in old["points"])
    old["points"] = [p for p in old["points"] if p["mode"] not in modes or p["setting"] in keep] + added
    old["command"] = (f"{old.get('command', existing['command'])} ; {', '.join(sorted(modes))} points "
                      f"{'measured again' if again else 'added'}: {new.get('command', update['command'])}")
    old["date"], old["host"] = new.get("date", update["date"]), new.get("host", update["host"])
    out = {"command": update["command"], "date": update["date"], "host": update["host"], "sets": {name: old}}
    validate(out)
    return out


def load_summary(path: str | Path) -> dict[str, Any]:
    """Read and validate a summary file (:class:`SummaryError` with the file name if it is not one)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SummaryError(f"{path}: cannot read a JSON summary ({exc_line(exc)})") from exc
    try:
        validate(data)
    except SummaryError as exc:
        raise SummaryError(f"{path}: {exc}") from exc
    return data


def write_summary(summary: Mapping[str, Any], path: str | Path = DEFAULT_PATH, merge_existing: bool = True) -> dict[str, Any]:
    """Validate ``summary``, merge it over the file already at ``path`` (if any), write it, return it."""
    path = Path(path)
    validate(summary)
    if merge_existing and path.is_file():
        summary = merge(load_summary(path), summary)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return dict(summary)


def bench_summary_path(options: Mapping[str, Any]) -> Path:
    """Where a bench run records its summary: ``options["summary"]`` when given; a tiny run or one
    restricted with ``--only`` into its own output folder (it measured too little to stand for the
    data set); every other run into :data:`DEFAULT_PATH`."""
    if options.get("summary"):
        return Path(str(options["summary"]))
    if options.get("tiny") or options.get("only"):
        return Path(str(options.get("out", "."))) / "summary.json"
    return DEFAULT_PATH


def record_bench(report: Mapping[str, Any], path: str | Path) -> Path | None:
    """The bench's last step: its data set's entry in the summary at ``path`` (merged). Never fails
    the bench: a summary that cannot be built is logged and left out."""
    try:
        summary = from_bench_report(report, camera_budget_gflop=_camera_budget(), flop_counter=default_flop_counter(report))
        write_summary(summary, path)
    except Exception as exc:  # the bench's own outputs are written already; a summary bug must not lose them
        log.error("results summary not written to %s: %s", path, exc_line(exc))
        return None
    log.info("results summary: set %s written to %s", next(iter(summary["sets"])), path)
    return Path(path)


# ------------------------------------------------------------------------------ the README table
def _pick(points: list[Mapping[str, Any]], within: float) -> Mapping[str, Any]:
    """A mode's row: the fewest bytes among its points within ``within`` of its best accuracy."""
    best = max(p["accuracy"] for p in points)
    return min((p for p in points if p["accuracy"] >= best - within - 1e-9), key=lambda p: (p["bytes_mean"], -p["accuracy"]))


def _num(v: Any, fmt: str) -> str:
    return "–" if v is None else fmt.format(v)


def results_table(summary: Mapping[str, Any], within: float = 0.01) -> str:
    """Markdown: per data set, one row per mode (its cheapest point within ``within`` of the mode's
    best accuracy), modes in :data:`BASE_MODES` order, then registered ones."""
    order = {m: i for i, m in enumerate(BASE_MODES)}
    out: list[str] = []
    for name, s in summary["sets"].items():
        budget = s.get("camera_budget_gflop")
        out += [f"**{name}** ({s['kind']}, {s['classes']} classes, {s['test_clips']} test clips; "
                f"camera budget {_num(budget, '{:.3g} GFLOP/clip') if budget is not None else 'not set'}; "
                f"{s.get('date', summary['date'])}, {s.get('host', summary['host'])}):", "",
                f"`{s.get('command', summary['command'])}`", "",
                "| mode | setting | accuracy | bytes/clip | camera ms | camera GFLOP | edge ms | edge GFLOP |",
                "|---|---|---:|---:|---:|---:|---:|---:|"]
        modes = sorted({p["mode"] for p in s["points"]}, key=lambda m: (order.get(m, len(order)), m))
        for mode in modes:
            pts = [q for q in s["points"] if q["mode"] == mode]
            # a point the camera cannot afford (e.g. the edge model run on the camera) is shown
            # only when the mode has no other
            fits = [q for q in pts if budget is None or q.get("camera_gflop") is None or q["camera_gflop"] <= budget]
            p = _pick(fits or pts, within)
            out.append(f"| {mode} | {p['setting']} | {100 * p['accuracy']:.1f}% | {p['bytes_mean']:,.0f} | "
                       f"{_num(p['camera_ms'], '{:.2f}')} | {_num(p['camera_gflop'], '{:.3f}')} | "
                       f"{_num(p['edge_ms'], '{:.2f}')} | {_num(p['edge_gflop'], '{:.3f}')} |")
        out.append("")
    out.append(f"Per mode, the point with the fewest bytes within {100 * within:.0f} point of that mode's best accuracy, "
               "among its points within the camera budget. "
               "ms: CPU time per 16-frame clip on one thread; edge = decode + classify. GFLOP: torch operations "
               "only (`stae_ros.profiling.flops`), so JPEG/x264/x265 coding is not counted. – = not measured.")
    return "\n".join(out) + "\n"


def readme_block(summary: Mapping[str, Any], source: str = str(DEFAULT_PATH)) -> str:
    """What goes between the README's markers (markers excluded)."""
    return (f"\n<!-- generated by `stae bench readme` from {source}; do not edit by hand -->\n\n"
            + results_table(summary) + "\n")


def replace_block(text: str, block: str) -> str:
    """``text`` with the part between :data:`BEGIN` and :data:`END` replaced by ``block``."""
    i, j = text.find(BEGIN), text.find(END)
    if i < 0 or j < 0 or j < i:
        raise SummaryError(f"README: the markers {BEGIN} ... {END} are missing or out of order")
    return text[: i + len(BEGIN)] + block + text[j:]


def current_block(text: str) -> str:
    """The README's text between the markers."""
    i, j = text.find(BEGIN), text.find(END)
    if i < 0 or j < 0 or j < i:
        raise SummaryError(f"README: the markers {BEGIN} ... {END} are missing or out of order")
    return text[i + len(BEGIN) : j]


# ------------------------------------------------------------------------------------------- CLI
def register_summary_args(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--from-bench", type=Path, metavar="CODECS_JSON", help="a `stae bench codecs` report (codecs.json)")
    src.add_argument("--from-profile", type=Path, nargs="+", metavar="PROFILE_JSON",
                     help="a `stae profile --modes` profile: every mode as the nodes run it, on the same clips "
                          "(needs --set, --kind and --classes); several = one per cross-validation fold, pooled "
                          "over every tested clip")
    p.add_argument("--classes", type=int_in(1), default=None, help="with --from-profile: number of classes of the data set")
    p.add_argument("--out", type=Path, default=DEFAULT_PATH, help="summary file, merged if present (default: %(default)s)")
    p.add_argument("--set", dest="set_name", default=None, help="data set name (default: the data root's folder name)")
    p.add_argument("--kind", choices=SET_KINDS, default=None, help="data set kind (default: from the data root)")
    p.add_argument("--command", dest="bench_cmd", default=None,
                   help="the command that produced the report (default: rebuilt from its options)")
    p.add_argument("--modes", nargs="+", default=None, metavar="MODE",
                   help="only these modes of the report or profile replace the same modes in the set's "
                        "entry already in the file (e.g. after a model file changed, a run --only over those "
                        "payloads); the set's other points stay, and its command lists both runs")
    p.add_argument("--note", default=None, help="with --modes: a note added to every replaced point")
    p.add_argument("--keep", nargs="+", default=[], metavar="SETTING",
                   help="with --modes: points of these settings keep their entry in the file")


def register_readme_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--results", type=Path, default=DEFAULT_PATH, help="summary file (default: %(default)s)")
    p.add_argument("--readme", type=Path, default=Path("README.md"), help="file with the markers (default: %(default)s)")
    p.add_argument("--check", action="store_true", help="only check that the README's table matches (exit 1 if not)")


def register_completion_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--results", type=Path, default=DEFAULT_PATH, help="summary file (default: %(default)s)")
    p.add_argument("--out", type=Path, default=Path("docs/img/completion_time.png"), help="PNG (default: %(default)s)")
    p.add_argument("--camera", default=None, help="camera preset of config/camera_budgets.yaml (default: the file's default)")
    p.add_argument("--host", default="host-1thread",
                   help="the preset of the host that measured the ms: camera ms are scaled by its rate / the camera's "
                        "(default: %(default)s)")
    p.add_argument("--margin", type=float_in(0.0, 1.0), default=0.05,
                   help="modes within this accuracy of the most accurate one compete for the fastest (default: %(default)s)")
    p.add_argument("--json", type=Path, default=None, help="also write the curves and winning bands here")


def run_completion(args: argparse.Namespace) -> int:
    """`stae bench completion`: the completion-time figure of every data set in the summary."""
    from stae_ros.profiling.budgets import camera_budget

    from .plots import completion_summary_plot

    try:
        summary = load_summary(args.results)
        cam, host = camera_budget(args.camera), camera_budget(args.host)
    except (OSError, SummaryError, ValueError) as exc:
        print(f"stae bench completion: {exc}", file=sys.stderr)
        return 2
    slowdown = host.rate_gflops / cam.rate_gflops
    results = completion_summary_plot(summary, args.out, cam.name, slowdown, accuracy_margin=args.margin)
    print(f"wrote {args.out}: camera {cam.name} ({cam.rate_gflops:g} GFLOP/s; host ms x {slowdown:.2f}), edge = host ms")
    for name, res in results.items():
        print(f"{name}:" + (f" (left out: camera over budget or a time not measured: {'; '.join(res['left_out'])})"
                            if res["left_out"] else ""))
        for mode, c in res["curves"].items():
            print(f"  {mode:12s} {c['setting']}: {100 * c['accuracy']:.1f}%, {c['bytes']:,.0f} B, camera "
                  f"{c['camera_ms_target']:.1f} ms on {cam.name}, edge {c['edge_ms']:.2f} ms"
                  + ("" if mode in res["eligible"] else f" (more than {100 * args.margin:.0f} points below the best)"))
        bands = ", ".join(f"{b['mode']} {b['from_bps'] / 1e6:.3g}-{b['to_bps'] / 1e6:.3g}" for b in res["winners"])
        print(f"  fastest within {100 * args.margin:.0f} points of the best (Mbit/s): {bands}")
        bands = ", ".join(f"{b['mode']} {b['from_bps'] / 1e6:.3g}-{b['to_bps'] / 1e6:.3g}" for b in res["winners_any"])
        print(f"  fastest at any accuracy (Mbit/s): {bands}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"camera": cam.to_dict(), "host": host.to_dict(), "camera_slowdown": slowdown,
                                         "sets": results}, indent=1) + "\n", encoding="utf-8")
    return 0


def register_rates_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--results", type=Path, default=DEFAULT_PATH, help="summary file (default: %(default)s)")
    p.add_argument("--out", type=Path, default=Path("docs/img/rate_accuracy.png"), help="PNG (default: %(default)s)")


def run_rates(args: argparse.Namespace) -> int:
    """`stae bench rates`: accuracy against bytes per clip, every mode of every data set in the summary."""
    from .plots import rate_accuracy_plot

    try:
        summary = load_summary(args.results)
    except (OSError, SummaryError, ValueError) as exc:
        print(f"stae bench rates: {exc}", file=sys.stderr)
        return 2
    results = rate_accuracy_plot(summary, args.out)
    print(f"wrote {args.out}: {len(results)} data sets")
    for name, curves in results.items():
        print(f"{name}: " + "; ".join(f"{m} {len(pts)} point{'s' if len(pts) > 1 else ''}" for m, pts in curves.items()))
    return 0


def run_summary(args: argparse.Namespace) -> int:
    if args.from_profile is not None:
        return _run_profile_summary(args)
    try:
        try:
            report = json.loads(Path(args.from_bench).read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SummaryError(f"{args.from_bench}: not a JSON bench report: {exc_line(exc)}") from exc
        if not isinstance(report, dict) or "rows" not in report:
            raise SummaryError(f"{args.from_bench}: not a `stae bench codecs` report (no rows)")
        try:
            summary = from_bench_report(report, set_name=args.set_name, kind=args.kind, command=args.bench_cmd,
                                        camera_budget_gflop=_camera_budget(), flop_counter=default_flop_counter(report))
        except SummaryError as exc:  # the report's fault: say which file
            raise SummaryError(f"{args.from_bench}: {exc}") from exc
        if args.modes:
            summary = replace_modes(load_summary(args.out), summary, args.modes, note=args.note, keep=args.keep)
        merged = write_summary(summary, args.out)
    except (OSError, SummaryError) as exc:
        print(f"stae bench summary: {exc}", file=sys.stderr)
        return 2
    name = next(iter(summary["sets"]))
    print(f"wrote {args.out}: set {name} ({len(summary['sets'][name]['points'])} points); sets: {', '.join(merged['sets'])}")
    return 0


def _run_profile_summary(args: argparse.Namespace) -> int:
    from stae_ros.profiling.schema import ProfileError, load_profile

    if not args.set_name or not args.kind or not args.classes or args.classes < 2:
        print("stae bench summary: --from-profile needs --set NAME, --kind real|procedural and --classes N (>= 2)", file=sys.stderr)
        return 2
    try:
        summary = from_profile([load_profile(p) for p in args.from_profile], args.set_name, args.kind, args.classes,
                               camera_budget_gflop=_camera_budget())
        if args.bench_cmd:
            summary["command"] = summary["sets"][args.set_name]["command"] = args.bench_cmd
        if args.modes:
            summary = replace_modes(load_summary(args.out), summary, args.modes, note=args.note, keep=args.keep)
        merged = write_summary(summary, args.out)
    except (OSError, ProfileError, SummaryError) as exc:
        print(f"stae bench summary: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: set {args.set_name} ({len(summary['sets'][args.set_name]['points'])} points); "
          f"sets: {', '.join(merged['sets'])}")
    return 0


def run_readme(args: argparse.Namespace) -> int:
    try:
        summary = load_summary(args.results)
        text = Path(args.readme).read_text(encoding="utf-8")
        new = replace_block(text, readme_block(summary, str(args.results)))
    except (OSError, SummaryError) as exc:
        print(f"stae bench readme: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if new != text:
            print(f"{args.readme}: the results table does not match {args.results} (run `stae bench readme`)")
            return 1
        print(f"{args.readme}: the results table matches {args.results}")
        return 0
    Path(args.readme).write_text(new, encoding="utf-8")
    print(f"{args.readme}: results table {'rewritten' if new != text else 'already current'} from {args.results}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m stae_ros.bench.summary readme|summary ...`` (the same as `stae bench readme|summary`)."""
    parser = argparse.ArgumentParser(prog="python -m stae_ros.bench.summary")
    sub = parser.add_subparsers(dest="what", required=True)
    register_summary_args(sub.add_parser("summary", help="add a bench report to the summary file"))
    register_readme_args(sub.add_parser("readme", help="rewrite the README's results table"))
    args = parser.parse_args(argv)
    return run_summary(args) if args.what == "summary" else run_readme(args)


if __name__ == "__main__":
    raise SystemExit(main())
