"""Whole-run repeatability: the same ``stae bench codecs`` command run several times, compared.

Why: each run already times every point in 3 interleaved child processes and reports their
spread, but those runs share one accuracy pass, one set of payloads and one stretch of the
host's day. Every number should be stable to ±10% across runs of the command, so
this reads the ``codecs.json`` of separate runs and reports, per point present in all of them,
the spread across runs (half-range / median) of camera ms, edge ms, bytes and accuracy, and
whether every camera-vs-x264 verdict came out the same.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from .codecs import half_range_spread
from .errors import BenchDataError

__all__ = ["compare_runs", "compare_markdown", "load_run"]

TIMED = ("camera_ms", "edge_ms")


def load_run(path: str | Path) -> dict[str, Any]:
    """A ``codecs.json`` written by ``stae bench codecs`` (or the folder holding one)."""
    p = Path(path)
    if p.is_dir():
        p = p / "codecs.json"
    try:
        report = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BenchDataError(f"no bench report at {p}") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BenchDataError(f"{p} is not a readable bench report: {exc}") from exc
    if not isinstance(report, dict) or not str(report.get("format", "")).startswith("stae-bench-codecs/"):
        raise BenchDataError(f"{p} is not a `stae bench codecs` report (format {report.get('format') if isinstance(report, dict) else None!r})")
    rows = report.get("rows")
    if not isinstance(rows, list) or not any(isinstance(r, dict) and isinstance(r.get("name"), str) and "error" not in r
                                              for r in rows):
        raise BenchDataError(f"{p} holds no measured operating point (its 'rows' are missing, empty or all failed)")
    report["rows"] = [r for r in rows if isinstance(r, dict) and isinstance(r.get("name"), str)]
    report["_path"] = str(p)
    return report


def compare_runs(reports: list[dict[str, Any]], tolerance: float = 0.10) -> dict[str, Any]:
    """Per-point spread across runs of camera/edge ms, bytes and accuracy, and verdict agreement."""
    if len(reports) < 2:
        raise BenchDataError(f"comparing runs needs at least 2 reports, got {len(reports)}")
    by_run = [{r["name"]: r for r in rep.get("rows", []) if "error" not in r} for rep in reports]
    common = [name for name in by_run[0] if all(name in b for b in by_run[1:])]
    if not common:
        raise BenchDataError("the reports share no measured operating point: " + ", ".join(str(r.get("_path", "?")) for r in reports))
    points, timed = [], []
    for name in common:
        rows = [b[name] for b in by_run]
        entry: dict[str, Any] = {"point": name, "family": rows[0].get("family")}
        for key in TIMED + ("bytes_mean", "acc"):
            vals = [float(r[key]) for r in rows if isinstance(r.get(key), (int, float)) and math.isfinite(r[key])]
            if len(vals) != len(rows):
                continue
            entry[key] = vals
            entry[f"{key}_spread"] = half_range_spread(vals)
            if key in TIMED and min(vals) > 0:
                timed.append({"point": name, "side": key[: -len("_ms")], "spread": entry[f"{key}_spread"],
                              "values": vals})
        points.append(entry)
    spreads = np.array([t["spread"] for t in timed]) if timed else np.zeros(0)
    verdicts = []
    keyed = [{(c["stae_point"], c["x264_point"]): c["winner"] for c in rep.get("camera_vs_x264", [])} for rep in reports]
    for pair in keyed[0]:
        if all(pair in k for k in keyed[1:]):
            winners = [k[pair] for k in keyed]
            verdicts.append({"stae_point": pair[0], "x264_point": pair[1], "winners": winners,
                             "same": len(set(winners)) == 1})
    return {
        "runs": [{"path": rep.get("_path"), "created_utc": rep.get("created_utc"), "wall_s": rep.get("wall_s")} for rep in reports],
        "tolerance": tolerance,
        "points": points,
        "timed": timed,
        "timings": int(spreads.size),
        "within": int(np.sum(spreads <= tolerance)),
        "median_spread": float(np.median(spreads)) if spreads.size else 0.0,
        "largest": sorted(timed, key=lambda t: -t["spread"])[:5],
        "verdicts": verdicts,
        "verdicts_same": int(sum(v["same"] for v in verdicts)),
        "missing_points": sorted({n for b in by_run for n in b} - set(common)),
    }


def compare_markdown(result: dict[str, Any]) -> str:
    """The comparison as Markdown: summary lines, then one row per point."""
    n = len(result["runs"])
    tol = result["tolerance"] * 100
    lines = [f"# `stae bench codecs`: {n} runs compared", ""]
    for i, r in enumerate(result["runs"], 1):
        lines.append(f"- run {i}: `{r['path']}` ({r['created_utc']}, {r['wall_s']:.0f} s)" if r.get("wall_s") is not None
                     else f"- run {i}: `{r['path']}`")
    lines += ["", f"**{result['within']} of {result['timings']} camera/edge timings within ±{tol:g}% across the runs** "
              f"(half-range over median; median ±{result['median_spread'] * 100:.1f}%). Largest: "
              + ", ".join(f"{t['point']} {t['side']} ±{t['spread'] * 100:.1f}%" for t in result["largest"][:3]) + "."]
    if result["verdicts"]:
        lines.append(f"Camera verdicts against x264 ultrafast: {result['verdicts_same']} of {len(result['verdicts'])} the same in every run.")
        changed = [v for v in result["verdicts"] if not v["same"]]
        for v in changed:
            lines.append(f"- {v['stae_point']} vs {v['x264_point']}: {' / '.join(v['winners'])}")
    if result["missing_points"]:
        lines.append(f"Points not in every run (left out): {', '.join(result['missing_points'])}.")
    lines += ["", "| point | camera ms per run | ± | edge ms per run | ± | bytes ± | accuracy per run |",
              "|---|---|---:|---|---:|---:|---|"]
    for p in result["points"]:
        def runs(key: str, fmt: str = "{:.2f}") -> str:
            return " / ".join(fmt.format(v) for v in p[key]) if key in p else "-"

        def sp(key: str) -> str:
            return f"{p[key + '_spread'] * 100:.1f}%" if key + "_spread" in p else "-"

        lines.append(f"| {p['point']} | {runs('camera_ms')} | {sp('camera_ms')} | {runs('edge_ms')} | {sp('edge_ms')} | "
                     f"{sp('bytes_mean')} | {runs('acc', '{:.1%}')} |")
    return "\n".join(lines) + "\n"
