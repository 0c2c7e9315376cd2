"""Round-trips of every stae-px layout and rejection of each kind of malformed payload."""

from __future__ import annotations

import struct
import tracemalloc

import numpy as np
import pytest
import zstandard

from stae_ros.codec.testing import make_payload, patch_header
from stae_ros.codec import (
    AUTO_VALUE_LAYOUTS,
    CODEC_NAME,
    CODEC_VERSION,
    HEADER_SIZE,
    LOSSLESS_VALUE_LAYOUTS,
    MASK_LAYOUT_NAMES,
    VALUE_LAYOUT_NAMES,
    BadMagicError,
    ChecksumError,
    CodecError,
    CorruptPayloadError,
    DecodeLimits,
    IndexOutOfRangeError,
    InvalidPayloadError,
    LayoutUnavailableError,
    LimitExceededError,
    SemanticPayload,
    SizeMismatchError,
    TruncatedPayloadError,
    UnknownLayoutError,
    UnsupportedVersionError,
    decode,
    decode_header,
    encode,
    layout_sizes,
    max_quantisation_error,
)
from stae_ros.codec.wire import with_crc

SHAPES = [  # (T, H, W, C, K, p)
    (8, 8, 8, 3, 4, 0.25),
    (5, 7, 9, 1, 2, 0.5),
    (6, 16, 12, 3, 6, 0.05),
    (3, 4, 5, 4, 3, 1.0),
    (4, 6, 6, 2, 1, 0.1),
]


def _build(shape, seed=0, smooth=False):
    t, h, w, c, k, p = shape
    return make_payload(t, h, w, c, k, p, seed=seed, smooth=smooth)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("values", LOSSLESS_VALUE_LAYOUTS)
@pytest.mark.parametrize("mask", MASK_LAYOUT_NAMES)
def test_lossless_layouts_round_trip_bit_exact(shape, values, mask):
    pl = _build(shape, seed=sum(shape[:4]), smooth=shape[0] % 2 == 0)
    try:
        data = encode(pl, layout=f"{mask}+{values}")
    except LayoutUnavailableError:
        if values.endswith("_sg"):
            assert shape[3] < 3, "colour layouts carry any C >= 3"
        else:
            assert values in ("png", "webp_lossless") and shape[3] not in (1, 3), "byte layouts carry any C"
        return
    got = decode(data)
    assert got.equals(pl)
    assert data[:4] == b"STPX" and data[4] == CODEC_VERSION


@pytest.mark.parametrize("layout", ["auto", "best", "fast", "auto+planar", "rle+auto", "delta+best"])
@pytest.mark.parametrize("c", [1, 2, 3])
def test_auto_best_and_fast_are_lossless(layout, c):
    pl = make_payload(8, 12, 12, c, 4, 0.25, seed=3, smooth=True)
    assert decode(encode(pl, layout=layout)).equals(pl)


def test_auto_and_best_pick_the_smallest_candidate():
    pl = make_payload(8, 16, 16, 3, 4, 0.25, seed=4, smooth=True)
    sizes = layout_sizes(pl)
    cands = [v for k, v in sizes.items() if k.split("+")[1] in AUTO_VALUE_LAYOUTS]
    assert len(encode(pl)) == min(cands)
    lossless = [v for k, v in sizes.items() if k.split("+")[1] in LOSSLESS_VALUE_LAYOUTS]
    assert len(encode(pl, layout="best")) == min(lossless) <= min(cands)


def test_layout_sizes_equal_encoded_lengths():
    pl = make_payload(6, 10, 10, 3, 3, 0.1, seed=5, smooth=True)
    sizes = layout_sizes(pl, level=5, quality=70)
    assert set(sizes) == {f"{m}+{v}" for m in MASK_LAYOUT_NAMES for v in VALUE_LAYOUT_NAMES}
    for name, n in sizes.items():
        assert len(encode(pl, layout=name, level=5, quality=70)) == n, name


def test_layout_sizes_leave_out_unavailable_layouts():
    pl = make_payload(4, 6, 6, 2, 2, 0.5, seed=6)
    sizes = layout_sizes(pl)
    unavailable = ("png", "jpeg", "webp", "webp_lossless", "planar_delta_sg", "planar_temporal_sg")
    assert not any(k.split("+")[1] in unavailable for k in sizes)
    assert sizes


@pytest.mark.parametrize("bits", range(1, 9))
def test_quantisation_error_bound(bits):
    pl = make_payload(6, 8, 8, 3, 3, 0.5, seed=bits)
    got = decode(encode(pl, layout="auto", bits=bits))
    err = np.abs(got.values.astype(int) - pl.values.astype(int))
    assert err.max() <= max_quantisation_error(bits)
    assert np.array_equal(got.mask, pl.mask) and np.array_equal(got.frame_indices, pl.frame_indices)
    if bits == 8:
        assert err.max() == 0


def test_fewer_bits_make_smaller_payloads():
    pl = make_payload(8, 16, 16, 3, 4, 0.5, seed=7)  # noise: 8 bits of entropy per value
    assert len(encode(pl, bits=4)) < 0.7 * len(encode(pl, bits=8))


@pytest.mark.parametrize("values", ["jpeg", "webp"])
def test_lossy_image_layouts_within_bound(values):
    """Smooth content, random 30 % mask: mean |error| <= 10 at quality 90, and q90 beats q30."""
    pl = make_payload(8, 32, 32, 3, 4, 0.3, seed=8, smooth=True)
    errs = {}
    for q in (30, 90):
        got = decode(encode(pl, layout=f"bitmap+{values}", quality=q))
        assert np.array_equal(got.mask, pl.mask)
        errs[q] = np.abs(got.values.astype(int) - pl.values.astype(int)).mean()
    assert errs[90] <= 10.0
    assert errs[90] < errs[30]


def test_lossy_layout_rejects_quantised_values():
    with pytest.raises(LayoutUnavailableError):
        encode(make_payload(), layout="bitmap+jpeg", bits=6)


@pytest.mark.parametrize("bad", ["nope", "bitmap", "bitmap+foo", "foo+planar", "a+b+c", 3])
def test_unknown_layout_names(bad):
    with pytest.raises(UnknownLayoutError):
        encode(make_payload(), layout=bad)


@pytest.mark.parametrize("kw", [{"level": 0}, {"level": 23}, {"bits": 0}, {"bits": 9}, {"quality": 0}])
def test_bad_encode_arguments(kw):
    with pytest.raises(ValueError):
        encode(make_payload(), **kw)


def test_constants():
    assert CODEC_NAME == "stae-px" and isinstance(CODEC_VERSION, int)


# ------------------------------------------------------------------------------ payload


def test_from_dense_to_dense_consistent():
    pl = make_payload(8, 6, 5, 3, 3, 0.5, seed=9)
    clip, mask = pl.to_dense()
    assert clip.shape == (8, 6, 5, 3) and mask.shape == (8, 6, 5)
    assert mask.sum() == pl.n_values
    assert np.array_equal(clip[mask], pl.values)
    assert not clip[~mask].any()
    other = [t for t in range(8) if t not in set(pl.frame_indices.tolist())]
    assert not mask[other].any()
    again = SemanticPayload.from_dense(clip[pl.frame_indices], mask[pl.frame_indices], pl.frame_indices, clip.shape, pl.p)
    assert again.equals(pl)


def _fields(pl):
    return dict(clip_shape=pl.clip_shape, frame_indices=pl.frame_indices, mask=pl.mask, values=pl.values, k=pl.k, p=pl.p)


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda f: f.update(values=f["values"].astype(np.int16)), "uint8"),
        (lambda f: f.update(values=f["values"][:-1]), "values shape"),
        (lambda f: f.update(mask=f["mask"].astype(np.uint8)), "bool"),
        (lambda f: f.update(mask=f["mask"][:, :-1]), "mask shape"),
        (lambda f: f.update(frame_indices=f["frame_indices"][::-1].copy()), "increasing"),
        (lambda f: f.update(frame_indices=np.array([0, 1, 2, 99])), "out of range"),
        (lambda f: f.update(k=3), "k=3"),
        (lambda f: f.update(p=0.0), "p="),
        (lambda f: f.update(p=float("nan")), "p="),
        (lambda f: f.update(clip_shape=(8, 8, 8)), "clip_shape"),
    ],
)
def test_payload_validation(change, words):
    f = _fields(make_payload())
    change(f)
    with pytest.raises(InvalidPayloadError, match=words):
        SemanticPayload(**f)


# --------------------------------------------------------------------------- malformed


@pytest.fixture(scope="module")
def good():
    pl = make_payload(8, 8, 8, 3, 4, 0.25, seed=11, smooth=True)
    return pl, encode(pl, layout="bitmap+planar_delta")


def test_bad_magic(good):
    _, data = good
    with pytest.raises(BadMagicError):
        decode(b"XXXX" + data[4:])
    with pytest.raises(BadMagicError):
        decode(b"\x00")


def test_unsupported_version(good):
    _, data = good
    with pytest.raises(UnsupportedVersionError):
        decode(data[:4] + bytes([CODEC_VERSION + 1]) + data[5:])
    with pytest.raises(UnsupportedVersionError):
        decode(patch_header(data, flags=1))


def test_every_truncation_is_reported(good):
    _, data = good
    for n in range(len(data)):
        with pytest.raises(TruncatedPayloadError):
            decode(data[:n])


def test_trailing_bytes(good):
    _, data = good
    with pytest.raises(SizeMismatchError):
        decode(data + b"\x00")


def test_crc_mismatch(good):
    _, data = good
    bad = bytearray(data)
    bad[-1] ^= 0x01
    with pytest.raises(ChecksumError):
        decode(bytes(bad))


@pytest.mark.parametrize(
    "fields, exc",
    [
        ({"n_values": 0}, SizeMismatchError),  # mask popcount != number of values
        ({"mask_raw_len": 1}, SizeMismatchError),  # bitmap length disagrees with K*H*W
        ({"value_raw_len": 5}, SizeMismatchError),
        ({"mask_len": 3}, SizeMismatchError),  # raw section: stored length != raw length
        ({"k": 9}, SizeMismatchError),  # K > T
        ({"n_values": 10**6}, SizeMismatchError),
        ({"mask_layout": 9}, UnknownLayoutError),
        ({"value_layout": 99}, UnknownLayoutError),
        ({"mask_codec": 7}, UnknownLayoutError),
        ({"bits": 0}, CorruptPayloadError),
        ({"p": 1.5}, CorruptPayloadError),
        ({"width": 0}, CorruptPayloadError),
    ],
)
def test_header_fields_that_disagree(good, fields, exc):
    _, data = good
    with pytest.raises(exc):
        decode(patch_header(data, **fields))


def test_mask_popcount_mismatch_after_crc():
    pl = make_payload(8, 8, 8, 3, 4, 0.25, seed=12)
    data = encode(pl, layout="bitmap+planar")  # raw sections: patch a mask bit in place
    mask_off = HEADER_SIZE + 2 * pl.k
    bad = bytearray(data)
    bad[mask_off] ^= 0x80 if not (bad[mask_off] & 0x80) else 0x40
    with pytest.raises(SizeMismatchError, match="mask keeps"):
        decode(with_crc(bytes(bad)))


@pytest.mark.parametrize("indices, words", [([0, 2, 2, 5], "increasing"), ([0, 2, 4, 8], ">= T"), ([5, 3, 4, 6], "increasing")])
def test_frame_index_errors(good, indices, words):
    pl, data = good
    body = struct.pack(f"<{pl.k}H", *indices)
    bad = data[:HEADER_SIZE] + body + data[HEADER_SIZE + 2 * pl.k :]
    with pytest.raises(IndexOutOfRangeError, match=words):
        decode(with_crc(bad))


@pytest.mark.parametrize(
    "limits",
    [
        DecodeLimits(max_frames=7),
        DecodeLimits(max_height=7),
        DecodeLimits(max_width=7),
        DecodeLimits(max_channels=2),
        DecodeLimits(max_encoded_bytes=64),
        DecodeLimits(max_decoded_bytes=300),
    ],
)
def test_limits(good, limits):
    _, data = good
    with pytest.raises(LimitExceededError):
        decode(data, limits=limits)
    decode_header(data)  # the default limits accept it


def test_decode_limits_validate():
    with pytest.raises(ValueError):
        DecodeLimits(max_frames=0)


def test_delta_mask_position_out_of_range():
    pl = make_payload(4, 4, 4, 1, 1, 0.25, seed=13)
    data = encode(pl, layout="delta+planar")
    h_off = HEADER_SIZE + 2 * pl.k
    # a mask of 4 gaps whose last position is past the 16 pixels: gaps 0,0,0,100
    import stae_ros.codec.varint as v

    mask = v.encode_varints(np.array([0, 0, 0, 100]))
    values = data[h_off + len(data) - h_off - pl.n_values :]
    bad = patch_header(data[:h_off] + mask + values, fix_crc=False, mask_len=len(mask), mask_raw_len=len(mask), mask_codec=0)
    with pytest.raises(IndexOutOfRangeError):
        decode(with_crc(bad))


def _bomb_payload(section: bytes, raw_len: int) -> bytes:
    """A valid header around a zstd value section (K=1, 1x1 clip would be too small: use 64x64)."""
    pl = make_payload(1, 64, 64, 1, 1, 1.0, seed=14)
    data = encode(pl, layout="bitmap+planar")
    start = HEADER_SIZE + 2 + 0
    h = decode_header(data)
    prefix = data[: start + h.mask_len]
    return patch_header(prefix + section, value_len=len(section), value_raw_len=raw_len, value_codec=1)


def _zeros_frame(total: int, declare_size: bool) -> bytes:
    cctx = zstandard.ZstdCompressor(level=1, write_content_size=declare_size)
    chunk = bytes(1 << 20)
    obj = cctx.compressobj(size=total if declare_size else -1)
    parts = [obj.compress(chunk) for _ in range(total // len(chunk))]
    return b"".join(parts) + obj.flush()


@pytest.mark.parametrize("declare", [False, True])
def test_zstd_bomb_rejected_without_allocating(declare):
    bomb = _zeros_frame(256 << 20, declare_size=declare)  # 256 MiB of zeros in a few KiB
    assert len(bomb) < 64 << 10
    data = _bomb_payload(bomb, raw_len=64 * 64)
    tracemalloc.start()
    try:
        with pytest.raises(CodecError) as ei:
            decode(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(ei.value, (CorruptPayloadError, SizeMismatchError))
    assert peak < 8 << 20, f"decoder allocated {peak} bytes for a bomb"


def test_declared_raw_size_over_limit_rejected_before_decompressing():
    bomb = _zeros_frame(64 << 20, declare_size=True)
    data = _bomb_payload(bomb, raw_len=64 << 20)
    with pytest.raises(LimitExceededError):
        decode(data, limits=DecodeLimits(max_decoded_bytes=1 << 20))


def test_image_bomb_dimensions_rejected():
    import cv2

    pl = make_payload(2, 8, 8, 3, 2, 0.5, seed=15)
    data = encode(pl, layout="bitmap+png")
    h = decode_header(data)
    ok, big = cv2.imencode(".png", np.zeros((2000, 2000, 3), np.uint8))
    start = HEADER_SIZE + 2 * pl.k + h.mask_len
    bad = patch_header(data[:start] + big.tobytes(), value_len=big.size, value_raw_len=big.size, value_codec=0)
    with pytest.raises(SizeMismatchError, match="2000x2000"):
        decode(bad)


@pytest.mark.parametrize("junk", [b"", b"STPX", "text", 12, None])
def test_non_payloads_raise_codec_error(junk):
    with pytest.raises(CodecError):
        decode(junk)  # type: ignore[arg-type]


def test_compare_selection_has_exact_budgets():
    """The model-free selection used by the size comparison keeps exactly K frames and budgets."""
    from stae_ros.codec.compare import select

    rng = np.random.default_rng(16)
    clip = rng.integers(0, 256, (8, 10, 12, 3), dtype=np.uint8)
    for k, p in [(8, 0.5), (4, 0.1), (1, 0.05)]:
        pl = select(clip, k, p)
        assert pl.k == k and np.all(np.diff(pl.frame_indices.astype(int)) > 0)
        assert np.all(pl.mask.reshape(k, -1).sum(1) == int(np.ceil(p * 120 - 1e-9)))
        assert decode(encode(pl)).equals(pl)


def test_codec_imports_neither_torch_nor_ros():
    import subprocess
    import sys

    code = (
        "import sys, stae_ros.codec, stae_ros.codec.compare;"
        "bad = [m for m in ('torch', 'rclpy') if m in sys.modules];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_varints_are_leb128():
    """The wire format's varints, byte for byte (one- to five-byte values, and the one-byte fast path)."""
    from stae_ros.codec.varint import decode_varints, encode_varints

    assert encode_varints(np.array([0, 127, 128, 16383, 16384, 2**32 - 1])).hex() == "007f8001ff7f808001ffffffff0f"
    assert encode_varints(np.array([5, 0, 127], dtype=np.uint8)) == bytes([5, 0, 127])
    values = np.random.default_rng(0).integers(0, 2**32, 500, dtype=np.int64)
    np.testing.assert_array_equal(decode_varints(encode_varints(values)), values)
    with pytest.raises(ValueError, match="varint"):
        encode_varints(np.array([3, -1]))
    with pytest.raises(ValueError, match="varint"):
        encode_varints(np.array([2**32]))


@pytest.mark.parametrize("seed", range(4))
def test_temporal_residuals_follow_their_definition(seed):
    """planar_temporal, computed value by value: the same pixel of the previous kept frame when it
    was kept there, else the previous value that has no such pixel (the first value as it is)."""
    from stae_ros.codec.values import encode_values

    rng = np.random.default_rng(seed)
    mask = rng.random((5, 6, 7)) < 0.4
    symbols = rng.integers(0, 64, (int(mask.sum()), 3), dtype=np.uint8)
    rank = -np.ones(mask.shape, dtype=np.int64)
    rank[mask] = np.arange(mask.sum())
    want = np.empty_like(symbols)
    last_spatial = None
    for j, y, x in zip(*np.nonzero(mask)):
        i = rank[j, y, x]
        if j > 0 and mask[j - 1, y, x]:
            want[i] = (symbols[i] - symbols[rank[j - 1, y, x]]) & 63
        else:
            want[i] = symbols[i] if last_spatial is None else (symbols[i] - symbols[last_spatial]) & 63
            last_spatial = i
    got = np.frombuffer(encode_values(symbols, mask, "planar_temporal", 6), dtype=np.uint8).reshape(3, -1).T
    np.testing.assert_array_equal(got, want)
