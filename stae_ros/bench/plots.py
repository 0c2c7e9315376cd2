"""PNG plots of a codec bench report: the headline accuracy-vs-rate plot, camera cost vs bytes,
and the paper's completion-time-vs-uplink figure with the winning method marked per rate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["write_plots"]

_MARKERS = "osD^v<>pXh*"


def _families(rows: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(r["family"] for r in rows if "bytes_mean" in r))


def write_plots(report: dict[str, Any], out: str | Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    rows = [r for r in report["rows"] if "bytes_mean" in r]
    fams = _families(rows)
    colors = {f: plt.cm.tab20(i % 20) for i, f in enumerate(fams + ["local"])}
    paths = []

    fig, ax = plt.subplots(figsize=(8, 5))
    for i, fam in enumerate(fams):
        pts = sorted((r for r in rows if r["family"] == fam), key=lambda r: r["bytes_mean"])
        ax.plot([r["bytes_mean"] * 8 / 1000 for r in pts], [100 * r["acc"] for r in pts], marker=_MARKERS[i % len(_MARKERS)],
                color=colors[fam], label=fam, linestyle="-" if fam in ("h264", "h265", "jpeg", "stae") else "--")
    ax.set_xscale("log")
    ax.set_xlabel("kbit per clip (log)")
    ax.set_ylabel(f"accuracy, classifier adapted per codec ({report.get('finetune', {}).get('mode', 'head')}) (%)")
    ax.set_title(f"Accuracy vs rate ({report['clip']['frames']}×{report['clip']['height']}×{report['clip']['width']} clips)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    paths.append(out / "bench_accuracy_vs_kbit.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, 5))
    for i, fam in enumerate(fams):
        pts = [r for r in rows if r["family"] == fam and "camera_ms" in r]
        if pts:
            ax.scatter([r["bytes_mean"] for r in pts], [r["camera_ms"] for r in pts], marker=_MARKERS[i % len(_MARKERS)],
                       color=colors[fam], label=fam)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("bytes per clip (log)")
    ax.set_ylabel("camera ms per clip, 1 CPU thread (log)")
    ax.set_title("Camera-side cost vs payload size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    paths.append(out / "bench_camera_ms_vs_bytes.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)

    comp = report["completion"]
    rates = [r / 1e6 for r in comp["rates_bps"]]
    fig, ax = plt.subplots(figsize=(8, 5))
    for band in comp["winner_bands"]:
        ax.axvspan(band["from_bps"] / 1e6, band["to_bps"] / 1e6, color=colors.get(band["family"], "grey"), alpha=0.12)
    for fam, c in comp["curves"].items():
        ax.plot(rates, c["ms"], color=colors.get(fam, "black"), label=f"{fam} ({c['point']})",
                linestyle=":" if fam == "local" else "-")
    for band in comp["winner_bands"]:
        mid = (band["from_bps"] * band["to_bps"]) ** 0.5 / 1e6
        ax.annotate(f"{band['family']} wins", (mid, ax.get_ylim()[1]), xytext=(0, -12), textcoords="offset points",
                    ha="center", fontsize=7, rotation=0)
    # which *offloading* method wins where (ticks along the bottom), when local inference is excluded
    import matplotlib.transforms as mtransforms

    strip = mtransforms.blended_transform_factory(ax.transData, ax.transAxes)  # x in data, y in axes units
    for band in comp.get("winner_bands_offload", []):
        lo, hi = band["from_bps"] / 1e6, band["to_bps"] / 1e6
        ax.plot([lo, hi], [0.015, 0.015], transform=strip, color=colors.get(band["family"], "grey"), linewidth=6,
                solid_capstyle="butt")
        ax.text((lo * hi) ** 0.5, 0.04, f"best offload: {band['family']}", transform=strip, ha="center", fontsize=7)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("uplink rate (Mbit/s, log)")
    ax.set_ylabel("completion time per clip (ms, log)")
    ax.set_title("Camera + uplink + edge time per clip; shading = fastest method")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    paths.append(out / "bench_completion_vs_rate.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)
    return paths
