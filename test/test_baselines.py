"""Baseline codecs: round trips with bounded error, specs, and rejection of malformed streams."""

from __future__ import annotations

import numpy as np
import pytest

from stae_ros.baselines import (
    BaselineDecodeError,
    ClipFormatError,
    H264Codec,
    H265Codec,
    JpegCodec,
    RawCodec,
    UnknownCodecError,
    make_codec,
    split_annexb,
)


def _clip(t: int = 6, h: int = 32, w: int = 48, seed: int = 0) -> np.ndarray:
    """A smooth moving pattern (what a camera sees), not noise (which no lossy codec keeps)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    frames = []
    for i in range(t):
        r = 128 + 90 * np.sin((xx + 2 * i) / 7.0)
        g = 128 + 90 * np.cos((yy - i) / 5.0)
        b = 100 + 60 * np.sin((xx + yy + 3 * i) / 11.0)
        frames.append(np.stack([r, g, b], -1))
    clip = np.stack(frames) + rng.normal(0, 2, (t, h, w, 3))
    return np.clip(clip, 0, 255).astype(np.uint8)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def test_raw_is_exact() -> None:
    clip = _clip()
    codec = RawCodec()
    data = codec.encode(clip)
    assert len(data) == clip.size + 8
    np.testing.assert_array_equal(codec.decode(data), clip)


@pytest.mark.parametrize("codec, min_psnr", [
    (JpegCodec(90), 30.0),
    (JpegCodec(20), 24.0),
    (H264Codec(18, "ultrafast"), 32.0),
    (H264Codec(23, "medium"), 30.0),
    (H265Codec(20, "ultrafast"), 32.0),
])
def test_lossy_round_trip_within_psnr_bound(codec, min_psnr: float) -> None:
    clip = _clip()
    data = codec.encode(clip)
    out = codec.decode(data)
    assert out.shape == clip.shape and out.dtype == np.uint8
    assert _psnr(clip, out) >= min_psnr
    assert len(data) < clip.size  # it compressed at all


def test_lower_quality_gives_fewer_bytes() -> None:
    clip = _clip()
    assert len(H264Codec(40, "medium").encode(clip)) < len(H264Codec(18, "medium").encode(clip))
    assert len(JpegCodec(10).encode(clip)) < len(JpegCodec(95).encode(clip))


@pytest.mark.parametrize("codec", [H264Codec(28, "ultrafast"), H265Codec(28, "ultrafast")])
def test_video_stream_is_bare_annexb_without_sei(codec) -> None:
    data = codec.encode(_clip())
    assert data.startswith(b"\x00\x00\x00\x01") or data.startswith(b"\x00\x00\x01")
    hevc = codec.hevc
    types = []
    for s, _ in split_annexb(data):
        off = s + (4 if data[s + 2] == 0 else 3)
        types.append((data[off] >> 1) & 0x3F if hevc else data[off] & 0x1F)
    sei = {39, 40} if hevc else {6}
    assert types and not (set(types) & sei)
    assert b"x264" not in data and b"x265" not in data  # the encoder's option-string SEI is gone


def _nal_types(data: bytes, hevc: bool) -> list[int]:
    out = []
    for s, _ in split_annexb(data):
        off = s + (4 if data[s + 2] == 0 else 3)
        out.append((data[off] >> 1) & 0x3F if hevc else data[off] & 0x1F)
    return out


@pytest.mark.parametrize("cls", [H264Codec, H265Codec])
def test_open_encoder_sends_clips_that_each_decode_alone(cls) -> None:
    """The encoder stays open across clips (a streaming camera), yet each clip is a GOP of its own:
    parameter sets + IDR first, decodable by a fresh decoder without the clips before it."""
    clips = [_clip(seed=i) for i in range(3)]
    sender = cls(24, "ultrafast")
    streams = [sender.encode(c) for c in clips]
    first_types = {_nal_types(d, cls.hevc)[0] for d in streams}
    assert first_types == ({32} if cls.hevc else {7})  # VPS (HEVC) / SPS (H.264) leads every clip
    idr = {19, 20} if cls.hevc else {5}
    for clip, data in zip(clips, streams):
        assert idr & set(_nal_types(data, cls.hevc))
        out = cls(24, "ultrafast").decode(data)  # a receiver that saw nothing before
        assert out.shape == clip.shape and _psnr(clip, out) >= 30.0
    per_clip = cls(24, "ultrafast", stream=False)
    assert per_clip.name.endswith("-perclip")
    assert per_clip.encode(clips[1]) == cls(24, "ultrafast", stream=False).encode(clips[1])  # pure function of the clip
    assert _psnr(clips[1], per_clip.decode(per_clip.encode(clips[1]))) >= 30.0


def test_open_encoder_follows_a_change_of_clip_size() -> None:
    codec = H264Codec(24, "ultrafast")
    for clip in (_clip(), _clip(t=4, h=16, w=32), _clip(seed=1)):
        out = codec.decode(codec.encode(clip))
        assert out.shape == clip.shape and _psnr(clip, out) >= 30.0


def test_frame_converter_matches_pyav_conversion() -> None:
    import av

    from stae_ros.data import FrameConverter

    fast, exact = FrameConverter(), FrameConverter("swscale")
    for clip in (_clip(t=2), _clip(t=2, h=16, w=32)):  # a size change rebuilds its context
        for img in clip:
            frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
            mine = fast.from_rgb(img)
            np.testing.assert_array_equal(mine.to_ndarray(), frame.to_ndarray())  # Y, U, V rows (no padding)
            np.testing.assert_array_equal(exact.to_rgb(mine), frame.to_ndarray(format="rgb24"))
            back = fast.to_rgb(mine)  # OpenCV's BT.601: the same colours up to chroma upsampling
            assert back.shape == img.shape and back.dtype == np.uint8
            assert np.abs(back.astype(int) - frame.to_ndarray(format="rgb24")).max() <= 4
    with pytest.raises(ValueError, match="method"):
        FrameConverter("magic")


GARBAGE = [b"", b"\x00", b"not a video at all" * 5, bytes(range(256)) * 3, b"\x00\x00\x00\x01" + bytes(64)]


@pytest.mark.parametrize("codec", [RawCodec(), JpegCodec(80), H264Codec(28, "ultrafast"), H265Codec(28, "ultrafast")],
                         ids=lambda c: c.name)
@pytest.mark.parametrize("garbage", GARBAGE, ids=range(len(GARBAGE)))
def test_decoders_reject_garbage(codec, garbage: bytes) -> None:
    with pytest.raises(BaselineDecodeError):
        codec.decode(garbage)


def test_truncated_streams_are_rejected() -> None:
    clip = _clip()
    jpeg = JpegCodec(80).encode(clip)
    with pytest.raises(BaselineDecodeError, match="frame"):
        JpegCodec(80).decode(jpeg[: len(jpeg) // 2])
    raw = RawCodec().encode(clip)
    with pytest.raises(BaselineDecodeError, match="header says"):
        RawCodec().decode(raw[:-1])


def test_jpeg_frames_are_split_without_length_fields() -> None:
    clip = _clip(t=4)
    data = JpegCodec(50).encode(clip)
    assert data.count(b"\xff\xd8\xff") == 4  # four plain JPEG files back to back
    assert JpegCodec(50).decode(data).shape == clip.shape


@pytest.mark.parametrize("bad", [np.zeros((4, 8, 8, 3), np.float32), np.zeros((4, 8, 8), np.uint8), [[1]]])
def test_encoders_reject_bad_clips(bad) -> None:
    for codec in (RawCodec(), JpegCodec(), H264Codec()):
        with pytest.raises(ClipFormatError):
            codec.encode(bad)


def test_video_needs_even_size_and_valid_settings() -> None:
    with pytest.raises(ClipFormatError, match="even"):
        H264Codec().encode(np.zeros((2, 15, 16, 3), np.uint8))
    with pytest.raises(ClipFormatError, match="CRF"):
        H264Codec(crf=99)
    with pytest.raises(ClipFormatError, match="preset"):
        H265Codec(preset="warp9")
    with pytest.raises(ClipFormatError, match="stream"):
        H264Codec(stream="yes")
    with pytest.raises(ClipFormatError, match="quality"):
        JpegCodec(quality=0)


@pytest.mark.parametrize("spec", [{"family": "raw"}, {"family": "jpeg", "quality": 70},
                                  {"family": "h264", "crf": 30, "preset": "medium"},
                                  {"family": "h265", "crf": 35, "preset": "ultrafast"},
                                  {"family": "h264", "crf": 30, "preset": "ultrafast", "stream": False}])
def test_specs_round_trip(spec) -> None:
    codec = make_codec(spec)
    assert make_codec(codec.spec()).name == codec.name
    assert codec.spec()["family"] == spec["family"]


def test_unknown_family_is_named() -> None:
    with pytest.raises(UnknownCodecError, match="mpeg2"):
        make_codec({"family": "mpeg2"})


# ------------------------------------------------------------------ the STAE selections
@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    from stae_ros.bench import make_tiny_checkpoint

    return str(make_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt"))


def _model_clip(seed: int = 1) -> np.ndarray:
    return _clip(t=8, h=32, w=32, seed=seed)


@pytest.mark.parametrize("mode", ["fa", "fa_random", "fa_sa", "stae"])
def test_selection_codecs_round_trip(tiny_ckpt: str, mode: str) -> None:
    from stae_ros.models import budget_pixels

    codec = make_codec({"family": "semantic", "mode": mode, "k": 4, "p": 0.25, "checkpoint": tiny_ckpt})
    clip = _model_clip()
    data = codec.encode(clip)
    out = codec.decode(data)
    assert out.shape == clip.shape and out.dtype == np.uint8
    from stae_ros import codec as px

    payload = px.decode(data)
    assert payload.k == 4 and len(payload.frame_indices) == 4
    dense, mask = payload.to_dense()
    per_frame = mask[payload.frame_indices.astype(int)].reshape(4, -1).sum(axis=1)
    want = 32 * 32 if mode == "fa" else budget_pixels(0.25, 32, 32)
    assert (per_frame == want).all()
    np.testing.assert_array_equal(out[mask], clip[mask])  # kept pixels arrive exactly (lossless layout)
    if mode != "stae":
        assert (out[~mask] == 0).all()  # no FR: the rest stays zero


def test_random_pixels_differ_from_sa_pixels(tiny_ckpt: str) -> None:
    from stae_ros import codec as px

    clip = _model_clip(2)
    rnd = px.decode(make_codec({"family": "semantic", "mode": "fa_random", "k": 4, "p": 0.1, "checkpoint": tiny_ckpt}).encode(clip))
    sa = px.decode(make_codec({"family": "semantic", "mode": "fa_sa", "k": 4, "p": 0.1, "checkpoint": tiny_ckpt}).encode(clip))
    np.testing.assert_array_equal(rnd.frame_indices, sa.frame_indices)  # same FA frames
    assert not np.array_equal(rnd.mask, sa.mask)


def test_random_pixel_encode_is_a_pure_function_of_the_clip(tiny_ckpt: str) -> None:
    """Same clip -> same payload however many clips came before (the bench times the n-th encode)."""
    spec = {"family": "semantic", "mode": "fa_random", "k": 4, "p": 0.1, "checkpoint": tiny_ckpt}
    codec, clip, other = make_codec(spec), _model_clip(2), _model_clip(3)
    first = codec.encode(clip)
    codec.encode(other)
    assert codec.encode(clip) == first == make_codec(spec).encode(clip)
    assert codec.encode(other) != first  # another clip draws other pixels
    assert make_codec(spec | {"seed": 1}).encode(clip) != first


def test_selection_codec_rejects_garbage_and_bad_budgets(tiny_ckpt: str) -> None:
    codec = make_codec({"family": "semantic", "mode": "stae", "k": 4, "p": 0.25, "checkpoint": tiny_ckpt})
    for garbage in GARBAGE:
        with pytest.raises(BaselineDecodeError, match="stae-px"):
            codec.decode(garbage)
    with pytest.raises(ClipFormatError, match="K=99"):
        make_codec({"family": "semantic", "mode": "stae", "k": 99, "p": 0.25, "checkpoint": tiny_ckpt})
    with pytest.raises(ClipFormatError, match="frames"):
        codec.encode(_clip(t=3, h=32, w=32))


def test_semantic_sweep_has_the_high_compression_points() -> None:
    from stae_ros.baselines import semantic_sweep

    specs = semantic_sweep("m.pt", frames=16)
    pts = {(s["mode"], s["k"], s["p"], s.get("layout", "auto")) for s in specs}
    for k, p in ((16, 0.05), (8, 0.05), (16, 0.1), (4, 0.05)):
        assert ("stae", k, p, "auto") in pts and ("fa_sa", k, p, "auto") in pts and ("fa_random", k, p, "auto") in pts
    assert ("stae", 4, 0.05, "fast") in pts and ("stae", 16, 0.05, "fast") in pts
    assert {(s["k"], s["p"]) for s in specs if s.get("bits") == 6 and s.get("layout") == "fast"} >= {(4, 0.05)}
    assert {s["k"] for s in specs if s["mode"] == "fa"} == {8, 4}  # K = T with every pixel is the raw clip
    assert all(s["k"] <= 8 for s in semantic_sweep("m.pt", frames=8))


def test_shipped_roi264_model_file_is_a_pixel_codec() -> None:
    from pathlib import Path

    from stae_ros.baselines.external import ExternalCodec, external_sweep

    path = Path(__file__).resolve().parents[1] / "models" / "stae_roi264_default.pt"
    if not path.is_file():
        pytest.skip("models/stae_roi264_default.pt is not in this checkout")
    (spec,) = [s for s in external_sweep("unused.pt", files=[str(path)])]
    assert spec["kind"] == "roi" and spec["crf"] is None  # the file's own CRF
    codec = make_codec(spec)
    assert codec.family == "roi264" and codec.name.startswith("roi264-stae_roi264_default-crf")
    clip = _clip(16, 64, 64)
    out = codec.decode(codec.encode(clip))
    assert out.shape == clip.shape and out.dtype == np.uint8
    assert make_codec(codec.spec()).name == codec.name
    assert isinstance(ExternalCodec("roi", str(path), crf=33).encode(clip), bytes)
