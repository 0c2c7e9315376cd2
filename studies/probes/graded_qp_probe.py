"""Does per-macroblock quality graded by the map favour the edge's gradient map over the motion map?

The gradient paper spends bits where the classifier is sensitive: a macroblock's quantiser follows
its sensitivity. stae-roi264's `region_qp` is binary (macroblocks without a kept block go coarser).
This probe grades it: every coded macroblock gets ``round(Q * (1 - importance))`` QP steps, where
importance is the largest block importance in the macroblock (motion map, the edge's map, or their
mix, each peaking at 1) and Q is the ``region_qp`` given with ``--roi-setting region_qp=Q``. With
the crop, the kept window is coded as before and only its quality inside follows the map, so the
map that knows where the classifier looks should lose less accuracy per byte saved.

It runs `python -m stae_ros.sensitivity.bench` with `RoiCodec.region_offsets` replaced for this
process only; every bench flag works as there:

    python -m studies.probes.graded_qp_probe --data datasets/synth112 \\
        --roi-model runs/roi264_synth112/model.pt --limit 300 --thresholds 0.2,0.35,0.5,0.65,0.8 \\
        --mix 0.5,1 --roi-setting region_qp=12 --out out/gq/syn112_graded12.json
"""

from __future__ import annotations

import sys

import numpy as np

from stae_ros.roi.codec import RoiCodec, macroblock_map


def graded_offsets(self: RoiCodec, importance: np.ndarray, h: int, w: int,
                   window: tuple[int, int, int, int] | None = None) -> np.ndarray | None:
    """QP steps per macroblock of the coded picture: ``region_qp * (1 - importance)``, rounded."""
    q = int(self.settings.region_qp)
    if q == 0:
        return None
    per_mb = macroblock_map(np.asarray(importance, np.float32).max(axis=0), h, w, window, np.max)
    return np.rint(q * (1.0 - np.clip(per_mb, 0.0, 1.0))).astype(int)


def main(argv: list[str] | None = None) -> int:
    from stae_ros.sensitivity.bench import main as bench_main

    RoiCodec.region_offsets = graded_offsets  # type: ignore[method-assign]
    return bench_main(argv)


if __name__ == "__main__":
    sys.exit(main())
