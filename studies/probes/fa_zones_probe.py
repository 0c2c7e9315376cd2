"""FA's two knobs on the stae-roi264 payload: frame rate (hold) against quality (x264 zones).

The question: should FA lower the frame rate or the quality of unimportant frames rather than
delete motion? Holding repeats the previous frame (H.264 codes it as skipped blocks); zones code the
same frames at a forced coarse QP, so their motion still arrives. This measures both on the
stored synthetic test split with the shipped roi model file, through the same RoiPayload the
camera node uses (codec_settings knobs), and classifies every decoded clip with the file's one
classifier (fine-tuned on CRF 33 + 38 crop clips, no FA): no per-point fine-tuning, so the
accuracies favour settings near those; the bytes are exact.

    python -m studies.probes.fa_zones_probe --data datasets/synth --out out/fa_zones.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from stae_ros.modes.stae_roi264 import RoiPayload

VARIANTS: list[tuple[str, dict]] = [
    ("file settings (crop, CRF 38)", {}),
    ("hold, 1 frame in 2", {"frame_select": "uniform", "frame_stride": 2, "frame_threshold": 0.5}),
    ("zones QP 51, 1 frame in 2", {"frame_select": "uniform", "frame_stride": 2, "frame_threshold": 0.5,
                                   "frame_action": "zones", "frame_qp": 51}),
    ("hold, 1 frame in 4", {"frame_select": "uniform", "frame_stride": 4, "frame_threshold": 0.5}),
    ("zones QP 51, 1 frame in 4", {"frame_select": "uniform", "frame_stride": 4, "frame_threshold": 0.5,
                                   "frame_action": "zones", "frame_qp": 51}),
    ("zones QP 44, 1 frame in 4", {"frame_select": "uniform", "frame_stride": 4, "frame_threshold": 0.5,
                                   "frame_action": "zones", "frame_qp": 44}),
    ("zones QP 40, 1 frame in 4", {"frame_select": "uniform", "frame_stride": 4, "frame_threshold": 0.5,
                                   "frame_action": "zones", "frame_qp": 40}),
    ("hold, motion FA 0.5", {"frame_select": "motion", "frame_threshold": 0.5}),
    ("zones QP 51, motion FA 0.5", {"frame_select": "motion", "frame_threshold": 0.5, "frame_action": "zones",
                                    "frame_qp": 51}),
    ("zones QP 45, motion FA 0.5", {"frame_select": "motion", "frame_threshold": 0.5, "frame_action": "zones",
                                    "frame_qp": 45}),
]


def test_split(root: Path, limit: int) -> tuple[np.ndarray, np.ndarray]:
    from stae_ros.data.arrays import load_split_arrays

    arrays = load_split_arrays(root, "test", 16, (64, 64))
    return arrays.clips[:limit], np.asarray(arrays.labels)[:limit]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="datasets/synth", help="data set folder (stae data synth)")
    ap.add_argument("--clips", type=int, default=300, help="test clips to use")
    ap.add_argument("--out", default="out/fa_zones.json")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    clips, labels = test_split(Path(args.data), args.clips)
    roi = RoiPayload()
    rows = []
    for name, knobs in VARIANTS:
        roi.set_knobs(knobs)
        sizes, preds, ms = [], [], []
        for clip in tqdm(clips, desc=name, leave=False):
            t0 = time.perf_counter()
            data = roi.encode(clip)
            ms.append((time.perf_counter() - t0) * 1000)
            sizes.append(len(data))
            preds.append(int(roi.logits(roi.decode(data)[None]).argmax(1)))
        row = {"variant": name, "knobs": knobs, "bytes_mean": float(np.mean(sizes)),
               "accuracy": float(np.mean(np.array(preds) == labels)), "camera_ms_median": float(np.median(ms)),
               "n_clips": len(clips)}
        rows.append(row)
        print(f"{name:32s} {row['bytes_mean']:7.0f} B  {100 * row['accuracy']:5.1f}%  {row['camera_ms_median']:5.1f} ms",
              flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"command": "python -m studies.probes.fa_zones_probe " + " ".join(argv or []),
                                          "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
