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


def test_bad_budgets_shapes_and_codecs_named(loaded):
    with pytest.raises(BudgetError, match="K=0"):
        CameraPipeline(loaded, k=0, p=0.5)
    with pytest.raises(BudgetError, match="p=1.5"):
        CameraPipeline(loaded, k=4, p=1.5)
    with pytest.raises(UnknownCodecError, match="h264"):
        CameraPipeline(loaded, codec="h264")
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
