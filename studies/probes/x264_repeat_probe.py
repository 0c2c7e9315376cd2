"""Does the stae-roi264 camera code the same clip to the same bytes every time? (x264's AVX-512 paths)

Codes every test clip of a data root several times with the roi model file's settings, once with
x264's own CPU detection and once with the project's ``x264_asm`` (AVX-512 left out on AVX-512
CPUs), optionally while busy processes preempt the encoder, and counts the clips whose payload
changed between passes, and those whose most common payload differs between the two modes (the
AVX2 and AVX-512 paths are not bit-exact). On CPUs without AVX-512 the two modes are the same encoder.
``--time-runs N`` then times the camera's encode both ways (one thread, one test clip per class,
N interleaved runs; minimum CPU time per clip, median over clips).

    python -m studies.probes.x264_repeat_probe --data datasets/synth --passes 5 --busy 2
    OMP_NUM_THREADS=1 python -m studies.probes.x264_repeat_probe --passes 1 --time-runs 4
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

import stae_ros.roi.h264 as h264
from stae_ros.data.video_io import read_video
from stae_ros.modes.stae_roi264 import RoiPayload
from studies.roi.cputime import time_camera_cpu
from stae_ros.runtime import keep_freed_memory


@contextmanager
def busy_cores(n: int) -> Iterator[None]:
    """n processes spinning in Python: the encoder is preempted as on a loaded robot or CI host."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


@contextmanager
def x264_paths(asm: Callable[..., str]) -> Iterator[None]:
    """Encode with ``asm`` in place of the project's ``x264_asm`` (what X264Settings.options calls)."""
    real = h264.x264_asm
    h264.x264_asm = asm
    try:
        yield
    finally:
        h264.x264_asm = real


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="stae-roi264 model file (default: the shipped one)")
    ap.add_argument("--data", type=Path, default=Path("datasets/synth"))
    ap.add_argument("--per-class", type=int, default=25, help="test clips per class (the last ones of each class)")
    ap.add_argument("--passes", type=int, default=5)
    ap.add_argument("--busy", type=int, default=0, help="busy processes while coding")
    ap.add_argument("--time-runs", type=int, default=0, help="interleaved timing runs of both modes (0: none)")
    args = ap.parse_args()
    keep_freed_memory()
    roi = RoiPayload(args.model)
    t = roi.shape[0]
    videos = [sorted(d.glob("*.avi"))[-args.per_class:] for d in sorted(args.data.iterdir()) if any(d.glob("*.avi"))]
    clips = [read_video(v)[:t] for vs in videos for v in vs]
    maps = [roi.importance(c) for c in clips]
    modes = {"x264's detection": lambda *a: "", "x264_asm (AVX-512 left out)" if h264.x264_asm() else "x264_asm (no AVX-512: the same)": h264.x264_asm}
    print(f"{len(clips)} clips, {args.passes} passes, {args.busy} busy processes, roi model {roi.path}")
    modal: dict[str, list[bytes]] = {}
    for name, asm in modes.items():
        with x264_paths(asm), busy_cores(args.busy):
            passes = [[roi.encode(c, m) for c, m in zip(clips, maps)] for _ in range(args.passes)]
        changed = sum(len({p[i] for p in passes}) > 1 for i in range(len(clips)))
        means = [np.mean([len(b) for b in p]) for p in passes]
        modal[name] = [Counter(p[i] for p in passes).most_common(1)[0][0] for i in range(len(clips))]
        print(f"{name:32s} clips whose bytes changed: {changed:3d} of {len(clips)}; "
              f"mean bytes per pass {min(means):.2f}-{max(means):.2f}")
    a, b = modal.values()
    print(f"clips whose most common stream differs between the two: {sum(x != y for x, y in zip(a, b))} of {len(clips)} "
          f"(mean bytes {np.mean([len(x) for x in a]):.2f} vs {np.mean([len(y) for y in b]):.2f})")
    if args.time_runs > 0:
        import torch

        torch.set_num_threads(1)
        timed = [read_video(vs[-1])[:t] for vs in videos]
        ms: dict[str, list[float]] = {name: [] for name in modes}
        for _ in range(args.time_runs):
            for name, asm in modes.items():
                with x264_paths(asm):
                    ms[name].append(time_camera_cpu(roi.encode, timed, 30)["cpu_ms_median_of_min"])
        for name, runs in ms.items():
            print(f"{name:32s} camera encode ms per run: {' '.join(f'{v:.2f}' for v in runs)}")


if __name__ == "__main__":
    main()
