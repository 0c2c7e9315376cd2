"""The payload interface: every registered mode through camera -> bytes -> edge, atomic mode/budget
changes, isolation of hostile clips, and no mode names in the pipelines or nodes."""

import ast
from pathlib import Path

import numpy as np
import pytest
import torch

from stae_ros.data.synthetic import render_clip
from stae_ros.modes import CameraMode, EdgeMode, ModeContext, make_camera, make_edge, mode_names
from stae_ros.modes.base import Decoded
from stae_ros.pipeline import (BudgetError, CameraPipeline, EdgePipeline, PipelineError,
                               UnknownModeError)
from stae_ros.training.checkpoints import load_model

ROOT = Path(__file__).resolve().parents[1]
EDGE_MODES = [m for m in mode_names() if m != "local"]


@pytest.fixture(scope="module")
def loaded():
    return load_model(ROOT / "models" / "stae_default.pt")


@pytest.fixture(scope="module")
def local_file(loaded, tmp_path_factory):
    """A tiny untrained local classifier for the STAE model's clips and classes."""
    from stae_ros.local import save_local_model
    from stae_ros.local.model import LocalClassifier

    T, H, W = loaded.config.clip.frames, loaded.config.clip.height, loaded.config.clip.width
    arch = {"stem_channels": 4, "stage_channels": [8], "stage_depths": [1], "head_channels": 8, "dropout": 0.0}
    torch.manual_seed(0)
    model = LocalClassifier(len(loaded.class_names), T, H, W, **arch).eval()
    return save_local_model(tmp_path_factory.mktemp("local") / "tiny_local.pt", model, list(loaded.class_names),
                            (T, H, W, 3), arch)


@pytest.fixture(scope="module")
def files(local_file):
    return {"local": str(local_file)}


@pytest.fixture(scope="module")
def edge(loaded):
    return EdgePipeline(loaded, device="cpu", keep_recovered=True)


@pytest.fixture(scope="module")
def clips(loaded):
    c = loaded.config.clip
    return [render_clip(i, 900 + i, c.frames, c.height, c.width).frames for i in range(3)]


def _camera(loaded, files, mode, **kw):
    before = torch.get_num_threads()
    cam = CameraPipeline(loaded, codec=mode, model_files=files, **kw)
    torch.set_num_threads(before)
    return cam


@pytest.mark.parametrize("mode", mode_names())
def test_every_registered_mode_round_trips_a_clip(loaded, files, edge, clips, mode):
    cam = _camera(loaded, files, mode)
    assert isinstance(cam.active, CameraMode) and cam.codec == mode
    enc = [cam.encode(c) for c in clips]
    for e in enc:
        assert e.codec == e.mode == mode and e.model_id == cam.model_id and ":" in e.model_id
        assert e.camera_ms > 0 and len(e.frame_indices) == e.k
    if enc[0].label is not None:  # classified on the camera: only the label crosses the link
        for e in enc:
            assert e.payload == b"" and e.label.label in cam.active.class_names
            assert e.label.label == e.label.topk[0][1] and abs(sum(s for _, _, s in e.label.topk) - 1) < 1.0
        with pytest.raises(PipelineError, match="on the camera"):
            edge.mode(mode)
        (r,) = edge.decode_classify([(b"x", mode, enc[0].model_id)])
        assert not r.ok and "on the camera" in r.error
        return
    assert isinstance(edge.mode(mode), EdgeMode) and edge.model_id(mode) == enc[0].model_id
    results = edge.decode_classify([(e.payload, e.codec, e.model_id) for e in enc])
    for e, r, c in zip(enc, results, clips):
        assert r.ok, r.error
        assert r.mode == mode and r.model_id == e.model_id
        assert r.label == edge.mode(mode).class_names[r.class_id] and r.score == r.topk[0][2]
        assert (r.k, r.p) == (e.k, pytest.approx(e.p))
        if r.recovered is not None:
            assert r.recovered.shape == c.shape and r.recovered.dtype == np.uint8


def test_h264_mode_streams_the_clip_and_scales_it(loaded, files, edge, clips):
    cam = _camera(loaded, files, "h264")
    full = cam.encode(clips[0])
    assert full.settings == {"crf": 28, "preset": "ultrafast", "scale": 1}
    (r,) = edge.decode_classify([(full.payload, "h264", full.model_id)])
    err = np.abs(r.recovered.astype(int) - clips[0].astype(int)).mean()
    assert err < 12, err  # CRF 28 on noisy synthetic footage
    cam.set_codec_settings({"scale": 2, "crf": 20})
    half = cam.encode(clips[0])
    assert half.settings["scale"] == 2 and len(half.payload) < len(full.payload)
    (r2,) = edge.decode_classify([(half.payload, "h264", half.model_id)])
    assert r2.ok and r2.recovered.shape == clips[0].shape  # scaled back to the model's clip
    assert np.abs(r2.recovered.astype(int) - clips[0].astype(int)).mean() < 3 * err
    for bad, named in [({"crf": 60}, "crf"), ({"crf": True}, "crf"), ({"preset": "warp"}, "preset"),
                       ({"scale": 3}, "scale"), ({"scale": 8}, "scale"), ({"gop": 4}, "gop")]:
        with pytest.raises(BudgetError, match=named):
            cam.set_codec_settings(bad)
    assert cam.settings == {"scale": 2, "crf": 20}


def test_h264_hostile_streams_are_refused_before_conversion(loaded, edge, clips):
    from stae_ros.baselines.video import H264Codec
    from stae_ros.modes.h264 import pack

    good = pack(H264Codec(crf=28, preset="ultrafast", stream=False).encode(clips[0]), 1)
    rng = np.random.default_rng(3)
    big = pack(H264Codec(crf=51, preset="ultrafast", stream=False).encode(
        rng.integers(0, 255, (16, 128, 128, 3), dtype=np.uint8)), 1)
    long = pack(H264Codec(crf=51, preset="ultrafast", stream=False).encode(np.concatenate([clips[0], clips[1]])), 1)
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0x10
    two = pack(good[8:] + good[8:], 1)
    hostile = {
        "CRC32": bytes(flipped), "128x128": big, "more than the 16 frames": long, "more than the 16": two,
        "shorter than": good[:6], "starts with": b"XX" + good[2:], "version": good[:2] + b"\x09" + good[3:],
        "divide": good[:3] + b"\x05" + good[4:], "start code": pack(b"\x01" * 64, 1),
        "no sequence parameter set": pack(b"\x00\x00\x01" + b"\x01" * 64, 1),
    }
    results = edge.decode_classify([(d, "h264") for d in hostile.values()] + [(good, "h264")])
    for (named, _), r in zip(hostile.items(), results):
        assert not r.ok and named in r.error, (named, r.error)
    assert results[-1].ok


def test_unknown_mode_is_refused_by_name(loaded, files, edge):
    with pytest.raises(UnknownModeError, match="'mpeg2'.*local, h264, stae-px"):
        CameraPipeline(loaded, codec="mpeg2")
    cam = _camera(loaded, files, "stae-px")
    with pytest.raises(UnknownModeError, match="mpeg2"):
        cam.prepare(mode="mpeg2")
    (r,) = edge.decode_classify([(b"abc", "mpeg2")])
    assert not r.ok and "mpeg2" in r.error and "stae-roi264" in r.error
    with pytest.raises(UnknownModeError):
        make_camera("mpeg2", ModeContext(loaded))


def test_a_refused_change_leaves_everything_as_it_was(loaded, files, clips, tmp_path):
    cam = _camera(loaded, files, "stae-px", k=4, p=0.5)
    before = cam.encode(clips[0])

    def state():
        return (cam.codec, cam.k, cam.p, dict(cam.settings), cam.shape, cam.model_id)

    start = state()
    bad = [
        (dict(mode="h264", settings={"crf": 99}), BudgetError, "crf"),
        (dict(mode="h264", k=0), BudgetError, "K=0"),
        (dict(k=4, p=2.0), BudgetError, "p=2"),
        (dict(p=float("nan")), BudgetError, "p=nan"),
        (dict(k=17), BudgetError, "K=17"),
        (dict(settings={"crf": 30}), BudgetError, "K and p"),
        (dict(mode="stae-roi264", settings={"crf": 60}), PipelineError, "crf"),
        (dict(mode="stae-latent", settings={"model": "models/stae_latent_small.pt"}), BudgetError, "codec_model"),
        (dict(mode="stae-roi264", settings="crf=3"), BudgetError, "mapping"),
        (dict(mode=""), None, None),  # "" keeps the mode: valid
    ]
    for kwargs, err, named in bad:
        if err is None:
            cam.prepare(**kwargs)
        else:
            with pytest.raises(err, match=named):
                cam.prepare(**kwargs)
        assert state() == start, kwargs
    missing = CameraPipeline(loaded, model_files={"local": str(tmp_path / "gone.pt")})
    with pytest.raises(PipelineError, match="gone.pt"):
        missing.prepare(mode="local")
    assert missing.codec == "stae-px"
    # a prepared change does nothing until it is committed, then all of it at once
    change = cam.prepare(mode="h264", k=2, p=0.25, settings={"crf": 40})
    assert state() == start and cam.encode(clips[0]).payload == before.payload
    cam.commit(change)
    assert (cam.codec, cam.k, cam.p, cam.settings) == ("h264", 2, 0.25, {"crf": 40})
    enc = cam.encode(clips[0])
    assert enc.codec == "h264" and enc.settings["crf"] == 40 and (enc.k, enc.p) == (16, 1.0)
    # back to stae-px keeps the commanded budget; back to h264 with settings=None keeps its knobs
    cam.commit(cam.prepare(mode="stae-px"))
    assert cam.encode(clips[0]).k == 2
    cam.commit(cam.prepare(mode="h264"))
    assert cam.settings == {"crf": 40}
    cam.commit(cam.prepare(mode="h264", settings={}))
    assert cam.settings == {}


def test_a_switch_to_a_mode_with_another_clip_size(loaded, tmp_path):
    """A local model trained on 8x32x32 clips: the switch says the clip size the camera must cut."""
    from stae_ros.local import save_local_model
    from stae_ros.local.model import LocalClassifier

    arch = {"stem_channels": 4, "stage_channels": [8], "stage_depths": [1], "head_channels": 8, "dropout": 0.0}
    small = save_local_model(tmp_path / "small.pt", LocalClassifier(3, 8, 32, 32, **arch).eval(), ["a", "b", "c"],
                             (8, 32, 32, 3), arch)
    cam = CameraPipeline(loaded, k=16, p=0.5, model_files={"local": str(small)})
    with pytest.raises(BudgetError, match="K=16.*8"):
        cam.prepare(mode="local", k=16)
    change = cam.prepare(mode="local")  # K not given: the commanded K, capped at the new clip length
    assert change.shape == (8, 32, 32, 3) and change.k == 8 and cam.shape == (16, 64, 64, 3)
    cam.commit(change)
    enc = cam.encode(np.zeros((8, 32, 32, 3), np.uint8))
    assert enc.label.label in ("a", "b", "c") and enc.payload == b"" and enc.model_id.startswith("small.pt:")
    with pytest.raises(PipelineError, match="does not match"):
        cam.encode(np.zeros((16, 64, 64, 3), np.uint8))  # a clip cut before the switch is refused, not mislabelled


def test_hostile_payloads_cost_no_good_clip_its_label(loaded, files, clips, monkeypatch):
    edge = EdgePipeline(loaded, device="cpu")
    good, hostile = [], []
    rng = np.random.default_rng(11)
    for mode in EDGE_MODES:
        cam = _camera(loaded, files, mode)
        enc = [cam.encode(c) for c in clips[:2]]
        good += [(e.payload, mode, e.model_id) for e in enc]
        data = bytearray(enc[0].payload)
        for _ in range(8):
            data[int(rng.integers(0, len(data)))] ^= 0xFF
        hostile += [(bytes(data), mode), (enc[0].payload[: len(enc[0].payload) // 3], mode),
                    (None, mode),  # not bytes at all: a TypeError, not a codec error
                    (enc[0].payload, mode, "other.pt:000000000000"), (enc[0].payload, mode, "")]
    items = [x for pair in zip(good, hostile[: len(good)]) for x in pair] + hostile[len(good):]
    results = edge.decode_classify(items)
    good_results = [r for it, r in zip(items, results) if it in good]
    assert len(good_results) == len(good) and all(r.ok for r in good_results), [r.error for r in good_results]
    by_item = dict(zip(map(id, items), results))
    for it in hostile:
        r = by_item[id(it)]
        if it[0] is None or len(it) == 3:
            assert not r.ok and r.class_id == -1, it[1:]
    mismatched = [by_item[id(it)] for it in hostile if len(it) == 3]
    assert all("ModelMismatchError" in r.error for r in mismatched)
    assert any("none named" in r.error for r in mismatched) and any("other.pt" in r.error for r in mismatched)
    assert edge.failures.total == sum(not r.ok for r in results)
    assert any(k.startswith("decode/") and k.endswith("/TypeError") for k in edge.failures.snapshot())

    # a batched pass that a poisoned clip breaks is retried clip by clip: only that clip goes unlabelled
    mode = edge.mode("stae-px")
    real = mode.classify

    def fragile(items, keep_recovered=False):
        if any(d.k == 1 for d in items):
            raise RuntimeError("poisoned batch")
        return real(items, keep_recovered)

    real_decode = mode.decode
    monkeypatch.setattr(mode, "classify", fragile)
    px = [it for it in good if it[1] == "stae-px"]
    poison_cam = _camera(loaded, files, "stae-px")
    poison = poison_cam.encode(clips[2])
    monkeypatch.setattr(mode, "decode", lambda data: Decoded(real_decode(data).data, 1, 1.0)
                        if data == poison.payload else real_decode(data))
    out = edge.decode_classify([px[0], (poison.payload, "stae-px"), px[1]])
    assert out[0].ok and out[2].ok and not out[1].ok and "poisoned batch" in out[1].error
    assert edge.failures.snapshot().get("classify/stae-px/RuntimeError") == 1


def test_camera_preloads_modes_without_switching(loaded, files, tmp_path):
    cam = _camera(loaded, files, "stae-px")
    status = cam.preload(["h264", "local", "stae-roi264", "mpeg2"])
    assert status["h264"] is None and status["local"] is None and "mpeg2" in status["mpeg2"]
    assert cam.codec == "stae-px"
    cam.set_mode("h264")
    assert cam.codec == "h264" and cam.encode(np.zeros(cam.shape, np.uint8)).codec == "h264"


def test_edge_preloads_modes_and_says_which_it_cannot(loaded, tmp_path):
    edge = EdgePipeline(loaded, device="cpu", codec_models={"stae-latent": str(tmp_path / "absent.pt")})
    status = edge.preload(list(mode_names()) + ["mpeg2"])
    assert status["stae-px"] is None and status["h264"] is None and status["stae-roi264"] is None
    assert "absent.pt" in status["stae-latent"] and "on the camera" in status["local"] and "mpeg2" in status["mpeg2"]


def test_mode_halves_from_the_registry_match(loaded, files):
    ctx = ModeContext(loaded, files, device=torch.device("cpu"))
    for mode in EDGE_MODES:
        cam, ed = make_camera(mode, ctx), make_edge(mode, ctx)
        assert cam.name == ed.name == mode
        assert cam.model_id == ed.model_id and tuple(cam.shape) == tuple(ed.shape)


MODE_NAMES = set(mode_names())


def _mode_comparisons(path: Path) -> list[str]:
    """Comparisons (==, !=, in, not in) of anything with a string literal that is a mode name."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        if not any(isinstance(op, (ast.Eq, ast.NotEq, ast.In, ast.NotIn)) for op in node.ops):
            continue
        for side in [node.left, *node.comparators]:
            consts = [side] if isinstance(side, ast.Constant) else list(getattr(side, "elts", []))
            if any(isinstance(c, ast.Constant) and c.value in MODE_NAMES for c in consts):
                found.append(f"{path.name}:{node.lineno}")
    return found


def test_pipelines_and_nodes_compare_no_mode_names(tmp_path):
    files = sorted((ROOT / "stae_ros" / "pipeline").glob("*.py")) + sorted((ROOT / "stae_ros" / "ros").glob("*.py"))
    assert len(files) >= 8
    found = [hit for f in files for hit in _mode_comparisons(f)]
    assert not found, f"mode names compared in: {found}"
    # the check itself catches one
    probe = tmp_path / "probe.py"
    probe.write_text("def f(codec):\n    return codec == 'stae-latent' or codec in ('h264', 'x')\n")
    assert len(_mode_comparisons(probe)) == 2


def test_a_model_file_of_another_class_list_is_refused_at_start_up(loaded, local_file, tmp_path):
    """Every mode on one topic must share one class list: a mode's model labelling other classes is
    refused by name when a node is configured with it, on the camera and on the edge."""
    from dataclasses import replace

    from stae_ros.local import load_local_model, save_local_model
    from stae_ros.modes.errors import ModelMismatchError

    tiny = load_local_model(local_file)
    other = save_local_model(tmp_path / "other.pt", tiny.model, [f"x{i}" for i in range(len(tiny.class_names))],
                             tiny.shape, tiny.arch)
    camera = _camera(loaded, {"local": str(local_file)}, "stae-px")
    camera.check_models(["local"])  # the same class list: accepted
    refused = _camera(loaded, {"local": str(other)}, "stae-px")
    with pytest.raises(ModelMismatchError, match="local model other.pt.*labels"):
        refused.check_models(["local"])
    assert refused.codec == "stae-px"  # nothing was switched
    renamed = replace(loaded, class_names=[f"x{i}" for i in range(len(loaded.class_names))])
    EdgePipeline(loaded, device="cpu").check_models(["stae-roi264"])  # the shipped files share the class list
    with pytest.raises(ModelMismatchError, match="stae-roi264 model stae_roi264_default.pt"):
        EdgePipeline(renamed, device="cpu").check_models(["stae-roi264"])


@pytest.mark.parametrize("path", sorted((ROOT / "config").glob("profile_modes*.yaml")), ids=lambda p: p.name)
def test_every_shipped_mode_grid_is_accepted_by_its_modes(loaded, files, path):
    """`stae profile` skips a mode whose setting its camera refuses, with a warning in the middle of a run;
    a knob misspelt in a shipped modes file is caught here instead."""
    from stae_ros.profiling.modes import load_mode_grid

    specs = load_mode_grid(path, model_budgets=[(16, 1.0), (8, 0.5)])
    assert specs
    cameras: dict = {}
    for spec in specs:
        cam = cameras.get(spec.mode) or cameras.setdefault(spec.mode, _camera(loaded, files, spec.mode))
        cam.prepare(k=spec.k if spec.k is not None else cam.shape[0], p=spec.p, settings=spec.settings)
