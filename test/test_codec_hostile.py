"""Hostile and corrupted payloads: every decoder refuses them with its documented error, from the
headers, before the work they would cost; every payload format carries a checksum; model files
that are truncated, of another kind or with a bad field are refused naming the file and field.
"""

from __future__ import annotations

import struct
import tracemalloc
import zlib

import cv2
import numpy as np
import pytest
import torch
import zstandard

from stae_ros import codec as px
from stae_ros.codec.images import check_png_chunks
from stae_ros.codec.testing import make_payload, patch_header
from stae_ros.codec.varint import decode_varints
from stae_ros.codec.wire import HEADER_SIZE, unpack_header, with_crc

LIMITS = px.DecodeLimits(max_frames=16, max_height=64, max_width=64, max_channels=3)


def _sections(data: bytes) -> tuple[bytes, bytes, bytes]:
    h = unpack_header(data)
    off = HEADER_SIZE + 2 * h.k
    return data[HEADER_SIZE:off], data[off : off + h.mask_len], data[off + h.mask_len :]


def _rebuild(data: bytes, mask: bytes | None = None, values: bytes | None = None, **fields) -> bytes:
    """A stae-px payload with new sections / header fields and a valid CRC (a deliberate attack)."""
    fi, m, v = _sections(data)
    m = m if mask is None else mask
    v = v if values is None else values
    head = patch_header(data, fix_crc=False, mask_len=len(m), value_len=len(v), **fields)[:HEADER_SIZE]
    return with_crc(head + fi + m + v)


def _png_payload() -> tuple[bytes, bytes]:
    pl = make_payload(16, 64, 64, 3, 4, 0.25, seed=1)
    data = px.encode(pl, layout="bitmap+png")
    h = unpack_header(data)
    v = _sections(data)[2]
    png = zstandard.ZstdDecompressor().decompress(v) if h.value_codec == 1 else v
    return data, png


def _chunk(kind: bytes, body: bytes, length: int | None = None) -> bytes:
    return struct.pack(">I", len(body) if length is None else length) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


# ----------------------------------------------------------------------------- stae-px


@pytest.mark.parametrize("kind", [b"IDAT", b"tEXt", b"acTL"])
def test_png_chunk_declaring_2_31_bytes_is_refused_before_decoding(kind: bytes) -> None:
    data, png = _png_payload()
    evil = png[:33] + _chunk(kind, b"\x00" * 16, length=0x7FFFFFFF) + png[33:]
    attack = _rebuild(data, values=evil, value_codec=0, value_raw_len=len(evil))
    with pytest.raises(px.CorruptPayloadError, match="PNG chunk"):
        px.decode(attack, limits=LIMITS)
    check_png_chunks(png, 3)  # the honest image passes the same walk


def test_png_with_extra_chunks_or_16_bit_samples_is_refused() -> None:
    _, png = _png_payload()
    with pytest.raises(px.CorruptPayloadError, match="tEXt"):
        check_png_chunks(png[:33] + _chunk(b"tEXt", b"a\x00b") + png[33:], 3)
    ihdr = bytearray(png[8:33])
    ihdr[4 + 4 + 8] = 16  # bit depth
    ihdr[-4:] = struct.pack(">I", zlib.crc32(bytes(ihdr[4:-4])))
    with pytest.raises(px.CorruptPayloadError, match="bit depth 16"):
        check_png_chunks(png[:8] + bytes(ihdr) + png[33:], 3)
    with pytest.raises(px.CorruptPayloadError):
        check_png_chunks(png + b"trailing", 3)
    with pytest.raises(px.CorruptPayloadError, match="holds 1, 3 or 4 channels; the header says 2"):
        check_png_chunks(png, 2)  # a header whose channel count no PNG colour type has


def test_zstd_mask_bomb_is_refused_before_decompressing() -> None:
    pl = make_payload(16, 64, 64, 3, 4, 0.25, seed=2)
    data = px.encode(pl, layout="rle+planar")
    h = unpack_header(data)
    raw = 64 << 20  # within the default max_decoded_bytes, 4096x the mask's real bound
    bomb = zstandard.ZstdCompressor(level=19, write_content_size=True).compress(b"\x01" * raw)
    for layout in (1, 2):  # rle, delta
        attack = _rebuild(data, mask=bomb, mask_layout=layout, mask_codec=1, mask_raw_len=raw)
        tracemalloc.start()
        with pytest.raises(px.SizeMismatchError, match="mask section"):
            px.decode(attack, limits=LIMITS)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 4 << 20, peak
    assert h.mask_raw_len <= px.codec.mask_raw_bound("rle", h.k * 64 * 64, h.n_values)


def test_zstd_image_section_bomb_is_refused() -> None:
    data, _ = _png_payload()
    raw = 64 << 20
    bomb = zstandard.ZstdCompressor(level=19, write_content_size=True).compress(b"\x00" * raw)
    with pytest.raises(px.SizeMismatchError, match="at most"):
        px.decode(_rebuild(data, values=bomb, value_codec=1, value_raw_len=raw), limits=LIMITS)


def test_zstd_section_longer_than_its_content_is_refused() -> None:
    data = px.encode(make_payload(8, 16, 16, 3, 2, 0.5, seed=3), layout="rle+planar")
    h = unpack_header(data)
    padded = zstandard.ZstdCompressor(level=1, write_content_size=True).compress(bytes(4)) + bytes(64)
    with pytest.raises(px.SizeMismatchError, match="never larger"):
        px.decode(_rebuild(data, mask=padded, mask_codec=1, mask_raw_len=4), limits=LIMITS)
    assert h.mask_codec in (0, 1)


def test_progressive_jpeg_is_refused() -> None:
    pl = make_payload(16, 64, 64, 3, 4, 0.25, seed=4)
    data = px.encode(pl, layout="bitmap+jpeg")
    kept = np.zeros((4, 64, 64, 3), np.uint8)
    ok, buf = cv2.imencode(".jpg", kept.reshape(256, 64, 3), [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    assert ok
    jpg = buf.tobytes()
    with pytest.raises(px.CorruptPayloadError, match="not baseline"):
        px.decode(_rebuild(data, values=jpg, value_codec=0, value_raw_len=len(jpg)), limits=LIMITS)


def test_varints_count_before_building_arrays() -> None:
    data = b"\x01" * (16 << 20)
    tracemalloc.start()
    with pytest.raises(px.CorruptPayloadError, match="at most 10"):
        decode_varints(data, max_count=10)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 2 * len(data), peak  # one bool per input byte, no int64 per byte (8x) as before
    vals = np.array([0, 1, 127, 128, 300, 2**21, 2**32 - 1], np.uint64)
    from stae_ros.codec.varint import encode_varints

    assert np.array_equal(decode_varints(encode_varints(vals)), vals)


def test_px_version_error_names_both_versions() -> None:
    data = px.encode(make_payload(seed=5))
    with pytest.raises(px.UnsupportedVersionError, match="stae-px format version 9 is not accepted; this edge reads version 1"):
        px.decode(data[:4] + bytes([9]) + data[5:])


# ----------------------------------------------------------------------------- H.264


def _annexb(t: int, h: int, w: int, preset: str = "ultrafast") -> bytes:
    from stae_ros.roi.h264 import X264Settings, encode_annexb

    rng = np.random.default_rng(t * 1000 + h + w)
    return encode_annexb(rng.integers(0, 255, (t, h, w, 3), dtype=np.uint8), X264Settings(preset=preset, crf=35))


@pytest.mark.parametrize("size", [(16, 16), (64, 64), (60, 100), (30, 18), (112, 112)])
def test_sps_parser_reads_the_encoded_size(size: tuple[int, int]) -> None:
    from stae_ros.roi.h264 import parse_sps, split_nals

    h, w = size
    for preset in ("ultrafast", "medium"):
        sps = [n for n in split_nals(_annexb(2, h, w, preset)) if n[0] & 0x1F == 7]
        info = parse_sps(sps[0])
        assert (info.width, info.height, info.chroma_format_idc, info.bit_depth) == (w, h, 1, 8)


def test_stream_larger_than_its_header_is_refused_from_the_sps() -> None:
    from stae_ros.roi.errors import BitstreamDecodeError
    from stae_ros.roi.h264 import decode_annexb

    big = _annexb(2, 576, 1024)
    with pytest.raises(BitstreamDecodeError, match="SPS declares 1024x576"):
        decode_annexb(big, 2, 64, 64)


def test_too_many_frames_or_nal_units_are_refused() -> None:
    from stae_ros.roi.errors import BitstreamDecodeError
    from stae_ros.roi.h264 import decode_annexb, max_nals_for

    with pytest.raises(BitstreamDecodeError, match="more than the 2 frames"):
        decode_annexb(_annexb(12, 16, 16), 2, 16, 16)  # 14 NAL units: within the NAL cap, stopped at frame 3
    many = _annexb(max_nals_for(2), 16, 16)
    with pytest.raises(BitstreamDecodeError, match="NAL units"):
        decode_annexb(many, 2, 16, 16)
    assert decode_annexb(_annexb(2, 16, 16), 2, 16, 16).shape == (2, 16, 16, 3)


def test_unknown_nal_types_are_refused() -> None:
    from stae_ros.roi.errors import BitstreamDecodeError
    from stae_ros.roi.h264 import decode_annexb

    good = _annexb(2, 16, 16)
    with pytest.raises(BitstreamDecodeError, match="NAL unit type 15"):
        decode_annexb(b"\x00\x00\x00\x01\x0f\x42\x00" + good, 2, 16, 16)  # subset SPS (SVC/MVC)


# ----------------------------------------------------------------------------- stae-roi264


@pytest.fixture(scope="module")
def roi_payload():
    from stae_ros.roi.codec import RoiCodec, RoiLimits, RoiSettings

    codec = RoiCodec(RoiSettings(mode="fill"), limits=RoiLimits(max_frames=4, max_side=32))
    rng = np.random.default_rng(7)
    clip = rng.integers(0, 255, (4, 32, 32, 3), dtype=np.uint8)
    return codec, codec.encode(clip, np.ones((4, 4, 4), np.float32))


def test_roi_every_single_bit_flip_is_refused(roi_payload) -> None:
    from stae_ros.roi.errors import RoiPayloadError

    codec, data = roi_payload
    assert codec.decode(data).shape == (4, 32, 32, 3)
    labelled = 0
    for bit in range(8 * len(data)):
        bad = bytearray(data)
        bad[bit // 8] ^= 1 << (bit % 8)
        try:
            codec.decode(bytes(bad))
        except RoiPayloadError:
            continue
        labelled += 1
    assert labelled == 0


def test_roi_version_1_is_refused_by_name(roi_payload) -> None:
    from stae_ros.roi.errors import ChecksumError, LimitExceededError, UnsupportedVersionError

    codec, data = roi_payload
    with pytest.raises(UnsupportedVersionError, match="version 1 is no longer accepted.*reads version 2"):
        codec.decode(data[:2] + b"\x01" + data[3:])
    with pytest.raises(ChecksumError):
        codec.decode(data[:-1] + bytes([data[-1] ^ 0x40]))
    with pytest.raises(LimitExceededError, match="at most"):
        codec.decode(data + bytes(3 * 4 * 32 * 32 + 65536))


# ----------------------------------------------------------------------------- stae-latent


@pytest.fixture(scope="module")
def latent_codec():
    from stae_ros.latent import LatentCodec, LatentConfig, LatentModel

    torch.manual_seed(0)
    model = LatentModel(LatentConfig(frames=8, height=32, width=32, num_classes=3, enc_width=4, latent_channels=4,
                                     head_width=8, support=7))
    with torch.no_grad():
        model.encoder.out.weight.mul_(20.0)
    codec = LatentCodec(model.eval())
    rng = np.random.default_rng(8)
    return codec, codec.encode(rng.integers(0, 256, (8, 32, 32, 3), dtype=np.uint8))


def test_latent_every_single_bit_flip_and_truncation_is_refused(latent_codec) -> None:
    from stae_ros.latent import LatentPayloadError

    codec, data = latent_codec
    codec.decode(data)
    labelled = 0
    cases = [data[:n] for n in range(len(data))]
    for bit in range(8 * len(data)):
        bad = bytearray(data)
        bad[bit // 8] ^= 1 << (bit % 8)
        cases.append(bytes(bad))
    for case in cases:
        try:
            codec.decode(case)
        except LatentPayloadError:
            continue
        labelled += 1
    assert labelled == 0


def test_latent_version_1_and_oversized_bodies_are_refused(latent_codec) -> None:
    from stae_ros.latent import LimitExceededError, UnsupportedVersionError
    from stae_ros.latent.bitstream import max_body_bytes

    codec, data = latent_codec
    with pytest.raises(UnsupportedVersionError, match="version 1 is no longer accepted.*reads version 2"):
        codec.decode(data[:2] + b"\x01" + data[3:])
    with pytest.raises(LimitExceededError, match="at most"):
        codec.decode(data + bytes(max_body_bytes(codec.shape)))


# ----------------------------------------------------------------------------- model files


def _bad_files(tmp_path, good_path) -> dict[str, object]:
    blob = good_path.read_bytes()
    (tmp_path / "truncated.pt").write_bytes(blob[: len(blob) // 2])
    (tmp_path / "text.pt").write_bytes(b"not a model\n")
    torch.save({"format": "stae-ckpt/1", "config": {}}, tmp_path / "other_kind.pt")
    torch.save([1, 2, 3], tmp_path / "a_list.pt")
    return {name: tmp_path / f"{name}.pt" for name in ("truncated", "text", "other_kind", "a_list")} | {"missing": tmp_path / "nope.pt"}


def test_latent_model_loader_names_file_and_field(tmp_path) -> None:
    from stae_ros.latent import LatentError, load_latent_codec, load_latent_model, save_latent_model
    from stae_ros.latent.io import MODEL_FORMAT

    good = tmp_path / "good.pt"
    from stae_ros.latent import LatentConfig, LatentModel

    model = LatentModel(LatentConfig(frames=8, height=32, width=32, num_classes=3, enc_width=4, latent_channels=4, head_width=8))
    save_latent_model(good, model)
    load_latent_codec(good)
    for name, path in _bad_files(tmp_path, good).items():
        with pytest.raises(LatentError, match=str(path.name)):
            load_latent_model(path)
    blob = torch.load(good, weights_only=True)
    for field, value, expect in (("config", {**blob["config"], "frames": "abc"}, "config"),
                                 ("config", {**blob["config"], "bogus": 1}, "config"),
                                 ("state_dict", {"x": torch.zeros(1)}, "state_dict"),
                                 ("state_dict", "weights", "state_dict")):
        torch.save({**blob, field: value}, tmp_path / "bad_field.pt")
        with pytest.raises(LatentError, match=f"bad_field.pt.*{expect}"):
            load_latent_model(tmp_path / "bad_field.pt")
    state = dict(blob["state_dict"])
    state["prior.loc"] = torch.full_like(state["prior.loc"], float("nan"))
    torch.save({**blob, "state_dict": state}, tmp_path / "nan_prior.pt")
    with pytest.raises(LatentError, match="nan_prior.pt.*prior"):
        load_latent_codec(tmp_path / "nan_prior.pt")
    assert blob["format"] == MODEL_FORMAT


def test_roi_model_loader_names_file_and_field(tmp_path) -> None:
    from pathlib import Path

    from stae_ros.roi.node_model import RoiModelError, load_roi_model

    good = Path(__file__).resolve().parents[1] / "models" / "stae_roi264_default.pt"
    load_roi_model(good)
    for name, path in _bad_files(tmp_path, good).items():
        with pytest.raises(RoiModelError, match=str(path.name)):
            load_roi_model(path)
    blob = torch.load(good, weights_only=True)
    for field, value in (("clip", {"frames": "abc", "height": 64, "width": 64}), ("clip", [16, 64, 64]),
                         ("settings", {**blob["settings"], "threshold": "high"}),
                         ("settings", {**blob["settings"], "region_qp": 2.5}), ("settings", {**blob["settings"], "region_qp": 99}),
                         ("settings", {**blob["settings"], "region_grade": "smooth"}),
                         ("class_names", "walk"),
                         ("importance", {**blob["importance"], "block": 0}),
                         ("classifier", {**blob["classifier"], "state_dict": {"x": torch.zeros(1)}})):
        torch.save({**blob, field: value}, tmp_path / "bad_field.pt")
        with pytest.raises(RoiModelError, match=f"bad_field.pt.*{field}"):
            load_roi_model(tmp_path / "bad_field.pt")


def test_checkpoint_loader_names_file_and_field(tmp_path) -> None:
    from pathlib import Path

    from stae_ros.training.checkpoints import load_model
    from stae_ros.training.errors import CheckpointError

    good = Path(__file__).resolve().parents[1] / "models" / "stae_default.pt"
    for name, path in _bad_files(tmp_path, good).items():
        with pytest.raises(CheckpointError, match=str(path.name)):
            load_model(path)
    blob = torch.load(good, weights_only=True)
    for field, value in (("config", {"clip": {"frames": "abc"}}), ("config", "model"), ("class_names", ["a", "b"]),
                         ("class_names", "walk"), ("state_dict", {"x": torch.zeros(1)}), ("state_dict", {"x": "w"}),
                         ("metrics", 3)):
        torch.save({**blob, field: value}, tmp_path / "bad_field.pt")
        with pytest.raises(CheckpointError, match=f"bad_field.pt.*{field}"):
            load_model(tmp_path / "bad_field.pt")


def test_heavy_sps_is_parsed_and_sps_count_and_size_are_capped() -> None:
    from stae_ros.codec.testing import heavy_sps
    from stae_ros.roi.errors import BitstreamDecodeError
    from stae_ros.roi.h264 import MAX_SPS, MAX_SPS_BYTES, check_nals, parse_sps

    sps = heavy_sps()
    assert len(sps) <= MAX_SPS_BYTES
    info = parse_sps(sps)
    assert (info.width, info.height, info.chroma_format_idc, info.bit_depth) == (64, 64, 1, 8)
    one = b"\x00\x00\x00\x01" + sps
    assert check_nals(one * MAX_SPS, 16, 64, 64) == MAX_SPS
    with pytest.raises(BitstreamDecodeError, match=f"more than {MAX_SPS} SPS"):
        check_nals(one * (MAX_SPS + 1), 16, 64, 64)
    with pytest.raises(BitstreamDecodeError, match="SPS of [0-9]+ bytes is over"):
        check_nals(b"\x00\x00\x00\x01" + heavy_sps(300), 16, 64, 64)


def test_a_large_coded_picture_behind_a_small_crop_is_refused_before_decoding() -> None:
    """libavcodec allocates the coded pictures, not the cropped ones: an SPS coding 8192x8192 and cropping to
    the clip's 64x64 passed the size check and cost gigabytes per payload. Only the encoder's padding up to
    whole macroblocks may be cropped, and a real clip of a size that needs it still decodes."""
    from stae_ros.codec.testing import cropped_sps
    from stae_ros.roi.errors import BitstreamDecodeError
    from stae_ros.roi.h264 import check_nals, decode_annexb, encode_annexb, split_nals

    def with_sps(stream: bytes, sps: bytes) -> bytes:
        return b"".join(b"\x00\x00\x00\x01" + (sps if n[0] & 0x1F == 7 else n) for n in split_nals(stream))

    rng = np.random.default_rng(0)
    clip = rng.integers(0, 255, (16, 64, 64, 3), dtype=np.uint8)
    stream = encode_annexb(clip)
    assert check_nals(with_sps(stream, cropped_sps(64, 64, 64, 64)), 16, 64, 64) > 1
    for coded in ((8192, 8192), (80, 64), (64, 80)):
        hostile = with_sps(stream, cropped_sps(*coded, 64, 64))
        with pytest.raises(BitstreamDecodeError, match=f"codes {coded[0]}x{coded[1]} pictures cropped to 64x64"):
            decode_annexb(hostile, 16, 64, 64)
    odd = rng.integers(0, 255, (4, 120, 88, 3), dtype=np.uint8)
    assert decode_annexb(encode_annexb(odd), 4, 120, 88).shape == (4, 120, 88, 3)
