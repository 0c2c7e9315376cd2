"""Two-dimensional prediction of the kept pixels (LOCO-I/JPEG-LS "MED" on a sparse mask).

Each kept pixel is predicted from its kept neighbours in the same frame: MED(W, N, NW) when all
three are kept, the mean of W and N when only those are, else W, else N; pixels with none of
them are predicted from the same pixel in the previous kept frame when it was kept there, and
otherwise from the previous such "isolated" pixel of the channel. With ``temporal_first`` the
previous-frame pixel is preferred over the spatial neighbours (better when most kept pixels were
also kept in the previous frame, i.e. at large p).

The encoder knows every value, so it predicts in one vectorised pass. The decoder works along
anti-diagonals y+x = d: every spatial neighbour lies on diagonal d-1 or d-2, so one numpy step
per diagonal decodes all kept frames at once (H+W-1 steps). Temporal chains (a pixel predicted
from the previous frame, itself predicted from the frame before...) stay on one diagonal; their
residual sums are precomputed with pointer jumping, so each chain is resolved in one step once
its root (a spatially predicted or isolated pixel) is known.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["encode_spatial", "decode_spatial"]

_ISO, _MED, _AVG, _W, _N, _T = range(6)


@dataclass
class _Plan:
    kind: np.ndarray  # (N,) int8
    w: np.ndarray  # (N,) value index of the neighbour (self when absent)
    n: np.ndarray
    nw: np.ndarray
    t: np.ndarray
    diag: np.ndarray  # (N,) y + x


def _plan(mask: np.ndarray, temporal_first: bool) -> _Plan:
    k, h, w = mask.shape
    rank = (np.cumsum(mask.reshape(-1), dtype=np.int64) - 1).reshape(k, h, w)
    rank = np.where(mask, rank, -1)
    pad = np.full((k + 1, h + 1, w + 1), -1, dtype=np.int64)
    pad[1:, 1:, 1:] = rank
    jj, yy, xx = np.nonzero(mask)
    own = rank[jj, yy, xx]
    wi = pad[jj + 1, yy + 1, xx]
    ni = pad[jj + 1, yy, xx + 1]
    nwi = pad[jj + 1, yy, xx]
    ti = pad[jj, yy + 1, xx + 1]
    hw, hn, hnw, ht = wi >= 0, ni >= 0, nwi >= 0, ti >= 0
    kind = np.full(own.shape, _ISO, dtype=np.int8)
    if not temporal_first:
        kind[ht] = _T
    kind[hn] = _N
    kind[hw] = _W
    kind[hw & hn] = _AVG
    kind[hw & hn & hnw] = _MED
    if temporal_first:
        kind[ht] = _T
    fix = lambda a: np.where(a >= 0, a, own)  # noqa: E731 - absent neighbours point at self
    return _Plan(kind, fix(wi), fix(ni), fix(nwi), fix(ti), yy + xx)


def _predict(kind: np.ndarray, wv: np.ndarray, nv: np.ndarray, nwv: np.ndarray) -> np.ndarray:
    """Spatial prediction (int16) for kinds MED/AVG/W/N; planes are (C, P) int16."""
    hi = np.maximum(wv, nv)
    lo = np.minimum(wv, nv)
    med = np.where(nwv >= hi, lo, np.where(nwv <= lo, hi, wv + nv - nwv))
    return np.select([kind == _MED, kind == _AVG, kind == _W], [med, (wv + nv) >> 1, wv], default=nv)


def encode_spatial(planes: np.ndarray, mask: np.ndarray, modmask: int, temporal_first: bool) -> np.ndarray:
    """(C,N) uint8 symbols -> (C,N) uint8 residuals mod 2**bits."""
    pl = _plan(mask, temporal_first)
    v = planes.astype(np.int16)
    pred = _predict(pl.kind, v[:, pl.w], v[:, pl.n], v[:, pl.nw])
    pred = np.where(pl.kind == _T, v[:, pl.t], pred)
    res = ((v - pred) & modmask).astype(np.uint8)
    iso = np.flatnonzero(pl.kind == _ISO)
    vi = planes[:, iso]
    r = vi.copy()
    r[:, 1:] -= vi[:, :-1]
    res[:, iso] = r & modmask
    return res


def decode_spatial(res: np.ndarray, mask: np.ndarray, modmask: int, temporal_first: bool) -> np.ndarray:
    """Inverse of :func:`encode_spatial`."""
    pl = _plan(mask, temporal_first)
    n = pl.kind.size
    r = np.ascontiguousarray(res.T).astype(np.int16)  # (N, C): row gathers are contiguous
    out = np.zeros_like(r)
    iso = np.flatnonzero(pl.kind == _ISO)
    out[iso] = np.cumsum(r[iso], axis=0) & modmask

    # Temporal chains: acc[i] = residual sum from i down to (not including) its root.
    is_t = pl.kind == _T
    ptr = np.where(is_t, pl.t, np.arange(n))
    acc = np.where(is_t[:, None], r, 0)
    while n and np.any(ptr[ptr] != ptr):  # at most log2(K)+1 rounds
        acc = (acc + acc[ptr]) & modmask
        ptr = ptr[ptr]

    # Group the non-isolated pixels by (diagonal, kind) once; then one step per group.
    todo = np.flatnonzero(pl.kind != _ISO)
    order = todo[np.lexsort((pl.kind[todo], pl.diag[todo]))]
    key = pl.diag[order].astype(np.int64) * 8 + pl.kind[order]
    cuts = np.flatnonzero(np.diff(key)) + 1
    starts = np.concatenate(([0], cuts))
    ends = np.concatenate((cuts, [order.size]))
    for a, b in zip(starts.tolist(), ends.tolist()):
        if a == b:  # no non-isolated pixels at all
            continue
        idx = order[a:b]
        kind = int(pl.kind[idx[0]])
        if kind == _T:
            out[idx] = (out[ptr[idx]] + acc[idx]) & modmask
            continue
        if kind == _W:
            pred = out[pl.w[idx]]
        elif kind == _N:
            pred = out[pl.n[idx]]
        else:
            wv, nv = out[pl.w[idx]], out[pl.n[idx]]
            if kind == _AVG:
                pred = (wv + nv) >> 1
            else:
                nwv = out[pl.nw[idx]]
                hi = np.maximum(wv, nv)
                lo = np.minimum(wv, nv)
                pred = np.minimum(np.maximum(wv + nv - nwv, lo), hi)
        out[idx] = (r[idx] + pred) & modmask
    return np.ascontiguousarray(out.T).astype(np.uint8)
