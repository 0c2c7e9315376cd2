"""Where FA's camera time goes, step by step, on one thread (the stae-px points with K < 16).

The camera's K = 16 point skips FA and is below libx264 ultrafast; the points that drop frames
are not, and FA still runs through the float tensor path (``FrameAttention.logits``). This splits
that path into its steps so the gain of moving them to the uint8 clip (as SA was) can be read
before writing it: conversion, the 2x2 average pool and the difference are what a uint8 path
would replace; the 3x3 conv stays.

    OMP_NUM_THREADS=1 python -m studies.probes.fa_cost_probe --model models/stae_default.pt --data datasets/synth

Timing: minimum CPU time (process_time) per clip over repeats, median over clips
(:func:`studies.roi.cputime.time_camera_cpu`); unlike the bench, no back-to-back batching of
sub-millisecond calls, so expect a few hundredths of a ms of timer overhead per step.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from stae_ros.data.video_io import read_video
from stae_ros.models.camera_select import select_uint8
from stae_ros.models.motion import frame_difference
from stae_ros.models.selection import clip_tensor
from studies.roi.cputime import time_camera_cpu
from stae_ros.runtime import keep_freed_memory
from stae_ros.training.checkpoints import load_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="models/stae_default.pt")
    ap.add_argument("--data", type=Path, default=Path("datasets/synth"))
    ap.add_argument("--clips", type=int, default=12, help="test clips, one per class")
    ap.add_argument("--repeats", type=int, default=50)
    args = ap.parse_args()
    torch.set_num_threads(1)
    keep_freed_memory()
    model = load_model(args.model).model
    frames = model.cfg.clip.frames
    videos = [sorted(d.glob("*.avi")) for d in sorted(args.data.iterdir()) if d.is_dir()]
    clips = [read_video(v[-1])[:frames] for v in videos if v][: args.clips]  # the last clip: test split
    fa, ds = model.fa, model.cfg.fa.downsample
    x = clip_tensor(clips[0])
    pooled = F.avg_pool3d(x, (1, ds, ds))
    stacked = torch.cat([pooled, frame_difference(pooled)], dim=1)
    b, ch, t, h, w = stacked.shape
    per_frame = stacked.transpose(1, 2).reshape(b * t, ch, h, w)
    steps: dict[str, Callable[[np.ndarray], object]] = {
        "uint8 clip -> float tensor": clip_tensor,
        f"{ds}x{ds} average pool": lambda _: F.avg_pool3d(x, (1, ds, ds)),
        "difference + concat": lambda _: torch.cat([pooled, frame_difference(pooled)], dim=1),
        "3x3 conv + ReLU": lambda _: fa.conv(per_frame),
        "FA logits, whole": lambda c: fa.logits(clip_tensor(c)),
        "select_uint8 K=16 p=0.05 (no FA)": lambda c: select_uint8(model, c, 16, 0.05),
        "select_uint8 K=4 p=0.05": lambda c: select_uint8(model, c, 4, 0.05),
        "select_uint8 K=8 p=0.25": lambda c: select_uint8(model, c, 8, 0.25),
    }
    with torch.inference_mode():
        for name, fn in steps.items():
            ms = time_camera_cpu(fn, clips, args.repeats)["cpu_ms_median_of_min"]
            print(f"{name:34s} {ms:6.3f} ms")


if __name__ == "__main__":
    main()
