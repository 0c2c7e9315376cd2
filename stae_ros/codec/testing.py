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

__all__ = ["make_payload", "patch_header", "heavy_sps", "cropped_sps"]


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


class _SpsBits:
    """Writes an SPS as an encoder does: MSB-first fields, Exp-Golomb codes, stop bit, emulation prevention."""

    def __init__(self) -> None:
        self.bits: list[int] = []

    def u(self, v: int, n: int) -> None:
        self.bits.extend(int(b) for b in format(v, f"0{n}b"))

    def ue(self, k: int) -> None:
        x = k + 1
        self.bits.extend([0] * (x.bit_length() - 1))
        self.u(x, x.bit_length())

    def se(self, v: int) -> None:
        self.ue(2 * v - 1 if v > 0 else -2 * v)

    def nal(self) -> bytes:
        """The NAL unit (header byte 0x67) after a stop bit; the fields written so far end the SPS."""
        bits = self.bits + [1]
        bits += [0] * (-len(bits) % 8)
        raw = int("".join(map(str, bits)), 2).to_bytes(len(bits) // 8, "big")
        out, zeros = bytearray(), 0
        for b in raw:
            if zeros >= 2 and b <= 3:
                out.append(3)
                zeros = 0
            out.append(b)
            zeros = zeros + 1 if b == 0 else 0
        return b"\x67" + bytes(out)


def heavy_sps(cycle: int = 100) -> bytes:
    """An H.264 SPS NAL unit (64x64, high profile) whose scaling lists and POC cycle are all 63-bit
    Exp-Golomb codes: the costliest SPS to parse that fits a 4 KiB SPS cap (decoder tests and benchmarks)."""
    w = _SpsBits()
    w.u(100, 8), w.u(0, 8), w.u(30, 8), w.ue(0), w.ue(1), w.ue(0), w.ue(0), w.u(0, 1), w.u(1, 1)
    for i in range(8):
        w.u(1, 1)
        for _ in range(16 if i < 6 else 64):
            w.se(1 << 30)
    w.ue(0), w.ue(1), w.u(0, 1), w.se(1), w.se(1), w.ue(cycle)
    for _ in range(cycle):
        w.se(1 << 30)
    w.ue(1), w.u(0, 1), w.ue(3), w.ue(3), w.u(1, 1), w.u(1, 1), w.u(0, 1), w.u(0, 1)
    return w.nal()


def cropped_sps(coded_width: int, coded_height: int, width: int, height: int) -> bytes:
    """A baseline-profile SPS NAL unit whose pictures are coded at ``coded_width`` x ``coded_height``
    (multiples of 16) and cropped to ``width`` x ``height`` (even, no larger): a decoder allocates the
    coded size, so a large one behind a small crop is how a stream can hide its cost."""
    w = _SpsBits()
    w.u(66, 8), w.u(0, 8), w.u(30, 8), w.ue(0), w.ue(0), w.ue(2), w.ue(1), w.u(0, 1)
    w.ue(coded_width // 16 - 1), w.ue(coded_height // 16 - 1), w.u(1, 1), w.u(1, 1)
    w.u(1, 1), w.ue(0), w.ue((coded_width - width) // 2), w.ue(0), w.ue((coded_height - height) // 2)
    w.u(0, 1)  # no VUI
    return w.nal()
