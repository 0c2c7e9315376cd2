"""Camera-side ms per clip on one CPU thread, robust to a busy machine.

    python -m studies.latent.timing out/payloads/stae_latent_lam0.001.pt [...]

Each clip is encoded `repeats` times and its fastest run kept (other processes can only make a
run slower, never faster); the report gives the median over clips of that, next to the plain
mean of single runs and the 1-minute load average, so a reader can judge the contention.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from typing import Callable

import numpy as np
import torch

__all__ = ["time_camera"]


def time_camera(encode: Callable[[np.ndarray], bytes], clips: np.ndarray, repeats: int = 5) -> dict:
    """{"ms_median_of_min", "ms_mean_single", "load1"} for `encode` over `clips`."""
    for c in clips[:2]:
        encode(c)
    best, first = [], []
    for c in clips:
        runs = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            encode(c)
            runs.append((time.perf_counter() - t0) * 1000.0)
        best.append(min(runs))
        first.append(runs[0])
    return {
        "ms_median_of_min": statistics.median(best),
        "ms_mean_single": float(np.mean(first)),
        "load1": os.getloadavg()[0],
        "clips": len(clips),
        "repeats": repeats,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m studies.latent.timing", description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="+", help="stae-latent model bundles (.pt)")
    ap.add_argument("--clips", type=int, default=30, help="test clips to time")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    from stae_ros.roi.dataset import load_payload_data

    from stae_ros.latent.io import load_latent_codec

    clips = load_payload_data().test_clips[:: max(1, 480 // args.clips)][: args.clips]
    for path in args.models:
        codec = load_latent_codec(path)
        enc_only = lambda c, codec=codec: codec.symbols(c)  # noqa: E731
        out = {"model": path, "encode": time_camera(codec.encode, clips), "encoder_net_only": time_camera(enc_only, clips)}
        out["encoder_params"] = codec.model.encoder_params()
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
