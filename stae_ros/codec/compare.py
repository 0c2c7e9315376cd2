"""Compare the codec's layouts on real footage: ``python -m stae_ros.codec.compare --video PATH``.

Clips of T frames are read from each video, resized to HxW, and for every budget (K, p) a
stand-in for STAE's selection is made without any model: the K frames with the most
frame-difference energy (kept in temporal order) and, in each, the ceil(p*H*W) pixels with the
most (Gaussian-smoothed, hence blob-like as SA's conv output) frame-difference energy. For each
payload the size of every mask layout's and value layout's section is measured (lossy layouts
with the PSNR of the kept pixels), plus the total of ``layout="auto"``/``"best"``/``"fast"`` and
encode/decode times on one thread. Prints markdown tables.
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from collections import Counter, defaultdict
from pathlib import Path

import cv2
import numpy as np

from ..cli.validate import int_in
from ..data.video_io import open_capture
from .codec import (
    _VALUE_LAYOUTS,
    DEFAULT_LEVEL,
    FAST_LAYOUT,
    LOSSLESS_VALUE_LAYOUTS,
    MASK_LAYOUT_NAMES,
    VALUE_LAYOUT_NAMES,
    _Encoder,
    decode,
    encode,
)
from .errors import LayoutUnavailableError
from .images import LOSSY_IMAGE_LAYOUTS
from .masks import MASK_LAYOUTS
from .payload import SemanticPayload
from .wire import HEADER_SIZE, unpack_header

log = logging.getLogger(__name__)

KS = (16, 8, 4)
PS = (0.5, 0.25, 0.1, 0.05)


def read_clips(path: Path, n_clips: int, frames: int, stride: int, size: int) -> list[np.ndarray]:
    """n_clips clips (T,H,W,3 uint8 RGB) at evenly spaced starts, every ``stride``-th frame."""
    cap = open_capture(str(path))
    if not cap.isOpened():
        raise SystemExit(f"cannot open video {path}")
    all_frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        all_frames.append(cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA)[..., ::-1])
    cap.release()
    span = frames * stride
    if len(all_frames) < span:
        raise SystemExit(f"{path} has {len(all_frames)} frames, need {span}")
    starts = np.linspace(0, len(all_frames) - span, n_clips).astype(int)
    return [np.stack(all_frames[s : s + span : stride]).astype(np.uint8) for s in starts]


def select(clip: np.ndarray, k: int, p: float) -> SemanticPayload:
    """Model-free stand-in for FA+SA: top-K frames and top-p pixels by frame-difference energy."""
    t, h, w, c = clip.shape
    x = clip.astype(np.float32)
    diff = np.abs(np.diff(x, axis=0)).sum(axis=-1)  # T-1,H,W
    energy = np.concatenate([diff[:1], diff], axis=0)  # frame 0 uses the 0->1 difference
    frame_idx = np.sort(np.argsort(-energy.reshape(t, -1).sum(1), kind="stable")[:k])
    n_keep = math.ceil(p * h * w - 1e-9)
    mask = np.zeros((k, h, w), dtype=bool)
    for j, fi in enumerate(frame_idx):
        e = cv2.GaussianBlur(energy[fi], (0, 0), sigmaX=max(1.0, h / 32))
        top = np.argsort(-e.reshape(-1), kind="stable")[:n_keep]
        mask[j].reshape(-1)[top] = True
    return SemanticPayload.from_dense(clip[frame_idx], mask, frame_idx, clip.shape, p)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * math.log10(255.0**2 / mse)


def _ms(fn, repeat: int) -> float:
    """CPU time of this thread for one run, in ms (fastest of ``repeat``).

    Thread CPU time, not wall time: on a shared machine wall time mostly measures the other
    processes; on an idle core the two agree for this single-threaded code.
    """
    times = []
    for _ in range(repeat):
        t0 = time.thread_time()
        fn()
        times.append((time.thread_time() - t0) * 1e3)
    return min(times)


def measure(clips: list[np.ndarray], level: int, quality: int, repeat: int) -> str:
    """Markdown tables of mean section sizes, totals and times over the clips."""
    from tqdm import tqdm

    rows = []
    for k in KS:
        for p in PS:
            mask_b: dict[str, list[int]] = defaultdict(list)
            val_b: dict[str, list[int]] = defaultdict(list)
            lossy_psnr: dict[str, list[float]] = defaultdict(list)
            auto_b, best_b, fast_b, t_auto, t_best, t_fast, t_dec, t_dec_auto = [], [], [], [], [], [], [], []
            picks: Counter[str] = Counter()
            for clip in tqdm(clips, desc=f"K={k} p={p}", leave=False):
                pl = select(clip, k, p)
                enc = _Encoder(pl, level, 8, quality)
                for m in MASK_LAYOUT_NAMES:
                    mask_b[m].append(len(enc.mask_section(m).data))
                for v in VALUE_LAYOUT_NAMES:
                    try:
                        val_b[v].append(len(enc.value_section(v).data))
                    except LayoutUnavailableError:
                        continue
                    if v in LOSSY_IMAGE_LAYOUTS:
                        got = decode(encode(pl, layout=f"bitmap+{v}", level=level, quality=quality))
                        lossy_psnr[v].append(psnr(got.values, pl.values))
                data = encode(pl, "auto", level)
                auto_b.append(len(data))
                if not decode(data).equals(pl):
                    raise RuntimeError("layout='auto' did not round-trip bit-exactly")
                hd = unpack_header(data)
                picks[f"{MASK_LAYOUTS[hd.mask_layout]}+{_VALUE_LAYOUTS[hd.value_layout]}"] += 1
                best = encode(pl, "best", level)
                best_b.append(len(best))
                fast = encode(pl, "fast", level)
                fast_b.append(len(fast))
                t_auto.append(_ms(lambda: encode(pl, "auto", level), repeat))
                t_best.append(_ms(lambda: encode(pl, "best", level), max(1, repeat // 3)))
                t_fast.append(_ms(lambda: encode(pl, "fast", level), repeat))
                t_dec.append(_ms(lambda: decode(fast), repeat))
                t_dec_auto.append(_ms(lambda: decode(data), repeat))
            rows.append(
                dict(k=k, p=p, mask={m: np.mean(v) for m, v in mask_b.items()},
                     val={m: np.mean(v) for m, v in val_b.items()},
                     psnr={m: np.mean(v) for m, v in lossy_psnr.items()},
                     auto=np.mean(auto_b), best=np.mean(best_b), fast=np.mean(fast_b),
                     pick=picks.most_common(1)[0][0], t_auto=np.mean(t_auto), t_best=np.mean(t_best),
                     t_fast=np.mean(t_fast), t_dec=np.mean(t_dec), t_dec_auto=np.mean(t_dec_auto)))
    t, h, w, c = clips[0].shape
    raw32 = t * h * w * c * 4
    out = [f"Clip {t}x{h}x{w}x{c}, {len(clips)} clips, zstd level {level}, lossy quality {quality}; "
           f"header {HEADER_SIZE} B + 2K B of frame indices; mean bytes per clip.", ""]
    vcols = [v for v in VALUE_LAYOUT_NAMES if v in rows[0]["val"]]
    out.append("| K | p | " + " | ".join(f"mask {m}" for m in MASK_LAYOUT_NAMES) + " | "
               + " | ".join(f"{v}" + (" (PSNR)" if v in LOSSY_IMAGE_LAYOUTS else "") for v in vcols)
               + " | auto total | best total | fast total | ratio vs f32 (auto) | auto picked |")
    out.append("|" + "---|" * (2 + len(MASK_LAYOUT_NAMES) + len(vcols) + 5))
    for r in rows:
        cells = [str(r["k"]), str(r["p"])]
        best_m = min(r["mask"].values())
        cells += [(f"**{v:.0f}**" if v == best_m else f"{v:.0f}") for v in r["mask"].values()]
        best_v = min(r["val"][v] for v in vcols if v in LOSSLESS_VALUE_LAYOUTS)
        for v in vcols:
            s = f"{r['val'][v]:.0f}"
            if v in LOSSY_IMAGE_LAYOUTS:
                s += f" ({r['psnr'][v]:.1f} dB)"
            elif r["val"][v] == best_v:
                s = f"**{s}**"
            cells.append(s)
        cells += [f"{r['auto']:.0f}", f"{r['best']:.0f}", f"{r['fast']:.0f}", f"{raw32 / r['auto']:.0f}x", r["pick"]]
        out.append("| " + " | ".join(cells) + " |")
    out += ["", "Times (CPU ms of one thread, fastest of repeats, mean over clips):", "",
            f"| K | p | encode auto | encode best | encode fast ({FAST_LAYOUT}) | decode auto bytes | decode fast bytes |",
            "|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['k']} | {r['p']} | {r['t_auto']:.2f} | {r['t_best']:.1f} | {r['t_fast']:.2f} "
                   f"| {r['t_dec_auto']:.2f} | {r['t_dec']:.2f} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video", action="append", required=True, type=Path, help="video file (repeatable)")
    ap.add_argument("--size", action="append", type=int_in(8, 4096), help="square frame side (repeatable; default 64 and 112)")
    ap.add_argument("--frames", type=int_in(1, 1024), default=16, help="frames per clip T")
    ap.add_argument("--stride", type=int_in(1, 1000), default=2, help="take every n-th video frame")
    ap.add_argument("--clips", type=int_in(1, 100000), default=4, help="clips per video")
    ap.add_argument("--level", type=int_in(1, 22), default=None, help="zstd level (default: the codec's)")
    ap.add_argument("--quality", type=int_in(1, 100), default=90, help="JPEG/WebP quality of the lossy layouts")
    ap.add_argument("--repeat", type=int_in(1, 1000), default=5, help="timing repeats per payload")
    args = ap.parse_args(argv)
    cv2.setNumThreads(1)
    level = args.level or DEFAULT_LEVEL
    for size in args.size or [64, 112]:
        clips = []
        for v in args.video:
            clips += read_clips(v, args.clips, args.frames, args.stride, size)
        print(f"\n### {', '.join(p.name for p in args.video)} at {size}x{size}\n")
        print(measure(clips, level, args.quality, args.repeat))


if __name__ == "__main__":
    main()
