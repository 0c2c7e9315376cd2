"""Bytes per clip and camera ms on real footage (no labels, so no accuracy): stae-latent,
stae-roi264 and libx264 on the same 16-frame clips.

    python -m studies.roi.real_footage --data-dir ../shared/data --sizes 64,112

Each video is read with the project's loader (`stae_ros.data.video_io.read_video`), cut into
consecutive 16-frame clips at its own frame rate, and every frame is centre-cropped to a square
and resized (area filter) to the payload models' input size (the latent models are trained at
a fixed size; the pixel codecs get the same frames, so the comparison is like for like). The
resize is reported separately and not counted in any codec's camera ms. Camera ms: one torch
thread, libx264 `threads=1`, best of 5 per clip, median over clips (wall) and the CPU time of
those runs (`studies.roi.cputime`). Writes out/payloads/real_footage.json and prints a
markdown table.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch

from stae_ros.roi.codec import RoiCodec, RoiSettings
from studies.roi.cputime import time_camera_cpu
from stae_ros.roi.h264 import X264Settings, encode_annexb, pack_nals
from stae_ros.roi.importance import motion_importance
from studies.roi.report import save_json

__all__ = ["square_resize", "footage_clips", "main"]

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm")


def square_resize(frames: np.ndarray, size: int) -> np.ndarray:
    """uint8 N,H,W,3 -> N,size,size,3: centre crop to the shorter side, area resize."""
    import cv2

    n, h, w, _ = frames.shape
    s = min(h, w)
    y0, x0 = (h - s) // 2, (w - s) // 2
    out = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        out[i] = cv2.resize(np.ascontiguousarray(frames[i, y0 : y0 + s, x0 : x0 + s]), (size, size), interpolation=cv2.INTER_AREA)
    return out


def footage_clips(path: Path, frames: int, clips: int) -> np.ndarray:
    """Up to `clips` consecutive `frames`-frame clips from the start of the video: N,T,H,W,3 uint8."""
    from stae_ros.data.video_io import read_video

    video = read_video(path, max_frames=frames * clips)
    n = len(video) // frames
    return video[: n * frames].reshape(n, frames, *video.shape[1:])


def _latent_models(size: int, dirs: list[Path]) -> list[Path]:
    from stae_ros.roi.errors import RoiError  # noqa: F401  (same error family as the rest of the module)
    from stae_ros.latent.io import load_latent_model

    found = []
    for d in dirs:
        for p in sorted(d.glob("stae_latent_lam*.pt")):
            try:
                cfg = load_latent_model(p).cfg
            except Exception:  # not a bundle
                continue
            if cfg.height == size and cfg.width == size:
                found.append(p)
    return found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m studies.roi.real_footage", description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", default="../shared/data", help="folder of videos")
    ap.add_argument("--sizes", default="64,112", help="square frame sides to resize to (latent models must exist at that size)")
    ap.add_argument("--clips", type=int, default=6, help="16-frame clips per video (from the start)")
    ap.add_argument("--timing-clips", type=int, default=4, help="clips per video timed (best of 5 each)")
    ap.add_argument("--crfs", default="43,38,33,28", help="libx264 CRFs")
    ap.add_argument("--roi-crfs", default="38,33", help="stae-roi264 crop-mode CRFs (motion map, thr 0.5)")
    ap.add_argument("--latent-dirs", default="out/payloads,out/payloads112", help="where stae_latent_lam*.pt bundles are")
    ap.add_argument("--lambdas", default="0.0001,0.001", help="latent models to use (by lambda in the file name)")
    ap.add_argument("--out", default="out/payloads/real_footage.json")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    torch.set_num_threads(1)
    from stae_ros.latent.io import load_latent_codec

    videos = sorted(p for p in Path(args.data_dir).iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
    if not videos:
        raise SystemExit(f"no videos in {args.data_dir}")
    raw = {}
    for v in videos:
        t0 = time.perf_counter()
        raw[v.name] = footage_clips(v, 16, args.clips)
        log.info("%s: %d clips of %s (%.1f s to read)", v.name, len(raw[v.name]), raw[v.name].shape[2:4], time.perf_counter() - t0)
    lambdas = {float(x) for x in args.lambdas.split(",") if x}
    rows = []
    for size in [int(s) for s in args.sizes.split(",")]:
        clips = {}
        resize_ms = []
        for name, c in raw.items():
            t0 = time.process_time()
            clips[name] = np.stack([square_resize(x, size) for x in c])
            resize_ms.append(1000 * (time.process_time() - t0) / len(c))
        payloads: list[tuple[str, dict, object]] = []
        for crf in [float(c) for c in args.crfs.split(",") if c]:
            s = X264Settings(crf=crf)
            payloads.append((f"libx264 CRF {crf:g}", {"codec": "h264", "crf": crf}, lambda x, s=s: encode_annexb(x, s)))
        for crf in [float(c) for c in args.roi_crfs.split(",") if c]:
            codec = RoiCodec(RoiSettings(threshold=0.5, mode="crop", x264=X264Settings(crf=crf)))
            payloads.append(
                (f"stae-roi264 crop CRF {crf:g}", {"codec": "stae-roi264", "crf": crf}, lambda x, c=codec: c.encode(x, motion_importance(x, 8, 1)))
            )
        for path in _latent_models(size, [Path(d) for d in args.latent_dirs.split(",")]):
            lam = float(path.stem.split("lam")[-1])
            if lambdas and lam not in lambdas:
                continue
            codec = load_latent_codec(path)
            payloads.append((f"stae-latent lambda {lam:g}", {"codec": "stae-latent", "lambda": lam, "model": str(path)}, codec.encode))
        for label, meta, enc in payloads:
            row = {"label": label, "size": size, **meta, "per_video": {}}
            all_sizes, lite_sizes, ms, cpu = [], [], [], []
            for name, c in clips.items():
                outs = [enc(x) for x in c]
                b = [len(o) for o in outs]
                all_sizes += b
                entry = {"bytes_mean": float(np.mean(b)), "clips": len(c)}
                if meta["codec"] == "h264":  # the same stream in the lite container (SEI dropped, varint NAL lengths, +6 B header)
                    lb = [len(pack_nals(o)) + 6 for o in outs]
                    lite_sizes += lb
                    entry["bytes_mean_lite"] = float(np.mean(lb))
                tm = time_camera_cpu(enc, c[: args.timing_clips])
                entry["camera_ms"], entry["camera_cpu_ms"] = tm["ms_median_of_min"], tm["cpu_ms_median_of_min"]
                ms.append(tm["ms_median_of_min"])
                cpu.append(tm["cpu_ms_median_of_min"])
                row["per_video"][name] = entry
            row["bytes_mean"] = float(np.mean(all_sizes))
            if lite_sizes:
                row["bytes_mean_lite"] = float(np.mean(lite_sizes))
            row["camera_ms"] = float(np.median(ms))
            row["camera_cpu_ms"] = float(np.median(cpu))
            row["resize_cpu_ms"] = float(np.median(resize_ms))
            row["load1"] = tm["load1"]
            log.info("%s", {k: v for k, v in row.items() if k != "per_video"})
            rows.append(row)
    save_json(args.out, {"videos": {k: list(v.shape) for k, v in raw.items()}, "args": vars(args), "rows": rows})
    names = list(raw)
    print("| payload | size | " + " | ".join(names) + " | mean | camera ms (wall / CPU) |")
    print("|---|---|" + "---|" * len(names) + "---|---|")
    for r in rows:
        cells = []
        for n in names:
            e = r["per_video"][n]
            cells.append(f"{e['bytes_mean']:,.0f}" + (f" ({e['bytes_mean_lite']:,.0f})" if "bytes_mean_lite" in e else ""))
        mean = f"{r['bytes_mean']:,.0f}" + (f" ({r['bytes_mean_lite']:,.0f})" if "bytes_mean_lite" in r else "")
        print(f"| {r['label']} | {r['size']} | " + " | ".join(cells) + f" | {mean} | {r['camera_ms']:.1f} / {r['camera_cpu_ms']:.1f} |")
    print(json.dumps({"resize_cpu_ms": {r["size"]: r["resize_cpu_ms"] for r in rows}}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
