"""Bytes vs accuracy of stae-roi264 with its own motion map and with the edge's gradient map.

For each test clip: the camera codes it with its motion map (the file's settings); the edge
decodes it, classifies it and makes the sensitivity map from that decoded clip (what it would
send back); then the clip is coded again at each importance threshold with the motion map and
with the gradient map (``mix`` of it), decoded and classified. The map is applied to the clip it
was made from (lag 0): the synthetic clips are single 16-frame shots, so there is no next clip of
the same scene; in a stream the map comes from an earlier clip and the scene signature decides
whether it still applies. ``--control shuffled`` uses another clip's map (what a stale map that
slipped past the checks would do).

    python -m stae_ros.sensitivity.bench --data datasets/synth --limit 300 --out out/sens_roi.json
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np
import torch

from stae_ros.data.arrays import load_split_arrays
from stae_ros.modes.base import ModeContext
from stae_ros.modes.stae_roi264 import RoiCamera, RoiEdge
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


def run(data: str, limit: int, thresholds: list[float], mix: float, grid: int, control: str, method: str,
        dilate: int = 0, scale: str = "max") -> dict:
    torch.set_num_threads(1)
    arrays = load_split_arrays(data, "test", 16, (64, 64))
    clips, labels = arrays.clips[:limit], np.asarray(arrays.labels[:limit])
    ctx = ModeContext(loaded=None)
    cam, edge = RoiCamera(ctx), RoiEdge(ctx)
    pay = cam.payload
    maps = []
    base_pred = []
    for clip in clips:
        d = edge.decode(pay.encode(clip))
        maps.append(sensitivity_map(edge, d, 0, (grid, grid), method))
        base_pred.append(int(edge.classify([d]).logits.argmax(1)[0]))
    if control == "shuffled":
        maps = maps[1:] + maps[:1]
    out = {"clips": len(clips), "mix": mix, "dilate": dilate, "scale": scale, "grid": grid, "control": control, "method": method,
           "default_acc": float(np.mean(np.array(base_pred) == labels)), "motion": [], "gradient": []}
    for th in thresholds:
        pay.set_knobs({"threshold": th})
        for kind in ("motion", "gradient"):
            nbytes, decoded = [], []
            for clip, m in zip(clips, maps):
                own = pay.importance(clip)
                imp = own if kind == "motion" else mix_importance(own, m, mix, dilate, scale)
                data_ = pay.encode(clip, imp)
                nbytes.append(len(data_))
                decoded.append(pay.decode(data_))
            pred = np.concatenate([pay.logits(np.stack(decoded[i:i + 32])).argmax(1).numpy()
                                   for i in range(0, len(decoded), 32)])
            point = {"threshold": th, "bytes": float(np.mean(nbytes)), "acc": float(np.mean(pred == labels))}
            out[kind].append(point)
            log.info("%s th=%.2f: %.1f B, acc %.3f", kind, th, point["bytes"], point["acc"])
    ref = next(p for p in out["motion"] if abs(p["threshold"] - 0.5) < 1e-9) if 0.5 in thresholds else out["motion"][0]
    g = bytes_at_accuracy(out["gradient"], ref["acc"])
    out["at_motion_default"] = {"acc": ref["acc"], "motion_bytes": ref["bytes"], "gradient_bytes": g,
                                "saving": None if g is None else 1.0 - g / ref["bytes"]}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="datasets/synth")
    ap.add_argument("--limit", type=int, default=300)
    ap.add_argument("--thresholds", default="0.2,0.35,0.5,0.65,0.8")
    ap.add_argument("--mix", type=float, default=1.0)
    ap.add_argument("--grid", type=int, default=8)
    ap.add_argument("--dilate", type=int, default=0, help="cells the camera dilates the map by (as the motion map)")
    ap.add_argument("--scale", default="max", choices=("max", "coverage"), help="how the camera reads the map")
    ap.add_argument("--method", default="grad", choices=("grad", "grad_x_input"))
    ap.add_argument("--control", default="", choices=("", "shuffled"))
    ap.add_argument("--out", default="")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    res = run(a.data, a.limit, [float(t) for t in a.thresholds.split(",")], a.mix, a.grid, a.control, a.method, a.dilate, a.scale)
    text = json.dumps(res, indent=1)
    print(text)
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
