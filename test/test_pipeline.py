"""Camera -> bytes -> edge through the real pipelines, with the shipped model files."""

from pathlib import Path

import numpy as np
import pytest

from stae_ros.data.synthetic import render_clip
from stae_ros.models import budget_pixels
from stae_ros.pipeline import (BudgetError, CameraPipeline, ClipCutter, ClipShapeError, EdgePipeline,
                               UnknownCodecError, make_clip)
from stae_ros.training.checkpoints import load_model

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def loaded():
    return load_model(ROOT / "models" / "stae_default.pt")


@pytest.fixture(scope="module")
def clips(loaded):
    c = loaded.config.clip
    return [render_clip(i % 12, 777 + i, c.frames, c.height, c.width) for i in range(3)]


@pytest.mark.parametrize("k,p", [(16, 1.0), (4, 0.25), (1, 0.05)])
def test_stae_px_round_trip_keeps_exact_budget(loaded, clips, k, p):
    cam = CameraPipeline(loaded, k=k, p=p)
    edge = EdgePipeline(loaded, device="cpu", keep_recovered=True)
    encoded = [cam.encode(c.frames) for c in clips]
    results = edge.decode_classify([(e.payload, e.codec) for e in encoded])
    t, h, w = clips[0].frames.shape[:3]
    for e, r, c in zip(encoded, results, clips):
        assert r.ok, r.error
        assert len(e.frame_indices) == k and list(e.frame_indices) == sorted(e.frame_indices)
        assert (r.k, r.p) == (k, p)
        assert 0 <= r.class_id < 12 and r.label == loaded.class_names[r.class_id]
        assert r.recovered.shape == (t, h, w, 3)
        # the pixels the camera kept arrive unchanged (lossless codec, FR keeps arrived pixels)
        idx, mask = cam.select(c.frames)
        kept = c.frames[idx][mask]
        assert mask.sum() == k * budget_pixels(p, h, w)
        np.testing.assert_array_equal(r.recovered[idx][mask], kept)


def test_quantised_values_are_smaller_and_within_their_error_bound(loaded, clips):
    """value_bits=6 (the camera node's default) costs fewer bytes; the edge gets each value within 2 levels."""
    exact = CameraPipeline(loaded, k=16, p=0.05, value_bits=8)
    coarse = CameraPipeline(loaded, k=16, p=0.05, value_bits=6)
    edge = EdgePipeline(loaded, device="cpu", keep_recovered=True)
    for c in clips:
        e8, e6 = exact.encode(c.frames), coarse.encode(c.frames)
        assert len(e6.payload) < 0.9 * len(e8.payload)
        r = edge.decode_classify([(e6.payload, e6.codec)])[0]
        assert r.ok, r.error
        idx, mask = coarse.select(c.frames)
        err = np.abs(r.recovered[idx][mask].astype(int) - c.frames[idx][mask].astype(int))
        assert err.max() <= 2 and err.max() > 0
    with pytest.raises(BudgetError, match="value_bits"):
        CameraPipeline(loaded, value_bits=9)


def test_latent_codec_round_trip_and_bad_payloads(loaded, clips):
    cam = CameraPipeline(loaded, codec="stae-latent")
    edge = EdgePipeline(loaded, device="cpu")
    enc = cam.encode(clips[0].frames)
    assert enc.codec == "stae-latent" and len(enc.payload) < 2000
    good, truncated, junk, unknown = edge.decode_classify(
        [(enc.payload, enc.codec), (enc.payload[:3], enc.codec), (b"\x00" * 40, "stae-px"), (enc.payload, "mjpeg")])
    assert good.ok and good.label in loaded.class_names and abs(sum(s for _, _, s in good.topk) - 1) < 1.0
    for bad in (truncated, junk, unknown):
        assert not bad.ok and bad.class_id == -1
    assert "mjpeg" in unknown.error


def test_a_failure_with_a_paragraph_of_text_is_one_line_in_the_result(loaded, clips, monkeypatch):
    cam = CameraPipeline(loaded, codec="stae-latent")
    edge = EdgePipeline(loaded, device="cpu")
    enc = cam.encode(clips[0].frames)

    def verbose(data):
        raise RuntimeError("Weights only load failed.\nWeightsUnpickler error:\nUnsupported operand 103\n\nmore text")

    monkeypatch.setattr(edge.mode("stae-latent"), "decode", verbose)
    bad, = edge.decode_classify([(enc.payload, enc.codec)])
    assert not bad.ok and bad.error == "RuntimeError: Unsupported operand 103", bad.error


def test_latent_model_for_another_frame_size_sets_the_clip_size(loaded):
    """models/stae_latent_112.pt beside the 64x64 STAE model: camera and edge both use the codec's 112x112."""
    path = ROOT / "models" / "stae_latent_112.pt"
    cam = CameraPipeline(loaded, codec="stae-latent", codec_model=str(path))
    assert cam.shape == (16, 112, 112, 3)
    edge = EdgePipeline(loaded, device="cpu", codec_models={"stae-latent": str(path)})
    assert edge.clip_shape("stae-latent") == (16, 112, 112, 3) and edge.clip_shape("stae-px") == edge.shape
    c = render_clip(3, 4242, 16, 112, 112)
    enc = cam.encode(c.frames)
    (r,) = edge.decode_classify([(enc.payload, enc.codec)])
    assert r.ok and r.label in loaded.class_names and enc.k == 16 and len(enc.payload) < 400
    with pytest.raises(ClipShapeError, match="112"):
        cam.encode(np.zeros((16, 64, 64, 3), np.uint8))  # the STAE model's size is not this codec's
    missing = EdgePipeline(loaded, device="cpu", codec_models={"stae-latent": str(ROOT / "models" / "nope.pt")})
    with pytest.raises(PipelineError, match="nope.pt"):
        missing.clip_shape("stae-latent")


def test_bad_budgets_shapes_and_codecs_named(loaded):
    with pytest.raises(BudgetError, match="K=0"):
        CameraPipeline(loaded, k=0, p=0.5)
    with pytest.raises(BudgetError, match="p=1.5"):
        CameraPipeline(loaded, k=4, p=1.5)
    with pytest.raises(UnknownCodecError, match="h265.*stae-px"):  # names the modes it knows
        CameraPipeline(loaded, codec="h265")
    cam = CameraPipeline(loaded, k=4, p=0.5)
    with pytest.raises(ClipShapeError, match="does not match"):
        cam.encode(np.zeros((8, 64, 64, 3), np.uint8))
    with pytest.raises(ClipShapeError, match="uint8"):
        cam.encode(np.zeros((16, 64, 64, 3), np.float32))


def test_clip_cutter_emits_every_stride_and_resizes():
    cutter = ClipCutter(length=4, height=8, width=8, window=6, stride=3)
    frames = [np.full((20, 30, 3), i, np.uint8) for i in range(12)]
    out = [cutter.push(f, float(i)) for i, f in enumerate(frames)]
    emitted = [(i, o) for i, o in enumerate(out) if o is not None]
    assert [i for i, _ in emitted] == [5, 8, 11]
    clip, stamps = emitted[0][1]
    assert clip.shape == (4, 8, 8, 3)
    assert stamps[0] == 0.0 and stamps[-1] == 5.0
    assert make_clip(frames, 4, 8, 8, mode="last")[:, 0, 0, 0].tolist() == [8, 9, 10, 11]


# ---- stae-roi264 through the pipelines (shipped models/stae_roi264_default.pt) ------------------

from stae_ros.data.synthetic import clip_seed  # noqa: E402
from stae_ros.pipeline import PipelineError  # noqa: E402
from stae_ros.modes.stae_roi264 import DEFAULT_MODEL as DEFAULT_ROI_MODEL  # noqa: E402
from stae_ros.modes.stae_roi264 import RoiPayload  # noqa: E402


@pytest.fixture(scope="module")
def roi_pair(loaded):
    import torch

    threads = torch.get_num_threads()
    cam = CameraPipeline(loaded, k=4, p=0.1, codec="stae-roi264")  # the budget must not matter
    torch.set_num_threads(threads)
    return cam, EdgePipeline(loaded, device="cpu", keep_recovered=True)


@pytest.fixture(scope="module")
def roi_encoded(roi_pair, clips):
    cam, _ = roi_pair
    return [cam.encode(c.frames) for c in clips]


def test_roi_round_trip_labels_whole_clip(loaded, roi_pair, roi_encoded, clips):
    cam, edge = roi_pair
    t, h, w = clips[0].frames.shape[:3]
    results = edge.decode_classify([(e.payload, e.codec) for e in roi_encoded])
    logits = edge.mode("stae-roi264").payload.logits(np.stack([r.recovered for r in results]))
    assert tuple(logits.shape) == (len(clips), len(loaded.class_names))
    for e, r, c in zip(roi_encoded, results, clips):
        assert r.ok, r.error
        assert e.codec == "stae-roi264" and e.codec_version == 2  # stae-roi264 format version (CRC-32)
        assert (e.k, e.p, e.frame_indices) == (t, 1.0, tuple(range(t)))  # whole clip whatever the budget
        assert (r.k, r.p) == (t, 1.0)
        assert 100 < len(e.payload) < 3000, len(e.payload)
        assert e.camera_ms > 0 and e.camera_ms >= e.encode_ms
        assert r.label == loaded.class_names[r.class_id] and len(r.topk) == 5
        assert abs(sum(s for _, _, s in r.topk) - 1.0) < 1.0 and r.score == r.topk[0][2]
        assert r.recovered.shape == (t, h, w, 3) and r.recovered.dtype == np.uint8
        # the label is the argmax of the roi classifier's logits on the decoded clip
        row = logits[results.index(r)]
        assert int(row.argmax()) == r.class_id


def test_roi_decoded_clip_matches_input_in_kept_window(roi_pair, roi_encoded, clips, tmp_path):
    import dataclasses

    from stae_ros.roi import X264Settings
    from stae_ros.roi.h264 import decode_annexb, encode_annexb
    from stae_ros.roi.node_model import load_roi_model, save_roi_model

    cam, edge = roi_pair
    crf = cam.active.payload.model.settings.x264.crf
    for e, c in zip(roi_encoded, clips):
        x = c.frames
        decoded = edge.mode("stae-roi264").payload.decode(e.payload)
        imp = cam.active.payload.importance(x)
        x0, y0, cw, ch = cam.active.payload.codec.crop_window(imp, *x.shape[1:3])
        assert cw * ch < x.shape[1] * x.shape[2]  # it did crop
        win = (slice(None), slice(y0, y0 + ch), slice(x0, x0 + cw))
        err = np.abs(decoded[win].astype(int) - x[win]).mean()
        # in the kept window the crop costs no fidelity against libx264 coding the whole clip at that CRF
        plain = decode_annexb(encode_annexb(x, X264Settings(crf=crf)), *x.shape[:3])
        assert err <= 1.15 * np.abs(plain[win].astype(int) - x[win]).mean() + 1.0
        assert err < 0.5 * np.abs(128 - x[win].astype(int)).mean()
        outside = np.ones(decoded.shape[:3], bool)
        outside[win] = False
        assert (decoded[outside] == 128).all()  # grey fill where nothing was sent
        # the window holds the moving actor (the motion map found it): its box centre in every frame
        cx, cy = (c.boxes[:, 0] + c.boxes[:, 2]) / 2, (c.boxes[:, 1] + c.boxes[:, 3]) / 2
        assert ((cx >= x0) & (cx < x0 + cw) & (cy >= y0) & (cy < y0 + ch)).mean() >= 0.9
    # CRF 38 smooths this noisy footage about as much as a temporal mean would, so check the pixel
    # placement at a fine CRF: closer than the same window shifted by one pixel
    m = load_roi_model(cam.active.payload.path)
    fine = save_roi_model(tmp_path / "fine.pt", dataclasses.replace(m.settings, x264=X264Settings(crf=18)),
                          m.importance_spec, m.shape, m.class_names, m.classifier)
    roi = RoiPayload(fine)
    for c in clips:
        x = c.frames
        decoded = roi.decode(roi.encode(x))
        x0, y0, cw, ch = roi.codec.crop_window(roi.importance(x), *x.shape[1:3])
        win = (slice(None), slice(y0, y0 + ch), slice(x0, x0 + cw))
        err = np.abs(decoded[win].astype(int) - x[win]).mean()
        shifted = np.abs(np.roll(x, 1, axis=2)[win].astype(int) - x[win]).mean()
        assert err < 9.0 and err < 0.7 * shifted, (err, shifted)


def test_roi_shipped_model_classifies_above_chance(loaded, roi_pair):
    """24 clips of the payload study's test split (never trained on): the fine-tuned classifier
    must beat chance (1/12) by far; an untrained or mismatched one does not."""
    cam, edge = roi_pair
    c = loaded.config.clip
    items, truth = [], []
    for i in range(24):
        cid = i % 12
        clip = render_clip(cid, clip_seed(0, cid, 100 + i // 12), c.frames, c.height, c.width).frames
        items.append((cam.encode(clip).payload, "stae-roi264"))
        truth.append(cid)
    results = edge.decode_classify(items)
    correct = sum(r.ok and r.class_id == y for r, y in zip(results, truth))
    assert correct >= 10, f"{correct}/24 correct"


def test_roi_malformed_payloads_are_pipeline_errors(roi_pair, roi_encoded):
    from stae_ros.roi import RoiCodec, RoiSettings

    _, edge = roi_pair
    good = roi_encoded[0].payload
    rng = np.random.default_rng(5)
    wrong_shape = RoiCodec(RoiSettings(mode="crop")).encode(
        rng.integers(0, 255, (16, 32, 32, 3), dtype=np.uint8), np.ones((16, 4, 4), np.float32))
    bad = {
        "truncated": good[: len(good) // 2],
        "header only": good[:4],
        "bad magic": b"XX" + good[2:],
        "random bytes": rng.integers(0, 256, 300, dtype=np.uint8).tobytes(),
        "empty": b"",
        "wrong shape": wrong_shape,
        "junk body": good[:12] + rng.integers(0, 256, 200, dtype=np.uint8).tobytes(),
    }
    roi = edge.mode("stae-roi264").payload
    for name, data in bad.items():
        with pytest.raises(PipelineError):
            roi.decode(data)
    with pytest.raises(ClipShapeError, match="32x32"):
        roi.decode(wrong_shape)
    results = edge.decode_classify([(d, "stae-roi264") for d in bad.values()] + [(good, "stae-roi264")])
    for name, r in zip(bad, results):
        assert not r.ok and r.class_id == -1 and r.error, name
    assert "BadMagicError" in results[2].error
    assert results[-1].ok  # a good clip in the same batch is still labelled
    # mutated payloads: every one either decodes to a clip of the right shape or is a PipelineError
    for _ in range(150):
        data = bytearray(good)
        for _ in range(int(rng.integers(1, 6))):
            data[int(rng.integers(0, len(data)))] = int(rng.integers(0, 256))
        try:
            assert roi.decode(bytes(data)).shape == (16, 64, 64, 3)
        except PipelineError:
            pass


def test_roi_unknown_codec_and_bad_model_files(loaded, roi_encoded, tmp_path):
    with pytest.raises(UnknownCodecError, match="stae-roi264"):
        CameraPipeline(loaded, codec="stae-roi265")
    edge = EdgePipeline(loaded, device="cpu")
    (r,) = edge.decode_classify([(roi_encoded[0].payload, "stae-roi265")])
    assert not r.ok and "stae-roi265" in r.error and "stae-roi264" in r.error
    with pytest.raises(PipelineError, match="not found"):
        CameraPipeline(loaded, codec="stae-roi264", codec_model=str(tmp_path / "missing.pt"))
    with pytest.raises(PipelineError, match="stae-roi264-model"):
        RoiPayload(ROOT / "models" / "stae_latent_default.pt")
    # a missing roi model on the edge is a per-clip error, not a crash
    edge = EdgePipeline(loaded, device="cpu", codec_models={"stae-roi264": str(tmp_path / "missing.pt")})
    (r,) = edge.decode_classify([(roi_encoded[0].payload, "stae-roi264")])
    assert not r.ok and "missing.pt" in r.error


def test_roi_model_file_round_trip_and_shipped_metadata(tmp_path):
    import torch

    from stae_ros.latent.model import LatentConfig
    from stae_ros.roi import ImportanceNet, RoiSettings, X264Settings
    from stae_ros.roi.node_model import load_roi_model, make_classifier, save_roi_model

    shipped = ROOT / DEFAULT_ROI_MODEL
    assert shipped.stat().st_size < 5 * 2**20
    m = load_roi_model(shipped)
    assert m.settings.mode == "crop" and m.settings.x264.crf == 38 and m.importance_spec["kind"] == "motion"
    assert "python -m stae_ros.roi.node_model" in m.meta["command"] and m.meta["test"]
    # a learned importance map travels in the file and is what the camera then uses
    torch.manual_seed(0)
    net = ImportanceNet(block=8).eval()
    clf = make_classifier(LatentConfig(frames=8, height=32, width=32, num_classes=3).to_dict())
    path = save_roi_model(tmp_path / "r.pt", RoiSettings(mode="fill", x264=X264Settings(crf=30)),
                          {"kind": "learned", "block": 8}, (8, 32, 32), ["a", "b", "c"], clf, {"why": "test"},
                          importance_net=net)
    back = load_roi_model(path)
    clip = np.random.default_rng(0).integers(0, 255, (8, 32, 32, 3), dtype=np.uint8)
    np.testing.assert_allclose(back.importance(clip), net.importance(clip), rtol=1e-6)
    assert back.class_names == ["a", "b", "c"] and back.settings.mode == "fill" and back.meta == {"why": "test"}
    payload = RoiPayload(path)
    decoded = payload.decode(payload.encode(clip))
    assert tuple(payload.logits(decoded[None]).shape) == (1, 3)


def test_roi_codec_settings_realise_profile_points(loaded, clips):
    """A profile point's knobs change what the camera codes; {} is the model file's settings again;
    bad knobs are refused with their name and leave the settings in force."""
    cam = CameraPipeline(loaded, codec="stae-roi264")
    edge = RoiPayload()  # the file's settings: the edge is told nothing of the knobs
    frames = [c.frames for c in clips[:4]]

    def total(knobs: dict) -> int:
        cam.set_codec_settings(knobs)
        out = [cam.encode(f) for f in frames]
        for enc in out:  # still decodable by an edge that knows nothing of the knobs
            assert edge.decode(enc.payload).shape == frames[0].shape
        return sum(len(e.payload) for e in out)

    file_bytes = total({})
    assert total({"crf": 51}) < file_bytes < total({"crf": 20})
    every4 = total({"frame_select": "uniform", "frame_stride": 4, "frame_threshold": 0.5})
    assert every4 < file_bytes
    held = cam.active.payload.importance(frames[0]).reshape(16, -1).max(axis=1)
    assert (held >= 0.5).sum() == 4  # 1 frame in 4 coded, the rest held
    assert total({"mode": "fill", "crf": 38}) != file_bytes
    assert cam.active.payload.codec.settings.region_qp == 0
    total({"region_qp": 12})  # decodable by the edge as it is (checked in total)
    assert cam.active.payload.codec.settings.region_qp == 12
    graded = total({"region_qp": 12, "region_grade": "graded"})
    assert cam.active.payload.codec.settings.region_grade == "graded"
    assert graded != total({"region_qp": 12})
    assert total({}) == file_bytes
    for bad, named in [({"crf": 60}, "crf"), ({"qp": 3}, "qp"), ({"mode": "zoom"}, "mode"),
                       ({"frame_select": "uniform"}, "frame_threshold"), ({"frame_stride": 1.5}, "frame_stride"),
                       ({"region_qp": 60}, "region_qp"), ({"region_qp": 2.5}, "region_qp"),
                       ({"region_grade": "smooth"}, "region_grade")]:
        with pytest.raises(PipelineError, match=named):
            cam.set_codec_settings(bad)
    assert total({}) == file_bytes  # the refused knobs changed nothing


def test_codecs_without_run_time_settings_refuse_them(loaded):
    px = CameraPipeline(loaded, codec="stae-px")
    px.set_codec_settings({})
    with pytest.raises(BudgetError, match="K and p"):
        px.set_codec_settings({"crf": 30})
    latent = CameraPipeline(loaded, codec="stae-latent")
    latent.set_codec_settings({"model": "models/stae_latent_default.pt"})  # the file in use: nothing to do
    with pytest.raises(BudgetError, match="codec_model"):
        latent.set_codec_settings({"model": "models/stae_latent_small.pt"})
    with pytest.raises(BudgetError, match="crf"):
        latent.set_codec_settings({"crf": 30})
