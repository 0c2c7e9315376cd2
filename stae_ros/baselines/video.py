"""H.264 / H.265 of the whole clip as one GOP, as ffmpeg_image_transport would send it.

Container choice (so the byte count is honest): no container at all. The encoder's packets are
concatenated into a raw Annex-B elementary stream (start codes + SPS/PPS(/VPS) + slices), which is
what an RTP/ROS packetiser carries and what the decoder's parser reads back. The encoders' SEI
messages (x264/x265 write their version and full option string, ~600 B and ~2.3 kB per stream)
are stripped: the decoder does not need them and a deployment would not send them. The clip is one
GOP (keyint = T, one IDR), ``tune=zerolatency`` (no B-frames, no lookahead), 4:2:0, one thread.
"""

from __future__ import annotations

import fractions
import re

import numpy as np

from .base import ClipCodec, check_clip
from .errors import BaselineDecodeError, ClipFormatError

__all__ = ["VideoCodec", "H264Codec", "H265Codec", "split_annexb", "strip_sei"]

_START = re.compile(b"\x00\x00\x01")
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")


def split_annexb(stream: bytes) -> list[tuple[int, int]]:
    """(start, end) byte ranges of each NAL unit, each range including its start code."""
    starts = []
    for m in _START.finditer(stream):
        s = m.start()
        if s > 0 and stream[s - 1] == 0:  # 4-byte start code 00 00 00 01
            s -= 1
        starts.append(s)
    return [(s, e) for s, e in zip(starts, starts[1:] + [len(stream)])]


def _nal_type(stream: bytes, start: int, hevc: bool) -> int:
    off = start + (4 if stream[start + 2] == 0 else 3)
    if off >= len(stream):
        return -1
    return (stream[off] >> 1) & 0x3F if hevc else stream[off] & 0x1F


def strip_sei(stream: bytes, hevc: bool) -> bytes:
    """Drop SEI NAL units (H.264 type 6; HEVC prefix/suffix SEI 39/40), which carry no picture data."""
    sei = {39, 40} if hevc else {6}
    return b"".join(stream[s:e] for s, e in split_annexb(stream) if _nal_type(stream, s, hevc) not in sei)


class VideoCodec(ClipCodec):
    """One libav encoder (libx264/libx265) at a fixed CRF and preset, single-threaded."""

    family = "video"
    encoder = ""
    decoder = ""
    hevc = False

    def __init__(self, crf: int = 23, preset: str = "medium") -> None:
        if not isinstance(crf, int) or not 0 <= crf <= 51:
            raise ClipFormatError(f"CRF must be an int in 0..51, got {crf!r}")
        if preset not in PRESETS:
            raise ClipFormatError(f"unknown x264/x265 preset {preset!r}; use one of {', '.join(PRESETS)}")
        super().__init__(crf=crf, preset=preset)
        self.crf = crf
        self.preset = preset

    @property
    def name(self) -> str:
        return f"{self.family}-{self.preset}-crf{self.crf}"

    def _options(self, frames: int) -> dict[str, str]:
        return {"crf": str(self.crf), "preset": self.preset, "tune": "zerolatency"}

    def encode(self, clip: np.ndarray) -> bytes:
        import av

        clip = check_clip(clip, even=True)
        t, h, w, _ = clip.shape
        cc = av.CodecContext.create(self.encoder, "w")
        cc.width, cc.height = w, h
        cc.pix_fmt = "yuv420p"
        cc.time_base = fractions.Fraction(1, 25)
        cc.gop_size = t
        cc.thread_count = 1
        cc.options = self._options(t)
        out = bytearray()
        for i in range(t):
            frame = av.VideoFrame.from_ndarray(clip[i], format="rgb24").reformat(format="yuv420p")
            frame.pts = i
            for packet in cc.encode(frame):
                out += bytes(packet)
        for packet in cc.encode(None):
            out += bytes(packet)
        return strip_sei(bytes(out), self.hevc)

    def decode(self, data: bytes) -> np.ndarray:
        import av

        if not isinstance(data, (bytes, bytearray)) or not data:
            raise BaselineDecodeError(f"{self.family} clip: empty or non-bytes input")
        if not (data.startswith(b"\x00\x00\x01") or data.startswith(b"\x00\x00\x00\x01")):
            raise BaselineDecodeError(f"{self.family} clip: not an Annex-B stream (no start code at byte 0, got {bytes(data[:4]).hex()})")
        try:
            frames = decode_annexb_frames(bytes(data), self.decoder)
        except (av.error.FFmpegError, ValueError) as exc:
            raise BaselineDecodeError(f"{self.family} clip: decoder rejected the stream: {exc}") from exc
        if not frames:
            raise BaselineDecodeError(f"{self.family} clip: {len(data)} bytes decoded to no pictures (not a valid stream)")
        if any(f.shape != frames[0].shape for f in frames):
            raise BaselineDecodeError(f"{self.family} clip: pictures of different sizes in one clip")
        return np.ascontiguousarray(np.stack(frames))



def decode_annexb_frames(data: bytes, decoder: str = "h264") -> list[np.ndarray]:
    """Every picture of an Annex-B elementary stream as uint8 H,W,3 RGB, on one thread.

    Shared by the bench baselines and the stae-roi264 payload so both decode H.264 the same way;
    FFmpeg's errors (av.error.FFmpegError, ValueError) propagate for the caller to name.
    """
    import av

    ctx = av.CodecContext.create(decoder, "r")
    ctx.thread_count = 1
    frames: list[np.ndarray] = []
    for packet in ctx.parse(data) + ctx.parse(None):
        frames.extend(f.to_ndarray(format="rgb24") for f in ctx.decode(packet))
    frames.extend(f.to_ndarray(format="rgb24") for f in ctx.decode(None))
    return frames

class H264Codec(VideoCodec):
    """libx264; decoded with FFmpeg's h264 decoder."""

    family = "h264"
    encoder = "libx264"
    decoder = "h264"


class H265Codec(VideoCodec):
    """libx265 (no thread pool, one frame thread, quiet); decoded with FFmpeg's hevc decoder."""

    family = "h265"
    encoder = "libx265"
    decoder = "hevc"
    hevc = True

    def _options(self, frames: int) -> dict[str, str]:
        opts = super()._options(frames)
        opts["x265-params"] = f"log-level=error:pools=none:frame-threads=1:info=0:keyint={frames}"
        return opts
