"""Sensitivity maps: where the gradient points, the wire format, staleness, and the camera following a map."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from stae_ros.sensitivity import (GuidanceRules, GuidanceSlot, SensitivityError, SensitivityMap, decode_map, encode_map,
                                  saliency_grid, scene_signature)
from stae_ros.sensitivity.wire import _HEAD


def _corner_clips(n: int, rng: np.random.Generator, size: int = 16, frames: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    """Static noise background; a bright square in the bottom-right quadrant moves right (class 0) or left (1)."""
    x = np.repeat(rng.uniform(0.2, 0.6, (n, 3, 1, size, size)), frames, axis=2).astype(np.float32)
    y = rng.integers(0, 2, n)
    for i in range(n):
        r0 = int(rng.integers(size // 2, size - 2))
        for t in range(frames):
            c0 = size // 2 + (t if y[i] == 0 else frames - 1 - t) // 2
            x[i, :, t, r0:r0 + 3, c0:c0 + 3] = 1.0
    return torch.from_numpy(x), torch.from_numpy(y)


def test_map_of_a_corner_action_peaks_in_that_corner():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Conv3d(3, 6, 3, padding=1), nn.ReLU(), nn.Conv3d(6, 6, 3, padding=1), nn.ReLU(),
                          nn.AdaptiveMaxPool3d(1), nn.Flatten(), nn.Linear(6, 2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(40):
        x, y = _corner_clips(16, rng)
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    x, y = _corner_clips(32, rng)
    assert (model(x).argmax(1) == y).float().mean() > 0.8  # it learned the action
    maps = saliency_grid(model, x, (4, 4)).detach().numpy()
    assert maps.shape == (32, 4, 4) and maps.max() <= 1.0 and maps.min() >= 0.0
    quadrant = maps[:, 2:, 2:].sum(axis=(1, 2)) / maps.sum(axis=(1, 2))
    assert np.median(quadrant) > 0.5  # most of the sensitivity in 1/4 of the frame: the corner of the action
    peaks = [np.unravel_index(m.argmax(), m.shape) for m in maps]
    assert np.mean([r >= 2 and c >= 2 for r, c in peaks]) > 0.8


def _map(model_id: str = "m:1", mode: str = "stae-px", values: np.ndarray | None = None,
         clip: np.ndarray | None = None) -> SensitivityMap:
    v = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8) if values is None else values
    sig = scene_signature(clip) if clip is not None else np.full((4, 4, 3), 100, np.uint8)
    return SensitivityMap(v, 7, 123456789, model_id, sig, mode)


def test_wire_round_trip_and_refusals():
    m = _map()
    data = encode_map(m)
    back = decode_map(data)
    assert (back.seq, back.stamp_ns, back.model_id, back.mode) == (7, 123456789, "m:1", "stae-px")
    assert np.abs(back.values - m.values).max() <= 0.5 / 255 + 1e-6
    assert np.array_equal(back.signature, m.signature)
    flipped = bytearray(data)
    flipped[30] ^= 0x10
    with pytest.raises(SensitivityError, match="CRC32"):
        decode_map(bytes(flipped))
    with pytest.raises(SensitivityError, match="bytes; its header says"):
        decode_map(data[:-1])
    with pytest.raises(SensitivityError, match="expected"):
        decode_map(b"XX" + data[2:])
    with pytest.raises(SensitivityError, match="version"):
        decode_map(data[:2] + b"\x09" + data[3:])
    with pytest.raises(SensitivityError, match="limit"):
        decode_map(b"SM" + bytes(100_000))
    with pytest.raises(SensitivityError, match="must be bytes"):
        decode_map("SM")  # type: ignore[arg-type]
    # a well-sealed frame whose header is out of bounds: refused on the bound, before any reading
    body = _HEAD.pack(b"SM", 1, 0, 0, 0, 0, 8, 4, 0, 0)
    with pytest.raises(SensitivityError, match="grid 0x8"):
        decode_map(body + struct.pack("<I", zlib.crc32(body)))


def test_stale_or_malformed_maps_are_refused_and_the_slot_falls_back():
    now = [0.0]
    clip = np.random.default_rng(1).integers(0, 255, (4, 16, 16, 3), dtype=np.uint8)
    slot = GuidanceSlot("m:1", "stae-px", GuidanceRules(max_age_clips=2, max_age_s=1.0), clock=lambda: now[0])
    assert slot.for_clip(clip) is None
    assert "model" in slot.offer(encode_map(_map("other:2", clip=clip)))
    assert "mode" in slot.offer(encode_map(_map(mode="stae-roi264", clip=clip)))
    assert slot.offer(b"garbage") and slot.map is None
    assert slot.offer(encode_map(_map(clip=clip))) is None
    assert slot.offer(encode_map(_map(clip=clip))[:-3]) is not None  # a corrupt one keeps the good one
    assert slot.for_clip(clip) is not None and slot.for_clip(clip) is not None
    assert slot.for_clip(clip) is None and "clips" in slot.last_reason  # third clip: older than 2 clips
    slot.offer(encode_map(_map(clip=clip)))
    now[0] = 2.0
    assert slot.for_clip(clip) is None and "s since" in slot.last_reason
    slot.offer(encode_map(_map(clip=clip)))
    other = clip // 3
    assert slot.for_clip(other) is None and "scene changed" in slot.last_reason
    assert slot.for_clip(clip) is not None
    assert slot.counts["refused"] == 4


def test_roi_camera_keeps_its_own_map_unless_a_fresh_one_came():
    from stae_ros.modes.base import ModeContext
    from stae_ros.modes.stae_roi264 import RoiCamera

    cam = RoiCamera(ModeContext(loaded=None))
    t, h, w, _ = cam.shape
    clip = np.random.default_rng(2).integers(0, 255, (t, h, w, 3), dtype=np.uint8)
    own = cam.payload.importance(clip)
    assert cam.set_guidance(b"\x00" * 40) is not None
    assert np.array_equal(cam.importance(clip), own)
    corner = np.zeros((8, 8), np.float32)
    corner[:2, :2] = 1.0
    assert cam.set_guidance(encode_map(_map("elsewhere:0", "stae-roi264", corner, clip))) is not None
    assert np.array_equal(cam.importance(clip), own)
    assert cam.set_guidance(encode_map(_map(cam.model_id, "stae-roi264", corner, clip)), GuidanceRules(mix=1.0)) is None
    guided = cam.importance(clip)
    hb, wb = own.shape[1:]
    assert guided.shape == own.shape and guided[:, : hb // 4, : wb // 4].min() == 1.0 and guided[:, hb // 2:].max() == 0.0
    assert cam.set_guidance(encode_map(_map(cam.model_id, "stae-roi264", corner, clip)), GuidanceRules(mix=0.5)) is None
    half = cam.importance(clip)
    assert np.allclose(half, 0.5 * own + 0.5 * guided)
    assert cam.set_guidance(encode_map(_map(cam.model_id, "stae-roi264", corner, clip)),
                            GuidanceRules(mix=0.5, combine="geometric")) is None
    np.testing.assert_allclose(cam.importance(clip), np.sqrt(own * np.maximum(guided, 0.02)), rtol=1e-5)
    with pytest.raises(SensitivityError, match="combine"):
        GuidanceRules(combine="max")
    assert np.array_equal(cam.importance(clip // 3), cam.payload.importance(clip // 3))  # scene changed: its own map


def test_px_pixel_choice_follows_a_fresh_map():
    from stae_ros.models.camera_select import select_uint8
    from stae_ros.modes.base import ModeContext
    from stae_ros.modes.stae_px import PxCamera
    from stae_ros.training.checkpoints import load_model

    cam = PxCamera(ModeContext(load_model("models/stae_default.pt")))
    cam.apply(cam.validate(cam.shape[0], 0.1, {}))
    t, h, w, _ = cam.shape
    clip = np.random.default_rng(3).integers(0, 255, (t, h, w, 3), dtype=np.uint8)
    own = select_uint8(cam.model, clip, cam.k, cam.p)[1]
    assert np.array_equal(cam.select(clip)[1], own)  # no map: SA's own choice
    corner = np.zeros((8, 8), np.float32)
    corner[4:, 4:] = 1.0
    assert cam.set_guidance(encode_map(_map(cam.model_id, "stae-px", corner, clip)), GuidanceRules(weight=10.0)) is None
    mask = cam.select(clip)[1]
    assert mask.sum() == own.sum()  # the same budget
    share = mask[:, h // 2:, w // 2:].sum() / mask.sum()
    assert share > 0.95 and own[:, h // 2:, w // 2:].sum() / own.sum() < 0.5
    assert np.array_equal(cam.select(clip // 3)[1], select_uint8(cam.model, clip // 3, cam.k, cam.p)[1])


def test_sa_teacher_target_and_loss():
    import copy

    from stae_ros.models import STAE, ModelConfig
    from stae_ros.sensitivity.teacher import gradient_target, sa_teacher_loss
    from test_models import TINY

    torch.manual_seed(0)
    model = STAE(ModelConfig.from_dict(copy.deepcopy(TINY)))
    clips = torch.rand(4, 3, 8, 32, 32)
    labels = torch.tensor([0, 1, 0, 1])
    w = torch.randn(2)

    def corner_classifier(x: torch.Tensor) -> torch.Tensor:  # reads only the top-left 8x8 pixels
        return x[:, :, :, :8, :8].pow(2).sum(dim=(1, 2, 3, 4))[:, None] * w[None]

    target = gradient_target(corner_classifier, clips, labels, pool=1)
    assert torch.allclose(target.sum(dim=(2, 3)), torch.ones(4, 8))
    assert target[:, :, :8, :8].sum(dim=(2, 3)).min() > 0.999
    for p in model.parameters():
        p.requires_grad_(False)
    for p in model.sa.parameters():
        p.requires_grad_(True)
    # a classifier whose evidence is the brightness of each pixel: a target SA's maps can express
    model.classify = lambda x: x.pow(3).sum(dim=(1, 2, 3, 4))[:, None] * w[None]  # type: ignore[method-assign]
    clips = torch.rand(4, 3, 8, 32, 32) ** 3
    opt = torch.optim.Adam(model.sa.parameters(), lr=0.05)
    t = gradient_target(model.classify, clips, labels).flatten(2)
    entropy = float(-(t * t.clamp_min(1e-30).log()).sum(dim=2).mean())  # the loss's floor
    with torch.no_grad():
        first = float(sa_teacher_loss(model, clips, labels)) - entropy
    for _ in range(25):
        loss = sa_teacher_loss(model, clips, labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        assert float(sa_teacher_loss(model, clips, labels)) - entropy < 0.5 * first  # KL to the target halved
    assert all(p.grad is None for p in model.vit.parameters())  # the classifier is the teacher, not trained


def test_scene_reference_is_the_cameras_own_last_clip():
    rng = np.random.default_rng(4)
    clip = rng.integers(0, 255, (4, 16, 16, 3), dtype=np.uint8)
    slot = GuidanceSlot("m:1", "stae-px")
    assert slot.for_clip(clip) is None  # no map yet; the camera's signature of this clip is kept
    assert slot.offer(encode_map(_map(clip=clip // 2))) is None  # the edge's signature is off (crop, recovery)
    assert slot.for_clip(clip) is not None  # judged against the camera's own clip: same scene
    assert slot.for_clip(clip // 2) is None and "scene changed" in slot.last_reason


def test_geometric_combine_drops_motion_the_classifier_ignores():
    """Two moving blocks in the camera's own map, only one of them where the edge's map is
    sensitive: the geometric combine keeps that one only; the linear one keeps both at the same
    threshold, because either source alone can keep a block."""
    from stae_ros.sensitivity.camera import mix_importance

    own = np.zeros((2, 8, 8), np.float32)
    own[:, 1, 1] = 1.0  # the actor
    own[:, 6, 6] = 1.0  # a moving distractor
    values = np.full((8, 8), 0.05, np.float32)
    values[1, 1] = 1.0
    m = _map(mode="stae-roi264", values=values)
    geo = mix_importance(own, m, 0.5, combine="geometric")
    lin = mix_importance(own, m, 0.5, combine="linear")
    assert geo.shape == lin.shape == own.shape and geo.dtype == np.float32
    th = 0.5
    assert (geo >= th).sum(axis=(1, 2)).tolist() == [1, 1] and bool(geo[0, 1, 1] >= th)
    assert (lin >= th).sum(axis=(1, 2)).tolist() == [2, 2]
    assert np.all(geo[:, 6, 6] > 0)  # floored map: lowered, not vetoed outright
    with pytest.raises(ValueError, match="combine"):
        mix_importance(own, m, 0.5, combine="max")


@pytest.mark.parametrize("argv", [["--roi-setting", "mode"], ["--roi-setting", "=fill"], ["--roi-setting", "crf=high"],
                                  ["--fold", "-1"], ["--figure-threshold", "1.5"], ["--figure-clips", "0"]])
def test_bench_refuses_a_malformed_option(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from stae_ros.sensitivity.bench import main

    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert argv[0] in capsys.readouterr().err


def test_bench_cost_times_a_map_and_a_label_per_shipped_mode(tmp_path: Path) -> None:
    """`--mode cost`: one row per shipped mode that makes maps, each with a label's and a map's ms."""
    import json

    from stae_ros.data import generate_dataset
    from stae_ros.sensitivity.bench import main

    root = generate_dataset(tmp_path / "ds", seed=0, train_per_class=1, test_per_class=1, frames=16, height=64, width=64,
                            progress=False)
    out = tmp_path / "cost.json"
    assert main(["--mode", "cost", "--data", str(root), "--limit", "2", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["clips"] == 2 and set(res["modes"]) == {"stae-px K=16 p=0.1", "stae-roi264"}
    for row in res["modes"].values():
        assert 0 < row["label_ms"]["p50"] <= row["label_ms"]["p95"] and 0 < row["map_ms"]["p50"] <= row["map_ms"]["p95"]
        assert row["map_per_label"] == pytest.approx(row["map_ms"]["p50"] / row["label_ms"]["p50"])


def test_bench_map_source_full_makes_the_map_from_the_whole_clip(tmp_path: Path) -> None:
    """`--map-source full`: the edge's map comes from the clip coded whole, not from the motion-map crop,
    so the clips coded with it differ; the motion curve does not depend on it."""
    import json

    from stae_ros.data import generate_dataset
    from stae_ros.sensitivity.bench import main

    root = generate_dataset(tmp_path / "ds", seed=0, train_per_class=1, test_per_class=1, frames=16, height=64, width=64,
                            progress=False)
    res = {}
    for source in ("crop", "full"):
        out = tmp_path / f"{source}.json"
        assert main(["--data", str(root), "--limit", "6", "--thresholds", "0.5", "--mix", "1",
                     "--map-source", source, "--out", str(out)]) == 0
        res[source] = json.loads(out.read_text())
        assert res[source]["map_source"] == source
    assert res["crop"]["motion"] == res["full"]["motion"]
    assert res["crop"]["gradient"][0]["bytes"] != res["full"]["gradient"][0]["bytes"]


def test_bench_figure_draws_one_row_per_clip(tmp_path: Path) -> None:
    """`--figure`: a PNG with one row per clip (both maps and what each sends); the curves are unchanged."""
    import json

    import matplotlib.image as mpimg

    from stae_ros.data import generate_dataset
    from stae_ros.sensitivity.bench import main
    from stae_ros.sensitivity.figure import draw_map_comparison

    root = generate_dataset(tmp_path / "ds", seed=0, train_per_class=1, test_per_class=1, frames=16, height=64, width=64,
                            progress=False, distractors="busy")
    heights, curves = [], []
    for n in (1, 3):
        png, out = tmp_path / f"maps{n}.png", tmp_path / f"maps{n}.json"
        assert main(["--data", str(root), "--limit", "6", "--thresholds", "0.5", "--mix", "0.5", "--figure", str(png),
                     "--figure-clips", str(n), "--out", str(out)]) == 0
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        heights.append(mpimg.imread(png).shape[0])
        curves.append(json.loads(out.read_text())["gradient"])
    assert heights[1] > 2 * heights[0] and curves[0] == curves[1]
    with pytest.raises(ValueError, match="no clips"):
        draw_map_comparison(tmp_path / "none.png", [], [], [], [], lambda c, i: (0, c), 0.5, "mix")
