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

__all__ = ["make_payload", "patch_header", "heavy_sps"]


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


def heavy_sps(cycle: int = 100) -> bytes:
    """An H.264 SPS NAL unit (64x64, high profile) whose scaling lists and POC cycle are all 63-bit
    Exp-Golomb codes: the costliest SPS to parse that fits a 4 KiB SPS cap (decoder tests and benchmarks)."""
    bits: list[int] = []

    def u(v: int, n: int) -> None:
        bits.extend(int(b) for b in format(v, f"0{n}b"))

    def ue(k: int) -> None:
        x = k + 1
        bits.extend([0] * (x.bit_length() - 1))
        u(x, x.bit_length())

    def se(v: int) -> None:
        ue(2 * v - 1 if v > 0 else -2 * v)

    u(100, 8), u(0, 8), u(30, 8), ue(0), ue(1), ue(0), ue(0), u(0, 1), u(1, 1)
    for i in range(8):
        u(1, 1)
        for _ in range(16 if i < 6 else 64):
            se(1 << 30)
    ue(0), ue(1), u(0, 1), se(1), se(1), ue(cycle)
    for _ in range(cycle):
        se(1 << 30)
    ue(1), u(0, 1), ue(3), ue(3), u(1, 1), u(1, 1), u(0, 1), u(0, 1), u(1, 1)
    bits.extend([0] * (-len(bits) % 8))
    raw = int("".join(map(str, bits)), 2).to_bytes(len(bits) // 8, "big")
    out, zeros = bytearray(), 0
    for b in raw:  # emulation prevention, as an encoder writes it
        if zeros >= 2 and b <= 3:
            out.append(3)
            zeros = 0
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    return b"\x67" + bytes(out)
