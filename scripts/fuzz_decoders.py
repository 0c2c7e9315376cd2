"""Fuzz every edge decoder and the SemanticClip field checks (atheris, or a mutation loop).

Targets and the only exception each may raise (anything else is a crash):

  =======  ==================================================  ====================
  target   entry point                                         documented error
  =======  ==================================================  ====================
  px       stae-px decode without its last-resort net          CodecError
  roi      stae-roi264 container decode without its net        RoiPayloadError
  h264     roi.h264.decode_annexb (Annex-B, 2 frames 16x16)    RoiPayloadError
  latent   latent.bitstream.decode_symbols (4x2x2x2 latent)    LatentPayloadError
  fields   ros.edge_node.check_clip_fields                     MalformedClipError
  =======  ==================================================  ====================

Every execution is also held to the edge's resource targets: more than 200 ms of CPU time, or
the process's peak RSS growing more than 64 MB above its warmed-up level, counts as a finding
(an "over-limit" crash). The first input byte is a control byte for the payload targets: bit 0
re-seals the checksum (and the latent model fingerprint) after mutation, so mutated bytes reach
the parsers behind it instead of all stopping at the CRC.

    python scripts/fuzz_decoders.py px --runs 1000000                 # atheris (coverage-guided)
    python scripts/fuzz_decoders.py px --engine mutate --runs 20000   # no atheris: mutation loop
    python scripts/fuzz_decoders.py --write-seeds                     # regenerate test/fuzz_corpus/

Seeds live in test/fuzz_corpus/<target>/ (small, committed); atheris adds what it finds to
out/fuzz/<target>/; crashes land in out/fuzz/findings/<target>/ and become regression inputs in
test/fuzz_corpus/ once fixed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import sys
import time
import zlib
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
CORPUS = ROOT / "test" / "fuzz_corpus"
CPU_LIMIT_S = 0.2
RSS_LIMIT_MB = 64.0
SLOW_MS = 20.0  #: inputs slower than this (and than every earlier one) are kept in out/fuzz/slow/<target>/
TARGET_NAMES = ("px", "roi", "h264", "latent", "fields")


class OverLimit(Exception):
    """An input made a decoder exceed the edge's CPU-time or memory target."""


# ----------------------------------------------------------------------------- targets


class Target:
    """One decoder under test: seeds, the call, and the exception types it may raise."""

    name = ""
    documented: tuple[type[BaseException], ...] = ()

    def seeds(self) -> list[bytes]:
        raise NotImplementedError

    def run(self, data: bytes) -> None:
        raise NotImplementedError


class PxTarget(Target):
    name = "px"

    def __init__(self) -> None:
        from stae_ros.codec import CodecError, DecodeLimits
        from stae_ros.codec.codec import _decode_unchecked
        from stae_ros.codec.wire import HEADER_SIZE, with_crc

        self.documented = (CodecError,)
        self.limits = DecodeLimits(max_frames=8, max_height=16, max_width=16, max_channels=4)
        self._decode, self._with_crc, self._header = _decode_unchecked, with_crc, HEADER_SIZE

    def seeds(self) -> list[bytes]:
        from stae_ros.codec import MASK_LAYOUT_NAMES, VALUE_LAYOUT_NAMES, LayoutUnavailableError, encode
        from stae_ros.codec.testing import make_payload

        out = []
        for i, (m, v) in enumerate((m, v) for m in MASK_LAYOUT_NAMES for v in VALUE_LAYOUT_NAMES):
            pl = make_payload(4, 8, 8, 3, 2, 0.3, seed=i, smooth=bool(i % 2))
            try:
                out.append(b"\x01" + encode(pl, layout=f"{m}+{v}", bits=8 if v in ("jpeg", "webp") else 1 + i % 8))
            except LayoutUnavailableError:
                continue
        return out

    def run(self, data: bytes) -> None:
        if not data:
            return
        body = data[1:]
        if data[0] & 1 and len(body) >= self._header and body[:4] == b"STPX":
            body = self._with_crc(body)
        payload = self._decode(body, self.limits)
        payload.to_dense()


class RoiTarget(Target):
    name = "roi"

    def __init__(self) -> None:
        from stae_ros.roi.codec import RoiCodec, RoiLimits, container_crc
        from stae_ros.roi.errors import RoiPayloadError

        self.documented = (RoiPayloadError,)
        self.codec = RoiCodec(limits=RoiLimits(max_frames=4, max_side=32, max_bytes=1 << 16))
        self._crc = container_crc

    def seeds(self) -> list[bytes]:
        from stae_ros.roi.codec import RoiCodec, RoiSettings
        from stae_ros.roi.h264 import X264Settings

        rng = np.random.default_rng(0)
        out = []
        for mode, preset, (t, h, w) in (("fill", "veryfast", (2, 16, 16)), ("crop", "ultrafast", (3, 32, 32)),
                                        ("fill", "medium", (2, 32, 16))):
            clip = rng.integers(0, 255, (t, h, w, 3), dtype=np.uint8)
            imp = np.zeros((t, h // 8, w // 8), np.float32)
            imp[:, :1, :1] = 1.0
            codec = RoiCodec(RoiSettings(mode=mode, x264=X264Settings(preset=preset, crf=30)))
            out.append(b"\x01" + codec.encode(clip, imp))
        return out

    def run(self, data: bytes) -> None:
        if not data:
            return
        body = bytearray(data[1:])
        if data[0] & 1 and len(body) >= 8 and body[:2] == b"SR":
            body[4:8] = self._crc(body).to_bytes(4, "little")
        self.codec._decode(bytes(body))


class H264Target(Target):
    name = "h264"

    def __init__(self) -> None:
        from stae_ros.roi.errors import RoiPayloadError
        from stae_ros.roi.h264 import decode_annexb

        self.documented = (RoiPayloadError,)
        self._decode = decode_annexb

    def seeds(self) -> list[bytes]:
        from stae_ros.roi.h264 import X264Settings, encode_annexb

        rng = np.random.default_rng(1)
        out = []
        for preset in ("ultrafast", "veryfast", "medium"):
            clip = rng.integers(0, 255, (2, 16, 16, 3), dtype=np.uint8)
            out.append(encode_annexb(clip, X264Settings(preset=preset, crf=35)))
        return out

    def run(self, data: bytes) -> None:
        self._decode(data, 2, 16, 16)


class LatentTarget(Target):
    name = "latent"
    shape = (4, 2, 2, 2)
    support = 7

    def __init__(self) -> None:
        from stae_ros.latent import bitstream as bs
        from stae_ros.latent.entropy import probability_tables
        from stae_ros.latent.errors import LatentPayloadError

        self.documented = (LatentPayloadError,)
        rng = np.random.default_rng(2)
        self.tables = probability_tables(rng.normal(0, 2, 4).astype(np.float32), rng.uniform(0.2, 3, 4).astype(np.float32),
                                         self.support)
        self.bs = bs

    def seeds(self) -> list[bytes]:
        rng = np.random.default_rng(3)
        return [b"\x03" + self.bs.encode_symbols(rng.integers(-s, s + 1, self.shape).astype(np.int32), self.tables, self.support)
                for s in (0, 1, 3, 7)]

    def run(self, data: bytes) -> None:
        if not data:
            return
        bs = self.bs
        body = bytearray(data[1:])
        if data[0] & 2 and len(body) >= 5:
            body[3:5] = bs.fingerprint(self.shape, self.tables).to_bytes(2, "little")
        if data[0] & 1 and len(body) >= bs.HEADER_BYTES and body[:2] == bs.MAGIC:
            body[5:9] = bs.payload_crc(body).to_bytes(4, "little")
        bs.decode_symbols(bytes(body), self.shape, self.tables, self.support, max_bytes=4096)


class FieldsTarget(Target):
    """SemanticClip header fields as a message can carry them (uint16/uint8/float32/arrays)."""

    name = "fields"
    shape = (16, 64, 64, 3)

    def __init__(self) -> None:
        from stae_ros.ros.edge_node import check_clip_fields
        from stae_ros.ros.errors import MalformedClipError

        self.documented = (MalformedClipError,)
        self._check = check_clip_fields

    def seeds(self) -> list[bytes]:
        good = np.array([16, 64, 64], "<u2").tobytes() + bytes([3]) + np.array([4], "<u2").tobytes()
        good += np.array([0.25], "<f4").tobytes() + bytes([4]) + np.array([0, 5, 9, 15], "<u2").tobytes() + b"STPX..."
        return [good, good[:6] + b"\x00\x00" + good[8:], bytes(12) + b"\x00\x00\xc0\x7f"]

    @staticmethod
    def message(data: bytes) -> SimpleNamespace:
        def take(n: int) -> bytes:
            nonlocal data
            out, data = data[:n], data[n:]
            return out + bytes(n - len(out))

        t, h, w = np.frombuffer(take(6), "<u2").tolist()
        c = take(1)[0]
        (k,) = np.frombuffer(take(2), "<u2").tolist()
        (p,) = np.frombuffer(take(4), "<f4").tolist()
        n = take(1)[0]
        idx = np.frombuffer(take(2 * n), "<u2").tolist()
        return SimpleNamespace(frames=t, height=h, width=w, channels=c, k=k, p=p, frame_indices=idx, payload=data,
                               codec="stae-px", codec_version=1)

    def run(self, data: bytes) -> None:
        msg = self.message(data)
        self._check(msg, self.shape)
        # accepted: every field the check promises must hold
        t, h, w, c = self.shape
        assert (msg.frames, msg.height, msg.width, msg.channels) == self.shape
        assert 1 <= msg.k <= t and 0.0 < msg.p <= 1.0 and len(msg.frame_indices) == msg.k and len(msg.payload) > 0


class H264ModeTarget(H264Target):
    """The h264 mode's own payload (modes/h264.py: unpack + decode_stream), 2 frames of 16x16.
    Not part of the test suite (that module is another component's); run by name."""

    name = "h264_mode"

    def __init__(self) -> None:
        from stae_ros.modes import h264 as mode
        from stae_ros.modes.errors import PipelineError

        self.documented = (PipelineError,)
        self.mode = mode

    def seeds(self) -> list[bytes]:
        return [b"\x01" + self.mode.pack(s, 1) for s in super().seeds()]

    def run(self, data: bytes) -> None:
        if not data:
            return
        body = bytearray(data[1:])
        if data[0] & 1 and len(body) >= self.mode._HEADER.size:
            body[4:8] = (zlib.crc32(body[self.mode._HEADER.size:]) & 0xFFFFFFFF).to_bytes(4, "little")
        _, stream = self.mode.unpack(bytes(body))
        self.mode.decode_stream(stream, 2, 16, 16)


TARGETS: dict[str, Callable[[], Target]] = {"px": PxTarget, "roi": RoiTarget, "h264": H264Target, "latent": LatentTarget,
                                            "fields": FieldsTarget, "h264_mode": H264ModeTarget}


# ----------------------------------------------------------------------------- the harness


def _rss_kb() -> int:
    """Current resident set size (Linux /proc; 0 elsewhere, which makes the spike check stricter)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
    except (OSError, ValueError, IndexError):
        return 0


class Harness:
    """Runs one input under the CPU and memory targets; counts executions.

    Memory is judged per input: when the process's peak RSS rises during an input, the new peak
    minus the RSS just before that input is what the input cost; over 64 MB is a finding. (A
    slow creep of the whole fuzzing process, e.g. libFuzzer's own tables, is not an input's
    cost; ``peak_rss_growth_mb`` reports it separately.)
    """

    def __init__(self, target: Target, slow_dir: Path | None = None) -> None:
        self.target = target
        self.slow_dir = slow_dir
        self.execs = 0
        self.worst_cpu_ms = 0.0
        self.worst_spike_mb = 0.0
        for seed in target.seeds():  # warm up (imports, codec contexts, caches) before the baseline
            self.check(seed)
        self.base_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        self.execs = 0

    def check(self, data: bytes) -> None:
        self.execs += 1
        before = _rss_kb()
        peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0 = time.thread_time()
        try:
            self.target.run(data)
        except self.target.documented:
            pass
        dt = time.thread_time() - t0
        if dt * 1e3 > max(self.worst_cpu_ms, SLOW_MS) and self.slow_dir is not None:  # keep the slowest inputs to study
            self.slow_dir.mkdir(parents=True, exist_ok=True)
            (self.slow_dir / f"slow-{dt * 1e3:06.1f}ms-{hashlib.sha1(data).hexdigest()[:12]}").write_bytes(data)
        self.worst_cpu_ms = max(self.worst_cpu_ms, dt * 1e3)
        if dt > CPU_LIMIT_S:
            raise OverLimit(f"{self.target.name}: {dt * 1e3:.0f} ms of CPU for one input (target {CPU_LIMIT_S * 1e3:.0f} ms)")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if self.execs % 100_000 == 0:  # progress for long runs (libFuzzer exits without returning)
            print(json.dumps({"target": self.target.name, "execs": self.execs, "worst_cpu_ms": round(self.worst_cpu_ms, 1),
                              "worst_input_rss_mb": round(self.worst_spike_mb, 1),
                              "peak_rss_growth_mb": round((peak - getattr(self, "base_kb", peak)) / 1024, 1)}),
                  file=sys.stderr, flush=True)
        if peak > peak_before:
            spike = (peak - before) / 1024.0
            self.worst_spike_mb = max(self.worst_spike_mb, spike)
            if spike > RSS_LIMIT_MB:
                raise OverLimit(f"{self.target.name}: one input raised the peak RSS {spike:.0f} MB above the RSS before it "
                                f"(target {RSS_LIMIT_MB:.0f})")


def corpus_inputs(name: str) -> list[bytes]:
    d = CORPUS / name
    return [p.read_bytes() for p in sorted(d.iterdir()) if p.is_file()] if d.is_dir() else []


def mutate(data: bytes, rng: random.Random, pool: list[bytes]) -> bytes:
    """libFuzzer-like byte mutations: flip, set, interesting values, insert, delete, cut, splice."""
    b = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        op = rng.randrange(8)
        pos = rng.randrange(len(b)) if b else 0
        if op == 0 and b:
            b[pos] ^= 1 << rng.randrange(8)
        elif op == 1 and b:
            b[pos] = rng.randrange(256)
        elif op == 2 and len(b) >= 4:
            pos = rng.randrange(len(b) - 3)
            b[pos : pos + 4] = rng.choice([b"\xff\xff\xff\x7f", b"\x00\x00\x00\x00", b"\xff\xff\xff\xff",
                                           b"\x00\x00\x01\x00", b"\x80\x80\x80\x80"])
        elif op == 3:
            b[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        elif op == 4 and b:
            del b[pos : pos + rng.randint(1, 16)]
        elif op == 5 and b:
            del b[pos:]
        elif op == 6 and pool:
            other = rng.choice(pool)
            if other:
                s = rng.randrange(len(other))
                b[pos:pos] = other[s : s + rng.randint(1, 64)]
        elif op == 7 and b:
            b[pos] = (b[pos] + rng.choice((1, -1, 16, -16))) % 256
    if b and rng.random() < 0.5:
        b[0] |= 1  # re-seal the checksum half of the time
    return bytes(b)


def run_mutation(name: str, runs: int, seconds: float, seed: int, findings: Path | None) -> dict:
    """The engine without atheris: random mutations of the corpus + seeds, same checks."""
    target = TARGETS[name]()
    harness = Harness(target)
    pool = corpus_inputs(name) + target.seeds()
    rng = random.Random(seed)
    crashes: list[str] = []
    t0 = time.perf_counter()
    for data in pool:
        harness.check(data)
    while harness.execs < runs and time.perf_counter() - t0 < seconds:
        data = mutate(rng.choice(pool), rng, pool)
        try:
            harness.check(data)
        except Exception as exc:  # noqa: BLE001 - a finding: anything undocumented, or over a limit
            crashes.append(f"{type(exc).__name__}: {exc}"[:300])
            if findings is not None:
                findings.mkdir(parents=True, exist_ok=True)
                (findings / f"crash-{hashlib.sha1(data).hexdigest()[:16]}").write_bytes(data)
            if len(crashes) >= 20:
                break
        if rng.random() < 0.01 and len(pool) < 4096:
            pool.append(data)
    wall = time.perf_counter() - t0
    return {"target": name, "engine": "mutate", "execs": harness.execs, "seconds": round(wall, 1),
            "execs_per_s": round(harness.execs / max(wall, 1e-9)), "crashes": len(crashes), "examples": crashes[:5],
            "worst_cpu_ms": round(harness.worst_cpu_ms, 1), "worst_input_rss_mb": round(harness.worst_spike_mb, 1),
            "peak_rss_growth_mb": round((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - harness.base_kb) / 1024, 1)}


def run_atheris(name: str, runs: int, seconds: float, seed: int, out: Path) -> None:
    """Coverage-guided: atheris instruments stae_ros, libFuzzer drives it (never returns; its
    final stats, printed on exit, give the executions and the rate; it stops at the first crash)."""
    import atheris

    with atheris.instrument_imports(include=["stae_ros"]):
        import stae_ros.codec.codec  # noqa: F401
        import stae_ros.codec.images  # noqa: F401
        import stae_ros.codec.masks  # noqa: F401
        import stae_ros.codec.spatial  # noqa: F401
        import stae_ros.codec.values  # noqa: F401
        import stae_ros.codec.varint  # noqa: F401
        import stae_ros.codec.wire  # noqa: F401
        import stae_ros.latent.bitstream  # noqa: F401
        import stae_ros.roi.codec  # noqa: F401
        import stae_ros.roi.h264  # noqa: F401
        if name == "h264_mode":
            import stae_ros.modes.h264  # noqa: F401
        if name == "fields":
            import stae_ros.ros.edge_node  # noqa: F401
    target = TARGETS[name]()
    harness = Harness(target, slow_dir=out / "slow" / name)
    work = out / name
    work.mkdir(parents=True, exist_ok=True)
    crashes = out / "findings" / name
    crashes.mkdir(parents=True, exist_ok=True)
    dirs = [str(work)]
    if (CORPUS / name).is_dir():
        dirs.append(str(CORPUS / name))
    else:  # a target without a committed corpus starts from its seeds
        for data in target.seeds():
            (work / f"seed-{hashlib.sha1(data).hexdigest()[:16]}").write_bytes(data)
    args = [sys.argv[0], *dirs, f"-runs={runs}", f"-seed={seed}", "-timeout=5",
            "-rss_limit_mb=4096", f"-artifact_prefix={crashes}/", "-print_final_stats=1", "-max_len=4096"]
    if seconds:
        args.append(f"-max_total_time={int(seconds)}")
    atheris.Setup(args, harness.check)
    atheris.Fuzz()


def write_seeds() -> None:
    for name in TARGET_NAMES:
        make = TARGETS[name]
        try:
            target = make()
        except ImportError as exc:
            print(f"{name}: skipped ({exc})", file=sys.stderr)
            continue
        d = CORPUS / name
        d.mkdir(parents=True, exist_ok=True)
        for data in target.seeds():
            (d / f"seed-{hashlib.sha1(data).hexdigest()[:16]}").write_bytes(data)
        print(f"{name}: {len(list(d.iterdir()))} files, {sum(p.stat().st_size for p in d.iterdir())} B", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("target", nargs="?", choices=tuple(TARGETS))
    ap.add_argument("--engine", choices=("atheris", "mutate"), default="atheris")
    ap.add_argument("--runs", type=int, default=1_000_000, help="executions (default 1,000,000)")
    ap.add_argument("--seconds", type=float, default=0.0, help="stop after this long (0 = no limit)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "fuzz", help="scratch corpus, findings, summaries")
    ap.add_argument("--write-seeds", action="store_true", help="regenerate test/fuzz_corpus/<target>/seed-*")
    args, _ = ap.parse_known_args(argv)
    if args.write_seeds:
        write_seeds()
        return 0
    if not args.target:
        ap.error("name a target")
    if args.engine == "atheris":
        run_atheris(args.target, args.runs, args.seconds, args.seed, args.out)
        return 0
    res = run_mutation(args.target, args.runs, args.seconds or float("inf"), args.seed, args.out / "findings" / args.target)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.target}.mutate.json").write_text(json.dumps(res))
    print(json.dumps(res))
    return 1 if res["crashes"] else 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    raise SystemExit(main())
