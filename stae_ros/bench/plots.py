"""PNG plots of a codec bench report: the headline accuracy-vs-rate plot, camera cost vs bytes,
and the paper's completion-time-vs-uplink figure with the winning method marked per rate; and, from
the results summary, every data set's accuracy-vs-bytes curve per mode."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ..plotting import save_figure

__all__ = ["write_plots", "completion_from_summary", "completion_summary_plot", "SUMMARY_RATES_BPS", "rate_curves",
           "frontier", "rate_accuracy_plot"]

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

    def curve(r: dict[str, Any]) -> str:  # down-scaled H.264/H.265 points are their own curve
        scale = (r.get("spec") or {}).get("scale")
        return f"{r['family']} x{scale:g}" if scale not in (None, 1, 1.0) else str(r["family"])

    curves = list(dict.fromkeys(curve(r) for r in rows if "acc" in r))
    colors.update({c: plt.cm.tab20((len(fams) + 1 + i) % 20) for i, c in enumerate(curves) if c not in colors})
    fig, ax = plt.subplots(figsize=(8, 5))
    for i, cv in enumerate(curves):
        pts = sorted((r for r in rows if curve(r) == cv and "acc" in r), key=lambda r: r["bytes_mean"])
        fam = pts[0]["family"]
        ax.plot([r["bytes_mean"] * 8 / 1000 for r in pts], [100 * r["acc"] for r in pts], marker=_MARKERS[i % len(_MARKERS)],
                color=colors[cv], label=cv, linestyle="-" if fam in ("h264", "h265", "jpeg", "stae") else "--")
    for lm in report.get("local_models") or []:  # 0 bytes: a level, not a point on the rate axis
        ax.axhline(100 * lm["acc"], color=colors["local"], linestyle=":",
                   label=f"local classifier on the camera (0 B): {100 * lm['acc']:.1f}%")
    ax.set_xscale("log")
    ax.set_xlabel("kbit per clip (log)")
    ax.set_ylabel(f"accuracy, classifier adapted per codec ({report.get('finetune', {}).get('mode', 'head')}) (%)")
    ax.set_title(f"Accuracy vs rate ({report['clip']['frames']}×{report['clip']['height']}×{report['clip']['width']} clips)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    paths.append(save_figure(fig, out / "bench_accuracy_vs_kbit.png", 120))

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
    paths.append(save_figure(fig, out / "bench_camera_ms_vs_bytes.png", 120))

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
    paths.append(save_figure(fig, out / "bench_completion_vs_rate.png", 120))
    return paths


# ------------------------------------------------------------ completion time from the results summary
#: uplink rates of the completion-time figure, bit/s (0.05 to 100 Mbit/s, log-spaced)
SUMMARY_RATES_BPS: tuple[float, ...] = tuple(float(x) for x in __import__("numpy").logspace(math.log10(0.05e6), 8.0, 81))


def fastest_bands(rates_bps: Any, curves: dict[str, Any], names: list[str], key: str = "mode") -> list[dict[str, Any]]:
    """Contiguous rate ranges over which one of ``names`` has the lowest completion time
    (``curves[name]["ms"][i]`` at ``rates_bps[i]``), each as {key: name, from_bps, to_bps}."""
    bands: list[dict[str, Any]] = []
    for i, rate in enumerate(rates_bps):
        name = min(names, key=lambda n: curves[n]["ms"][i])
        if not bands or bands[-1][key] != name:
            bands.append({key: name, "from_bps": rate, "to_bps": rate})
        bands[-1]["to_bps"] = rate
    return bands


def _mode_point(points: list[dict[str, Any]], within: float) -> dict[str, Any]:
    """A mode's point: the fewest bytes within ``within`` of that mode's best accuracy (the README
    table's rule, so the figure and the table show the same points)."""
    best = max(p["accuracy"] for p in points)
    return min((p for p in points if p["accuracy"] >= best - within - 1e-9), key=lambda p: (p["bytes_mean"], -p["accuracy"]))


def completion_from_summary(entry: dict[str, Any], camera_slowdown: float, within: float = 0.01,
                            accuracy_margin: float = 0.05, rates_bps: tuple[float, ...] = SUMMARY_RATES_BPS) -> dict[str, Any]:
    """Completion time per clip vs uplink rate for one data set of the results summary.

    Per mode, its point (:func:`_mode_point`): time = camera ms x ``camera_slowdown`` (the host's
    one-thread ms scaled to the target camera) + bytes x 8 / rate + edge ms (the host's one-thread
    ms: an upper bound for a GPU edge). Points the camera cannot afford (camera GFLOP above the
    set's budget) or whose camera or edge time was not measured are left out. ``winners``: the
    fastest mode per rate among the modes whose accuracy is within ``accuracy_margin`` of the most
    accurate mode's; ``winners_any``: the fastest mode whatever its accuracy."""
    budget = entry.get("camera_budget_gflop")
    usable = [p for p in entry["points"] if p.get("camera_ms") is not None and p.get("edge_ms") is not None
              and not (budget is not None and p.get("camera_gflop") is not None and p["camera_gflop"] > budget)]
    dropped = sorted({f"{p['mode']} {p['setting']}" for p in entry["points"] if p not in usable})
    curves: dict[str, dict[str, Any]] = {}
    for mode in dict.fromkeys(p["mode"] for p in usable):
        p = _mode_point([q for q in usable if q["mode"] == mode], within)
        cam = float(p["camera_ms"]) * camera_slowdown
        ms = [cam + float(p["bytes_mean"]) * 8.0 / r * 1e3 + float(p["edge_ms"]) for r in rates_bps]
        curves[mode] = {"setting": p["setting"], "accuracy": p["accuracy"], "bytes": p["bytes_mean"],
                        "camera_ms_target": cam, "edge_ms": float(p["edge_ms"]), "ms": ms}
    top = max((c["accuracy"] for c in curves.values()), default=0.0)
    eligible = [m for m, c in curves.items() if c["accuracy"] >= top - accuracy_margin - 1e-9]

    return {"rates_bps": list(rates_bps), "curves": curves, "eligible": eligible, "accuracy_margin": accuracy_margin,
            "winners": fastest_bands(rates_bps, curves, eligible) if eligible else [],
            "winners_any": fastest_bands(rates_bps, curves, list(curves)) if curves else [],
            "camera_slowdown": camera_slowdown, "left_out": dropped}


def _set_panel(ax: Any, name: str, entry: dict[str, Any], xlabel: str, ylabel: str) -> None:
    """A summary figure's panel for one data set: log x axis, labels, the set as title, legend outside."""
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(f"{name} ({entry['kind']}, {entry['classes']} classes, {entry['test_clips']} test clips)", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)


def completion_summary_plot(summary: dict[str, Any], path: str | Path, camera: str, camera_slowdown: float,
                            within: float = 0.01, accuracy_margin: float = 0.05) -> dict[str, Any]:
    """One panel per data set of the results summary: every mode's completion time vs uplink rate
    on the ``camera`` preset, the fastest mode per rate shaded (among the modes within
    ``accuracy_margin`` of the most accurate one). Writes ``path`` (PNG); returns the curves."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = summary["sets"]
    results = {name: completion_from_summary(s, camera_slowdown, within, accuracy_margin) for name, s in sets.items()}
    modes = list(dict.fromkeys(m for r in results.values() for m in r["curves"]))
    cmap = plt.get_cmap("tab10")
    colors = {m: cmap(i % 10) for i, m in enumerate(modes)}
    fig, axes = plt.subplots(len(sets), 1, figsize=(13, 3.8 * len(sets) + 0.6), squeeze=False)
    for ax, (name, res) in zip(axes[:, 0], results.items()):
        rates = [r / 1e6 for r in res["rates_bps"]]
        for band in res["winners"]:
            ax.axvspan(band["from_bps"] / 1e6, band["to_bps"] / 1e6, color=colors[band["mode"]], alpha=0.13)
        for m, c in res["curves"].items():
            ok = m in res["eligible"]
            ax.plot(rates, c["ms"], color=colors[m], linestyle="-" if ok else ":", linewidth=2 if ok else 1.2,
                    label=f"{m}: {c['setting']} ({100 * c['accuracy']:.1f}%, {c['bytes']:,.0f} B)"
                          + ("" if ok else f" - more than {100 * accuracy_margin:.0f} points below the best"))
        for band in res["winners"]:
            mid = (band["from_bps"] * band["to_bps"]) ** 0.5 / 1e6
            ax.text(mid, 0.97, band["mode"], transform=ax.get_xaxis_transform(), ha="center", va="top", fontsize=8,
                    fontweight="bold", color=colors[band["mode"]])
        ax.set_yscale("log")
        _set_panel(ax, name, sets[name], "uplink rate (Mbit/s, log)", "ms per clip (log)")
    fig.suptitle(f"Completion time per clip = camera time on {camera} (host one-thread ms x {camera_slowdown:.1f}) + "
                 f"bytes / uplink rate + edge time\nshaded: the fastest mode among those within "
                 f"{100 * accuracy_margin:.0f} points of the most accurate (dotted: below that)", fontsize=9)
    save_figure(fig, path, 110)
    return results


def rate_curves(entry: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """One data set of the summary as mode -> its points sorted by bytes (setting, bytes, accuracy);
    modes that send nothing (local) have bytes 0."""
    curves: dict[str, list[dict[str, Any]]] = {}
    for p in entry["points"]:
        curves.setdefault(p["mode"], []).append({"setting": p["setting"], "bytes": float(p["bytes_mean"]),
                                                 "accuracy": float(p["accuracy"])})
    return {m: sorted(pts, key=lambda q: (q["bytes"], -q["accuracy"])) for m, pts in curves.items()}


def frontier(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The points no other point beats with fewer or equal bytes and more accuracy, by bytes: a mode's
    best accuracy per byte (its other settings are dominated)."""
    out: list[dict[str, Any]] = []
    for q in sorted(points, key=lambda q: (q["bytes"], -q["accuracy"])):
        if not out or q["accuracy"] > out[-1]["accuracy"]:
            out.append(q)
    return out


def rate_accuracy_plot(summary: dict[str, Any], path: str | Path) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """One panel per data set: accuracy against bytes per clip (log) for every mode, all measured on that
    set's test clips, so each payload's curve reads against libx264's; a mode that sends nothing is a
    horizontal line. Writes ``path`` (PNG); returns the curves per set."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = summary["sets"]
    results = {name: rate_curves(entry) for name, entry in sets.items()}
    modes = list(dict.fromkeys(m for r in results.values() for m in r))
    cmap = plt.get_cmap("tab10")
    style = {m: (cmap(i % 10), _MARKERS[i % len(_MARKERS)]) for i, m in enumerate(modes)}
    fig, axes = plt.subplots(len(sets), 1, figsize=(11, 3.6 * len(sets) + 0.5), squeeze=False)
    for ax, (name, curves) in zip(axes[:, 0], results.items()):
        for mode, pts in curves.items():
            color, marker = style[mode]
            sent = [q for q in pts if q["bytes"] > 0]
            for j, q in enumerate(q for q in pts if q["bytes"] <= 0):
                ax.axhline(100 * q["accuracy"], color=color, linestyle=("--", ":", "-.")[j % 3], linewidth=1.2,
                           label=f"{mode}: {q['setting']} (nothing sent)")
            if sent:
                front = frontier(sent)
                ax.scatter([q["bytes"] for q in sent], [100 * q["accuracy"] for q in sent], marker=marker, color=color,
                           s=18, alpha=0.45)
                ax.plot([q["bytes"] for q in front], [100 * q["accuracy"] for q in front], marker=marker, color=color,
                        linewidth=1.4, markersize=5,
                        label=f"{mode} ({len(sent)} point{'s' if len(sent) > 1 else ''}; line: best per byte)")
        _set_panel(ax, name, sets[name], "bytes per 16-frame clip (log)", "accuracy (%)")
    fig.suptitle("Accuracy against bytes per clip, every mode on each set's own test clips (results/summary.json)",
                 fontsize=10)
    save_figure(fig, path, 110, rect=(0, 0, 1, 0.985))
    return results
