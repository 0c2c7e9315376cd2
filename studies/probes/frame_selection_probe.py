"""Does FA pick better frames than evenly spaced ones? Runs the test split through the real
camera -> stae-px -> edge path at each (K, p), once with FA's top-K and once with K evenly spaced
frames (SA, FR and the ViT unchanged), and prints both accuracies.

    python -m studies.probes.frame_selection_probe models/stae_default.pt 8,1 4,1 4,0.05 [--data datasets/synth]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

import stae_ros.models.stae as stae_module
from stae_ros.data.arrays import load_split_arrays
from stae_ros.pipeline import CameraPipeline, EdgePipeline
from stae_ros.profiling.profile import measure_point
from stae_ros.training import load_model


def evenly_spaced_frames(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Indices ``B,k`` of k evenly spaced frames, whatever the scores say."""
    idx = torch.linspace(0, scores.shape[1] - 1, k).round().long()
    return idx.unsqueeze(0).repeat(scores.shape[0], 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("points", nargs="+", help="K,p pairs, e.g. 8,1 4,0.05")
    ap.add_argument("--data", default="datasets/synth")
    args = ap.parse_args()
    torch.set_num_threads(1)
    loaded = load_model(args.model)
    c = loaded.config.clip
    arrays = load_split_arrays(args.data, "test", c.frames, (c.height, c.width))
    labels = np.asarray(arrays.labels)
    fa_top_k = stae_module.top_k_frames
    for text in args.points:
        k_text, p_text = text.split(",")
        k, p = int(k_text), float(p_text)
        row = []
        for name, select in (("FA", fa_top_k), ("evenly spaced", evenly_spaced_frames)):
            stae_module.top_k_frames = select
            try:
                point, _ = measure_point(CameraPipeline(loaded, threads=1), EdgePipeline(loaded, device="cpu"),
                                         arrays.clips, labels, k, p, edge_batch=16)
            finally:
                stae_module.top_k_frames = fa_top_k
            row.append(f"{name} {point.accuracy * 100:.1f}%")
        print(f"K={k} p={p:g} ({len(labels)} clips): " + ", ".join(row), flush=True)


if __name__ == "__main__":
    main()
