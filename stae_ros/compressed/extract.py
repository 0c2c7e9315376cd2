"""One bounded pass over an H.264 GOP -> the compressed-domain inputs of the h264-cd classifier.

What the classifier reads of a GOP of T pictures (one IDR, T-1 P pictures, as the camera's libx264
writes with ``tune=zerolatency``):

- the **I-frame**, as a small RGB image (``FeatureSpec.iframe_size``);
- a **motion-vector field** per P-frame: libavcodec exports the vectors of every inter block as
  side data when the decoder is opened with ``flags2=+export_mvs``; they are painted onto a grid
  of ``block`` x ``block`` cells (default 4: the smallest H.264 partition) as the displacement of
  the block's content since the reference picture, in pixels of the model's clip size;
- a **residual map** per P-frame: the mean absolute difference, per grid cell, between the
  picture's luma and the previous picture's luma *motion-compensated with those vectors*
  (bilinear warp with one vector per cell).

Why the residual is recomputed rather than read: libavcodec exports motion vectors but not the
coded residual (the dequantised transform coefficients never leave the decoder). The decoder has
reconstructed every picture anyway (it must, to predict the next one), so "decoded P-frame minus
its motion-compensated reference" costs one warp and one subtraction of a luma plane per picture.
It differs from the coded residual in three documented ways: bilinear instead of H.264's 6-tap
quarter-pel filter, one vector per cell (exact for every H.264 partition at the default 4x4
cells), and intra blocks inside P-frames (which export no vector) are compared with the unmoved
reference. No RGB conversion is done except for the I-frame; the T luma planes kept for the
residual are a third of the RGB clip's size.

Bounds, before any work they would cost: :func:`stae_ros.roi.h264.check_nals` (NAL count for T
pictures, allowed NAL types, every SPS declaring exactly the expected coded size, 8-bit 4:2:0
progressive); then each decoded picture's size and format is checked before it is read, the
first picture must be intra, and decoding stops at the first picture beyond T.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

__all__ = ["FeatureSpec", "CompressedGop", "CompressedStreamError", "extract_gop", "mv_field", "residual_map",
           "MV_NORM", "MV_DTYPE"]

#: motion vectors are divided by this before the network (pixels at the model's clip size)
MV_NORM = 4.0


class CompressedStreamError(ValueError):
    """An H.264 GOP the compressed-domain reader refuses: malformed, over its limits, or not a GOP."""


@dataclass(frozen=True)
class FeatureSpec:
    """What the classifier reads: T pictures of ``height`` x ``width`` (the model's clip size),
    motion and residual on a grid of ``block``-pixel cells, the I-frame at ``iframe_size`` square."""

    frames: int
    height: int
    width: int
    block: int = 4
    iframe_size: int = 56

    def __post_init__(self) -> None:
        if self.frames < 2 or self.height < 16 or self.width < 16:
            raise CompressedStreamError(f"feature spec needs >= 2 frames of >= 16x16 pixels; got {self}")
        if self.block < 1 or self.height % self.block or self.width % self.block:
            raise CompressedStreamError(f"feature block {self.block} must divide the {self.height}x{self.width} clip")
        if self.iframe_size < 8:
            raise CompressedStreamError(f"feature iframe_size {self.iframe_size} must be >= 8")

    @property
    def grid(self) -> tuple[int, int]:
        return self.height // self.block, self.width // self.block


@dataclass
class CompressedGop:
    """The classifier's inputs of one GOP: ``iframe`` uint8 S,S,3; ``mv`` float32 T-1,2,gh,gw (dx, dy
    in pixels / MV_NORM); ``residual`` float32 T-1,1,gh,gw (mean |luma error| / 255 per cell)."""

    iframe: np.ndarray
    mv: np.ndarray
    residual: np.ndarray


#: PyAV's side-data key (looked up once: converting the name costs an enum lookup per picture)
_MOTION_VECTORS: object = None
#: the smallest H.264 inter partition: vectors are painted at this resolution, then pooled to the cells
_PART = 4
#: numpy dtype of libavcodec's AVMotionVector (as PyAV 18 exports it)
MV_DTYPE = np.dtype({"names": ["source", "w", "h", "src_x", "src_y", "dst_x", "dst_y", "flags", "motion_x",
                               "motion_y", "motion_scale"],
                     "formats": ["<i4", "u1", "u1", "<i2", "<i2", "<i2", "<i2", "<u8", "<i4", "<i4", "<u2"],
                     "offsets": [0, 4, 5, 6, 8, 10, 12, 16, 24, 28, 32], "itemsize": 40})


def _column(raw: np.ndarray, offset: int, dtype: str) -> np.ndarray:
    """One field of AVMotionVector records (uint8 N,40) as a plain array."""
    size = np.dtype(dtype).itemsize
    return np.ascontiguousarray(raw[:, offset : offset + size]).view(dtype)[:, 0]


def mv_field(vectors: list[bytes | np.ndarray | None], height: int, width: int, cell: int) -> np.ndarray:
    """Block motion vectors of P-frames (one buffer of libavcodec AVMotionVector records per frame,
    None = none) -> float32 P,2,height/cell,width/cell.

    Each cell holds the displacement (dst - src, pixels) of the content it shows since the past
    reference, i.e. ``-motion / motion_scale``. Vectors are painted at 4x4-pixel resolution (every
    H.264 partition covers whole 4x4 units), then averaged over each cell (``cell`` > 4) or repeated
    (``cell`` < 4, a camera coding at a reduced size). Cells with no vector (intra blocks, I-frames)
    hold 0. Vectors from a future reference (B-frames, never written by the camera) are ignored.
    One vectorised pass over the raw records of the whole GOP: per-frame or per-field numpy work
    would cost more than the decode itself.
    """
    n = len(vectors)
    ph, pw = height // _PART, width // _PART
    fine = np.zeros((2, n, ph * pw), np.float32)
    bufs = [bytes(v) if v is not None else b"" for v in vectors]
    counts = np.asarray([len(b) // MV_DTYPE.itemsize for b in bufs], np.int64)
    if counts.sum():
        raw = np.frombuffer(b"".join(bufs), np.uint8).reshape(-1, MV_DTYPE.itemsize)
        frame = np.repeat(np.arange(n, dtype=np.int64), counts)
        keep = _column(raw, 0, "<i4") < 0  # source: -1 = past reference
        raw, frame = raw[keep], frame[keep]
        w, h = raw[:, 4].astype(np.int64), raw[:, 5].astype(np.int64)
        scale = np.maximum(_column(raw, 32, "<u2").astype(np.float32), 1.0)
        dx = -_column(raw, 24, "<i4") / scale
        dy = -_column(raw, 28, "<i4") / scale
        x0 = (_column(raw, 10, "<i2").astype(np.int64) - w // 2) // _PART
        y0 = (_column(raw, 12, "<i2").astype(np.int64) - h // 2) // _PART
        bw, bh = np.maximum(w // _PART, 1), np.maximum(h // _PART, 1)
        for kw, kh in set(zip(bw.tolist(), bh.tolist())):
            sel = np.flatnonzero((bw == kw) & (bh == kh))
            oy, ox = np.divmod(np.arange(kw * kh), kw)
            cy = y0[sel, None] + oy[None, :]
            cx = x0[sel, None] + ox[None, :]
            ok = (cx >= 0) & (cx < pw) & (cy >= 0) & (cy < ph)
            where = (frame[sel, None] * (ph * pw) + cy * pw + cx)[ok]
            fine[0].reshape(-1)[where] = np.broadcast_to(dx[sel, None], cy.shape)[ok]
            fine[1].reshape(-1)[where] = np.broadcast_to(dy[sel, None], cy.shape)[ok]
    fine = fine.reshape(2, n, ph, pw).transpose(1, 0, 2, 3)
    if cell == _PART:
        return np.ascontiguousarray(fine)
    if cell > _PART:
        k = cell // _PART
        return fine.reshape(n, 2, height // cell, k, width // cell, k).mean(axis=(3, 5))
    k = _PART // cell
    return np.ascontiguousarray(np.repeat(np.repeat(fine, k, axis=2), k, axis=3))


@lru_cache(maxsize=8)
def _pixel_grid(p: int, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel x of every row and pixel y of every frame's rows offset into the stacked planes (float32
    p*h,w each; y is ``t*h + row`` for frame t); read-only, shared by every GOP of that size."""
    xs = np.ascontiguousarray(np.broadcast_to(np.arange(w, dtype=np.float32), (p * h, w)))
    ys = np.ascontiguousarray(np.broadcast_to(np.arange(h, dtype=np.float32)[:, None], (h, w)))
    for g in (xs, ys):
        g.setflags(write=False)
    return xs, ys


def residual_map(lumas: np.ndarray, fields: np.ndarray, cell: int) -> np.ndarray:
    """Mean |luma_t - luma_(t-1) warped by field_t| per cell, /255: float32 P,1,gh,gw for luma planes
    T,H,W uint8 and fields P=T-1,2,gh,gw (pixels). The per-cell vectors are spread to pixels by an
    integer nearest-neighbour resize, the stacked references warped by one remap, and the cell means
    taken by one area resize (OpenCV throughout: numpy's full-size broadcasts and a Python loop per
    frame cost more than the decode itself)."""
    t, h, w = lumas.shape
    p, _, gh, gw = fields.shape
    xs, ys = _pixel_grid(p, h, w)
    # (p*gh, gw) per component -> (p*h, w): every cell's vector repeated over its cell x cell pixels
    dx = cv2.resize(np.ascontiguousarray(fields[:, 0]).reshape(p * gh, gw), (w, p * h), interpolation=cv2.INTER_NEAREST)
    dy = cv2.resize(np.ascontiguousarray(fields[:, 1]).reshape(p * gh, gw), (w, p * h), interpolation=cv2.INTER_NEAREST)
    map_x = cv2.subtract(xs, dx)
    # each frame's rows sample only its own reference (clamped to it: the border is replicated)
    map_y = np.subtract(ys, dy.reshape(p, h, w))
    np.clip(map_y, 0, h - 1, out=map_y)
    map_y += (np.arange(p, dtype=np.float32) * h)[:, None, None]
    refs = lumas[:-1].reshape(p * h, w)
    warped = cv2.remap(refs, map_x, map_y.reshape(p * h, w), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    err = cv2.absdiff(lumas[1:].reshape(p * h, w), warped).astype(np.float32)
    cells = cv2.resize(err, (gw, p * gh), interpolation=cv2.INTER_AREA) if cell > 1 else err
    return (cells * np.float32(1.0 / 255.0)).reshape(p, 1, gh, gw)


def extract_gop(stream: bytes, spec: FeatureSpec, coded_height: int | None = None,
                coded_width: int | None = None, max_nals: int | None = None) -> CompressedGop:
    """An Annex-B GOP coded at ``coded_height`` x ``coded_width`` (default: the spec's size) -> its
    :class:`CompressedGop` at the spec's size. Raises only CompressedStreamError (bounds and
    malformed streams), naming what was wrong."""
    import av

    from stae_ros.data.av_frames import FrameConverter
    from stae_ros.roi.errors import RoiError
    from stae_ros.roi.h264 import check_nals

    global _MOTION_VECTORS
    if _MOTION_VECTORS is None:
        from av.sidedata.sidedata import Type

        _MOTION_VECTORS = Type.MOTION_VECTORS
    T = spec.frames
    ch, cw = coded_height or spec.height, coded_width or spec.width
    gh, gw = spec.grid
    if ch % gh or cw % gw or ch // gh != cw // gw:
        raise CompressedStreamError(f"coded size {ch}x{cw} does not map onto the {gh}x{gw} feature grid")
    cell = ch // gh
    to_model = spec.height / ch  # vectors in pixels of the model's clip size
    data = bytes(stream)
    if not (data.startswith(b"\x00\x00\x01") or data.startswith(b"\x00\x00\x00\x01")):
        raise CompressedStreamError(f"H.264 stream does not start with a start code (got {data[:4].hex()})")
    try:
        check_nals(data, T, ch, cw, max_nals)
    except RoiError as exc:
        raise CompressedStreamError(str(exc)) from exc  # its text already names the H.264 fault
    lumas = np.empty((T, ch, cw), np.uint8)
    vectors: list[bytes | None] = []
    iframe: np.ndarray | None = None
    count = 0
    try:
        ctx = av.CodecContext.create("h264", "r")
        ctx.options = {"flags2": "+export_mvs"}
        ctx.thread_count = 1
        for packet in ctx.parse(data) + ctx.parse(None) + [None]:
            for frame in ctx.decode(packet):
                if (frame.width, frame.height) != (cw, ch) or frame.format.name != "yuv420p":
                    raise CompressedStreamError(f"H.264 picture {count} is {frame.width}x{frame.height} "
                                                f"{frame.format.name}; header says {cw}x{ch} yuv420p")
                if count >= T:
                    raise CompressedStreamError(f"H.264 bitstream holds more than the {T} frames its header says")
                plane = frame.planes[0]
                lumas[count] = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:ch, :cw]
                if count == 0:
                    if int(frame.pict_type) != int(av.video.frame.PictureType.I):
                        raise CompressedStreamError(f"the GOP starts with a {frame.pict_type!r} picture, not an I-frame")
                    rgb = FrameConverter().to_rgb(frame)
                    iframe = cv2.resize(rgb, (spec.iframe_size, spec.iframe_size), interpolation=cv2.INTER_AREA)
                else:
                    side = frame.side_data.get(_MOTION_VECTORS)
                    vectors.append(None if side is None else bytes(side))
                count += 1
    except CompressedStreamError:
        raise
    except Exception as exc:  # noqa: BLE001 - libav raises FFmpegError, ValueError, ...: all mean a bad stream
        raise CompressedStreamError(f"H.264 bitstream could not be decoded: {type(exc).__name__}: {exc}") from exc
    if count != T or iframe is None:
        raise CompressedStreamError(f"H.264 bitstream decoded to {count} frames; header says {T}")
    fields = mv_field(vectors, ch, cw, cell)
    res = residual_map(lumas, fields, cell)
    mv = fields * np.float32(to_model / MV_NORM)
    return CompressedGop(iframe=iframe, mv=mv, residual=res)
