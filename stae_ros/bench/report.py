"""Markdown tables of a codec bench report (what docs/benchmarks.md and the README embed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["markdown_tables", "write_markdown", "headline"]


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
    return f"{value:.2f} ±{100 * spread:.0f}%" if spread is not None else f"{value:.2f}"


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


def markdown_tables(report: dict[str, Any]) -> str:
    clip = report["clip"]
    out = [f"Clip {clip['frames']}×{clip['height']}×{clip['width']}×3 (float32 {clip['float32_bytes']:,} B, "
           f"uint8 {clip['uint8_bytes']:,} B); {report['test_clips']} test clips, {report['finetune_clips']} "
           f"fine-tuning clips; checkpoint stage `{report.get('checkpoint_stage')}`; ms = median CPU time per clip "
           f"(process_time, one thread), ± = half-range over {report['options']['repeats']} runs.", ""]
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
    out += ["", f"Classifier (ViT) per clip: {cls['local_camera_1thread']:.1f} ms on one camera thread "
            f"(peak RSS {cls['camera_peak_rss_mb']:.0f} MB), {cls['edge']:.1f} ms on the edge.", ""]
    out += ["Equal accuracy vs H.264 (tolerance 1 point):", ""] + headline(report) + [""]
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


def write_markdown(report: dict[str, Any], path: str | Path) -> Path:
    path = Path(path)
    path.write_text(markdown_tables(report))
    return path
