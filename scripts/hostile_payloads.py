"""Hostile payloads against every edge decoder: peak memory, CPU time and what each one raises.

Each attack is decoded in its own child process (one thread, address space capped with
RLIMIT_AS so a runaway decoder cannot take the shared host down), after the child has warmed the
same decoder up on a good payload. Reported per attack: the child's peak RSS above its warmed-up
high-water mark (``ru_maxrss``), the CPU time of the decode call (``time.thread_time``, one
thread), and the outcome (the exception type, or "decoded"). The edge's targets: at most 64 MB
above baseline, at most 200 ms, and only the decoder's documented error type
(stae-px: CodecError, stae-roi264 and the H.264 helper: RoiPayloadError, stae-latent:
LatentPayloadError).

The limits are the ones an edge uses for the shipped models: stae-px at the STAE model's clip
shape (16x64x64x3), stae-roi264 and stae-latent from their shipped model files.

    python scripts/hostile_payloads.py                 # build (cached in out/hostile) + measure
    python scripts/hostile_payloads.py --only roi_     # attacks whose name starts with roi_
    python scripts/hostile_payloads.py --markdown out/hostile/table.md
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT)) if str(ROOT) not in sys.path else None

PX_SHAPE = (16, 64, 64, 3)
ROI_MODEL = ROOT / "models" / "stae_roi264_default.pt"
LATENT_MODEL = ROOT / "models" / "stae_latent_default.pt"
MEM_TARGET_MB = 64.0
CPU_TARGET_MS = 200.0
DOCUMENTED = {"px": "CodecError", "roi": "RoiPayloadError", "h264": "RoiPayloadError", "latent": "LatentPayloadError",
              "h264mode": "PipelineError", "h264cd": "PipelineError"}


# ----------------------------------------------------------------------------- payload builders


def _clip(t: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth moving pattern (compresses like footage, not like noise)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    out = np.empty((t, h, w, 3), np.uint8)
    for i in range(t):
        out[i, ..., 0] = (x * 3 + i * 5) % 256
        out[i, ..., 1] = (y * 2 + i * 3) % 256
        out[i, ..., 2] = ((x + y) + i * 7) % 256
    return np.clip(out.astype(np.int16) + rng.integers(-3, 4, out.shape), 0, 255).astype(np.uint8)


def _px_payload(layout: str = "auto", zero: bool = False):
    from stae_ros.codec import SemanticPayload, encode

    t, h, w, c = PX_SHAPE
    frames = np.zeros((t, h, w, c), np.uint8) if zero else _clip(t, h, w)
    mask = np.zeros((t, h, w), bool)
    mask[:, 16:48, 16:48] = True
    pl = SemanticPayload.from_dense(frames, mask, np.arange(t), PX_SHAPE, 0.25)
    return encode(pl, layout=layout)


def _px_rebuild(data: bytes, **fields) -> bytes:
    """Replace header fields / sections of a stae-px payload and re-seal its CRC."""
    from stae_ros.codec.wire import HEADER_SIZE, Header, pack_header, unpack_header, with_crc

    h = unpack_header(data)
    off = HEADER_SIZE
    fi = data[off : off + 2 * h.k]
    off += 2 * h.k
    mask = fields.pop("mask_section", data[off : off + h.mask_len])
    off += h.mask_len
    values = fields.pop("value_section", data[off : off + h.value_len])
    d = {**h.__dict__, "mask_len": len(mask), "value_len": len(values), **fields}
    return with_crc(pack_header(Header(**d)) + fi + mask + values)


def _png_chunk(kind: bytes, body: bytes, length: int | None = None) -> bytes:
    n = len(body) if length is None else length
    return struct.pack(">I", n) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def px_png_chunk_len(kind: bytes) -> bytes:
    """A px payload whose PNG value section has a chunk after IHDR declaring 2**31-1 bytes."""
    import zstandard

    data = _px_payload("bitmap+png", zero=True)
    from stae_ros.codec.wire import HEADER_SIZE, unpack_header

    h = unpack_header(data)
    off = HEADER_SIZE + 2 * h.k + h.mask_len
    sec = data[off : off + h.value_len]
    png = zstandard.ZstdDecompressor().decompress(sec) if h.value_codec == 1 else sec
    ihdr_end = 8 + 25
    evil = png[:ihdr_end] + _png_chunk(kind, b"\x00" * 64, length=0x7FFFFFFF) + png[ihdr_end:]
    return _px_rebuild(data, value_section=evil, value_codec=0, value_raw_len=len(evil))


def _zstd_of_repeated(byte: bytes, n: int) -> bytes:
    import zstandard

    return zstandard.ZstdCompressor(level=19, write_content_size=True).compress(byte * n)


def px_zstd_mask_bomb(layout_id: int) -> bytes:
    """rle (1) / delta (2) mask section: a small zstd frame declaring ~256 MiB of b'\\x01'."""
    data = _px_payload("rle+planar")
    from stae_ros.codec.wire import unpack_header

    h = unpack_header(data)
    pixels = h.k * h.height * h.width
    raw = (256 << 20) - pixels - h.n_values * h.channels - h.value_raw_len - 4096
    return _px_rebuild(data, mask_section=_zstd_of_repeated(b"\x01", raw), mask_layout=layout_id, mask_codec=1,
                       mask_raw_len=raw)


def px_zstd_png_bomb() -> bytes:
    """png value layout: a zstd value section declaring ~250 MiB (image layouts had no raw-length rule)."""
    data = _px_payload("bitmap+png", zero=True)
    from stae_ros.codec.wire import unpack_header

    h = unpack_header(data)
    raw = (250 << 20)
    return _px_rebuild(data, value_section=_zstd_of_repeated(b"\x00", raw), value_codec=1, value_raw_len=raw)


def _h264_stream(frames: int, width: int, height: int, preset: str = "ultrafast", crop_to: int = 0) -> bytes:
    """libx264 Annex-B of `frames` identical grey frames (all but the first are skip frames); with
    `crop_to`, the SPS crops the pictures to crop_to x crop_to (x264's crop-rect)."""
    from fractions import Fraction

    import av

    ctx = av.CodecContext.create("libx264", "w")
    ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
    ctx.time_base = Fraction(1, 25)
    ctx.framerate = 25
    crop = f":crop-rect=0,0,{width - crop_to},{height - crop_to}" if crop_to else ""
    ctx.options = {"preset": preset, "threads": "1",
                   "x264-params": f"keyint={frames}:scenecut=0:bframes=0:rc-lookahead=0{crop}"}
    frame = av.VideoFrame(width, height, "yuv420p")
    for plane in frame.planes:
        plane.update(bytes([128]) * plane.buffer_size)
    out = bytearray()
    for i in range(frames):
        frame.pts = i
        for pkt in ctx.encode(frame):
            out += bytes(pkt)
    for pkt in ctx.encode(None):
        out += bytes(pkt)
    return bytes(out)


def _roi_container(t: int, h: int, w: int, annexb: bytes) -> bytes:
    """A well-formed stae-roi264 container (fill mode, CRC sealed when the format has one)."""
    from stae_ros.roi import codec as rc
    from stae_ros.roi.h264 import _varint, pack_nals

    body = pack_nals(annexb)
    if hasattr(rc, "seal_container"):
        return rc.seal_container(t, h, w, None, body)
    return rc.MAGIC + bytes([rc.CODEC_VERSION, 0]) + _varint(t) + _varint(h) + _varint(w) + body


def heavy_sps_stream(copies: int = 4, cycle: int = 100) -> bytes:
    """`copies` high-profile 64x64 SPS NAL units whose scaling lists and POC cycle are all 63-bit
    Exp-Golomb codes (the costliest SPS to parse that fits the 4 KiB SPS cap)."""
    from stae_ros.codec.testing import heavy_sps

    return (b"\x00\x00\x00\x01" + heavy_sps(cycle)) * copies


def _h264mode(stream: bytes) -> bytes:
    from stae_ros.modes import h264 as mode

    return mode.pack(stream, 1)


def latent_random_body() -> bytes:
    """A valid stae-latent header (this model's fingerprint) followed by random bytes up to the limit."""
    from stae_ros.latent import LatentLimits, load_latent_codec
    from stae_ros.latent import bitstream as bs

    codec = load_latent_codec(LATENT_MODEL)
    good = codec.encode(_clip(codec.cfg.frames, codec.cfg.height, codec.cfg.width))
    rng = np.random.default_rng(1)
    return good[: bs.HEADER_BYTES] + rng.integers(0, 256, LatentLimits().max_bytes - bs.HEADER_BYTES, dtype=np.uint8).tobytes()


def _noise(t: int, h: int, w: int, seed: int = 5) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (t, h, w, 3), dtype=np.uint8)


def px_max(layout: str, quality: int = 90) -> bytes:
    """The costliest honest stae-px payload at the edge's shape: every pixel of every frame kept, noise."""
    from stae_ros.codec import SemanticPayload, encode

    t, h, w, c = PX_SHAPE
    pl = SemanticPayload.from_dense(_noise(t, h, w), np.ones((t, h, w), bool), np.arange(t), PX_SHAPE, 1.0)
    return encode(pl, layout=layout, quality=quality)


def roi_max(x264_params: str = "", crf: int = 0) -> bytes:
    """stae-roi264 of a 16x64x64 noise clip at CRF 0 (largest stream), or with extra x264 params."""
    from fractions import Fraction

    import av

    from stae_ros.data.av_frames import FrameConverter

    t, h, w, _ = PX_SHAPE
    ctx = av.CodecContext.create("libx264", "w")
    ctx.width, ctx.height, ctx.pix_fmt = w, h, "yuv420p"
    ctx.time_base, ctx.framerate = Fraction(1, 16), 16
    params = f"keyint={t}:scenecut=0:bframes=0" + (f":{x264_params}" if x264_params else "")
    ctx.options = {"crf": str(crf), "preset": "veryfast", "threads": "1", "x264-params": params}
    conv, out = FrameConverter(), bytearray()
    for i, frame in enumerate(_noise(t, h, w)):
        f = conv.from_rgb(frame)
        f.pts = i
        for pkt in ctx.encode(f):
            out += bytes(pkt)
    for pkt in ctx.encode(None):
        out += bytes(pkt)
    return _roi_container(t, h, w, bytes(out))


def latent_max_resealed() -> bytes:
    """A deliberately made stae-latent payload: valid header and CRC, a random body of the largest
    size the shape allows (a range decoder turns it into some latent: bounded cost, not integrity)."""
    from stae_ros.latent import load_latent_codec
    from stae_ros.latent import bitstream as bs

    codec = load_latent_codec(LATENT_MODEL)
    good = codec.encode(_clip(codec.cfg.frames, codec.cfg.height, codec.cfg.width))
    n = bs.max_body_bytes(codec.shape) if hasattr(bs, "max_body_bytes") else 1 << 16
    body = np.random.default_rng(4).integers(0, 256, n, dtype=np.uint8).tobytes()
    head = bytearray(good[: bs.HEADER_BYTES])
    if hasattr(bs, "payload_crc"):
        head[5:9] = bs.payload_crc(bytes(head) + body).to_bytes(4, "little")
    return bytes(head) + body


def build_all(out: Path) -> dict[str, dict]:
    """Write every payload to out/<name>.bin (cached: existing files are kept); returns the manifest."""
    out.mkdir(parents=True, exist_ok=True)
    t, h, w, _ = PX_SHAPE
    builders = {
        "px_good_auto": ("px", "good stae-px payload, auto layout", lambda: _px_payload("auto")),
        "px_good_png": ("px", "good stae-px payload, png value layout", lambda: _px_payload("bitmap+png")),
        "px_png_chunk_idat_2^31-1": ("px", "PNG value section, an IDAT chunk declaring 2^31-1 bytes",
                                     lambda: px_png_chunk_len(b"IDAT")),
        "px_png_chunk_text_2^31-1": ("px", "PNG value section, a tEXt chunk declaring 2^31-1 bytes",
                                     lambda: px_png_chunk_len(b"tEXt")),
        "px_zstd_rle_mask_bomb": ("px", "rle mask: small zstd frame of ~256 MiB (within the default limit)",
                                  lambda: px_zstd_mask_bomb(1)),
        "px_zstd_delta_mask_bomb": ("px", "delta mask: small zstd frame of ~256 MiB", lambda: px_zstd_mask_bomb(2)),
        "px_zstd_png_value_bomb": ("px", "png values: small zstd frame of 250 MiB", px_zstd_png_bomb),
        "roi_good": ("roi", "good stae-roi264 payload (16x64x64)", lambda: _roi_container(t, h, w, _h264_stream(t, w, h, "veryfast"))),
        "roi_sps_4096x2160_100_skip": ("roi", "header 16x64x64, H.264 SPS 4096x2160, 100 skip frames",
                                       lambda: _roi_container(t, h, w, _h264_stream(100, 4096, 2160))),
        "roi_sps_8192x8192_cropped_64x64": ("roi", "header 16x64x64, H.264 coded 8192x8192, SPS cropped to 64x64",
                                           lambda: _roi_container(t, h, w, _h264_stream(t, 8192, 8192, crop_to=64))),
        "roi_4000_frames_64x64": ("roi", "header 16x64x64, 4000 frames of 64x64", lambda: _roi_container(t, h, w, _h264_stream(4000, 64, 64))),
        "roi_4000_frames_4096x2160": ("roi", "header 16x64x64, 4000 frames of 4096x2160",
                                      lambda: _roi_container(t, h, w, _h264_stream(4000, 4096, 2160))),
        "h264_good": ("h264", "good Annex-B stream, 16x64x64 (decode_annexb)", lambda: _h264_stream(t, w, h, "veryfast")),
        "h264_sps_4096x2160_100_skip": ("h264", "decode_annexb(16x64x64) of an SPS 4096x2160 stream, 100 skip frames",
                                        lambda: _h264_stream(100, 4096, 2160)),
        "h264_sps_8192x8192_cropped_64x64": ("h264", "decode_annexb(16x64x64) of a stream coded 8192x8192, SPS cropped to 64x64",
                                             lambda: _h264_stream(t, 8192, 8192, crop_to=64)),
        "h264_4000_frames_64x64": ("h264", "decode_annexb(16x64x64) of 4000 frames", lambda: _h264_stream(4000, 64, 64)),
        "h264_heavy_sps_x4": ("h264", "4 SPS of ~2.6 KB, every scaling list and POC entry a 63-bit code", heavy_sps_stream),
        "h264_heavy_sps_x144": ("h264", "144 such SPS (the NAL cap for 16 frames)", lambda: heavy_sps_stream(144)),
        "px_max_tmed_all_kept": ("px", "largest honest payload: all 16x64x64 pixels kept, noise, planar_tmed_sg",
                                 lambda: px_max("rle+planar_tmed_sg")),
        "px_max_png_noise": ("px", "all pixels kept, noise, png values", lambda: px_max("bitmap+png")),
        "px_max_webp_lossless_noise": ("px", "all pixels kept, noise, lossless WebP values", lambda: px_max("bitmap+webp_lossless")),
        "px_max_jpeg_q100_noise": ("px", "all pixels kept, noise, JPEG quality 100", lambda: px_max("bitmap+jpeg", 100)),
        "roi_max_crf0_noise": ("roi", "16x64x64 noise at CRF 0 (largest honest stream)", roi_max),
        "roi_max_8_slices": ("roi", "16x64x64 noise, 8 slices per frame (130 NAL units, under the cap)",
                             lambda: roi_max("slices=8", 20)),
        "h264mode_good": ("h264mode", "good h264-mode payload, 16x64x64", lambda: _h264mode(_h264_stream(t, w, h, "veryfast"))),
        "h264mode_sps_4096x2160_100_skip": ("h264mode", "h264 mode, SPS 4096x2160, 100 skip frames",
                                            lambda: _h264mode(_h264_stream(100, 4096, 2160))),
        "h264mode_4000_frames_64x64": ("h264mode", "h264 mode, 4000 frames of 64x64", lambda: _h264mode(_h264_stream(4000, 64, 64))),
        "h264mode_sps_8192x8192_cropped_64x64": ("h264mode", "h264 mode, coded 8192x8192, SPS cropped to 64x64",
                                                 lambda: _h264mode(_h264_stream(t, 8192, 8192, crop_to=64))),
        "h264cd_good": ("h264cd", "good h264-cd payload, 16x64x64", lambda: _h264mode(_h264_stream(t, w, h, "veryfast"))),
        "h264cd_sps_4096x2160_100_skip": ("h264cd", "h264-cd mode, SPS 4096x2160, 100 skip frames",
                                          lambda: _h264mode(_h264_stream(100, 4096, 2160))),
        "h264cd_sps_8192x8192_cropped_64x64": ("h264cd", "h264-cd mode, coded 8192x8192, SPS cropped to 64x64",
                                               lambda: _h264mode(_h264_stream(t, 8192, 8192, crop_to=64))),
        "latent_good": ("latent", "good stae-latent payload", None),
        "latent_random_body_1MiB": ("latent", "valid header + random body up to the 1 MiB limit", latent_random_body),
        "latent_max_resealed": ("latent", "valid header and CRC, random body of the largest size allowed", latent_max_resealed),
    }
    manifest = {}
    for name, (kind, desc, make) in builders.items():
        path = out / f"{name}.bin"
        if name == "latent_good":
            from stae_ros.latent import load_latent_codec

            codec = load_latent_codec(LATENT_MODEL)
            path.write_bytes(codec.encode(_clip(codec.cfg.frames, codec.cfg.height, codec.cfg.width)))
        elif not path.exists():
            t0 = time.time()
            path.write_bytes(make())
            print(f"built {name} ({path.stat().st_size} B, {time.time() - t0:.1f} s)", file=sys.stderr)
        manifest[name] = {"kind": kind, "desc": desc, "bytes": path.stat().st_size, "path": str(path)}
    return manifest


# ----------------------------------------------------------------------------- the child


def _decoder(kind: str):
    if kind == "px":
        from stae_ros import codec as px

        limits = px.DecodeLimits(max_frames=PX_SHAPE[0], max_height=PX_SHAPE[1], max_width=PX_SHAPE[2],
                                 max_channels=PX_SHAPE[3])
        return lambda data: px.decode(data, limits=limits).to_dense()
    if kind == "roi":
        from stae_ros.roi.node_model import load_roi_model

        codec = load_roi_model(ROI_MODEL).codec()
        return codec.decode
    if kind == "h264":
        from stae_ros.roi.h264 import decode_annexb

        t, h, w, _ = PX_SHAPE
        return lambda data: decode_annexb(data, t, h, w)
    if kind == "h264mode":  # the h264 mode's own container and decoder (stae_ros/modes/h264.py)
        from stae_ros.modes import h264 as mode

        t, h, w, _ = PX_SHAPE
        return lambda data: mode.decode_stream(mode.unpack(data)[1], t, h, w)
    if kind == "h264cd":  # the h264-cd edge mode with its shipped model: container, checks, compressed-domain parse
        from stae_ros.modes import ModeContext, make_edge
        from stae_ros.training.checkpoints import load_model

        return make_edge("h264-cd", ModeContext(load_model(ROOT / "models" / "stae_default.pt"))).decode
    if kind == "latent":
        from stae_ros.latent import load_latent_codec

        return load_latent_codec(LATENT_MODEL).decode
    raise ValueError(kind)


def child(kind: str, path: str, warm: str) -> dict:
    import cv2

    cv2.setNumThreads(1)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    decode = _decoder(kind)
    good = Path(warm).read_bytes()
    for _ in range(3):
        decode(good)
    data = Path(path).read_bytes()
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    outcome, mro = "decoded", []
    t0, w0 = time.thread_time(), time.perf_counter()
    try:
        decode(data)
    except BaseException as exc:  # noqa: BLE001 - we report whatever escapes
        outcome, mro = type(exc).__name__, [c.__name__ for c in type(exc).__mro__]
        msg = str(exc)[:160]
    else:
        msg = ""
    cpu_ms, wall_ms = (time.thread_time() - t0) * 1e3, (time.perf_counter() - w0) * 1e3
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"outcome": outcome, "mro": mro, "message": msg, "cpu_ms": cpu_ms, "wall_ms": wall_ms,
            "peak_mb": (peak - base) / 1024.0, "baseline_mb": base / 1024.0}


def run_child(kind: str, path: str, warm: str, cap_gb: float, timeout: float) -> dict:
    def cap() -> None:
        lim = int(cap_gb * (1 << 30))
        resource.setrlimit(resource.RLIMIT_AS, (lim, lim))

    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind, path, warm]
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, preexec_fn=cap, env=env)
    except subprocess.TimeoutExpired:
        return {"outcome": f"timeout > {timeout:.0f} s", "mro": [], "message": "", "cpu_ms": float("nan"),
                "wall_ms": timeout * 1e3, "peak_mb": float("nan"), "baseline_mb": float("nan")}
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if p.returncode != 0 or not lines:
        tail = (p.stderr.strip().splitlines() or ["?"])[-1][:160]
        return {"outcome": f"child died (rc {p.returncode})", "mro": [], "message": tail, "cpu_ms": float("nan"),
                "wall_ms": (time.perf_counter() - t0) * 1e3, "peak_mb": float("nan"), "baseline_mb": float("nan")}
    return json.loads(lines[-1])


def verdict(name: str, kind: str, r: dict) -> bool:
    """good_*: must decode; max_*: deliberately valid, may decode or be refused; the rest are
    attacks and must be refused with the documented error. All within the memory and CPU targets."""
    good = name.endswith("_good") or "_good_" in name
    typed = (r["outcome"] == "decoded") if good else DOCUMENTED[kind] in r["mro"]
    if "_max_" in name:
        typed = r["outcome"] == "decoded" or DOCUMENTED[kind] in r["mro"]
    return typed and r["peak_mb"] <= MEM_TARGET_MB and r["cpu_ms"] <= CPU_TARGET_MS


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "hostile", help="where the payloads are cached")
    ap.add_argument("--only", default="", help="run only attacks whose name starts with this")
    ap.add_argument("--cap-gb", type=float, default=4.0, help="address-space cap of each child (GiB)")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds before a child is killed")
    ap.add_argument("--markdown", type=Path, help="also write the table here")
    ap.add_argument("--json", type=Path, help="also write the raw results here")
    ap.add_argument("--child", nargs=3, metavar=("KIND", "PATH", "WARM"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(*args.child)))
        return 0
    manifest = build_all(args.out)
    warm = {"px": "px_good_auto", "roi": "roi_good", "h264": "h264_good", "latent": "latent_good", "h264mode": "h264mode_good",
            "h264cd": "h264cd_good"}
    rows, results = [], {}
    for name, m in manifest.items():
        if args.only and not name.startswith(args.only):
            continue
        r = run_child(m["kind"], m["path"], manifest[warm[m["kind"]]]["path"], args.cap_gb, args.timeout)
        ok = verdict(name, m["kind"], r)
        results[name] = {**m, **r, "pass": ok}
        outcome = r["outcome"] + (f": {r['message']}" if r["message"] else "")
        rows.append(f"| {name} | {m['desc']} | {m['bytes']} | {r['peak_mb']:.1f} | {r['cpu_ms']:.1f} | {r['wall_ms']:.1f} "
                    f"| {outcome.replace('|', '/')} | {'pass' if ok else 'FAIL'} |")
        print(rows[-1], flush=True)
    head = ("| attack | what | payload B | peak RSS above baseline (MB) | CPU ms | wall ms | outcome | pass |\n"
            "|---|---|---|---|---|---|---|---|")
    table = head + "\n" + "\n".join(rows)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(table + "\n")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    print(table)
    return 0 if all(r["pass"] for r in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
