"""Bytes-vs-accuracy sweep of the stae-roi264 payload against libx264, written to out/payloads/.

    python -m studies.roi.evaluate --config config/roi_default.yaml

Trains the importance map once (cached), then for each (CRF, threshold, frame threshold)
point encodes every train and test clip with `RoiCodec` (map net included in camera ms),
fine-tunes a copy of the base classifier on the decoded train clips for the same number of
steps as each H.264 point, and reports test accuracy. Writes out/payloads/roi.json,
docs/img/payload_roi.png and the operating points into profiles/payloads.json.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

from stae_ros.roi.baseline import StudyConfig, base_classifier, codec_point, h264_points
from stae_ros.roi.codec import RoiCodec, RoiSettings
from stae_ros.roi.dataset import load_payload_data
from stae_ros.roi.h264 import X264Settings
from studies.roi.cputime import time_camera_cpu
from stae_ros.roi.importance import ImportanceNet, motion_importance, motion_importance_fa, save_importance_net
from studies.roi.report import report_sweep, save_json
from stae_ros.roi.map_training import MapTraining
from studies.roi.study_cli import start_study, study_parser
from stae_ros.roi.train_map import train_importance

log = logging.getLogger(__name__)
_Net = TypeVar("_Net")


def _fa_key(row: dict) -> str:
    sel = row.get("frame_select", "")
    if sel == "motion":
        return f"motion {row['frame_threshold']:g}"
    if sel == "uniform":
        return f"1 frame in {row.get('frame_stride', 2)}"
    return ""


def _load_state(net: torch.nn.Module, path: Path) -> torch.nn.Module:
    net.load_state_dict(torch.load(path, weights_only=True))
    return net.eval()


def _load_or_train(path: Path, load: Callable[[Path], _Net], train: Callable[[], tuple[_Net, dict]],
                   save: Callable[[Path, _Net, dict], object]) -> _Net:
    """The map cached at `path`, or a freshly trained one saved there (training takes minutes)."""
    if path.exists():
        return load(path)
    net, stats = train()
    save(path, net, stats)
    log.info("map trained (%s): %s", path.name, stats)
    return net


def main(argv: list[str] | None = None) -> int:
    ap = study_parser("python -m studies.roi.evaluate", __doc__, "config/roi_default.yaml", "roi.json",
                      "docs/img/payload_roi.png")
    ap.add_argument("--only-map", action="store_true", help="train/cache the importance map and stop")
    ap.add_argument("--only-points", default="", help="comma-separated indices of config points to run (no report)")
    ap.add_argument("--no-reference", action="store_true", help="skip the H.264 reference (with --only-points)")
    args = ap.parse_args(argv)
    conf = start_study(args)
    study = StudyConfig(**conf.get("study", {}))
    out = Path(study.out_dir)
    data = load_payload_data(out, **conf.get("data", {}))
    base = base_classifier(data, study)
    mc = conf["map"]
    t, h, w = data.test_clips.shape[1:4]
    if mc.get("kind", "learned") == "motion":
        map_path = Path(f"motion_b{mc['block']}_d{mc.get('dilate', 1)}")
        importance_fn = lambda clip: motion_importance(clip, mc["block"], mc.get("dilate", 1))  # noqa: E731
    elif mc["kind"] == "residual":  # motion map + learned residual, trained for crop mode (residual_map.py)
        from studies.roi.residual_map import load_residual_map, save_residual_map, train_residual_map

        train = MapTraining.from_section(mc, batch=8, lr=1e-3)
        map_path = out / f"roi_resmap_beta{train.beta:g}_{train.steps}_b{train.batch}.pt"
        rnet = _load_or_train(
            map_path, load_residual_map,
            lambda: train_residual_map(base, data.train_clips, data.train_labels, train, dilate=mc.get("dilate", 1)),
            lambda path, net, stats: save_residual_map(path, net, {"beta": train.beta, "steps": train.steps, "stats": stats}))
        importance_fn = rnet.importance
    else:
        train = MapTraining.from_section(mc, batch=16, lr=2e-3)
        distill = mc.get("distill_steps", 0)
        map_path = out / f"roi_map_beta{train.beta:g}_{train.steps}_d{distill}.pt"
        net = _load_or_train(
            map_path, lambda path: _load_state(ImportanceNet(block=train.block), path),
            lambda: train_importance(base, data.train_clips, data.train_labels, train, bg_block=mc["bg_block"],
                                     distill_steps=distill),
            lambda path, net, stats: torch.save(net.state_dict(), path))
        save_importance_net(out / "stae_roi_importance.pt", net, {"beta": train.beta, "steps": train.steps})
        importance_fn = net.importance
    if args.only_map:
        return 0
    imp_test = np.stack([importance_fn(c) for c in data.test_clips[:64]])
    log.info("mean kept fraction at 0.5 on 64 test clips: %.3f", float((imp_test >= 0.5).mean()))

    def point_importance(p: dict):
        """The point's map: the per-clip map, or (frame_select) the same map gated per frame by FA."""
        if not p.get("frame_select"):
            return importance_fn
        if mc.get("kind", "learned") != "motion":
            raise ValueError("frame_select needs map kind 'motion'")
        return lambda clip: motion_importance_fa(  # noqa: E731
            clip,
            mc["block"],
            mc.get("dilate", 1),
            frame_threshold=p["frame_threshold"],
            keep_threshold=p.get("threshold", 0.5),
            select=p["frame_select"],
            stride=p.get("frame_stride", 2),
        )

    def fa_label(p: dict) -> str:
        if p.get("frame_select") == "uniform":
            return f" fa=every{p.get('frame_stride', 2)}"
        if p.get("frame_select") == "motion":
            return f" fa=motion{p['frame_threshold']:g}"
        return f" fa={p['frame_threshold']:g}" if p.get("frame_threshold") else ""

    rows = []
    point_dir = out / "roi_points"
    point_dir.mkdir(parents=True, exist_ok=True)
    chosen = [int(i) for i in args.only_points.split(",")] if args.only_points else range(len(conf["points"]))
    for i in chosen:
        p = conf["points"][i]
        s = RoiSettings(
            threshold=p.get("threshold", 0.5),
            background=mc.get("background", "mean"),
            bg_block=mc["bg_block"],
            frame_threshold=p.get("frame_threshold", 0.0),
            mode=p.get("mode", "fill"),
            x264=X264Settings(crf=p["crf"]),
        )
        codec = RoiCodec(s)
        imp_fn = point_importance(p)
        label = f"roi {s.mode} crf={p['crf']:g} thr={s.threshold:g}" + fa_label(p)
        cache = point_dir / (label.replace(" ", "_").replace("=", "") + f"_{map_path.stem}_ft{study.finetune_steps}.json")
        if cache.exists():
            rows.append(json.loads(cache.read_text()))
            continue
        row = codec_point(
            label,
            data,
            base,
            study,
            lambda clip, codec=codec, imp_fn=imp_fn: codec.encode(clip, imp_fn(clip)),
            codec.decode,
            {
                "crf": p["crf"],
                "threshold": s.threshold,
                "frame_threshold": s.frame_threshold,
                "frame_select": p.get("frame_select", ""),
                "frame_stride": p.get("frame_stride", 2),
                "mode": s.mode,
                "map": map_path.name,
            },
        )
        if s.frame_threshold > 0:  # share of frames actually coded (not held) on the test clips
            maps = [imp_fn(c) for c in data.test_clips]
            row["frames_coded"] = float(np.mean([(m.reshape(len(m), -1).max(axis=1) >= s.frame_threshold).mean() for m in maps]))
        row["label"] = label
        row["codec"] = "stae-roi264"
        row["n_clips"] = len(data.test_labels)
        rows.append(row)
        save_json(cache, row)
    if args.only_points:
        return 0
    # camera ms again, best of 5 per clip: the sweep's own timing ran beside the training jobs
    timing_clips = data.test_clips[:: max(1, len(data.test_clips) // 20)][:20]
    for row in rows:
        codec = RoiCodec(
            RoiSettings(
                threshold=row["threshold"],
                background=mc.get("background", "mean"),
                bg_block=mc["bg_block"],
                frame_threshold=row.get("frame_threshold", 0.0),
                mode=row.get("mode", "fill"),
                x264=X264Settings(crf=row["crf"]),
            )
        )
        imp_fn = point_importance({**row, "frame_select": row.get("frame_select", "")})
        timing = time_camera_cpu(lambda clip, codec=codec, imp_fn=imp_fn: codec.encode(clip, imp_fn(clip)), timing_clips)
        row["camera_cpu_ms"] = timing["cpu_ms_median_of_min"]
        row["camera_ms_sweep"] = row.get("camera_ms_sweep", row["camera_ms"])
        row["camera_ms"] = timing["ms_median_of_min"]
        row["camera_ms_mean_single"] = timing["ms_mean_single"]
        row["load1"] = timing["load1"]

    crfs = [float(c) for c in conf["h264_crfs"]]  # h264_scales: the reference at 1/s size too (see h264_points)
    ref = sorted((r for sc in conf.get("h264_scales", [1]) for r in h264_points(data, base, study, crfs, scale=int(sc))),
                 key=lambda r: r["bytes_mean"])
    curves = {
        f"stae-roi264 {mode}" + (f", FA {sel}" if sel else "") + " (CRF sweep)": [
            (r["bytes_mean"], r["accuracy"]) for r in rows if (r.get("mode", "fill"), _fa_key(r)) == (mode, sel)
        ]
        for mode, sel in sorted({(r.get("mode", "fill"), _fa_key(r)) for r in rows})
    }
    clip = {"frames": int(t), "height": int(h), "width": int(w), "channels": 3}
    report_sweep(out / args.json, conf, rows, ref, curves, args.plot,
                 f"stae-roi264 vs libx264 (synthetic {t}x{h}x{w}, 12 classes)", "stae-roi264", clip, args.profile,
                 len(data.test_labels))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
