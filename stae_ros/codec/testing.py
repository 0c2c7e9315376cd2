"""Payload builders for tests and benchmarks of the codec (seeded, any shape).

``make_payload`` gives a valid payload with exact budgets; ``patch_header`` rewrites header fields
of valid bytes (fixing the CRC) to build malformed inputs for decoder tests.
"""

from __future__ import annotations

import math
import struct

import numpy as np

from .payload import SemanticPayload
from .wire import HEADER_FORMAT, Header, pack_header, unpack_header, with_crc

__all__ = ["make_payload", "patch_header"]


def make_payload(
    t: int = 8, h: int = 8, w: int = 8, c: int = 3, k: int = 4, p: float = 0.25, seed: int = 0, smooth: bool = False
) -> SemanticPayload:
    """A payload with exactly ceil(p*H*W) kept pixels in each of K random frames."""
    rng = np.random.default_rng(seed)
    if smooth:
        yy, xx = np.mgrid[0:h, 0:w]
        base = 128 + 90 * np.sin(xx / 5.0 + seed)[..., None] * np.cos(yy / 7.0)[..., None]
        frames = np.stack([base + 3 * j + 10 * np.arange(c) for j in range(k)]).clip(0, 255).astype(np.uint8)
    else:
        frames = rng.integers(0, 256, (k, h, w, c), dtype=np.uint8)
    n_keep = math.ceil(p * h * w - 1e-9)
    mask = np.zeros((k, h * w), dtype=bool)
    for j in range(k):
        mask[j, rng.choice(h * w, n_keep, replace=False)] = True
    idx = np.sort(rng.choice(t, k, replace=False))
    return SemanticPayload.from_dense(frames, mask.reshape(k, h, w), idx, (t, h, w, c), p)


def patch_header(data: bytes, fix_crc: bool = True, **fields: object) -> bytes:
    """Rewrite header fields of a valid payload (and, by default, its CRC)."""
    h = unpack_header(data)
    new = Header(**{**h.__dict__, **fields})
    out = pack_header(new) + data[struct.calcsize(HEADER_FORMAT):]
    return with_crc(out) if fix_crc else out
