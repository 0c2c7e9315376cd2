"""What opening an encoder and PyAV's per-frame colour conversion cost per clip, next to a stream.

Why this exists: an earlier codec bench opened a libx264/libx265 encoder for every clip
and let PyAV build a libswscale context for every frame. A robot streaming H.264 pays neither per
clip, so the bench overstated H.264's camera and edge cost. This script measures the three ways
side by side on the same clips, one thread, the bench's timing rule (minimum of repeated samples
per clip, median over clips), so the size of that correction can be re-checked:

    .venv/bin/python -m studies.probes.x264_open_cost [--size 64] [--clips 12]

- ``per-clip + per-frame sws``: what the bench measured before (encoder opened per clip,
  ``VideoFrame.reformat``/``to_ndarray(format=...)`` per frame);
- ``per-clip``: encoder opened per clip, one converter (``H264Codec(stream=False)``);
- ``stream``: one open encoder, each clip an IDR GOP (``H264Codec()``, what the bench now uses).
"""

from __future__ import annotations

import argparse
import fractions

import numpy as np


def _old_encode(clip: np.ndarray, encoder: str, preset: str, crf: int) -> bytes:
    import av

    from stae_ros.baselines.video import strip_sei

    t, h, w, _ = clip.shape
    cc = av.CodecContext.create(encoder, "w")
    cc.width, cc.height, cc.pix_fmt = w, h, "yuv420p"
    cc.time_base = fractions.Fraction(1, 25)
    cc.gop_size, cc.thread_count = t, 1
    cc.options = {"crf": str(crf), "preset": preset, "tune": "zerolatency"}
    out = bytearray()
    for i in range(t):
        frame = av.VideoFrame.from_ndarray(clip[i], format="rgb24").reformat(format="yuv420p")
        frame.pts = i
        out += b"".join(bytes(p) for p in cc.encode(frame))
    out += b"".join(bytes(p) for p in cc.encode(None))
    return strip_sei(bytes(out), hevc=False)


def _old_decode(data: bytes) -> list[np.ndarray]:
    import av

    ctx = av.CodecContext.create("h264", "r")
    ctx.thread_count = 1
    frames = []
    for packet in ctx.parse(data) + ctx.parse(None):
        frames += [f.to_ndarray(format="rgb24") for f in ctx.decode(packet)]
    return frames + [f.to_ndarray(format="rgb24") for f in ctx.decode(None)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--clips", type=int, default=12)
    ap.add_argument("--crf", type=int, default=28)
    args = ap.parse_args()

    from stae_ros.baselines import H264Codec
    from stae_ros.bench.child import _pin_threads, _time_each
    from stae_ros.data.synthetic import CLASS_NAMES, render_clip
    from stae_ros.runtime import keep_freed_memory

    keep_freed_memory()
    _pin_threads(1, False)
    clips = [render_clip(i % len(CLASS_NAMES), 1000 + i, 16, args.size, args.size).frames for i in range(args.clips)]
    print(f"{args.clips} synthetic clips 16x{args.size}x{args.size}, libx264 CRF {args.crf}, one thread; CPU ms per clip")
    print(f"{'preset':10} {'way':28} {'camera ms':>10} {'edge ms':>8} {'bytes':>7}")
    for preset in ("ultrafast", "medium"):
        stream, per_clip = H264Codec(args.crf, preset), H264Codec(args.crf, preset, stream=False)
        ways = [("per-clip + per-frame sws", lambda c: _old_encode(c, "libx264", preset, args.crf), _old_decode),
                ("per-clip", per_clip.encode, per_clip.decode), ("stream", stream.encode, stream.decode)]
        for name, enc, dec in ways:
            t_enc, payloads = _time_each(enc, clips, min_run_s=1.5)
            t_dec, _ = _time_each(dec, payloads, min_run_s=1.5)
            print(f"{preset:10} {name:28} {np.median(t_enc['cpu']):10.2f} {np.median(t_dec['cpu']):8.2f} "
                  f"{np.mean([len(p) for p in payloads]):7.0f}")


if __name__ == "__main__":
    main()
