"""H.264 / H.265 of the whole clip as one GOP, as ffmpeg_image_transport would send it.

Container choice (so the byte count is honest): no container at all. The encoder's packets are
concatenated into a raw Annex-B elementary stream (start codes + SPS/PPS(/VPS) + slices), which is
what an RTP/ROS packetiser carries and what the decoder's parser reads back. The encoders' SEI
messages (x264/x265 write their version and full option string, ~600 B and ~2.3 kB per stream)
are stripped: the decoder does not need them and a deployment would not send them. The clip is one
GOP (keyint = T, one IDR), ``tune=zerolatency`` (no B-frames, no lookahead), 4:2:0, one thread.
The encoder stays open from clip to clip, as on a streaming robot (see :class:`VideoCodec`).
"""

from __future__ import annotations

import fractions
import re
import threading

import numpy as np

from stae_ros.data.av_frames import FrameConverter

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


class _OpenEncoder:
    """One libav encoder kept open across clips, as a streaming camera keeps it.

    Each clip starts with a forced IDR and its own parameter sets (x264 repeats them at every IDR,
    x265 with ``repeat-headers``), so every clip decodes alone; with ``tune=zerolatency`` a frame's
    packet comes out of ``encode`` at once, so a clip's bytes are complete without a flush that
    would end the stream. The encoder's rate control does remember earlier clips, so a clip's size
    depends by a few per cent on what came before it, as it does on a robot.
    """

    def __init__(self, name: str, width: int, height: int, frames: int, options: dict[str, str]) -> None:
        import av

        cc = av.CodecContext.create(name, "w")
        cc.width, cc.height = width, height
        cc.pix_fmt = "yuv420p"
        cc.time_base = fractions.Fraction(1, 25)
        cc.gop_size = frames
        cc.thread_count = 1
        cc.options = dict(options, **{"forced-idr": "1"})
        self.key = (width, height, frames)
        self._cc = cc
        self._pts = 0

    def encode_clip(self, frames: list) -> tuple[bytes, bool]:
        """The clip's packets, and whether the encoder gave one packet per frame (False: reopen)."""
        from av.video.frame import PictureType

        out, packets = bytearray(), 0
        for i, frame in enumerate(frames):
            frame.pts = self._pts
            self._pts += 1
            if i == 0:
                frame.pict_type = PictureType.I
            for packet in self._cc.encode(frame):
                out += bytes(packet)
                packets += 1
        if packets == len(frames):
            return bytes(out), True
        return bytes(out) + self.finish(), False  # an encoder that holds frames back: flush, start anew

    def finish(self) -> bytes:
        """End the stream: whatever the encoder still holds."""
        return b"".join(bytes(packet) for packet in self._cc.encode(None))


class VideoCodec(ClipCodec):
    """One libav encoder (libx264/libx265) at a fixed CRF and preset, single-threaded.

    ``stream=True`` (the default) keeps the encoder open across clips, as a robot streaming
    H.264 does: opening libx264 costs more than encoding a 16x64x64 clip at ultrafast (2.8 vs
    1.2 ms per clip on this project's bench host), and a camera pays it once, not per clip.
    ``stream=False`` opens and flushes an encoder per clip: every clip's bytes are then a pure
    function of the clip. Decoding always opens a decoder per clip (0.35 ms with the RGB
    conversion at 64x64), so a damaged clip cannot spoil the next.
    """

    family = "video"
    encoder = ""
    decoder = ""
    hevc = False

    def __init__(self, crf: int = 23, preset: str = "medium", stream: bool = True, scale: float = 1.0) -> None:
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0.0 < float(scale) <= 1.0:
            raise ClipFormatError(f"scale must be a number in (0, 1], got {scale!r}")
        if not isinstance(crf, int) or not 0 <= crf <= 51:
            raise ClipFormatError(f"CRF must be an int in 0..51, got {crf!r}")
        if preset not in PRESETS:
            raise ClipFormatError(f"unknown x264/x265 preset {preset!r}; use one of {', '.join(PRESETS)}")
        if not isinstance(stream, bool):
            raise ClipFormatError(f"stream must be true or false, got {stream!r}")
        super().__init__(crf=crf, preset=preset, **({} if stream else {"stream": False}),
                         **({} if float(scale) == 1.0 else {"scale": float(scale)}))
        self.crf = crf
        #: the camera codes H*scale x W*scale pictures (area resize) and the edge scales them back up
        #: (bilinear) to round(h / scale): the down-scaled rate-accuracy points of the bench
        self.scale = float(scale)
        self.preset = preset
        self.stream = stream
        self._lock = threading.Lock()
        self._open: _OpenEncoder | None = None
        self._rgb: FrameConverter | None = None

    @property
    def name(self) -> str:
        return (f"{self.family}-{self.preset}-crf{self.crf}" + ("" if self.stream else "-perclip")
                + ("" if self.scale == 1.0 else f"-x{self.scale:g}"))

    def _options(self, frames: int) -> dict[str, str]:
        return {"crf": str(self.crf), "preset": self.preset, "tune": "zerolatency"}

    def _converter(self) -> FrameConverter:
        if self._rgb is None:
            self._rgb = FrameConverter()
        return self._rgb

    def encode(self, clip: np.ndarray) -> bytes:
        clip = check_clip(clip, even=True)
        if self.scale != 1.0:
            clip = _resize(clip, _even(clip.shape[1] * self.scale), _even(clip.shape[2] * self.scale), up=False)
        t, h, w, _ = clip.shape
        with self._lock:
            frames = [self._converter().from_rgb(clip[i]) for i in range(t)]
            enc = self._open
            if enc is None or enc.key != (w, h, t):
                enc = _OpenEncoder(self.encoder, w, h, t, self._options(t))
            try:
                data, reusable = enc.encode_clip(frames)
            except Exception:
                self._open = None  # a failure mid-clip leaves the encoder in an unknown state
                raise
            self._open = enc if self.stream and reusable else None
            if reusable and not self.stream:
                data += enc.finish()
        return strip_sei(data, self.hevc)

    def decode(self, data: bytes) -> np.ndarray:
        import av

        if not isinstance(data, (bytes, bytearray)) or not data:
            raise BaselineDecodeError(f"{self.family} clip: empty or non-bytes input")
        if not (data.startswith(b"\x00\x00\x01") or data.startswith(b"\x00\x00\x00\x01")):
            raise BaselineDecodeError(f"{self.family} clip: not an Annex-B stream (no start code at byte 0, got {bytes(data[:4]).hex()})")
        try:
            with self._lock:
                frames = decode_annexb_frames(bytes(data), self.decoder, self._converter())
        except (av.error.FFmpegError, ValueError) as exc:
            raise BaselineDecodeError(f"{self.family} clip: decoder rejected the stream: {exc}") from exc
        if not frames:
            raise BaselineDecodeError(f"{self.family} clip: {len(data)} bytes decoded to no pictures (not a valid stream)")
        if any(f.shape != frames[0].shape for f in frames):
            raise BaselineDecodeError(f"{self.family} clip: pictures of different sizes in one clip")
        clip = np.stack(frames)
        if self.scale != 1.0:
            clip = _resize(clip, round(clip.shape[1] / self.scale), round(clip.shape[2] / self.scale), up=True)
        return np.ascontiguousarray(clip)


def _even(v: float) -> int:
    return max(2, 2 * int(round(v / 2.0)))


def _resize(clip: np.ndarray, h: int, w: int, up: bool) -> np.ndarray:
    """Every frame of a T,H,W,3 clip resized to h x w (area filter down, bilinear up)."""
    import cv2

    interp = cv2.INTER_LINEAR if up else cv2.INTER_AREA
    return np.stack([cv2.resize(f, (w, h), interpolation=interp) for f in clip])



def decode_annexb_frames(data: bytes, decoder: str = "h264", rgb: FrameConverter | None = None) -> list[np.ndarray]:
    """Every picture of an Annex-B elementary stream as uint8 H,W,3 RGB, on one thread.

    Shared by the bench baselines and the stae-roi264 payload so both decode H.264 the same way;
    FFmpeg's errors (av.error.FFmpegError, ValueError) propagate for the caller to name. ``rgb``:
    a converter to reuse across clips (one thread at a time); without it one is made per call.
    """
    import av

    ctx = av.CodecContext.create(decoder, "r")
    ctx.thread_count = 1
    rgb = rgb or FrameConverter()
    frames: list[np.ndarray] = []
    for packet in ctx.parse(data) + ctx.parse(None):
        frames.extend(rgb.to_rgb(f) for f in ctx.decode(packet))
    frames.extend(rgb.to_rgb(f) for f in ctx.decode(None))
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
        opts["x265-params"] = f"log-level=error:pools=none:frame-threads=1:info=0:keyint={frames}:repeat-headers=1:open-gop=0"
        return opts
