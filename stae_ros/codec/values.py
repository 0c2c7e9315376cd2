"""Value quantisation and the byte layouts of the kept pixel values (before zstd).

Quantisation keeps the ``bits`` most significant bits of each uint8 value (``bits=8`` is
lossless). Dequantisation puts the value back at the middle of its bin, so the reconstruction
error is at most ``2**(7-bits)`` (e.g. 8 for 4 bits).

Layouts trade zstd's view of the data: *planar* puts each channel's N symbols together,
*interleaved* keeps the pixels' C symbols together; *delta* replaces each symbol by its
difference (mod 2**bits) from the previous kept symbol of the same channel, and *temporal*
predicts a pixel from the same pixel in the previous kept frame when that pixel was kept there
(falling back to the delta predictor otherwise). Prediction turns smooth content into many
small residuals, which zstd codes in fewer bits. The ``_sg`` variants first replace R and B by
R-G and B-G ("subtract green"), which removes most of the correlation between channels of
natural images. ``med``/``tmed`` predict each pixel from its kept spatial neighbours
(JPEG-LS's median edge detector; ``tmed`` prefers the previous kept frame), see spatial.py.
"""

from __future__ import annotations

import numpy as np

from .errors import CorruptPayloadError, SizeMismatchError
from .spatial import decode_spatial, encode_spatial

__all__ = [
    "BYTE_VALUE_LAYOUTS",
    "COLOUR_LAYOUTS",
    "quantise",
    "dequantise",
    "max_quantisation_error",
    "encode_values",
    "decode_values",
]

# wire id -> name for the byte-level value layouts (image layouts live in images.py).
BYTE_VALUE_LAYOUTS: dict[int, str] = {
    0: "planar",
    1: "interleaved",
    2: "planar_delta",
    3: "interleaved_delta",
    4: "planar_temporal",
    5: "planar_delta_sg",
    6: "planar_temporal_sg",
    7: "planar_med_sg",
    8: "planar_tmed_sg",
}
# Layouts that first decorrelate colour ("subtract green", as WebP lossless does): channels 0
# and 2 are coded as their difference from channel 1 (mod 2**bits). Needs C >= 3.
COLOUR_LAYOUTS = frozenset({"planar_delta_sg", "planar_temporal_sg", "planar_med_sg", "planar_tmed_sg"})


def _check_bits(bits: int) -> int:
    if isinstance(bits, bool) or int(bits) != bits or not 1 <= int(bits) <= 8:
        raise ValueError(f"quantisation bits must be an integer in [1, 8], got {bits!r}")
    return int(bits)


def quantise(values: np.ndarray, bits: int) -> np.ndarray:
    """uint8 values -> uint8 symbols in [0, 2**bits) (the top ``bits`` bits)."""
    bits = _check_bits(bits)
    return (np.asarray(values, dtype=np.uint8) >> np.uint8(8 - bits)).astype(np.uint8)


def dequantise(symbols: np.ndarray, bits: int) -> np.ndarray:
    """uint8 symbols -> uint8 values at the centre of each quantisation bin."""
    bits = _check_bits(bits)
    s = np.asarray(symbols, dtype=np.uint8)
    if bits == 8:
        return s.copy()
    shift = 8 - bits
    return ((s.astype(np.uint16) << shift) + (1 << (shift - 1))).astype(np.uint8)


def max_quantisation_error(bits: int) -> int:
    """Largest |value - dequantise(quantise(value))| for this many bits."""
    bits = _check_bits(bits)
    return 0 if bits == 8 else 1 << (7 - bits)


def _temporal_sources(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Which kept values are predicted from the previous kept frame, and from which value.

    Returns (indices of the non-temporal values, indices ``dst`` of the temporal values, the
    index of each one's source value, the kept frame of each ``dst``). Found from the kept
    positions alone (a search per kept value), not from a rank of every pixel of the clip: the
    camera pays this per clip, and at p = 5% the clip has 20x more pixels than kept values.
    """
    k = mask.shape[0]
    hw = mask[0].size if k else 0
    flat = np.ascontiguousarray(mask, dtype=bool).reshape(-1)
    pos = np.flatnonzero(flat)
    prev = pos - hw
    is_t = prev >= 0
    is_t &= flat[np.where(is_t, prev, 0)]
    dst = np.flatnonzero(is_t)
    return np.flatnonzero(~is_t), dst, np.searchsorted(pos, prev[dst]), pos[dst] // max(hw, 1)


def _delta_enc(sym: np.ndarray, modmask: int) -> np.ndarray:
    """Residual of each symbol vs the previous one along the last axis, mod 2**bits."""
    res = sym.copy()
    res[..., 1:] -= sym[..., :-1]  # uint8 arithmetic wraps mod 256; 2**bits divides 256
    res &= modmask
    return res


def _delta_dec(res: np.ndarray, modmask: int) -> np.ndarray:
    return np.cumsum(res, axis=-1, dtype=np.uint8) & np.uint8(modmask)


def _subtract_green(planes: np.ndarray, modmask: int, sign: int) -> np.ndarray:
    """sign=-1: (R,G,B) -> (R-G, G, B-G); sign=+1: the inverse (planar (C,N), mod 2**bits)."""
    out = planes.copy()
    for ch in (0, 2):
        if sign < 0:
            out[ch] -= planes[1]
        else:
            out[ch] += planes[1]
        out[ch] &= modmask
    return out


def _temporal_predictors(mask: np.ndarray) -> np.ndarray:
    """For each kept value, the index of the value it is predicted from; N for the first value.

    The encoder's view of :func:`_temporal_sources`: the same pixel of the previous kept frame
    when it was kept there, else the previous non-temporal value. The residuals are then a
    single gather-and-subtract (the camera pays this per clip; the decoder must go frame by
    frame and uses :func:`_temporal_sources`).
    """
    spatial, dst, src, _ = _temporal_sources(mask)
    pred = np.empty(spatial.size + dst.size, dtype=np.int64)
    pred[dst] = src
    if spatial.size:  # starts with value 0: the first kept pixel has no kept predecessor
        pred[spatial[1:]] = spatial[:-1]
        pred[spatial[0]] = pred.size
    return pred


def _temporal_enc(planes: np.ndarray, mask: np.ndarray, modmask: int) -> np.ndarray:
    padded = np.concatenate([planes, np.zeros((planes.shape[0], 1), dtype=planes.dtype)], axis=1)
    return (planes - np.take(padded, _temporal_predictors(mask), axis=1)) & modmask  # uint8 wraps mod 256


def _temporal_dec(res: np.ndarray, mask: np.ndarray, modmask: int) -> np.ndarray:
    spatial, dst, src, frame = _temporal_sources(mask)
    out = np.empty_like(res)
    out[:, spatial] = _delta_dec(res[:, spatial], modmask)
    bounds = np.searchsorted(frame, np.arange(1, mask.shape[0] + 1))
    for a, b in zip(bounds[:-1], bounds[1:]):  # frame j's sources lie in frame j-1, already complete
        d = dst[a:b]
        out[:, d] = (res[:, d] + out[:, src[a:b]]) & modmask
    return out


def encode_values(symbols: np.ndarray, mask: np.ndarray, layout: str, bits: int) -> bytes:
    """Serialise (N,C) uint8 symbols with the named byte layout (N*C bytes, before zstd)."""
    bits = _check_bits(bits)
    modmask = (1 << bits) - 1
    sym = np.ascontiguousarray(symbols, dtype=np.uint8)
    if layout == "interleaved":
        return sym.tobytes()
    if layout == "interleaved_delta":
        return np.ascontiguousarray(_delta_enc(sym.T, modmask).T).tobytes()
    planes = np.ascontiguousarray(sym.T)  # (C, N)
    if layout in COLOUR_LAYOUTS:
        if planes.shape[0] < 3:
            raise ValueError(f"{layout} needs at least 3 channels")
        planes = _subtract_green(planes, modmask, -1)
        layout = layout[: -len("_sg")]
    if layout == "planar":
        return planes.tobytes()
    if layout == "planar_delta":
        return _delta_enc(planes, modmask).tobytes()
    if layout == "planar_temporal":
        return _temporal_enc(planes, mask, modmask).tobytes()
    if layout in ("planar_med", "planar_tmed"):
        return encode_spatial(planes, mask, modmask, temporal_first=layout == "planar_tmed").tobytes()
    raise ValueError(f"unknown value layout {layout!r}")


def decode_values(data: bytes, layout: str, mask: np.ndarray, n: int, c: int, bits: int) -> np.ndarray:
    """Inverse of :func:`encode_values`: returns (N,C) uint8 symbols, each < 2**bits."""
    bits = _check_bits(bits)
    modmask = (1 << bits) - 1
    if len(data) != n * c:
        raise SizeMismatchError(f"value section has {len(data)} bytes, expected N*C = {n}*{c}")
    if layout not in BYTE_VALUE_LAYOUTS.values():  # pragma: no cover - caller maps ids to names first
        raise ValueError(f"unknown value layout {layout!r}")
    buf = np.frombuffer(data, dtype=np.uint8)
    if bits < 8 and buf.size and int(buf.max()) > modmask:
        raise CorruptPayloadError(f"value symbol {int(buf.max())} does not fit in {bits} bits")
    if layout == "interleaved":
        return buf.reshape(n, c).copy()
    if layout == "interleaved_delta":
        return np.ascontiguousarray(_delta_dec(buf.reshape(n, c).T, modmask).T)
    colour = layout in COLOUR_LAYOUTS
    if colour:
        if c < 3:
            raise CorruptPayloadError(f"{layout} values with only {c} channels")
        layout = layout[: -len("_sg")]
    planes = buf.reshape(c, n)
    if layout == "planar_delta":
        planes = _delta_dec(planes, modmask)
    elif layout == "planar_temporal":
        planes = _temporal_dec(planes, mask, modmask)
    elif layout in ("planar_med", "planar_tmed"):
        planes = decode_spatial(planes, mask, modmask, temporal_first=layout == "planar_tmed")
    if colour:
        planes = _subtract_green(planes, modmask, +1)
    return np.ascontiguousarray(planes.T)
