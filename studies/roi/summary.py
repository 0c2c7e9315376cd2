"""One plot and markdown tables from a study's result files (latent + roi JSON, shared H.264 reference).

    python -m studies.roi.summary out/payloads112/latent.json out/payloads112/roi.json \
        --plot docs/img/payload_112.png --title "16x112x112" \
        --profile profiles/payloads_112.json --clip 16,112,112

``--profile`` merges the study's operating points into a stae-profile/1 file for the planner
(a point measured by two files - the same label - is written once, from the last file).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from studies.roi.report import equal_accuracy_table, plot_curves, reference_curves, write_profile_points

__all__ = ["main"]


def _fmt(v, pct: bool = False) -> str:
    if v is None:
        return "-"
    return f"{100 * v:.1f}%" if pct else f"{v:,.0f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m studies.roi.summary", description=__doc__.split("\n\n")[0])
    ap.add_argument("results", nargs="+", help="latent.json / roi.json files of one study")
    ap.add_argument("--plot", default="", help="combined plot path ('' = none)")
    ap.add_argument("--title", default="", help="plot title suffix")
    ap.add_argument("--profile", default="", help="merge the points into this profile JSON ('' = none)")
    ap.add_argument("--clip", default="", help="T,H,W of the study's clips (needed with --profile)")
    args = ap.parse_args(argv)
    if args.profile and len(args.clip.split(",")) != 3:
        ap.error("--profile needs --clip T,H,W")
    curves: dict[str, list[tuple[float, float]]] = {}
    rows: list[dict] = []
    ref: list[dict] = []
    for path in args.results:
        blob = json.loads(Path(path).read_text())
        ref = blob["h264"] or ref
        for r in blob["points"]:
            name = r["codec"] + (f" {r['mode']}" if r.get("mode") else "")
            curves.setdefault(name, []).append((r["bytes_mean"], r["accuracy"]))
            rows.append(r)
    refs = {"h264": [(r["bytes_mean"], r["accuracy"]) for r in ref], "h264_lite": [(r["bytes_mean_lite"], r["accuracy"]) for r in ref]}
    curves |= reference_curves(ref)
    if args.plot:
        plot_curves(curves, args.plot, f"payloads vs libx264 ({args.title})")
    if args.profile:
        t, h, w = (int(v) for v in args.clip.split(","))
        clip = {"frames": t, "height": h, "width": w, "channels": 3}
        by_label = {r.get("label", str(i)): r for i, r in enumerate(rows)}
        n_clips = max((int(r.get("n_clips", 0)) for r in rows), default=0)
        for codec in sorted({r["codec"] for r in by_label.values()}):
            points = [r for r in by_label.values() if r["codec"] == codec]
            write_profile_points(args.profile, codec, points, clip, f"synthetic seed 0, {n_clips} test clips ({t}x{h}x{w})")
    print("| CRF | size | PyAV bytes/clip | lite bytes/clip | accuracy | before fine-tune |\n|---|---|---|---|---|---|")
    for r in sorted(ref, key=lambda r: (r.get("scale", 1), -r["crf"])):
        size = "full" if r.get("scale", 1) == 1 else f"1/{r['scale']}"
        print(f"| {r['crf']:g} | {size} | {_fmt(r['bytes_mean'])} | {_fmt(r['bytes_mean_lite'])} | {_fmt(r['accuracy'], True)} | {_fmt(r['accuracy_before_finetune'], True)} |")
    print()
    print("| point | bytes/clip (p95) | accuracy | camera ms (wall / CPU) | H.264-lite at equal acc. | ratio | within 1 pt below | ratio | PyAV H.264 at equal acc. | ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r, e in zip(rows, equal_accuracy_table(rows, refs)):
        def ratio(k: str) -> str:
            return f"{e[k]:.2f}x" if e.get(k) else "-"

        cam = f"{r.get('camera_ms', 0):.1f} / {r['camera_cpu_ms']:.1f}" if "camera_cpu_ms" in r else f"{r.get('camera_ms', 0):.1f}"
        print(
            f"| {e['label']} | {_fmt(r['bytes_mean'])} ({_fmt(r['bytes_p95'])}) | {_fmt(r['accuracy'], True)} | {cam} | "
            f"{_fmt(e['h264_lite_bytes'])} | {ratio('h264_lite_ratio')} | {_fmt(e['h264_lite_bytes_minus1pt'])} | {ratio('h264_lite_ratio_minus1pt')} | "
            f"{_fmt(e['h264_bytes'])} | {ratio('h264_ratio')} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
