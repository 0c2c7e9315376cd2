"""Markdown tables of a codec bench report (what docs/benchmarks.md and the README embed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["markdown_tables", "write_markdown", "headline", "stability_line", "camera_lines", "target_line"]


def _f(v: Any, fmt: str = "{:.1f}", none: str = "–") -> str:
    if v is None:
        return none
    try:
        return fmt.format(v)
    except (TypeError, ValueError):
        return str(v)


def _pm(value: Any, spread: Any) -> str:
    if value is None:
        return "–"
    if spread is None:
        return f"{value:.2f}"
    return f"{value:.2f} ±{100 * spread:.1f}%" if spread < 0.1 else f"{value:.2f} ±{100 * spread:.0f}%"


def headline(report: dict[str, Any]) -> list[str]:
    """Plain-sentence summary: each family's best ratio vs H.264 at equal accuracy."""
    lines = []
    rows = [r for r in report["rows"] if r.get("ratio_vs_h264") is not None and r["family"] != "h264"]
    fams = dict.fromkeys(r["family"] for r in rows)
    for fam in fams:
        best = max((r for r in rows if r["family"] == fam), key=lambda r: r["ratio_vs_h264"])
        lines.append(f"- **{fam}**: best {best['name']} at {100 * best['acc']:.1f}% with {best['bytes_mean']:.0f} B/clip; "
                     f"the cheapest H.264 point at ≥ that accuracy − 1 pt ({best['h264_point_at_acc']}) needs "
                     f"{best['h264_bytes_at_acc']:.0f} B → **{best['ratio_vs_h264']:.2f}×** "
                     f"({'fewer' if best['ratio_vs_h264'] >= 1 else 'more'} bytes than H.264)")
    return lines


def _adaptation_line(report: dict[str, Any]) -> str:
    ft = report.get("finetune", {})
    return (f"Accuracy: \"acc adapted\" = the checkpoint's ViT adapted per operating point, **{ft.get('mode', 'head')}** mode: "
            f"{ft.get('recipe', '')}; {report['finetune_clips']} fine-tuning clips (train split, through that codec), "
            f"{report['test_clips']} test clips.")


def _timing_line(report: dict[str, Any]) -> str:
    t = report.get("timing", {})
    return (f"Timing: ms = CPU time per clip on one thread, {t.get('clips', '?')} test clips, "
            f"{t.get('runs', report['options'].get('repeats'))} runs: {t.get('method', '')}.")


def stability_line(report: dict[str, Any]) -> str:
    st = report.get("timing_stability") or {}
    if not st.get("total"):
        return "Timing stability: no timings."
    worst = ", ".join(f"{w['point']} {w['side']} ±{100 * w['spread']:.0f}%" for w in st["worst"][:4] if w["spread"] > st["tolerance"])
    return (f"**Timing stability over {report['timing']['runs']} runs: {st['within']} of {st['total']} camera/edge timings "
            f"within ±{100 * st['tolerance']:.0f}%** ({st['within_2x']} within ±{200 * st['tolerance']:.0f}%; median spread "
            f"±{100 * st['median_spread']:.1f}%, largest ±{100 * st['max_spread']:.0f}%)" + (f"; worst: {worst}." if worst else ".")
            + _redo_note(report))


def _redo_note(report: dict[str, Any]) -> str:
    redone = report.get("timing_redone") or []
    if not redone:
        return ""
    points = sorted({r["point"] for r in redone})
    return (f" {len(redone)} runs were redone because the host probe showed a slow phase of the host during them "
            f"({', '.join(points[:6])}{', ...' if len(points) > 6 else ''}; `timing_redone` in the JSON).")


def camera_lines(report: dict[str, Any]) -> list[str]:
    """STAE camera side vs libx264 ultrafast: same clips, one thread, same runs; who wins."""
    cmp_ = report.get("camera_vs_x264") or []
    if not cmp_:
        return []
    t = report.get("timing", {})
    out = [f"Camera side, STAE vs libx264 `ultrafast` (both on the same {t.get('clips', '?')} test clips, one thread, "
           f"CPU ms, same {t.get('runs', '?')} runs; a winner only where the run ranges do not overlap):", "",
           "| STAE point | camera ms | x264 point | camera ms | STAE / x264 | STAE faster on clips | winner |",
           "|---|---:|---|---:|---:|---:|---|"]
    for c in cmp_:
        win = {"stae": "**STAE**", "x264": "**x264**", "tie": "tie (within run spread)"}[c["winner"]]
        out.append(f"| {c['stae_point']} | {_pm(c['stae_ms'], c['stae_spread'])} | {c['x264_point']} | "
                   f"{_pm(c['x264_ms'], c['x264_spread'])} | {_f(c['ratio'], '{:.2f}')} | {c['stae_faster_clips']}/{c['clips']} | {win} |")
    out.append("")
    for point in dict.fromkeys(c["stae_point"] for c in cmp_):
        mine = [c for c in cmp_ if c["stae_point"] == point]
        wins = {c["winner"] for c in mine}
        xs = ", ".join(c["x264_point"] for c in mine)
        if wins == {"stae"}:
            verdict = f"**STAE wins**: cheaper on the camera than every libx264 ultrafast point ({xs})"
        elif wins == {"x264"}:
            verdict = f"**libx264 ultrafast wins**: every point ({xs}) is cheaper on the camera"
        elif wins == {"tie"}:
            verdict = f"**no winner**: within the run-to-run spread of every libx264 ultrafast point ({xs})"
        else:
            verdict = "**mixed**: " + "; ".join(f"{c['x264_point']}: {c['winner']}" for c in mine)
        out.append(f"- `{point}` ({_pm(mine[0]['stae_ms'], mine[0]['stae_spread'])} ms): {verdict}.")
    return out + [""]


def target_line(report: dict[str, Any]) -> str:
    tg = report.get("compression_target") or {}
    if not tg:
        return ""
    head = (f"Core target (a STAE point at ≥ {tg['ratio']:.0f}× fewer bytes than the float32 clip, adapted accuracy within "
            f"{100 * tg['within']:.0f} points of full budget = {tg['full_budget_point']} at {100 * tg['full_budget_acc']:.1f}%): ")
    b = tg.get("best")
    if tg["met"]:
        return head + (f"**met** by {', '.join(tg['points_meeting'])}; highest ratio {b['point']} at {b['ratio_vs_float32']:,.0f}×, "
                       f"{100 * b['acc']:.1f}%.")
    if b is None:
        return head + "**not met**: no STAE point reaches that ratio."
    return head + (f"**not met**: the most accurate STAE point at ≥ {tg['ratio']:.0f}× is {b['point']} "
                   f"({b['ratio_vs_float32']:,.0f}×) at {100 * b['acc']:.1f}%, "
                   f"{100 * (tg['full_budget_acc'] - b['acc']):.1f} points below full budget.")


def markdown_tables(report: dict[str, Any]) -> str:
    clip = report["clip"]
    out = [f"Clip {clip['frames']}×{clip['height']}×{clip['width']}×3 (float32 {clip['float32_bytes']:,} B, "
           f"uint8 {clip['uint8_bytes']:,} B); checkpoint stage `{report.get('checkpoint_stage')}`.", "",
           _adaptation_line(report), "", _timing_line(report), "", stability_line(report), ""]
    out += crossval_lines(report)
    out += byte_range_table(report)
    out += ["| method | point | bytes/clip mean | p95 | × vs float32 | × vs H.264 @ equal acc | acc zero-shot | acc adapted | PSNR dB "
            "| camera ms (1 thr) | edge ms | camera RSS MB | edge RSS MB |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in report["rows"]:
        if "error" in r:
            out.append(f"| {r['family']} | {r['name']} | error: {r['error'][:80]} |||||||||||")
            continue
        out.append("| " + " | ".join([
            r["family"], r["name"], f"{r['bytes_mean']:,.0f}", f"{r['bytes_p95']:,.0f}",
            _f(r.get("ratio_vs_float32"), "{:,.0f}"), _f(r.get("ratio_vs_h264"), "{:.2f}", "n/a (above all H.264)"),
            _f(100 * r["acc_zero_shot"], "{:.1f}"), _f(100 * r["acc"], "{:.1f}"), _f(r.get("psnr_db"), "{:.1f}"),
            _pm(r.get("camera_ms"), r.get("camera_ms_spread")), _pm(r.get("edge_ms"), r.get("edge_ms_spread")),
            _f(r.get("camera_peak_rss_mb"), "{:.0f}"), _f(r.get("edge_peak_rss_mb"), "{:.0f}"),
        ]) + " |")
    cls = report["classify_ms"]
    out += ["", f"Classifier (ViT) per clip: {_pm(cls['local_camera_1thread'], cls.get('spread'))} ms on one camera thread "
            f"(peak RSS {cls['camera_peak_rss_mb']:.0f} MB), {cls['edge']:.1f} ms on the edge.", ""]
    out += ["Equal accuracy vs H.264 (tolerance 1 point):", ""] + headline(report) + [""]
    line = target_line(report)
    out += [line, ""] if line else []
    out += camera_lines(report)
    comp = report["completion"]
    out += ["Completion time vs uplink rate: the point used per method (fewest bytes within "
            f"{100 * comp['accuracy_within']:.0f} pts of the raw clip's accuracy), and which wins where:", ""]
    out += ["| method | point | acc | bytes | ms @0.1 Mbps | ms @1 Mbps | ms @10 Mbps | ms @100 Mbps |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    rates = comp["rates_bps"]
    idx = [min(range(len(rates)), key=lambda i: abs(rates[i] - r)) for r in (0.1e6, 1e6, 10e6, 100e6)]
    for fam, c in comp["curves"].items():
        out.append(f"| {fam} | {c['point']} | {_f(None if c['acc'] is None else 100 * c['acc'])} | {c['bytes']:,.0f} | "
                   + " | ".join(f"{c['ms'][i]:,.1f}" for i in idx) + " |")
    out += [""] + [f"- {b['from_bps'] / 1e6:.2g}–{b['to_bps'] / 1e6:.3g} Mbps: **{b['family']}** is fastest"
                   for b in comp["winner_bands"]]
    out += [f"- offloading only, {b['from_bps'] / 1e6:.2g}–{b['to_bps'] / 1e6:.3g} Mbps: **{b['family']}** is fastest"
            for b in comp.get("winner_bands_offload", [])]
    if report.get("footage"):
        out += ["", "Real footage (bytes and single-thread speed only; no labels):", "",
                "| clips | method point | bytes/clip mean | p95 | camera ms | edge ms |", "|---|---|---:|---:|---:|---:|"]
        for key, f in report["footage"].items():
            for r in f["rows"]:
                if "error" in r:
                    out.append(f"| {key} ×{f['clips']} | {r['spec']} | error: {r['error'][:60]} | | | |")
                else:
                    out.append(f"| {key} ×{f['clips']} | {r['name']} | {r['bytes_mean']:,.0f} | {r['bytes_p95']:,.0f} | "
                               f"{r['camera_ms']:.2f} | {r['edge_ms']:.2f} |")
    return "\n".join(out) + "\n"


#: upper edges (bytes per clip) of the byte ranges of :func:`byte_range_table`
BYTE_RANGES: tuple[float, ...] = (250, 500, 1000, 2000, 4000, 8000, 16000, 64000, float("inf"))


def _range_family(r: dict[str, Any]) -> str:
    """The column a row goes to: down-scaled H.264/H.265 points get their own (``h264 x0.5``)."""
    scale = (r.get("spec") or {}).get("scale")
    return f"{r['family']} x{scale:g}" if scale not in (None, 1, 1.0) else str(r["family"])


def byte_range_table(report: dict[str, Any]) -> list[str]:
    """Markdown: per byte range (bytes per clip), each method's most accurate point in that range,
    next to the raw clip and the local classifier (0 bytes): the rate-accuracy curves in one table."""
    rows = [r for r in report["rows"] if "error" not in r and "acc" in r and "bytes_mean" in r and r["family"] != "raw"]
    if not rows:
        return []
    fams = list(dict.fromkeys(_range_family(r) for r in sorted(rows, key=lambda r: str(r["family"]))))
    out = ["Most accurate point per byte range (accuracy, bytes; the classifier adapted per codec):", "",
           "| bytes/clip | " + " | ".join(fams) + " |", "|---|" + "---:|" * len(fams)]
    lo = 0.0
    for hi in BYTE_RANGES:
        cells = []
        for fam in fams:
            pts = [r for r in rows if _range_family(r) == fam and lo <= r["bytes_mean"] < hi]
            best = max(pts, key=lambda r: (r["acc"], -r["bytes_mean"])) if pts else None
            cells.append("" if best is None else f"{100 * best['acc']:.1f}% ({best['bytes_mean']:,.0f} B, {best['name']})")
        if any(cells):
            label = f"{lo:,.0f}–{hi:,.0f}" if hi != float("inf") else f"≥ {lo:,.0f}"
            out.append(f"| {label} | " + " | ".join(cells) + " |")
        lo = hi
    raw = next((r for r in report["rows"] if r.get("family") == "raw" and "acc" in r), None)
    if raw is not None:
        out += ["", f"Raw clip ({raw['bytes_mean']:,.0f} B): {100 * raw['acc']:.1f}% (edge classifier adapted the same way; "
                f"zero-shot {100 * raw['acc_zero_shot']:.1f}%)."]
    for lm in report.get("local_models") or []:
        rule = {a.get("short_clip") for a in (lm.get("folds") or {}).values()} - {None}
        out.append(f"Local classifier `{lm['path']}` on the camera (0 B"
                   + (f"; short videos cut by its own rule, {', '.join(sorted(rule))}" if rule else "")
                   + f"): {100 * lm['acc']:.1f}% ({lm['correct']}/{lm['n']}), "
                   f"{lm['camera_gflop']:.3f} GFLOP and {lm['camera_ms']:.1f} ms per clip on one host thread.")
    return out + [""]


def crossval_lines(report: dict[str, Any]) -> list[str]:
    """How a ``--fold`` run was split and which files each fold used."""
    cv = report.get("crossval")
    if not cv:
        return []
    out = [f"Cross-validated over {len(cv['folds'])} folds of `{cv['folds_file']}`: each fold's own checkpoint, adapted "
           "per codec on that fold's training clips only, scored on its test clips; accuracy pooled over every test "
           f"clip, bytes averaged over every test clip; camera/edge times taken once, with fold {cv['timed_with_fold']}'s files.",
           "", "| fold | test clips | adaptation clips | checkpoint |", "|---:|---:|---:|---|"]
    out += [f"| {f} | {cv['test_clips'][str(f)]} | {cv['finetune_clips'][str(f)]} | `{cv['checkpoints'][str(f)]}` |"
            for f in cv["folds"]]
    edge = report.get("edge_classifier")
    if edge:
        out += ["", f"Classifier adapted per codec: the edge model `{edge.get('pattern', edge['path'])}` "
                f"({edge['gflop']:.3f} GFLOP, {edge['ms']:.1f} ms per clip on one host thread), not the STAE checkpoint's ViT."]
    return out + [""]


def write_markdown(report: dict[str, Any], path: str | Path) -> Path:
    path = Path(path)
    path.write_text(markdown_tables(report))
    return path
