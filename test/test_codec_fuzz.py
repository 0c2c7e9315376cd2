"""Property tests: random payloads round-trip; random and mutated bytes only raise CodecError.

The mutation tests call the decoder *without* its last-resort exception net
(``_decode_unchecked``), so a missing check shows up as a failing IndexError/ValueError/zstd
error here instead of being papered over. Half of the mutations re-seal the CRC so that the
mutated bytes reach the section parsers instead of stopping at the checksum.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stae_ros.codec import (
    LOSSLESS_VALUE_LAYOUTS,
    MASK_LAYOUT_NAMES,
    CodecError,
    DecodeLimits,
    LayoutUnavailableError,
    SemanticPayload,
    decode,
    encode,
    max_quantisation_error,
)
from stae_ros.codec.codec import _decode_unchecked
from stae_ros.codec.wire import HEADER_SIZE, MAGIC, CODEC_VERSION, with_crc

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LIMITS = DecodeLimits(max_frames=64, max_height=64, max_width=64, max_channels=4, max_decoded_bytes=1 << 22)


@st.composite
def payloads(draw) -> SemanticPayload:
    t = draw(st.integers(1, 6))
    h = draw(st.integers(1, 9))
    w = draw(st.integers(1, 9))
    c = draw(st.sampled_from([1, 2, 3, 4]))
    k = draw(st.integers(1, t))
    seed = draw(st.integers(0, 2**32 - 1))
    density = draw(st.sampled_from([0.0, 0.05, 0.3, 0.7, 1.0]))
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(t, k, replace=False))
    mask = rng.random((k, h, w)) < density
    if draw(st.booleans()):  # smooth values, so predictors and zstd have something to find
        frames = (np.arange(h * w * c).reshape(1, h, w, c) + rng.integers(0, 4, (k, 1, 1, 1))) % 256
    else:
        frames = rng.integers(0, 256, (k, h, w, c))
    p = draw(st.sampled_from([1.0, 0.5, 0.25, 0.1, 0.05, 0.3333]))
    return SemanticPayload.from_dense(frames.astype(np.uint8), mask, idx, (t, h, w, c), p)


LAYOUTS = ["auto", "best", "fast"] + [f"{m}+{v}" for m in MASK_LAYOUT_NAMES for v in LOSSLESS_VALUE_LAYOUTS]


@FUZZ
@given(pl=payloads(), layout=st.sampled_from(LAYOUTS), bits=st.integers(1, 8), level=st.sampled_from([1, 3, 9]))
def test_random_payloads_round_trip(pl, layout, bits, level):
    try:
        data = encode(pl, layout=layout, level=level, bits=bits)
    except LayoutUnavailableError:
        values = layout.split("+")[-1]
        assert values in ("png", "webp_lossless") or (values.endswith("_sg") and pl.clip_shape[3] < 3)
        return
    got = _decode_unchecked(data, LIMITS)
    assert got.clip_shape == pl.clip_shape and got.k == pl.k and got.p == pl.p
    assert np.array_equal(got.frame_indices, pl.frame_indices)
    assert np.array_equal(got.mask, pl.mask)
    err = np.abs(got.values.astype(int) - pl.values.astype(int))
    assert err.size == 0 or err.max() <= max_quantisation_error(bits)


def _only_codec_errors(data: bytes) -> None:
    try:
        _decode_unchecked(data, LIMITS)
    except CodecError:
        pass


@FUZZ
@given(data=st.binary(max_size=300))
def test_random_bytes_raise_only_codec_errors(data):
    _only_codec_errors(data)
    with pytest.raises(CodecError):
        decode(data)  # random bytes never form a payload with a valid CRC and magic


@FUZZ
@given(rest=st.binary(min_size=HEADER_SIZE - 5, max_size=400))
def test_random_bytes_after_magic_raise_only_codec_errors(rest):
    data = MAGIC + bytes([CODEC_VERSION]) + rest
    _only_codec_errors(data)
    _only_codec_errors(with_crc(data))




def _seed_payload(i: int, layout: str) -> bytes | None:
    from stae_ros.codec.testing import make_payload

    pl = make_payload(6, 8, 8, 3, 3, 0.25, seed=i, smooth=bool(i % 2))
    try:
        return encode(pl, layout=layout)
    except LayoutUnavailableError:  # pragma: no cover - C=3 supports all
        return None


@st.composite
def mutated(draw) -> bytes:
    layout = draw(st.sampled_from([f"{m}+{v}" for m in MASK_LAYOUT_NAMES for v in LOSSLESS_VALUE_LAYOUTS + ("jpeg", "webp")]))
    data = bytearray(_seed_payload(draw(st.integers(0, 3)), layout))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "set", "cut", "insert", "delete"]))
        if not data:
            break
        pos = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set":
            data[pos] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[pos:]
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        else:
            del data[pos : pos + draw(st.integers(1, 8))]
    out = bytes(data)
    if draw(st.booleans()) and len(out) >= HEADER_SIZE:
        out = with_crc(out)
    return out


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=mutated())
def test_mutated_payloads_raise_only_codec_errors(data):
    _only_codec_errors(data)
