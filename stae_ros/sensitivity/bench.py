"""Bytes vs accuracy of stae-roi264 with its own motion map and with the edge's gradient map.

For each test clip: the camera codes it with its motion map (the file's settings); the edge
decodes it, classifies it and makes the sensitivity map from that decoded clip (what it would
send back); then the clip is coded again at each importance threshold with the motion map and
with the gradient map (``mix`` of it), decoded and classified. The map is applied to the clip it
was made from (lag 0): the synthetic clips are single 16-frame shots, so there is no next clip of
the same scene; in a stream the map comes from an earlier clip and the scene signature decides
whether it still applies. ``--control shuffled`` uses another clip's map (what a stale map that
slipped past the checks would do). ``--map-source full`` makes the map from the clip coded whole
(threshold 0) instead of the motion-map crop the edge sees live: whether a map of the whole frame,
which could also mark what the motion map missed, would save more.

    python -m stae_ros.sensitivity.bench --data datasets/synth --limit 300 --out out/sens_roi.json
    python -m stae_ros.sensitivity.bench --mode stae-px --kp 16,0.1 --weights 1,2,4 --out out/sens_px.json
    python -m stae_ros.sensitivity.bench --mode signatures --out out/sens_signatures.json
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from stae_ros.cli.validate import float_in, int_in
from stae_ros.data.arrays import load_split_arrays
from stae_ros.data.folder import SHORT_CLIP_POLICIES, SplitSpec
from stae_ros.modes.base import ModeContext
from stae_ros.resources import find_data_file
from stae_ros.modes.stae_roi264 import RoiCamera, RoiEdge
from stae_ros.roi.node_model import ROI_TEXT_KNOBS
from stae_ros.sensitivity.camera import mix_importance
from stae_ros.sensitivity.gradients import sensitivity_map

log = logging.getLogger(__name__)


def bytes_at_accuracy(points: list[dict], acc: float) -> float | None:
    """Fewest mean bytes among the points reaching ``acc``, linearly interpolated between the
    cheapest point below and the cheapest point at or above it along the bytes axis; None if no
    point reaches it."""
    pts = sorted((p["bytes"], p["acc"]) for p in points)
    best = None
    for i, (b, a) in enumerate(pts):
        if a >= acc:
            best = b
            if i > 0 and pts[i - 1][1] < acc:
                b0, a0 = pts[i - 1]
                best = b0 + (b - b0) * (acc - a0) / (a - a0)
            break
    return best


def run(data: str, limit: int, thresholds: list[float], mix: float | list[float], grid: int, control: str,
        method: str, dilate: int = 0, scale: str = "max", combine: str = "linear", split: str = "test",
        roi_model: str = "", knobs: dict | None = None, fold: int | None = None, short_clip: str = "loop",
        map_source: str = "crop", figure: str = "", figure_clips: int = 4, figure_threshold: float = 0.5) -> dict:
    """The motion curve and one gradient curve per mix (``mix`` may be a list: the edge's maps and
    the motion curve are computed once for all of them). ``figure``: also draw ``figure_clips``
    clips spread over the set with both maps and what each sends at ``figure_threshold``
    (:func:`~stae_ros.sensitivity.figure.draw_map_comparison`, the first mix)."""
    torch.set_num_threads(1)
    mixes = [float(v) for v in (mix if isinstance(mix, (list, tuple)) else [mix])]
    # a fold file's folder (real footage) is read, never written: no clip cache beside it
    spec = SplitSpec(source="folds", test_fold=fold) if fold is not None else None
    ctx = ModeContext(loaded=None, model_files={"stae-roi264": roi_model} if roi_model else {})
    cam, edge = RoiCamera(ctx), RoiEdge(ctx)
    t, h, w = cam.shape[:3]  # the clips the roi model was trained on
    arrays = load_split_arrays(data, split, t, (h, w), cache=spec is None, split_spec=spec, short_clip=short_clip)
    clips, labels = arrays.clips[:limit], np.asarray(arrays.labels[:limit])
    if split != "test" and limit and limit < len(arrays.labels):  # a class-balanced spread of the split
        idx = np.linspace(0, len(arrays.labels) - 1, limit).round().astype(int)
        clips, labels = arrays.clips[idx], np.asarray(arrays.labels)[idx]
    pay = cam.payload
    knobs = dict(knobs or {})
    pay.set_knobs(knobs)  # the camera's operating point (e.g. mode fill) for the edge's maps and every curve
    maps = []
    base_pred = []
    for clip in clips:
        d = edge.decode(pay.encode(clip))
        base_pred.append(int(edge.classify([d]).logits.argmax(1)[0]))
        if map_source == "full":  # the whole frame, every block kept
            pay.set_knobs({**knobs, "threshold": 0.0})
            d = edge.decode(pay.encode(clip))
            pay.set_knobs(knobs)
        maps.append(sensitivity_map(edge, d, 0, (grid, grid), method))
    if control == "shuffled":
        maps = maps[1:] + maps[:1]
    if figure:
        _draw(figure, pay, knobs, clips, maps, figure_clips, figure_threshold, mixes[0], dilate, scale, combine)
    out = {"clips": len(clips), "split": split, "fold": fold, "roi_model": str(pay.path), "knobs": knobs, "mix": mixes[0] if len(mixes) == 1 else mixes, "dilate": dilate,
           "scale": scale, "combine": combine, "grid": grid, "control": control, "method": method,
           "map_source": map_source,
           "default_acc": float(np.mean(np.array(base_pred) == labels)), "motion": [], "gradient": []}
    curves: dict[float, list[dict]] = {m: [] for m in mixes}

    def point(th: float, importances: list[np.ndarray]) -> dict:
        nbytes, decoded = [], []
        for clip, imp in zip(clips, importances):
            data_ = pay.encode(clip, imp)
            nbytes.append(len(data_))
            decoded.append(pay.decode(data_))
        pred = np.concatenate([pay.logits(np.stack(decoded[i:i + 32])).argmax(1).numpy()
                               for i in range(0, len(decoded), 32)])
        return {"threshold": th, "bytes": float(np.mean(nbytes)), "acc": float(np.mean(pred == labels))}

    for th in thresholds:
        pay.set_knobs({**knobs, "threshold": th})
        own = [pay.importance(clip) for clip in clips]
        out["motion"].append(point(th, own))
        log.info("motion th=%.2f: %.1f B, acc %.3f", th, out["motion"][-1]["bytes"], out["motion"][-1]["acc"])
        for m in mixes:
            curves[m].append(point(th, [mix_importance(o, g, m, dilate, scale, combine) for o, g in zip(own, maps)]))
            log.info("gradient (mix %g, %s) th=%.2f: %.1f B, acc %.3f", m, combine, th, curves[m][-1]["bytes"],
                     curves[m][-1]["acc"])
    ref = next(p for p in out["motion"] if abs(p["threshold"] - 0.5) < 1e-9) if 0.5 in thresholds else out["motion"][0]

    def saving(points: list[dict]) -> dict:
        g = bytes_at_accuracy(points, ref["acc"])
        return {"acc": ref["acc"], "motion_bytes": ref["bytes"], "gradient_bytes": g,
                "saving": None if g is None else 1.0 - g / ref["bytes"]}

    out["gradient"] = curves[mixes[0]]
    out["at_motion_default"] = saving(curves[mixes[0]])
    if len(mixes) > 1:
        out["by_mix"] = {str(m): {"gradient": curves[m], "at_motion_default": saving(curves[m])} for m in mixes}
    return out


def _draw(path: str, pay: Any, knobs: dict, clips: np.ndarray, maps: list, n: int, threshold: float, mix: float,
          dilate: int, scale: str, combine: str) -> None:
    """The figure of :func:`run`: clips spread over the set (the test split is in class order)."""
    from stae_ros.sensitivity.figure import draw_map_comparison

    idx = np.unique(np.linspace(0, len(clips) - 1, min(n, len(clips))).round().astype(int))
    pay.set_knobs({**knobs, "threshold": threshold})
    try:
        own = [pay.importance(clips[i]) for i in idx]
        mixed = [mix_importance(o, maps[i], mix, dilate, scale, combine) for o, i in zip(own, idx)]

        def code(clip: np.ndarray, imp: np.ndarray) -> tuple[int, np.ndarray]:
            data_ = pay.encode(clip, imp)
            return len(data_), pay.decode(data_)

        out = draw_map_comparison(path, [clips[i] for i in idx], own, [maps[i].values for i in idx], mixed, code,
                                  threshold, f"mix {mix:g} ({combine}, th {threshold:g})")
        log.info("figure: %s", out)
    finally:
        pay.set_knobs(knobs)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="datasets/synth")
    ap.add_argument("--limit", type=int_in(1), default=300)
    ap.add_argument("--thresholds", default="0.2,0.35,0.5,0.65,0.8")
    ap.add_argument("--mix", default="1.0", help="share of the map (a comma list runs one curve per value)")
    ap.add_argument("--combine", default="linear", choices=("linear", "geometric"),
                    help="how the map and the motion map are combined (sensitivity.camera.mix_importance)")
    ap.add_argument("--split", default="test", choices=("train", "test"),
                    help="train: choose mix / threshold settings on training clips, not on the test split")
    ap.add_argument("--grid", type=int_in(1, 64), default=8)
    ap.add_argument("--dilate", type=int_in(0, 64), default=0, help="cells the camera dilates the map by (as the motion map)")
    ap.add_argument("--scale", default="max", choices=("max", "coverage"), help="how the camera reads the map")
    ap.add_argument("--method", default="grad", choices=("grad", "grad_x_input"))
    ap.add_argument("--control", default="", choices=("", "shuffled"))
    ap.add_argument("--map-source", default="crop", choices=("crop", "full"),
                    help="the clip the edge's map is made from: crop (the motion-map coded clip, as live) or full "
                         "(the clip coded whole, threshold 0)")
    ap.add_argument("--out", default="")
    ap.add_argument("--figure", default="", help="also draw a few clips with both maps and what each sends (PNG)")
    ap.add_argument("--figure-clips", type=int_in(1, 16), default=4, help="clips in --figure (default 4)")
    ap.add_argument("--figure-threshold", type=float_in(0.0, 1.0), default=0.5, help="the threshold --figure codes at (default 0.5)")
    ap.add_argument("--roi-model", default="", help="stae-roi264 model file (default: the shipped one)")
    ap.add_argument("--fold", type=int_in(0), default=None, help="data with a fold file: test on this fold (with the "
                                                             "fold's --roi-model)")
    ap.add_argument("--short-clip", default="loop", choices=SHORT_CLIP_POLICIES,
                    help="videos shorter than 16 frames, as the roi model was trained")
    ap.add_argument("--roi-setting", action="append", default=[], metavar="KNOB=VALUE",
                    help="a stae-roi264 knob over the file's settings for both maps (repeatable), e.g. mode=fill")
    ap.add_argument("--mode", default="stae-roi264", choices=("stae-roi264", "stae-px", "signatures", "cost"),
                    help="stae-roi264 / stae-px: bytes vs accuracy with each map; signatures: scene signature "
                         "distances; cost: the edge's ms per map against its ms per label")
    ap.add_argument("--weizmann", default="../shared/data/weizmann", help="signatures: a labelled video folder")
    ap.add_argument("--kp", default="16,0.1", help="stae-px: K,p")
    ap.add_argument("--weights", default="1,2,4", help="stae-px: guidance weights to try (0 = SA alone is always run)")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if a.mode == "signatures":
        res = run_signatures(a.data, a.weizmann)
    elif a.mode == "cost":
        k, p = a.kp.split(",")
        res = run_cost(a.data, a.limit, a.grid, int(k), float(p))
    elif a.mode == "stae-px":
        k, p = a.kp.split(",")
        res = run_px(a.data, a.limit, int(k), float(p), [float(w) for w in a.weights.split(",")], a.grid)
    else:
        if a.fold is not None and a.fold < 0:
            ap.error(f"--fold must be >= 0, got {a.fold}")
        knobs: dict = {}
        for item in a.roi_setting:
            key, sep, value = item.partition("=")
            if not sep or not key:
                ap.error(f"--roi-setting takes KNOB=VALUE, got {item!r}")
            try:
                knobs[key] = value if key in ROI_TEXT_KNOBS else float(value)
            except ValueError:
                ap.error(f"--roi-setting {key} needs a number, got {value!r}")
        res = run(a.data, a.limit, [float(t) for t in a.thresholds.split(",")],
                  [float(m) for m in a.mix.split(",")], a.grid, a.control, a.method, a.dilate, a.scale, a.combine,
                  a.split, a.roi_model, knobs, a.fold, a.short_clip, a.map_source, a.figure, a.figure_clips,
                  a.figure_threshold)
    text = json.dumps(res, indent=1)
    print(text)
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(text)
    return 0



def _px_modes(k: int, p: float) -> tuple[Any, Any]:
    """The shipped stae-px camera at (K, p) and its edge, sharing one loaded model."""
    from stae_ros.modes.stae_px import PxCamera, PxEdge
    from stae_ros.training.checkpoints import load_model

    ctx = ModeContext(load_model(find_data_file("", "models/stae_default.pt")))
    cam = PxCamera(ctx)
    cam.apply(cam.validate(k, p, {}))
    return cam, PxEdge(ctx)


def run_px(data: str, limit: int, k: int, p: float, weights: list[float], grid: int = 8) -> dict:
    """stae-px at (K, p): accuracy and bytes with SA's own pixels and with SA steered by the edge's map
    of the same clip (made from the clip the edge recovered from SA's own pixels; lag 0, as above)."""
    from stae_ros.sensitivity.guidance import GuidanceRules

    torch.set_num_threads(1)
    arrays = load_split_arrays(data, "test", 16, (64, 64))
    clips, labels = arrays.clips[:limit], np.asarray(arrays.labels[:limit])
    cam, edge = _px_modes(k, p)
    out: dict = {"clips": len(clips), "k": k, "p": p, "grid": grid, "points": []}
    maps, first = [], []
    for clip in clips:
        d = edge.decode(cam.encode(clip).payload)
        first.append(d)
        maps.append(sensitivity_map(edge, d, 0, (grid, grid)))
    for w in [0.0] + weights:
        nbytes, pred = [], []
        for clip, m, d0 in zip(clips, maps, first):
            if w == 0.0:
                d, n = d0, len(cam.encode(clip).payload)
            else:
                cam.set_guidance(m, GuidanceRules(weight=w, max_signature_distance=1.0))
                data_ = cam.encode(clip).payload
                d, n = edge.decode(data_), len(data_)
            nbytes.append(n)
            pred.append(int(edge.classify([d]).logits.argmax(1)[0]))
        point = {"weight": w, "bytes": float(np.mean(nbytes)), "acc": float(np.mean(np.array(pred) == labels))}
        out["points"].append(point)
        log.info("stae-px K=%d p=%g weight %g: %.1f B, acc %.3f", k, p, w, point["bytes"], point["acc"])
    return out


def run_cost(data: str, limit: int, grid: int = 8, k: int = 16, p: float = 0.1) -> dict:
    """What a map costs the edge (edge_node ``sensitivity_every``), against labelling the same clip:
    per shipped mode, ms per clip of ``classify`` and of ``sensitivity_map`` (a forward and a
    backward pass), one torch thread, the two timed clip by clip in turn so that load drifts
    reach both alike; medians and p95 over ``limit`` clips after one warm-up."""
    torch.set_num_threads(1)
    arrays = load_split_arrays(data, "test", 16, (64, 64))
    clips = arrays.clips[: max(1, limit)]
    roi_ctx = ModeContext(loaded=None)
    modes = {f"stae-px K={k} p={p:g}": _px_modes(k, p), "stae-roi264": (RoiCamera(roi_ctx), RoiEdge(roi_ctx))}
    out: dict = {"clips": len(clips), "grid": grid, "threads": 1, "modes": {}}
    for name, (cam, edge) in modes.items():
        decoded = [edge.decode(cam.encode(clip).payload) for clip in clips]
        edge.classify([decoded[0]])
        sensitivity_map(edge, decoded[0], 0, (grid, grid))
        label_ms, map_ms = [], []
        for i, d in enumerate(decoded):
            t0 = time.perf_counter()
            edge.classify([d])
            t1 = time.perf_counter()
            sensitivity_map(edge, d, i, (grid, grid))
            t2 = time.perf_counter()
            label_ms.append(1e3 * (t1 - t0))
            map_ms.append(1e3 * (t2 - t1))
        row = {key: {"p50": float(np.median(v)), "p95": float(np.percentile(v, 95))}
               for key, v in (("label_ms", label_ms), ("map_ms", map_ms))}
        row["map_per_label"] = row["map_ms"]["p50"] / row["label_ms"]["p50"]
        out["modes"][name] = row
        log.info("%s: label %.1f ms, map %.1f ms (p50)", name, row["label_ms"]["p50"], row["map_ms"]["p50"])
    return out


def run_signatures(data: str, weizmann: str, stride: int = 6) -> dict:
    """Scene-signature distances: the camera's clip vs the edge's view of it (roi decode, px recovery at
    K=16 p=0.1) and vs the next clip; the next 8-frame window of the same Weizmann video; different clips."""
    import glob

    import cv2

    from stae_ros.data.video_io import open_capture
    from stae_ros.modes import stae_px, stae_roi264
    from stae_ros.sensitivity.map import scene_signature, signature_distance
    from stae_ros.training.checkpoints import load_model

    torch.set_num_threads(1)
    arrays = load_split_arrays(data, "test", 16, (64, 64))
    clips = arrays.clips
    ctx = ModeContext(load_model(find_data_file("", "models/stae_default.pt")))
    pc = stae_px.camera(ctx)
    pc.apply(pc.validate(16, 0.1, {}))
    out: dict = {}
    for name, cam, edge in (("roi", stae_roi264.camera(ctx), stae_roi264.edge(ctx)), ("px_k16_p0.1", pc, stae_px.edge(ctx))):
        same, other = [], []
        for i in range(0, len(clips), stride):
            x, _ = edge.guidance_input(edge.decode(cam.encode(clips[i]).payload))
            seen = scene_signature((x[0].clamp(0, 1) * 255).round().byte().permute(1, 2, 3, 0).numpy())
            same.append(signature_distance(scene_signature(clips[i]), seen))
            other.append(signature_distance(scene_signature(clips[(i + 1) % len(clips)]), seen))
        out[f"edge_view_{name}"] = {"same_median": float(np.median(same)), "next_median": float(np.median(other)), "n": len(same)}
    sig = [scene_signature(c) for c in clips]
    diff = [signature_distance(sig[i], sig[i + 1]) for i in range(len(sig) - 1)]
    out["synth_next_clip"] = {"min": float(np.min(diff)), "median": float(np.median(diff)), "n": len(diff)}
    same, first = [], []
    for path in sorted(p for p in glob.glob(f"{weizmann}/*/*") if not p.endswith(".csv")):
        cap, frames = open_capture(path), []
        while True:
            ok, f = cap.read()
            if not ok:
                break
            frames.append(cv2.resize(f, (64, 64))[..., ::-1])
        if len(frames) >= 16:
            fr = np.ascontiguousarray(np.array(frames))
            s0 = scene_signature(fr[:8])
            same.append(signature_distance(s0, scene_signature(fr[8:16])))
            first.append(s0)
    if same:
        other = [signature_distance(first[i], first[j]) for i in range(len(first)) for j in range(i + 1, len(first))]
        out["weizmann_next_window"] = {"max": float(np.max(same)), "median": float(np.median(same)), "n": len(same)}
        out["weizmann_other_video"] = {"min": float(np.min(other)), "median": float(np.median(other)), "n": len(other)}
    return out


if __name__ == "__main__":
    raise SystemExit(main())
