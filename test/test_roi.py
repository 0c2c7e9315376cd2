"""stae_ros.roi: region-coded clip round trip, light NAL container, malformed payloads."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stae_ros.roi import (
    BadMagicError,
    BitstreamDecodeError,
    LimitExceededError,
    RoiInputError,
    RoiPayloadError,
    TruncatedPayloadError,
    UnsupportedVersionError,
)
from stae_ros.roi.codec import RoiCodec, RoiLimits, RoiSettings
from stae_ros.roi.errors import ChecksumError
from stae_ros.roi.h264 import X264Settings, decode_annexb, encode_annexb, pack_nals, split_nals, unpack_nals
from stae_ros.roi.importance import ImportanceNet, composite_numpy, composite_torch, motion_importance
from stae_ros.roi.baseline import resize_clip
from studies.roi.report import bytes_at_accuracy, equal_accuracy_table


def _clip(seed: int = 0, t: int = 8, size: int = 64) -> np.ndarray:
    """Noisy textured background with a moving textured square (the 'action')."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    base = (128 + 60 * np.sin(xx / 3.0) * np.cos(yy / 5.0))[..., None].repeat(3, -1)
    frames = []
    for i in range(t):
        f = base + rng.normal(0, 12, base.shape)
        x0 = 16 + 2 * i
        f[16:40, x0 : x0 + 16] = 40 + 180 * ((xx[16:40, x0 : x0 + 16] + yy[16:40, x0 : x0 + 16]) % 4 < 2)[..., None]
        frames.append(f)
    return np.clip(np.stack(frames), 0, 255).astype(np.uint8)


def _importance(t: int = 8) -> np.ndarray:
    imp = np.zeros((t, 8, 8), np.float32)
    imp[:, 2:5, 2:7] = 1.0  # rows 16..40, cols 16..56 cover the square's path
    return imp


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0**2 / max(mse, 1e-12))


@pytest.fixture(scope="module")
def encoded() -> tuple[RoiCodec, np.ndarray, bytes]:
    codec = RoiCodec(RoiSettings(threshold=0.5, x264=X264Settings(crf=20)))
    clip = _clip()
    return codec, clip, codec.encode(clip, _importance())


def test_roi_round_trip_important_region_is_better(encoded: tuple[RoiCodec, np.ndarray, bytes]) -> None:
    codec, clip, data = encoded
    out = codec.decode(data)
    assert out.shape == clip.shape and out.dtype == np.uint8
    keep = np.repeat(np.repeat(_importance() >= 0.5, 8, 1), 8, 2)
    inside = _psnr(out[keep], clip[keep])
    outside = _psnr(out[~keep], clip[~keep])
    assert inside > 28.0, inside
    assert inside > outside + 5.0, (inside, outside)


def test_roi_costs_fewer_bytes_than_whole_clip(encoded: tuple[RoiCodec, np.ndarray, bytes]) -> None:
    codec, clip, data = encoded
    whole = codec.encode(clip, np.ones((8, 8, 8), np.float32))
    assert len(data) < 0.8 * len(whole), (len(data), len(whole))


def test_light_container_decodes_like_annexb() -> None:
    clip = _clip(1)
    raw = encode_annexb(clip, X264Settings(crf=30))
    packed = pack_nals(raw)
    assert len(packed) < len(raw)
    assert all((n[0] & 0x1F) != 6 for n in split_nals(unpack_nals(packed)))  # SEI dropped
    np.testing.assert_array_equal(decode_annexb(unpack_nals(packed), 8, 64, 64), decode_annexb(raw, 8, 64, 64))


def _reseal(data: bytes) -> bytes:
    """The container with its CRC recomputed, so a deliberate change reaches the parsers behind it."""
    from stae_ros.roi.codec import container_crc

    return data[:4] + container_crc(data).to_bytes(4, "little") + data[8:]


def test_malformed_payloads_rejected(encoded: tuple[RoiCodec, np.ndarray, bytes]) -> None:
    codec, _, data = encoded
    with pytest.raises(BadMagicError):
        codec.decode(b"XX" + data[2:])
    with pytest.raises(UnsupportedVersionError):
        codec.decode(data[:2] + bytes([7]) + data[3:])
    with pytest.raises(TruncatedPayloadError):
        codec.decode(data[:2])
    for cut in (3, 4, 7):  # magic and version, but not the whole fixed header: cut short, whatever the flags say
        with pytest.raises(TruncatedPayloadError, match=f"payload is {cut} bytes; the fixed header alone is 8"):
            codec.decode(data[:cut])
    with pytest.raises(UnsupportedVersionError, match="flags byte is 5"):
        codec.decode(data[:3] + bytes([5]) + data[4:])
    with pytest.raises(ChecksumError):
        codec.decode(data[:-5])  # cut: the checksum no longer matches
    with pytest.raises(TruncatedPayloadError):
        codec.decode(_reseal(data[:-5]))  # last NAL shorter than its length field says
    with pytest.raises(UnsupportedVersionError, match="version 1 is no longer accepted"):
        codec.decode(data[:2] + bytes([1]) + data[3:])
    with pytest.raises(LimitExceededError):
        RoiCodec(limits=RoiLimits(max_frames=4)).decode(data)
    with pytest.raises(LimitExceededError):
        RoiCodec(limits=RoiLimits(max_bytes=100)).decode(data)
    garbage = _reseal(data[:11] + bytes([10]) + bytes(range(200, 210)))  # a NAL of junk after a valid header
    with pytest.raises(RoiPayloadError):
        codec.decode(garbage)
    with pytest.raises(BitstreamDecodeError):
        decode_annexb(b"\x00\x00\x00\x01" + bytes(50), 8, 64, 64)


def test_bad_inputs_rejected() -> None:
    codec = RoiCodec()
    with pytest.raises(RoiInputError):
        codec.encode(_clip(), np.ones((8, 7, 8), np.float32))  # 7 does not divide 64
    with pytest.raises(RoiInputError):
        codec.encode(_clip().astype(np.float32), _importance())  # type: ignore[arg-type]
    with pytest.raises(RoiInputError):
        codec.encode(_clip(), np.full((8, 8, 8), np.nan, np.float32))


def test_composite_torch_matches_numpy() -> None:
    clip = _clip(2)
    keep = _importance() >= 0.5
    x = torch.from_numpy(clip).permute(3, 0, 1, 2).unsqueeze(0).float() / 255.0
    soft = composite_torch(x, torch.from_numpy(keep.astype(np.float32)).unsqueeze(0), 16)
    from stae_ros.roi.importance import background_numpy

    ref = composite_numpy(clip, keep, background_numpy(clip, 16))
    got = (soft[0].permute(1, 2, 3, 0).numpy() * 255.0).round()
    assert np.abs(got - ref).max() <= 1.0


def test_importance_net_shape() -> None:
    imp = ImportanceNet().importance(_clip())
    assert imp.shape == (8, 8, 8) and (imp > 0).all() and (imp < 1).all()


def test_bytes_at_accuracy_interpolates_on_envelope() -> None:
    pts = [(100.0, 0.5), (400.0, 0.7), (200.0, 0.45)]  # the dip at 200 B is ignored
    assert bytes_at_accuracy(pts, 0.6) == pytest.approx((200.0 * 400.0) ** 0.5)  # log-linear between 200 and 400
    assert bytes_at_accuracy(pts, 0.7) == pytest.approx(400.0)
    assert bytes_at_accuracy(pts, 0.8) is None


def test_downscaled_h264_reference_round_trips_with_bounded_error() -> None:
    """What h264_points(scale=2) does to a clip: area-down, x264 at half size, decode, bilinear-up."""
    yy, xx = np.mgrid[0:64, 0:64]
    frame = np.stack([(yy * 3) % 256, (xx * 3) % 256, ((yy + xx) * 2) % 256], -1).astype(np.uint8)  # smooth ramps
    clip = np.stack([np.roll(frame, i, axis=1) for i in range(4)])
    small = resize_clip(clip, 32, 32)
    assert small.shape == (4, 32, 32, 3) and resize_clip(clip, 64, 64) is clip
    back = resize_clip(decode_annexb(encode_annexb(small, X264Settings(crf=18)), 4, 32, 32), 64, 64)
    assert back.shape == clip.shape and back.dtype == np.uint8
    err = np.abs(back.astype(np.int16) - clip.astype(np.int16))
    assert np.median(err) < 8  # ramps survive half size; the wrap-around edges are the only large errors


def test_equal_accuracy_uses_the_reference_floor_only_within_one_point() -> None:
    ref = {"h264": [(440.0, 0.965), (540.0, 0.95), (740.0, 0.973)]}
    rows = [
        {"codec": "a", "bytes_mean": 49.0, "accuracy": 0.960},  # 0.5 pt below the floor: compared with it
        {"codec": "b", "bytes_mean": 24.0, "accuracy": 0.860},  # 10 pt below: no equal-accuracy setting
        {"codec": "c", "bytes_mean": 100.0, "accuracy": 0.970},  # on the curve: interpolated as before
    ]
    a, b, c = equal_accuracy_table(rows, ref)
    assert a["h264_bytes"] is None and a["h264_bytes_minus1pt"] == 440.0
    assert a["h264_ratio_minus1pt"] == pytest.approx(440.0 / 49.0)
    assert b["h264_bytes_minus1pt"] is None and b["h264_ratio_minus1pt"] is None
    assert 440.0 < c["h264_bytes"] < 740.0 and c["h264_bytes_minus1pt"] == pytest.approx(440.0)


def test_crop_mode_round_trip() -> None:
    clip = _clip(3)
    codec = RoiCodec(RoiSettings(threshold=0.5, mode="crop", x264=X264Settings(crf=20)))
    data = codec.encode(clip, _importance())
    out = codec.decode(data)
    x0, y0, cw, ch = codec.crop_window(_importance(), 64, 64)
    assert cw % 16 == 0 and ch % 16 == 0 and x0 <= 16 and x0 + cw >= 56 and y0 <= 16 and y0 + ch >= 40
    inside = (slice(None), slice(y0, y0 + ch), slice(x0, x0 + cw))
    assert _psnr(out[inside], clip[inside]) > 25.0  # the window holds sigma-12 sensor noise too
    outside = np.ones(out.shape[:3], bool)
    outside[inside] = False
    assert (out[outside] == 128).all()
    whole = RoiCodec(RoiSettings(x264=X264Settings(crf=20))).encode(clip, np.ones((8, 8, 8), np.float32))
    assert len(data) < len(whole)
    with pytest.raises(LimitExceededError):  # crop window announced outside the frame
        RoiCodec().decode(_reseal(data[:11] + bytes([60]) + data[12:]))


def test_region_qp_codes_the_window_between_kept_blocks_coarsely() -> None:
    """region_qp: inside the crop window, the macroblocks without a kept block are coded coarser
    (H.264 regions of interest through libavfilter's addroi); the kept ones keep their quality."""
    from dataclasses import replace

    clip = _clip(5)
    imp = np.zeros((8, 8, 8), np.float32)
    imp[:, 2, 2] = imp[:, 4, 6] = 1.0  # two kept 8-px blocks: (16..24, 16..24) and (32..40, 48..56)
    plain = RoiCodec(RoiSettings(threshold=0.5, mode="crop", x264=X264Settings(crf=20)))
    coarse = RoiCodec(replace(plain.settings, region_qp=20))
    window = plain.crop_window(imp, 64, 64)
    assert window == (12, 12, 48, 32)
    assert plain.region_offsets(imp, 64, 64, window) is None
    # window rows 4..12 / 20..28 and columns 4..12 / 36..44 hold the kept blocks: macroblocks (0,0) and (1,2)
    np.testing.assert_array_equal(coarse.region_offsets(imp, 64, 64, window), [[0, 20, 20], [20, 20, 0]])
    a, b = plain.encode(clip, imp), coarse.encode(clip, imp)
    assert len(b) < 0.8 * len(a)
    da, db = plain.decode(a), coarse.decode(b)
    kept, between = (slice(None), slice(12, 28), slice(12, 28)), (slice(None), slice(12, 28), slice(28, 44))
    assert _psnr(db[kept], clip[kept]) > _psnr(da[kept], clip[kept]) - 1.5
    assert _psnr(db[between], clip[between]) < _psnr(da[between], clip[between]) - 3.0


def test_region_grade_graded_follows_the_map() -> None:
    """region_grade "graded": a macroblock holding the map's peak gets no offset, an empty one the whole
    region_qp, one at half importance half of it; the crop window picks its own macroblocks; and the
    clip coded that way spends fewer bytes on the less important half of the frame."""
    from dataclasses import replace

    imp = np.zeros((4, 8, 8), np.float32)  # 64x64 frames, 8-px blocks: 4x4 macroblocks
    imp[:, 0:2, 0:2] = 1.0  # macroblock (0, 0)
    imp[:, 2:4, 2:4] = 0.5  # macroblock (1, 1)
    graded = RoiCodec(RoiSettings(region_qp=20, region_grade="graded"))
    off = graded.region_offsets(imp, 64, 64)
    assert off.shape == (4, 4)
    assert off[0, 0] == 0 and off[1, 1] == 10 and off[3, 3] == 20
    assert graded.region_offsets(imp, 64, 64, (16, 16, 32, 32)).tolist() == [[10, 20], [20, 20]]
    assert RoiCodec(RoiSettings(region_qp=0, region_grade="graded")).region_offsets(imp, 64, 64) is None
    binary = RoiCodec(replace(graded.settings, region_grade="binary", threshold=0.5))
    assert binary.region_offsets(imp, 64, 64)[1, 1] == 0  # kept at 0.5: binary gives it full quality

    clip = _clip(7)
    left = np.zeros((8, 8, 8), np.float32)
    left[:, :, :4] = 1.0  # the left half matters, the right half not at all
    plain = RoiCodec(RoiSettings(mode="fill", threshold=0.0, x264=X264Settings(crf=20)))
    coarse = RoiCodec(replace(plain.settings, region_qp=24, region_grade="graded"))
    a, b = plain.encode(clip, left), coarse.encode(clip, left)
    assert len(b) < len(a)
    da, db = plain.decode(a), coarse.decode(b)
    lhs, rhs = (slice(None), slice(None), slice(0, 32)), (slice(None), slice(None), slice(32, 64))
    assert _psnr(db[lhs], clip[lhs]) > _psnr(da[lhs], clip[lhs]) - 1.5
    assert _psnr(db[rhs], clip[rhs]) < _psnr(da[rhs], clip[rhs]) - 3.0


def test_encode_annexb_qp_offsets() -> None:
    clip = _clip(6)
    s = X264Settings(crf=24)
    assert encode_annexb(clip, s, np.zeros((4, 4))) == encode_annexb(clip, s)  # nothing to attach
    offsets = np.full((4, 4), 15)
    assert len(encode_annexb(clip, s, offsets)) < 0.7 * len(encode_annexb(clip, s))
    with pytest.raises(RoiInputError, match="QP offsets"):
        encode_annexb(clip, s, np.zeros((2, 4)))
    with pytest.raises(RoiInputError, match="QP offsets"):
        encode_annexb(clip, s, np.full((4, 4), 60))


def test_motion_importance_finds_the_moving_square() -> None:
    imp = motion_importance(_clip(4), block=8, dilate=0)
    assert imp.shape == (8, 8, 8)
    assert imp[0, 2:5, 2:8].max() == pytest.approx(1.0)  # the square's rows/cols
    assert imp[0, 6:, :].max() < 0.5  # rows below it: noise only


def test_profile_points_merge_per_codec(tmp_path) -> None:
    from stae_ros.profiling.schema import load_profile
    from studies.roi.report import write_profile_points

    clip = {"frames": 16, "height": 64, "width": 64, "channels": 3}
    pt = {"accuracy": 0.7, "bytes_mean": 100.0, "bytes_p95": 150.0, "camera_ms": 5.0, "edge_ms": 1.0, "n_clips": 10}
    path = tmp_path / "p.json"
    write_profile_points(path, "stae-latent", [dict(pt, **{"lambda": 1e-3})], clip, "test")
    write_profile_points(path, "stae-roi264", [dict(pt, crf=33), dict(pt, crf=38)], clip, "test")
    write_profile_points(path, "stae-roi264", [dict(pt, crf=28)], clip, "test")  # replaces the roi points only
    prof = load_profile(path)
    assert sorted(p.codec for p in prof.points) == ["stae-latent", "stae-roi264"]
    assert [p.extra.get("crf") for p in prof.points if p.codec == "stae-roi264"] == [28]


def _stop_go_clip(t: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """A square that moves 4 px per frame, pauses for frames 4-7, then moves again; flat noise-free background."""
    clip = np.full((t, 64, 64, 3), 100, np.uint8)
    x, xs = 8, []
    for i in range(t):
        if i and not 4 <= i <= 7:
            x += 4
        xs.append(x)
        clip[i, 24:40, x : x + 16] = 230
    return clip, np.array(xs)


def test_motion_fa_holds_exactly_the_frames_below_threshold() -> None:
    from stae_ros.roi.importance import frame_change_scores, motion_importance_fa

    clip, _ = _stop_go_clip()
    spatial = motion_importance(clip, block=8, dilate=1)[0]
    scores, coded = frame_change_scores(clip, spatial >= 0.5, 0.5)
    assert coded[0] and scores[0] == 1.0
    assert list(np.nonzero(~coded)[0]) == [4, 5, 6, 7]  # the pause, nothing else
    imp = motion_importance_fa(clip, 8, 1, frame_threshold=0.5)
    # the per-frame map says exactly that: the frame max is below the threshold iff the frame is held
    assert list(np.nonzero(imp.reshape(len(imp), -1).max(axis=1) < 0.5)[0]) == [4, 5, 6, 7]
    assert np.array_equal(imp[0], spatial)  # coded frames keep the per-clip map
    codec = RoiCodec(RoiSettings(threshold=0.5, frame_threshold=0.5, background="grey"))
    prepared = codec.prepare(clip, imp)
    same_as_prev = [i for i in range(1, len(clip)) if np.array_equal(prepared[i], prepared[i - 1])]
    assert same_as_prev == [4, 5, 6, 7]
    plain = RoiCodec(RoiSettings(threshold=0.5, background="grey")).prepare(clip, imp)
    assert np.array_equal(prepared[8:], plain[8:]) and np.array_equal(prepared[4], plain[3])


def test_motion_fa_accumulates_change_since_last_coded_frame() -> None:
    from stae_ros.roi.importance import frame_change_scores

    clip, _ = _stop_go_clip()
    keep = np.ones((8, 8), bool)
    # threshold above one step: a frame is held until two steps of motion have piled up
    scores, coded = frame_change_scores(clip, keep, 1.5)
    moving = [i for i in range(1, 12) if not 4 <= i <= 7]
    assert coded.sum() >= 2 and not coded[1:].all()
    for i in np.nonzero(coded)[0][1:]:
        assert scores[i] >= 1.5
    assert all(scores[i] < 1.5 for i in np.nonzero(~coded)[0])
    assert any(coded[i] for i in moving[1:])


def test_uniform_fa_and_bad_settings() -> None:
    from stae_ros.roi.importance import motion_importance_fa

    clip, _ = _stop_go_clip()
    imp = motion_importance_fa(clip, 8, 1, frame_threshold=0.5, select="uniform", stride=3)
    assert list(np.nonzero(imp.reshape(12, -1).max(axis=1) >= 0.5)[0]) == [0, 3, 6, 9]
    with pytest.raises(RoiInputError):
        motion_importance_fa(clip, frame_threshold=1.5)
    with pytest.raises(RoiInputError):
        motion_importance_fa(clip, select="random")
    data_fa = RoiCodec(RoiSettings(mode="crop", frame_threshold=0.5, x264=X264Settings(crf=30))).encode(clip, imp)
    data = RoiCodec(RoiSettings(mode="crop", x264=X264Settings(crf=30))).encode(clip, imp)
    assert len(data_fa) < len(data)


def test_real_footage_clips_and_resize(tmp_path) -> None:
    from stae_ros.data.video_io import write_video
    from studies.roi.real_footage import footage_clips, square_resize

    frames = np.zeros((40, 48, 80, 3), np.uint8)
    frames[:, :, 16:64] = 200  # the centre square is bright, the side bands dark
    frames[:, 0, 40] = np.arange(40)[:, None]  # frame index, to check clip order
    path = write_video(tmp_path / "v.avi", frames)
    clips = footage_clips(path, 16, 5)
    assert clips.shape == (2, 16, 48, 80, 3)  # 40 frames -> two whole 16-frame clips
    assert clips[1, 0, 0, 40, 0] == 16
    small = square_resize(clips[0], 24)
    assert small.shape == (16, 24, 24, 3)
    assert small[:, 4:, :].min() >= 190  # the centre crop dropped the dark bands


def test_residual_map_starts_at_the_motion_map_and_crop_composite() -> None:
    from studies.roi.residual_map import ResidualImportance, crop_composite_torch

    clip = _clip(5)
    net = ResidualImportance(block=8, dilate=1)
    m = motion_importance(clip, 8, 1)
    imp = net.importance(clip)
    assert imp.shape == m.shape
    assert np.array_equal(imp >= 0.5, m >= 0.5)  # zero residual: the camera keeps the same blocks
    x = torch.from_numpy(clip).permute(3, 0, 1, 2)[None].float() / 255.0
    soft = torch.from_numpy(imp)[None].requires_grad_(True)
    comp, area = crop_composite_torch(x, soft, hard_straight_through=True)
    x0, y0, cw, ch = RoiCodec(RoiSettings(mode="crop")).crop_window(imp, 64, 64)
    inside = comp[0, :, :, y0 : y0 + ch, x0 : x0 + cw]
    assert torch.allclose(inside, x[0, :, :, y0 : y0 + ch, x0 : x0 + cw])  # the camera's window, unchanged
    outside = comp[0].clone()
    outside[:, :, y0 : y0 + ch, x0 : x0 + cw] = 128.0 / 255.0
    assert torch.allclose(outside, torch.full_like(outside, 128.0 / 255.0))  # grey elsewhere, as the edge pastes it
    (comp.sum() + area.sum()).backward()
    assert soft.grad is not None and soft.grad.abs().sum() > 0  # straight through: the map gets a gradient


def test_profile_points_keep_fa_knobs_cpu_time_and_unshipped_models(tmp_path):
    """Study rows become planner points: FA knobs kept, one-thread CPU ms preferred, out/ models named as unshipped."""
    from stae_ros.profiling.schema import load_profile
    from studies.roi.report import write_profile_points

    rows = [
        {"label": "roi fa", "accuracy": 0.7, "bytes_mean": 380.0, "bytes_p95": 500.0, "camera_ms": 40.0, "camera_cpu_ms": 15.0,
         "crf": 38, "threshold": 0.5, "frame_select": "uniform", "frame_stride": 2, "frame_threshold": 0.5, "n_clips": 10},
        {"label": "roi plain", "accuracy": 0.72, "bytes_mean": 400.0, "bytes_p95": 520.0, "camera_ms": 16.0,
         "crf": 38, "threshold": 0.5, "frame_select": "", "frame_stride": 2, "frame_threshold": 0.0, "n_clips": 10},
    ]
    path = write_profile_points(tmp_path / "p.json", "stae-roi264", rows, {"frames": 16, "height": 64, "width": 64, "channels": 3}, "t")
    write_profile_points(path, "stae-latent", [{"label": "lat", "accuracy": 0.6, "bytes_mean": 50.0, "bytes_p95": 80.0,
                                               "camera_ms": 3.0, "model": "out/x.pt", "lambda": 1e-3}],
                         {"frames": 16, "height": 64, "width": 64, "channels": 3}, "t")
    points = {p.extra["label"]: p for p in load_profile(path).points}
    assert set(points) == {"roi fa", "roi plain", "lat"}  # the second call kept the first codec's points
    assert points["roi fa"].camera_ms == 15.0 and points["roi plain"].camera_ms == 16.0
    assert points["roi fa"].extra["frame_select"] == "uniform" and points["roi fa"].extra["frame_stride"] == 2
    assert "frame_stride" not in points["roi plain"].extra and "frame_threshold" not in points["roi plain"].extra
    assert points["lat"].extra["model"] == "" and points["lat"].extra["model_not_shipped"] == "out/x.pt"


@pytest.mark.parametrize("kind", ["learned", "residual"])
def test_map_training_rate_term_shrinks_what_is_kept(kind: str) -> None:
    """The rate proxy works: with a large beta the trained map keeps less than with beta = 0."""
    from stae_ros.roi.map_training import MapTraining
    from studies.roi.residual_map import train_residual_map
    from stae_ros.roi.train_map import train_importance

    clips = np.stack([_clip(seed) for seed in range(6)])
    labels = np.arange(6) % 2
    torch.manual_seed(0)
    classifier = torch.nn.Sequential(torch.nn.AdaptiveAvgPool3d(1), torch.nn.Flatten(), torch.nn.Linear(3, 2))
    kept = {}
    for beta in (0.0, 30.0):
        cfg = MapTraining(steps=30, beta=beta, batch=4, lr=2e-2, block=8, progress=False)
        if kind == "learned":
            net, stats = train_importance(classifier, clips, labels, cfg, bg_block=16)
        else:
            net, stats = train_residual_map(classifier, clips, labels, cfg)
        assert np.isfinite(stats["ce"])
        kept[beta] = float(np.mean([net.importance(c).mean() for c in clips[:2]]))
    assert kept[30.0] < kept[0.0], kept


def test_qp_zones_cover_exactly_the_flagged_frames() -> None:
    from stae_ros.roi.h264 import qp_zones

    assert qp_zones(np.array([False, True, True, False, True]), 51) == "1,2,q=51/4,4,q=51"
    assert qp_zones(np.zeros(4, bool), 40) == ""
    assert X264Settings(crf=30, zones="1,2,q=51").options(16)["x264-params"].endswith(":zones=1,2,q=51")


def test_fa_zones_code_unimportant_frames_coarsely_where_hold_repeats_them() -> None:
    """frame_action "zones": frames below the frame threshold still move (coded at frame_qp),
    at lower quality than the important ones; "hold" repeats the previous frame instead."""
    clip = _clip(t=8)
    imp = _importance()
    imp[1::2] *= 0.2  # odd frames unimportant
    out = {}
    for action in ("hold", "zones"):
        codec = RoiCodec(RoiSettings(threshold=0.5, frame_threshold=0.5, frame_action=action, frame_qp=36,
                                     x264=X264Settings(crf=20)))
        out[action] = codec.decode(codec.encode(clip, imp))
    plain = RoiCodec(RoiSettings(threshold=0.5, x264=X264Settings(crf=20)))
    full = plain.decode(plain.encode(clip, _importance()))  # every frame important
    roi = (slice(16, 40), slice(16, 56))

    def change(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.abs(a[roi].astype(np.int16) - b[roi].astype(np.int16)).mean())

    moved = change(clip[1], clip[0])
    assert change(out["hold"][1], out["hold"][0]) < 0.2 * moved  # held: (almost) no motion
    assert change(out["zones"][1], out["zones"][0]) > 0.5 * moved  # zones: the square moved
    assert _psnr(clip[1][roi], out["zones"][1][roi]) < _psnr(clip[1][roi], full[1][roi]) - 3  # coarse
    assert _psnr(clip[2][roi], out["zones"][2][roi]) > _psnr(clip[2][roi], out["zones"][1][roi])
    with pytest.raises(RoiInputError, match="frame action"):
        RoiCodec(RoiSettings(frame_threshold=0.5, frame_action="drop")).encode(clip, imp)


def test_x264_asm_leaves_out_only_avx512() -> None:
    """An AVX-512 CPU gets its own instruction sets below AVX-512; any other CPU x264's detection."""
    from stae_ros.roi.h264 import x264_asm

    avx512 = {"avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl"}
    zen4 = {"sse", "sse2", "pni", "ssse3", "sse4_1", "sse4_2", "avx", "fma", "abm", "bmi1", "bmi2", "avx2", "sse4a"}
    asm = x264_asm(zen4 | avx512).split(",")
    assert asm == ["SSE", "SSE2", "SSE3", "SSSE3", "SSE4.1", "SSE4.2", "AVX", "FMA3", "LZCNT", "BMI1", "BMI2", "AVX2"]
    assert x264_asm(zen4) == ""  # no AVX-512: x264 detects the CPU itself
    assert x264_asm(zen4 | (avx512 - {"avx512vl"})) == ""  # x264 needs all five for its AVX-512 paths
    assert x264_asm(set()) == ""  # ARM, or no /proc/cpuinfo


def test_x264_codes_the_same_clip_to_the_same_bytes() -> None:
    """The same frames give the same payload every time, also while other processes preempt the
    encoder, and x264 accepts the asm option (it only warns about an unknown name, and drops it).

    On this project's AVX-512 hosts, libx264's AVX-512 paths with mb-tree coded a 32x32 clip to
    another stream in up to half of the encodes while both cores were busy (see x264_asm).
    """
    import os
    import subprocess
    import sys
    from collections import Counter

    import av.logging

    clips = [np.random.default_rng(seed).integers(0, 256, (16, 32, 32, 3), dtype=np.uint8) for seed in (1, 2)]
    settings = X264Settings(crf=38)  # veryfast: mb-tree on
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(min(os.cpu_count() or 2, 4))]
    try:
        ours = [Counter(encode_annexb(clip, settings) for _ in range(100)) for clip in clips]
    finally:
        for proc in busy:
            proc.kill()
            proc.wait()
    assert [len(c) for c in ours] == [1, 1], [sorted(len(b) for b in c) for c in ours]
    level = av.logging.get_level()
    av.logging.set_level(av.logging.WARNING)
    try:
        with av.logging.Capture() as logs:
            encode_annexb(clips[0], settings)
    finally:
        av.logging.set_level(level)
    assert not [m for m in logs if "Error parsing option" in m[2]], logs  # x264 took every asm name


def test_report_sweep_writes_table_json_plot_and_profile(tmp_path) -> None:
    """The end both payload sweeps share: ratios against the reference, the JSON, the plot, the profile."""
    import json

    from studies.roi.report import report_sweep

    rows = [{"codec": "a", "bytes_mean": 100.0, "bytes_p95": 120.0, "accuracy": 0.8, "camera_ms": 2.0},
            {"codec": "b", "bytes_mean": 200.0, "bytes_p95": 240.0, "accuracy": 0.9, "camera_ms": 2.0}]
    ref = [{"bytes_mean": 150.0, "bytes_mean_lite": 140.0, "accuracy": 0.8},
           {"bytes_mean": 400.0, "bytes_mean_lite": 380.0, "accuracy": 0.9}]
    clip = {"frames": 4, "height": 16, "width": 16, "channels": 3}
    table = report_sweep(tmp_path / "r.json", {"seed": 0}, rows, ref, {"mine": [(100.0, 0.8), (200.0, 0.9)]},
                         tmp_path / "p.png", "t", "stae-latent", clip, str(tmp_path / "profile.json"), 10)
    assert [t["label"] for t in table] == ["a", "b"]
    assert table[0]["h264_ratio"] == pytest.approx(1.5) and table[0]["h264_lite_ratio"] == pytest.approx(1.4)
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["equal_accuracy"] == table and saved["h264"] == ref and saved["config"] == {"seed": 0}
    assert (tmp_path / "p.png").stat().st_size > 0 and (tmp_path / "profile.json").is_file()
