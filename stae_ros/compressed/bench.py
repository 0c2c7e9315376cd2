"""Edge cost of h264-cd against full decode + the edge model, on the same H.264 payloads.

    python -m stae_ros.compressed.bench --model runs/x/model.pt --data datasets/hard --limit 50 \
        [--edge-ckpt models/stae_default.pt] --out out/cd_bench.json

For each test clip the h264-cd camera codes the payload once; then, interleaved clip by clip (so
that both see the same load on a shared host), the edge work of both paths is timed on one thread:

- **h264-cd**: payload check, the bounded compressed-domain parse (libavcodec with exported
  motion vectors, the I-frame conversion, the motion field and the motion-compensated residual)
  and the light network;
- **full decode + edge model**: the h264 mode's edge half: the same payload check, the bounded
  decode to RGB, and the STAE checkpoint's ViT on the clip.

FLOPs are counted with :func:`stae_ros.profiling.flops.count_flops` on the same calls (torch ops
only: neither libavcodec nor the numpy parse count, on either side, so the ms are the figure that
includes parsing). The reference model is ``--edge-ckpt`` when given; otherwise the shipped edge
model's architecture (``models/stae_default.pt``'s config) rebuilt at the h264-cd model's clip
size and class count, untrained: its cost is that of the edge model at that size, but it has no
accuracy to compare (reported as null).
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

from ..cli.validate import int_in

__all__ = ["compare_edge_cost", "main"]

log = logging.getLogger(__name__)


def _reference(edge_ckpt: str, shape: tuple[int, int, int, int], class_names: list[str]) -> tuple[Any, bool]:
    """(the edge model, whose ``classify`` takes a decoded clip, whether it is trained). A trained one
    of another frame size is fed the decoded clip resized to its input, as the edge runs it."""
    from stae_ros.models import STAE, ModelConfig
    from stae_ros.training.checkpoints import load_checkpoint_dict
    from stae_ros.training.teacher import load_teacher

    if edge_ckpt:
        return load_teacher(edge_ckpt, tuple(shape[:3]), list(class_names), torch.device("cpu"), resize=True), True
    from stae_ros.resources import find_data_file

    cfg = dict(load_checkpoint_dict(find_data_file(None, "models/stae_default.pt"))["config"])
    cfg["clip"] = {**cfg["clip"], "frames": shape[0], "height": shape[1], "width": shape[2]}
    frames = [k for k in cfg["budgets"]["frame"] if k <= shape[0]] or [shape[0]]
    cfg["budgets"] = {**cfg["budgets"], "frame": frames}
    cfg["vit"] = {**cfg["vit"], "num_classes": len(class_names)}
    torch.manual_seed(0)
    return STAE(ModelConfig.from_dict(cfg)).eval(), False


def compare_edge_cost(model_path: str, clips: np.ndarray, labels: np.ndarray, class_names: list[str],
                      edge_ckpt: str = "", progress: bool = True) -> dict[str, Any]:
    """Accuracy, bytes, median edge ms and GFLOP per clip of both paths on ``clips`` (uint8 N,T,H,W,3)."""
    from tqdm import tqdm

    from stae_ros.modes import ModeContext
    from stae_ros.modes.h264 import decode_stream, unpack
    from stae_ros.modes.h264_cd import H264CdCamera, H264CdEdge
    from stae_ros.profiling.flops import count_flops

    torch.set_num_threads(1)
    ctx = ModeContext(loaded=None, model_files={"h264-cd": model_path})
    cam, edge = H264CdCamera(ctx), H264CdEdge(ctx)
    ref, trained = _reference(edge_ckpt, tuple(edge.shape), list(edge.class_names))
    T, H, W, _ = edge.shape
    names = [class_names[int(i)] for i in labels]

    split: dict[str, list[float]] = {"parse": [], "network": [], "decode": [], "model": []}

    def cd(payload: bytes) -> int:
        t0 = time.perf_counter()
        item = edge.decode(payload)
        t1 = time.perf_counter()
        out = int(edge.classify([item]).logits.argmax(1)[0])
        split["parse"].append((t1 - t0) * 1e3)
        split["network"].append((time.perf_counter() - t1) * 1e3)
        return out

    @torch.inference_mode()
    def full(payload: bytes) -> int:
        t0 = time.perf_counter()
        _, stream = unpack(payload)
        clip = decode_stream(stream, T, H, W)
        x = torch.from_numpy(clip[None]).permute(0, 4, 1, 2, 3).float().div_(255.0)
        t1 = time.perf_counter()
        out = int(ref.classify(x).argmax(1)[0])
        split["decode"].append((t1 - t0) * 1e3)
        split["model"].append((time.perf_counter() - t1) * 1e3)
        return out

    payloads = [cam.encode(np.ascontiguousarray(c)).payload for c in clips]
    for _ in range(2):  # warm-up: lazy imports, allocator
        cd(payloads[0])
        full(payloads[0])
    for v in split.values():
        v.clear()
    ms_cd, ms_full, hit_cd, hit_full = [], [], [], []
    for p, truth in tqdm(list(zip(payloads, names)), desc="edge cost", disable=not progress):
        t0 = time.perf_counter()
        a = cd(p)
        t1 = time.perf_counter()
        b = full(p)
        t2 = time.perf_counter()
        ms_cd.append((t1 - t0) * 1e3)
        ms_full.append((t2 - t1) * 1e3)
        hit_cd.append(edge.class_names[a] == truth)
        hit_full.append(trained and b < len(class_names) and class_names[b] == truth)
    parts = {f"{k}_ms": float(np.median(v)) for k, v in split.items()}
    g_cd = count_flops(cd, payloads[0]).gflop
    g_full = count_flops(full, payloads[0]).gflop
    sizes = np.asarray([len(p) for p in payloads], np.float64)
    med_cd, med_full = float(np.median(ms_cd)), float(np.median(ms_full))
    return {
        "clip": [T, H, W], "clips": len(payloads), "camera": cam.describe(), "bytes_mean": float(sizes.mean()),
        "h264_cd": {"accuracy": float(np.mean(hit_cd)), "edge_ms": med_cd, "edge_ms_p90": float(np.percentile(ms_cd, 90)),
                    "edge_gflop": g_cd, "model": model_path,
                    "parse_ms": parts["parse_ms"], "network_ms": parts["network_ms"]},
        "full_decode_edge_model": {"accuracy": float(np.mean(hit_full)) if trained else None, "edge_ms": med_full,
                                   "edge_ms_p90": float(np.percentile(ms_full, 90)), "edge_gflop": g_full,
                                   "decode_ms": parts["decode_ms"], "model_ms": parts["model_ms"],
                                   "model": edge_ckpt or "models/stae_default.pt architecture at this clip size (untrained)"},
        "speedup_ms": med_full / med_cd if med_cd > 0 else None,
        "flop_ratio": g_full / g_cd if g_cd > 0 else None,
        "threads": 1,
    }


def main(argv: list[str] | None = None) -> int:
    from stae_ros.compressed.io import load_cd_model
    from stae_ros.data.arrays import load_split_arrays
    from stae_ros.data.folder import SHORT_CLIP_POLICIES, SplitSpec

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="h264-cd model file")
    ap.add_argument("--data", required=True, help="data folder (the same layout every mode trains on)")
    ap.add_argument("--split", default="test")
    ap.add_argument("--fold", type=int_in(0), default=None,
                    help="data with a fold file (<data>/folds.csv): test on this fold (the model trained without it)")
    ap.add_argument("--short-clip", default="loop", choices=SHORT_CLIP_POLICIES,
                    help="videos shorter than the clip, as the model was trained")
    ap.add_argument("--limit", type=int_in(0), default=50, help="clips (evenly spread over the split); 0 = all")
    ap.add_argument("--edge-ckpt", default="", help="the trained edge model: a STAE checkpoint or an edge classifier "
                                                      "file of the same clip length (another frame size is resized)")
    ap.add_argument("--out", default="", help="write the result as JSON here")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    shape = load_cd_model(args.model).shape
    try:
        spec = SplitSpec(source="folds", test_fold=args.fold) if args.fold is not None else None
    except ValueError as exc:
        ap.error(f"--fold: {exc}")
    # a fold file's folder is real footage: read, never written (no clip cache beside it)
    arr = load_split_arrays(args.data, args.split, shape[0], shape[1:3], cache=spec is None, split_spec=spec,
                            short_clip=args.short_clip)
    idx = np.arange(len(arr.labels))
    if args.limit and args.limit < len(idx):
        idx = np.linspace(0, len(idx) - 1, args.limit).round().astype(int)
    result = compare_edge_cost(args.model, arr.clips[idx], np.asarray(arr.labels)[idx], list(arr.class_names),
                               args.edge_ckpt)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
