"""libx264 through PyAV: one clip -> one self-contained GOP, and a light NAL container.

Why a container of our own: libx264's Annex-B output of a 16-frame 64x64 clip carries a
~600-byte SEI (the encoder's version + option string) and 4-byte start codes per NAL, which
the decoder does not need. `pack_nals` keeps only the NAL units a decoder uses (SPS, PPS,
slices) with 1-2 byte varint lengths; `unpack_nals` rebuilds standard Annex-B. The H.264
baseline is measured both ways so the container's share of any gain is visible.
"""

from __future__ import annotations

import logging
import platform
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import av
import numpy as np

from stae_ros.data.av_frames import FrameConverter

from .errors import BitstreamDecodeError, RoiInputError, TruncatedPayloadError

__all__ = ["X264Settings", "x264_asm", "qp_zones", "encode_annexb", "mb_grid", "MB_SIZE", "decode_annexb", "split_nals", "pack_nals", "unpack_nals",
           "SpsInfo", "parse_sps", "check_nals", "max_nals_for", "ALLOWED_NAL_TYPES"]

log = logging.getLogger(__name__)

#: NAL unit types a decoder can do without: SEI (6), access unit delimiter (9), filler (12).
DROPPABLE_NAL_TYPES = frozenset({6, 9, 12})

#: Linux /proc/cpuinfo flag -> x264 ``asm`` name, for every x86 instruction set below AVX-512
_X264_ASM_NAMES = {
    "sse": "SSE", "sse2": "SSE2", "pni": "SSE3", "ssse3": "SSSE3", "sse4_1": "SSE4.1", "sse4_2": "SSE4.2",
    "avx": "AVX", "xop": "XOP", "fma4": "FMA4", "fma": "FMA3", "abm": "LZCNT", "bmi1": "BMI1", "bmi2": "BMI2",
    "avx2": "AVX2",
}
#: the CPUID bits x264 needs before it takes its AVX-512 code paths
_AVX512_FLAGS = frozenset({"avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl"})


def x264_asm(cpu_flags: Iterable[str] | None = None) -> str:
    """x264's ``asm`` option for this CPU: "" (x264 detects it) unless the CPU has AVX-512, then
    the CPU's own instruction sets without AVX-512.

    Why: on the AVX-512 hosts this project is built and tested on (AMD EPYC in Firecracker VMs),
    libx264 (PyAV 18.1's build) with macroblock-tree rate control (every preset from superfast up,
    unless tune=zerolatency) sometimes codes the same frames to a different stream, in one thread.
    With the shipped roi model, 42 and 190 of the 300 synthetic test clips changed bytes within
    5 and 7 passes on an idle host (two runs), and 180 of 300 within 5 passes while two busy
    processes preempted the encoder (scripts/x264_repeat_probe.py). Whether the fault lies in
    x264's AVX-512 code or in the VM's handling of AVX-512 state was not settled. Without AVX-512
    (this list, or asm=0) no clip changed in any run. The AVX2 and AVX-512 paths are not
    bit-exact (27 of the 300 clips' usual streams differ, by a few bytes either way: mean 404.74 vs
    404.92 B), and they were as fast (camera encode 3.89-4.01 vs 3.86-4.05 ms, 4 interleaved runs).
    A payload must not depend on the scheduler. `cpu_flags` defaults to /proc/cpuinfo's;
    elsewhere (ARM, macOS) x264 keeps its own detection.
    """
    flags = set(_cpu_flags() if cpu_flags is None else cpu_flags)
    if not _AVX512_FLAGS <= flags:
        return ""
    return ",".join(name for flag, name in _X264_ASM_NAMES.items() if flag in flags)


@lru_cache(maxsize=1)
def _cpu_flags() -> frozenset[str]:
    if platform.machine().lower() not in ("x86_64", "amd64", "i686", "i386"):
        return frozenset()
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.partition(":")[2].split())
    except OSError:
        pass
    return frozenset()


@dataclass(frozen=True)
class X264Settings:
    """Encoder knobs; keyint = whole clip so each clip is one self-contained GOP."""

    crf: float = 28.0
    preset: str = "veryfast"
    threads: int = 1
    bframes: int = 0
    #: x264 zones, e.g. "1,3,q=51/5,5,q=51": frame ranges coded at a forced QP (FA's quality knob)
    zones: str = ""

    def options(self, gop: int) -> dict[str, str]:
        params = f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes={self.bframes}"
        asm = x264_asm()
        if asm:
            params += f":asm={asm}"
        if self.zones:
            params += f":zones={self.zones}"
        return {
            "crf": f"{self.crf:g}",
            "preset": self.preset,
            "threads": str(self.threads),
            "x264-params": params,
        }


def qp_zones(frames: "np.ndarray", qp: int) -> str:
    """x264 zones forcing QP `qp` on the frames where `frames` (bool, T) is True, as maximal runs."""
    runs, start = [], None
    for i, flag in enumerate([bool(f) for f in frames] + [False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            runs.append(f"{start},{i - 1},q={int(qp)}")
            start = None
    return "/".join(runs)


def _check_clip(clip: np.ndarray) -> None:
    if not isinstance(clip, np.ndarray) or clip.dtype != np.uint8 or clip.ndim != 4 or clip.shape[-1] != 3:
        raise RoiInputError(
            f"clip must be a uint8 array T,H,W,3; got {getattr(clip, 'dtype', type(clip))} {getattr(clip, 'shape', '')}"
        )
    t, h, w, _ = clip.shape
    if t < 1 or h < 16 or w < 16 or h % 2 or w % 2:
        raise RoiInputError(f"clip must have >= 1 frame and even H,W >= 16 (yuv420p); got T={t} H={h} W={w}")


#: the macroblock side, px: the grid of per-region QP offsets
MB_SIZE = 16


def mb_grid(h: int, w: int) -> tuple[int, int]:
    """Macroblock rows and columns of an H x W picture."""
    return -(-h // MB_SIZE), -(-w // MB_SIZE)


def _roi_graph(w: int, h: int, qp_offsets: np.ndarray) -> "av.filter.Graph":
    """A filter graph that attaches H.264 regions of interest (``addroi``) to every frame.

    Why a graph: PyAV exposes a frame's side data read-only, but libavfilter's ``addroi`` writes
    AV_FRAME_DATA_REGIONS_OF_INTEREST, which FFmpeg's libx264 wrapper turns into x264's per-
    macroblock quantiser offsets (an offset is a share of the 51-step QP range). One region per
    run of equal offsets along a macroblock row keeps the graph short."""
    graph = av.filter.Graph()
    node = graph.add_buffer(width=w, height=h, format="yuv420p", time_base=Fraction(1, 16))
    for r, row in enumerate(np.asarray(qp_offsets, dtype=np.int64)):
        cuts = [0, *(np.flatnonzero(np.diff(row)) + 1), len(row)]  # runs of equal offsets: [cuts[i], cuts[i+1])
        for start, stop in zip(cuts[:-1], cuts[1:]):
            if row[start]:
                x, y = start * MB_SIZE, r * MB_SIZE
                roi = graph.add("addroi", f"x={x}:y={y}:w={min(w, stop * MB_SIZE) - x}:"
                                          f"h={min(h, y + MB_SIZE) - y}:qoffset={row[start] / 51.0:.6f}")
                node.link_to(roi)
                node = roi
    sink = graph.add("buffersink")
    node.link_to(sink)
    graph.configure()
    return graph


def encode_annexb(clip: np.ndarray, settings: X264Settings = X264Settings(),
                  qp_offsets: np.ndarray | None = None) -> bytes:
    """Encode a uint8 T,H,W,3 RGB clip as one GOP of H.264 (Annex-B byte stream).

    ``qp_offsets``: an optional (H/16, W/16) grid of whole QP steps added to each macroblock of
    every frame (positive = coarser), through H.264 regions of interest; x264 needs adaptive
    quantisation for them, so it is switched on (every preset but ultrafast has it anyway)."""
    _check_clip(clip)
    t, h, w, _ = clip.shape
    graph = None
    options = settings.options(gop=max(t, 1))
    if qp_offsets is not None:
        offsets = np.asarray(qp_offsets)
        if offsets.shape != mb_grid(h, w) or not np.all(np.abs(offsets) <= 51):
            raise RoiInputError(f"QP offsets must be a {mb_grid(h, w)} grid of values in [-51, 51]; got shape "
                                f"{offsets.shape}, largest |offset| {float(np.abs(offsets).max(initial=0)):g}")
        if np.any(offsets != 0):
            graph = _roi_graph(w, h, np.rint(offsets))
            options["x264-params"] += ":aq-mode=1"
    ctx = av.CodecContext.create("libx264", "w")
    ctx.width, ctx.height, ctx.pix_fmt = w, h, "yuv420p"
    ctx.time_base = Fraction(1, 16)
    ctx.framerate = 16
    ctx.options = options
    rgb = FrameConverter()
    out = bytearray()
    for i in range(t):
        frame = rgb.from_rgb(clip[i])
        frame.pts = i
        if graph is not None:
            frame.time_base = Fraction(1, 16)
            graph.push(frame)
            frame = graph.pull()
        for pkt in ctx.encode(frame):
            out += bytes(pkt)
    for pkt in ctx.encode(None):
        out += bytes(pkt)
    return bytes(out)


#: NAL unit types a stream may hold: slices (1 non-IDR, 5 IDR), SEI, SPS, PPS, AUD, end of
#: sequence / stream, filler. Data partitioning, SVC / MVC extensions and reserved types are
#: refused before decoding (the camera's libx264 never writes them).
ALLOWED_NAL_TYPES = frozenset({1, 5, 6, 7, 8, 9, 10, 11, 12})
#: a clip's stream needs one SPS (libx264 writes one per GOP); a few are allowed, no more, and none
#: larger than the largest legal one (scaling lists included) so that parsing them stays cheap
MAX_SPS = 4
MAX_SPS_BYTES = 4096
_HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})


def max_nals_for(frames: int) -> int:
    """NAL units a stream of `frames` pictures may hold: a few parameter sets and SEIs plus up to
    8 slices per picture (libx264 with one thread writes one), so decoding work follows the
    declared frame count, not the message size."""
    return 16 + 8 * int(frames)


@dataclass(frozen=True)
class SpsInfo:
    """What a sequence parameter set declares about the pictures: ``width`` x ``height`` after cropping,
    ``coded_width`` x ``coded_height`` as the decoder allocates them (whole macroblocks)."""

    width: int
    height: int
    chroma_format_idc: int
    bit_depth: int
    frame_mbs_only: bool
    max_num_ref_frames: int
    coded_width: int = 0
    coded_height: int = 0


class _Bits:
    """MSB-first bit reader over an RBSP with Exp-Golomb codes; running out is a payload error.

    The RBSP is one Python int, so a read is a shift and a mask, not a loop over bits: a hostile
    SPS full of 63-bit Exp-Golomb codes costs microseconds per field, not a Python call per bit.
    """

    def __init__(self, data: bytes) -> None:
        self.value, self.pos, self.end = int.from_bytes(data, "big"), 0, 8 * len(data)

    def u(self, n: int) -> int:
        if self.pos + n > self.end:
            raise BitstreamDecodeError("H.264 SPS ends early")
        self.pos += n
        return (self.value >> (self.end - self.pos)) & ((1 << n) - 1)

    def ue(self, cap: int = (1 << 31) - 1) -> int:
        ahead = min(32, self.end - self.pos)
        window = (self.value >> (self.end - self.pos - ahead)) & ((1 << ahead) - 1)
        if window == 0:
            raise BitstreamDecodeError("H.264 SPS holds an Exp-Golomb code longer than 32 bits or ends early")
        zeros = ahead - window.bit_length()
        self.pos += zeros + 1
        v = (1 << zeros) - 1 + self.u(zeros)
        if v > cap:
            raise BitstreamDecodeError(f"H.264 SPS field value {v} is over {cap}")
        return v

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)


def parse_sps(nal: bytes) -> SpsInfo:
    """Read the picture size and format from an SPS NAL unit (header byte included).

    Why: libavcodec allocates its picture buffers from the SPS, so a stream whose SPS says
    4096x2160 costs gigabytes before any frame can be checked; reading the SPS here lets the
    decoder refuse it from a few bytes.
    """
    rbsp = bytes(nal[1:]).replace(b"\x00\x00\x03", b"\x00\x00")
    r = _Bits(rbsp)
    profile = r.u(8)
    r.u(16)  # constraint flags, level
    r.ue(31)  # seq_parameter_set_id
    chroma, depth = 1, 8
    if profile in _HIGH_PROFILES:
        chroma = r.ue(3)
        if chroma == 3:
            r.u(1)
        depth = r.ue(6) + 8
        depth_c = r.ue(6) + 8
        if depth_c != depth:
            depth = -1
        r.u(1)
        if r.u(1):  # seq_scaling_matrix_present_flag
            for i in range(8 if chroma != 3 else 12):
                if r.u(1):
                    last = nxt = 8
                    for _ in range(16 if i < 6 else 64):
                        if nxt:
                            nxt = (last + r.se() + 256) % 256
                        last = nxt or last
    r.ue(12)  # log2_max_frame_num_minus4
    poc_type = r.ue(2)
    if poc_type == 0:
        r.ue(12)
    elif poc_type == 1:
        r.u(1)
        r.se()
        r.se()
        for _ in range(r.ue(255)):
            r.se()
    refs = r.ue()
    r.u(1)  # gaps_in_frame_num_value_allowed_flag
    wmbs = r.ue(1 << 16) + 1
    hunits = r.ue(1 << 16) + 1
    frame_mbs_only = bool(r.u(1))
    if not frame_mbs_only:
        r.u(1)
    r.u(1)  # direct_8x8_inference_flag
    width, height = coded_width, coded_height = 16 * wmbs, 16 * hunits * (2 - frame_mbs_only)
    if r.u(1):  # frame_cropping_flag
        cx, cy = (2, 2 * (2 - frame_mbs_only)) if chroma == 1 else (1, 2 - frame_mbs_only)
        left, right, top, bottom = (r.ue(1 << 16) for _ in range(4))
        width -= cx * (left + right)
        height -= cy * (top + bottom)
    return SpsInfo(width, height, chroma, depth, frame_mbs_only, refs, coded_width, coded_height)


def check_nals(data: bytes, frames: int, height: int, width: int, max_nals: int | None = None) -> int:
    """Validate an Annex-B stream's NAL units against the clip it must hold, before decoding.

    Checks: at most `max_nals` units (default :func:`max_nals_for`), only
    :data:`ALLOWED_NAL_TYPES`, at least one SPS and every SPS declaring exactly width x height
    (after cropping, which may only remove the padding up to whole macroblocks), 8-bit 4:2:0,
    progressive, at most 16 reference frames. Returns the count.
    """
    cap = max_nals_for(frames) if max_nals is None else max_nals
    count, sps, pos, n = 0, 0, 0, len(data)
    while True:
        j = data.find(b"\x00\x00\x01", pos)
        if j < 0:
            break
        start = j + 3
        nxt = data.find(b"\x00\x00\x01", start)
        end = n if nxt < 0 else nxt
        pos = start
        if start >= n or end == start:
            continue
        count += 1
        if count > cap:
            raise BitstreamDecodeError(f"H.264 stream holds more than {cap} NAL units for {frames} frames")
        head = data[start]
        kind = head & 0x1F
        if head & 0x80 or kind not in ALLOWED_NAL_TYPES:
            raise BitstreamDecodeError(f"H.264 NAL unit type {kind} (header 0x{head:02x}) is not accepted")
        if kind == 7:
            sps += 1
            if sps > MAX_SPS:
                raise BitstreamDecodeError(f"H.264 stream holds more than {MAX_SPS} SPS")
            if end - start > MAX_SPS_BYTES:
                raise BitstreamDecodeError(f"H.264 SPS of {end - start} bytes is over {MAX_SPS_BYTES}")
            info = parse_sps(data[start:end])
            if (info.width, info.height) != (width, height):
                raise BitstreamDecodeError(f"H.264 SPS declares {info.width}x{info.height} pictures; header says {width}x{height}")
            if info.chroma_format_idc != 1 or info.bit_depth != 8 or not info.frame_mbs_only or info.max_num_ref_frames > 16:
                raise BitstreamDecodeError(f"H.264 SPS is not 8-bit 4:2:0 progressive with <= 16 reference frames: {info}")
            # The decoder allocates the coded pictures, not the cropped ones: a stream coded at 8192x8192 and
            # cropped to the clip's size would pass the check above and cost gigabytes. An encoder pads to
            # whole macroblocks and crops only that padding, so anything larger is refused.
            mb_w, mb_h = -(-width // 16) * 16, -(-height // 16) * 16
            if (info.coded_width, info.coded_height) != (mb_w, mb_h):
                raise BitstreamDecodeError(f"H.264 SPS codes {info.coded_width}x{info.coded_height} pictures cropped to "
                                           f"{width}x{height}; at most {mb_w}x{mb_h} (whole macroblocks) is accepted")
    if not sps:
        raise BitstreamDecodeError("H.264 stream has no sequence parameter set")
    return count


def decode_annexb(data: bytes, frames: int, height: int, width: int, max_nals: int | None = None) -> np.ndarray:
    """Decode an Annex-B H.264 stream to uint8 T,H,W,3 RGB; exactly `frames` frames expected.

    Bounded by the declared clip, not by the stream: the NAL units and every SPS are checked
    first (:func:`check_nals`), then pictures are decoded one at a time on one thread and each
    one's size and format is checked before it is converted to RGB into a preallocated array;
    decoding stops at the first picture too many. Raises only BitstreamDecodeError.
    """
    data = bytes(data)
    check_nals(data, frames, height, width, max_nals)
    out = np.empty((frames, height, width, 3), np.uint8)
    count = 0
    try:
        ctx = av.CodecContext.create("h264", "r")
        ctx.thread_count = 1
        rgb = FrameConverter()
        for packet in ctx.parse(data) + ctx.parse(None) + [None]:
            for frame in ctx.decode(packet):
                if (frame.width, frame.height) != (width, height) or frame.format.name != "yuv420p":
                    raise BitstreamDecodeError(f"H.264 picture {count} is {frame.width}x{frame.height} {frame.format.name}; "
                                               f"header says {width}x{height} yuv420p")
                if count >= frames:
                    raise BitstreamDecodeError(f"H.264 bitstream holds more than the {frames} frames its header says")
                out[count] = rgb.to_rgb(frame)
                count += 1
    except BitstreamDecodeError:
        raise
    except Exception as exc:  # noqa: BLE001 - libav raises FFmpegError, ValueError, ...: all mean a bad stream
        raise BitstreamDecodeError(f"H.264 bitstream could not be decoded: {type(exc).__name__}: {exc}") from exc
    if count != frames:
        raise BitstreamDecodeError(f"H.264 bitstream decoded to {count} frames; header says {frames}")
    return out


def split_nals(stream: bytes) -> list[bytes]:
    """NAL units of an Annex-B stream, start codes removed (trailing zero bytes kept harmlessly)."""
    data = bytes(stream)
    starts: list[tuple[int, int]] = []
    i, n = 0, len(data)
    while True:
        j = data.find(b"\x00\x00\x01", i)
        if j < 0:
            break
        sc = 4 if j > 0 and data[j - 1] == 0 else 3
        starts.append((j + 3, j + 3 - sc))
        i = j + 3
    nals = []
    for idx, (begin, _) in enumerate(starts):
        end = starts[idx + 1][1] if idx + 1 < len(starts) else n
        nals.append(data[begin:end])
    return [x for x in nals if x]


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """Read an LEB128 varint at `pos`; returns (value, next position)."""
    value, shift = 0, 0
    while True:
        if pos >= len(data):
            raise TruncatedPayloadError(f"payload ends inside a length field at byte {pos}")
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7
        if shift > 28:
            raise TruncatedPayloadError(f"length field at byte {pos} is longer than 4 bytes")


def pack_nals(stream: bytes) -> bytes:
    """Annex-B -> varint-length-prefixed NAL units, dropping SEI / AUD / filler NALs."""
    out = bytearray()
    for nal in split_nals(stream):
        if (nal[0] & 0x1F) in DROPPABLE_NAL_TYPES:
            continue
        out += _varint(len(nal)) + nal
    return bytes(out)


def unpack_nals(body: bytes, max_nals: int = 4096) -> bytes:
    """Inverse of `pack_nals`: varint-prefixed NAL units -> Annex-B with 4-byte start codes."""
    out = bytearray()
    pos, count = 0, 0
    while pos < len(body):
        size, pos = read_varint(body, pos)
        if size == 0 or pos + size > len(body):
            raise TruncatedPayloadError(f"NAL unit {count} claims {size} bytes; {len(body) - pos} remain")
        out += b"\x00\x00\x00\x01" + body[pos : pos + size]
        pos += size
        count += 1
        if count > max_nals:
            raise TruncatedPayloadError(f"payload holds more than {max_nals} NAL units")
    return bytes(out)
