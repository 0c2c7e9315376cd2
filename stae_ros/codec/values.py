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
natural images.
"""

from __future__ import annotations

import numpy as np

from .errors import CorruptPayloadError, SizeMismatchError

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
}
# Layouts that first decorrelate colour ("subtract green", as WebP lossless does): channels 0
# and 2 are coded as their difference from channel 1 (mod 2**bits). Needs C >= 3.
COLOUR_LAYOUTS = frozenset({"planar_delta_sg", "planar_temporal_sg"})


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


def _temporal_sources(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """For each kept value: whether it is temporally predicted, and from which value index.

    Returns (is_temporal bool (N,), src int64 (N,) valid where is_temporal, per-frame lists of
    the value indices that are temporally predicted in that kept frame).
    """
    k = mask.shape[0]
    flat = mask.reshape(k, -1)
    rank = np.cumsum(flat.reshape(-1), dtype=np.int64).reshape(flat.shape) - 1
    n = int(rank.reshape(-1)[-1] + 1) if rank.size else 0
    is_t = np.zeros(n, dtype=bool)
    src = np.zeros(n, dtype=np.int64)
    per_frame: list[np.ndarray] = []
    for j in range(1, k):
        both = flat[j] & flat[j - 1]
        dst = rank[j][both]
        is_t[dst] = True
        src[dst] = rank[j - 1][both]
        per_frame.append(dst)
    return is_t, src, per_frame


def _delta_enc(sym: np.ndarray, modmask: int) -> np.ndarray:
    """Residual of each row vs the previous row along axis 0, mod 2**bits."""
    prev = np.zeros_like(sym)
    prev[1:] = sym[:-1]
    return ((sym.astype(np.int16) - prev.astype(np.int16)) & modmask).astype(np.uint8)


def _delta_dec(res: np.ndarray, modmask: int) -> np.ndarray:
    # uint8 cumsum wraps mod 256, and 2**bits divides 256, so masking afterwards is exact.
    return (np.cumsum(res, axis=0, dtype=np.uint8) & modmask).astype(np.uint8)


def _subtract_green(sym: np.ndarray, modmask: int, sign: int) -> np.ndarray:
    """sign=-1: (R,G,B) -> (R-G, G, B-G); sign=+1: the inverse (all mod 2**bits)."""
    out = sym.copy()
    g = sym[:, 1].astype(np.int16)
    for ch in (0, 2):
        out[:, ch] = ((sym[:, ch].astype(np.int16) + sign * g) & modmask).astype(np.uint8)
    return out


def encode_values(symbols: np.ndarray, mask: np.ndarray, layout: str, bits: int) -> bytes:
    """Serialise (N,C) uint8 symbols with the named byte layout (N*C bytes, before zstd)."""
    bits = _check_bits(bits)
    modmask = (1 << bits) - 1
    sym = np.ascontiguousarray(symbols, dtype=np.uint8)
    if layout in COLOUR_LAYOUTS:
        if sym.ndim != 2 or sym.shape[1] < 3:
            raise ValueError(f"{layout} needs at least 3 channels")
        sym = _subtract_green(sym, modmask, -1)
        layout = layout[: -len("_sg")]
    if layout == "planar":
        return np.ascontiguousarray(sym.T).tobytes()
    if layout == "interleaved":
        return sym.tobytes()
    if layout == "planar_delta":
        return np.ascontiguousarray(_delta_enc(sym, modmask).T).tobytes()
    if layout == "interleaved_delta":
        return _delta_enc(sym, modmask).tobytes()
    if layout == "planar_temporal":
        is_t, src, _ = _temporal_sources(mask)
        res = np.empty_like(sym)
        spatial = ~is_t
        res[spatial] = _delta_enc(sym[spatial], modmask)
        res[is_t] = ((sym[is_t].astype(np.int16) - sym[src[is_t]].astype(np.int16)) & modmask).astype(np.uint8)
        return np.ascontiguousarray(res.T).tobytes()
    raise ValueError(f"unknown value layout {layout!r}")


def decode_values(data: bytes, layout: str, mask: np.ndarray, n: int, c: int, bits: int) -> np.ndarray:
    """Inverse of :func:`encode_values`: returns (N,C) uint8 symbols, each < 2**bits."""
    bits = _check_bits(bits)
    modmask = (1 << bits) - 1
    if len(data) != n * c:
        raise SizeMismatchError(f"value section has {len(data)} bytes, expected N*C = {n}*{c}")
    if layout in COLOUR_LAYOUTS:
        if c < 3:
            raise CorruptPayloadError(f"{layout} values with only {c} channels")
        base = decode_values(data, layout[: -len("_sg")], mask, n, c, bits)
        return _subtract_green(base, modmask, +1)
    buf = np.frombuffer(data, dtype=np.uint8)
    if bits < 8 and buf.size and int(buf.max()) > modmask:
        raise CorruptPayloadError(f"value symbol {int(buf.max())} does not fit in {bits} bits")
    if layout in ("planar", "planar_delta", "planar_temporal"):
        sym = buf.reshape(c, n).T.copy()
    elif layout in ("interleaved", "interleaved_delta"):
        sym = buf.reshape(n, c).copy()
    else:  # pragma: no cover - caller maps ids to names first
        raise ValueError(f"unknown value layout {layout!r}")
    if layout.endswith("_delta"):
        return _delta_dec(sym, modmask)
    if layout == "planar_temporal":
        is_t, src, per_frame = _temporal_sources(mask)
        out = np.empty_like(sym)
        spatial = ~is_t
        out[spatial] = _delta_dec(sym[spatial], modmask)
        for dst in per_frame:  # frame j's sources lie in frame j-1, already complete
            out[dst] = ((sym[dst].astype(np.int16) + out[src[dst]].astype(np.int16)) & modmask).astype(np.uint8)
        return out
    return sym
