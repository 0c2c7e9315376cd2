"""h264-cd: compressed-domain features, the light network's training through `stae train`, the mode's
camera -> edge round trip, and refusal of hostile streams. Tiny clips made on the fly."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml

from stae_ros.baselines.video import H264Codec
from stae_ros.compressed.extract import MV_NORM, CompressedStreamError, FeatureSpec, extract_gop, residual_map
from stae_ros.compressed.io import H264CdModelError, load_cd_model, save_cd_model
from stae_ros.compressed.model import CDConfig, CDNet, gop_tensors
from stae_ros.modes import ModeContext, PipelineError, make_camera, make_edge
from stae_ros.modes import h264 as h264_mode
from stae_ros.modes.h264_cd import H264CdPayloadError

REPO = Path(__file__).resolve().parents[1]


def _shifting_clip(dx: int, dy: int, frames: int = 8, size: int = 64, seed: int = 0) -> np.ndarray:
    """A blurred random texture moving by (dx, dy) pixels per frame."""
    rng = np.random.default_rng(seed)
    big = cv2.GaussianBlur((rng.random((size + 64, size + 64, 3)) * 255).astype(np.uint8), (5, 5), 1.5)
    return np.stack([np.roll(np.roll(big, dx * t, 1), dy * t, 0)[32:32 + size, 32:32 + size] for t in range(frames)])


@pytest.mark.parametrize("dx,dy", [(2, 1), (-3, 2), (0, -1)])
def test_motion_vectors_recover_global_motion(dx: int, dy: int) -> None:
    clip = _shifting_clip(dx, dy)
    stream = H264Codec(crf=23, preset="ultrafast", stream=True).encode(clip)
    spec = FeatureSpec(frames=8, height=64, width=64, block=4, iframe_size=32)
    gop = extract_gop(stream, spec)
    assert gop.mv.shape == (7, 2, 16, 16) and gop.residual.shape == (7, 1, 16, 16) and gop.iframe.shape == (32, 32, 3)
    inner = gop.mv[:, :, 2:-2, 2:-2] * MV_NORM  # away from the borders, where content enters the frame
    assert np.median(inner[:, 0]) == pytest.approx(dx, abs=0.25)
    assert np.median(inner[:, 1]) == pytest.approx(dy, abs=0.25)
    assert np.mean(np.abs(inner[:, 0] - dx) < 0.5) > 0.9 and np.mean(np.abs(inner[:, 1] - dy) < 0.5) > 0.9


def test_residual_is_motion_compensated() -> None:
    """The residual map is the error after warping the reference with the vectors: with the true
    vectors it is far below the plain frame difference of a moving texture."""
    clip = _shifting_clip(3, 2)
    luma = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in clip])
    true = np.zeros((7, 2, 16, 16), np.float32)
    true[:, 0], true[:, 1] = 3.0, 2.0
    compensated = residual_map(luma, true, 4)[:, :, 2:-2, 2:-2].mean()
    plain = residual_map(luma, np.zeros_like(true), 4)[:, :, 2:-2, 2:-2].mean()
    assert compensated < 0.2 * plain
    gop = extract_gop(H264Codec(crf=23, preset="ultrafast", stream=True).encode(clip), FeatureSpec(8, 64, 64, 4, 32))
    assert gop.residual[:, :, 2:-2, 2:-2].mean() < 0.3 * plain


def _tiny_config(tmp_path: Path, **train: int) -> Path:
    raw = yaml.safe_load((REPO / "config" / "train_h264_cd_tiny.yaml").read_text())
    raw["data"]["root"] = str(tmp_path / "data")
    raw["train"].update(train)
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_trains_through_stae_train_and_resumes(tmp_path: Path) -> None:
    from stae_ros.training.registry import run_mode

    # one augmented view (its features are read back on resume), two networks side by side
    cfg = _tiny_config(tmp_path, views=1, flip=True, members=2)
    out = tmp_path / "run"
    partial = run_mode(cfg, out, progress=False, stop_after_steps=2)
    assert sorted(p.name for p in out.glob("features_train_*.npz")) == ["features_train_crf28.npz",
                                                                       "features_train_view0_crf28.npz"]
    assert not (out / "model.pt").exists() and (out / "last.pt").is_file()
    before = {k: v.clone() for k, v in torch.load(out / "last.pt", weights_only=True)["modules"]["network"].items()}
    result = run_mode(cfg, out, resume=True, progress=False)
    assert partial.history[-1]["step"] == 2 and result.history[-1]["step"] == 4
    after = torch.load(out / "last.pt", weights_only=True)["modules"]["network"]
    assert any(not torch.equal(before[k], after[k]) for k in before if before[k].is_floating_point())
    file = load_cd_model(out / "model.pt")
    assert file.shape == (8, 32, 32, 3) and len(file.class_names) == 12
    assert len(file.model.members) == 2 and len(result.final["member_accuracy"]) == 2
    assert 0.0 <= result.final["accuracy"] <= 1.0 and result.final["bytes_mean"] > 0


def _model_file(tmp_path: Path, frames: int = 8, size: int = 32) -> Path:
    torch.manual_seed(0)
    spec = FeatureSpec(frames=frames, height=size, width=size, block=4, iframe_size=16)
    net = CDNet(CDConfig(num_classes=3, frames=frames, grid_h=size // 4, grid_w=size // 4, iframe_size=16, width=8,
                         hidden=16))
    return save_cd_model(tmp_path / "cd.pt", net.eval(), spec, ["a", "b", "c"])


def test_mode_round_trip(tmp_path: Path) -> None:
    path = _model_file(tmp_path)
    ctx = ModeContext(loaded=None, model_files={"h264-cd": str(path)})
    cam, edge = make_camera("h264-cd", ctx), make_edge("h264-cd", ctx)
    assert cam.shape == edge.shape == (8, 32, 32, 3) and cam.model_id == edge.model_id
    clip = _shifting_clip(1, 0, frames=8, size=32)
    enc = cam.encode(clip)
    assert enc.codec == "h264-cd" and enc.k == 8 and enc.model_id == edge.model_id
    scale, stream = h264_mode.unpack(enc.payload)  # the h264 mode's wire format
    assert scale == 1 and stream.startswith(b"\x00\x00")
    item = edge.decode(enc.payload)
    logits = edge.classify([item, item]).logits
    assert tuple(logits.shape) == (2, 3)
    direct = extract_gop(stream, edge.spec)
    with torch.inference_mode():
        expect = load_cd_model(path).model(*gop_tensors(direct.iframe[None], direct.mv[None], direct.residual[None]))
    torch.testing.assert_close(logits[:1], expect)
    # a coarser camera (scale 2) still reaches the same network
    cam.apply(cam.validate(8, 1.0, {"scale": 2, "crf": 33}))
    assert tuple(edge.classify([edge.decode(cam.encode(clip).payload)]).logits.shape) == (1, 3)
    with pytest.raises(PipelineError, match="h264-cd setting"):
        cam.validate(8, 1.0, {"crf": 99})
    # the h264 camera's rules under this mode's name
    assert cam.validate(8, 1.0, {}).mode == "h264-cd"
    with pytest.raises(PipelineError, match="^h264-cd has no setting"):
        cam.validate(8, 1.0, {"qp": 3})
    assert cam.describe().startswith("h264-cd crf 33") and "in the compressed domain by" in cam.describe()
    with pytest.raises(PipelineError, match="h264-cd model's"):
        cam.encode(_shifting_clip(1, 0, frames=8, size=48))


def test_camera_codes_at_the_settings_its_model_was_trained_at(tmp_path: Path) -> None:
    """The vectors the network learnt to read depend on the encoder's preset: the camera starts at the
    training run's CRF and preset, a command that sets only the CRF keeps that preset, and a file
    without them (or with nonsense) gets the h264 mode's defaults."""
    from stae_ros.modes.h264_cd import trained_codec

    net = CDNet(CDConfig(num_classes=3, frames=8, grid_h=8, grid_w=8, iframe_size=16, width=8, hidden=16)).eval()
    spec = FeatureSpec(frames=8, height=32, width=32, block=4, iframe_size=16)
    path = save_cd_model(tmp_path / "vf.pt", net, spec, ["a", "b", "c"],
                         {"metrics": {"crf": 30, "preset": "veryfast"}})
    cam = make_camera("h264-cd", ModeContext(loaded=None, model_files={"h264-cd": str(path)}))
    enc = cam.encode(_shifting_clip(1, 0, frames=8, size=32))
    assert enc.settings["crf"] == 30 and enc.settings["preset"] == "veryfast"
    assert "crf 30 veryfast" in cam.describe()
    cam.apply(cam.validate(8, 1.0, {"crf": 33}))
    assert cam.encode(_shifting_clip(1, 0, frames=8, size=32)).settings["preset"] == "veryfast"
    assert trained_codec({"metrics": {"crf": 99, "preset": "warp"}}) == {} and trained_codec({"metrics": 3}) == {}
    plain = make_camera("h264-cd", ModeContext(loaded=None, model_files={"h264-cd": str(_model_file(tmp_path))}))
    assert plain.encode(_shifting_clip(1, 0, frames=8, size=32)).settings == h264_mode.DEFAULTS


def test_hostile_streams_refused(tmp_path: Path) -> None:
    ctx = ModeContext(loaded=None, model_files={"h264-cd": str(_model_file(tmp_path))})
    edge = make_edge("h264-cd", ctx)
    with pytest.raises(H264CdPayloadError, match="over the limit"):
        edge.decode(b"H4" + bytes(h264_mode.MAX_PAYLOAD_BYTES))
    big = H264Codec(crf=28, preset="ultrafast", stream=True).encode(_shifting_clip(1, 1, frames=8, size=64))
    with pytest.raises(H264CdPayloadError, match="SPS declares 64x64"):  # larger pictures than the header says
        edge.decode(h264_mode.pack(big, 1))
    longer = H264Codec(crf=28, preset="ultrafast", stream=True).encode(_shifting_clip(1, 1, frames=12, size=32))
    with pytest.raises(H264CdPayloadError, match="more than the 8 frames"):
        edge.decode(h264_mode.pack(longer, 1))
    with pytest.raises(H264CdPayloadError, match="more than .* NAL units"):
        edge.decode(h264_mode.pack(b"".join(b"\x00\x00\x01\x09\xf0" for _ in range(500)), 1))
    good = h264_mode.pack(longer, 1)
    with pytest.raises(H264CdPayloadError, match="CRC32"):
        edge.decode(good[:-3] + bytes(3))
    with pytest.raises(CompressedStreamError, match="start code"):
        extract_gop(b"\xff" * 64, FeatureSpec(8, 32, 32, 4, 16))


def test_bad_model_file_named(tmp_path: Path) -> None:
    path = _model_file(tmp_path)
    blob = torch.load(path, weights_only=True)
    blob["config"]["num_classes"] = 5
    torch.save(blob, tmp_path / "bad.pt")
    with pytest.raises(H264CdModelError, match="bad.pt: field 'config.num_classes'"):
        load_cd_model(tmp_path / "bad.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(H264CdModelError, match="junk.pt is not a readable h264-cd model file"):
        load_cd_model(tmp_path / "junk.pt")
    with pytest.raises(PipelineError, match="cannot load the h264-cd model"):
        make_edge("h264-cd", ModeContext(loaded=None, model_files={"h264-cd": str(tmp_path / "junk.pt")}))


def test_lif_fires_on_sustained_input_only_and_passes_gradients() -> None:
    """Leaky integration: a weak input leaks away without a spike, a sustained strong one fires
    periodically (soft reset), and the surrogate gradient reaches the input and both parameters."""
    from stae_ros.compressed.model import LIF

    lif = LIF(leak=0.5, threshold=1.0)
    weak = torch.full((1, 12, 1), 0.4)  # u converges to 0.8 < 1
    strong = torch.full((1, 12, 1), 0.7)  # u passes 1 on step 2
    with torch.no_grad():
        assert lif(weak)[0].sum() == 0
        s = lif(strong)[0][0, :, 0]
    assert s[0] == 0 and s[1] == 1 and 3 <= int(s.sum()) <= 9
    x = strong.clone().requires_grad_(True)
    spikes, potential = lif(x)
    (spikes.sum() + potential.sum()).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert lif.leak_logit.grad is not None and lif.th_raw.grad is not None and lif.th_raw.grad != 0


def test_edge_cost_bench_compares_both_paths(tmp_path: Path) -> None:
    from stae_ros.compressed.bench import compare_edge_cost

    clips = np.stack([_shifting_clip(1, 0, frames=8, size=32, seed=s) for s in range(2)])
    before = torch.get_num_threads()
    try:
        r = compare_edge_cost(str(_model_file(tmp_path)), clips, np.array([0, 1]), ["a", "b", "c"], progress=False)
    finally:
        torch.set_num_threads(before)
    assert r["clips"] == 2 and r["clip"] == [8, 32, 32] and r["bytes_mean"] > 0
    cd, full = r["h264_cd"], r["full_decode_edge_model"]
    assert 0 < cd["edge_gflop"] < full["edge_gflop"] and full["accuracy"] is None  # untrained reference: cost only
    assert cd["parse_ms"] > 0 and cd["network_ms"] > 0 and full["decode_ms"] > 0 and full["model_ms"] > 0
    assert r["flop_ratio"] == pytest.approx(full["edge_gflop"] / cd["edge_gflop"])


def _marked_motion(n: int, seed: int, grid: int = 8, size: int = 16, frames: int = 7) -> tuple[torch.Tensor, ...]:
    """Two 2x2-cell patches move in opposite x directions; only the one marked in the I-frame is the
    actor, and the label is the actor's direction (0 = right, 1 = left). The motion field alone is
    the same in both classes up to where the patches are; the I-frame says which patch to read."""
    rng = np.random.default_rng(seed)
    iframe, pframes = torch.zeros(n, 3, size, size), torch.zeros(n, frames - 1, 3, grid, grid)
    y = torch.as_tensor(rng.integers(0, 2, n))
    r = size // grid
    for i in range(n):
        while True:
            a, b = rng.integers(0, grid - 1, 2), rng.integers(0, grid - 1, 2)
            if abs(int(a[0]) - int(b[0])) > 2 or abs(int(a[1]) - int(b[1])) > 2:
                break
        d = 1.0 if int(y[i]) == 0 else -1.0
        iframe[i, :, a[0] * r:(a[0] + 2) * r, a[1] * r:(a[1] + 2) * r] = 1.0  # the actor: bright
        iframe[i, 2, b[0] * r:(b[0] + 2) * r, b[1] * r:(b[1] + 2) * r] = 0.3  # the distractor: dim
        pframes[i, :, 0, a[0]:a[0] + 2, a[1]:a[1] + 2] = d
        pframes[i, :, 0, b[0]:b[0] + 2, b[1]:b[1] + 2] = -d
    return iframe, pframes, y


def _fit_marked_motion(context: int) -> float:
    torch.manual_seed(0)
    net = CDNet(CDConfig(num_classes=2, frames=7, grid_h=8, grid_w=8, iframe_size=16, width=8, hidden=16, dropout=0.0,
                         accumulate=2, segments=1, spatial=1, iframe_context=context))
    opt = torch.optim.Adam(net.parameters(), 1e-2)
    x_i, x_p, y = _marked_motion(256, 1)
    gen = torch.Generator().manual_seed(0)
    for _ in range(150):
        j = torch.randint(0, len(y), (32,), generator=gen)
        loss = torch.nn.functional.cross_entropy(net(x_i[j], x_p[j]), y[j])
        opt.zero_grad()
        loss.backward()
        opt.step()
    x_i, x_p, y = _marked_motion(200, 2)
    with torch.no_grad():
        return float((net.eval()(x_i, x_p).argmax(1) == y).float().mean())


def test_iframe_context_tells_the_actor_from_the_distractor() -> None:
    """With the I-frame's map fed into the spiking modulator, the network reads the motion of the
    patch the I-frame marks; without it, it can only guess from what pooling leaks of position."""
    with_context, without = _fit_marked_motion(4), _fit_marked_motion(0)
    assert with_context >= 0.95
    assert with_context >= without + 0.05


def test_iframe_context_model_file_round_trips(tmp_path: Path) -> None:
    torch.manual_seed(0)
    spec = FeatureSpec(frames=8, height=32, width=32, block=4, iframe_size=32)
    net = CDNet(CDConfig(num_classes=3, frames=8, grid_h=8, grid_w=8, iframe_size=32, width=8, hidden=16,
                         iframe_context=4)).eval()
    path = save_cd_model(tmp_path / "ctx.pt", net, spec, ["a", "b", "c"])
    gop = extract_gop(H264Codec(crf=28, preset="ultrafast", stream=True).encode(_shifting_clip(1, 0, 8, 32)), spec)
    x = gop_tensors(gop.iframe[None], gop.mv[None], gop.residual[None])
    loaded = load_cd_model(path)
    assert loaded.model.cfg.iframe_context == 4
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(*x), net(*x))
        net = loaded.model
        maps = [net.context_map(net.istream[:2](i), (8, 8)) for i in (x[0], x[0].flip(-1))]
        assert maps[0] is not None and maps[0].shape == (1, 4, 8, 8)
        seen: list[torch.Tensor] = []
        hook = net.convs[0].register_forward_hook(lambda _m, args, _out: seen.append(args[0]))
        net(*x)
        hook.remove()
        # the modulator's first layer reads, at each of its 7 steps (P-frames), the 3 P-frame channels and the I-frame's map
        assert seen[0].shape == (7, 3 + 4, 8, 8)
        torch.testing.assert_close(seen[0][:, 3:], maps[0].expand(7, -1, -1, -1))
        assert not torch.equal(maps[0], maps[1])  # and that map follows the I-frame
        assert CDNet(CDConfig(num_classes=3, frames=8, grid_h=8, grid_w=8, iframe_size=32, width=8)).context_map(
            maps[0], (8, 8)) is None
    with pytest.raises(ValueError, match="iframe_context"):
        CDConfig(num_classes=3, iframe_context=-1)


def test_cumulative_motion_is_the_running_sum() -> None:
    """With ``cumulative``, each modulator step also reads the displacement since the I-frame."""
    torch.manual_seed(0)
    net = CDNet(CDConfig(num_classes=3, frames=7, grid_h=8, grid_w=8, iframe_size=16, width=8, accumulate=2,
                         segments=1, cumulative=True)).eval()
    pframes = torch.randn(2, 6, 3, 8, 8)
    seen: list[torch.Tensor] = []
    hook = net.convs[0].register_forward_hook(lambda _m, args, _out: seen.append(args[0]))
    with torch.no_grad():
        net(torch.rand(2, 3, 16, 16), pframes)
    hook.remove()
    steps = pframes.view(2, 3, 2, 3, 8, 8).sum(2)  # 6 P-frames, 2 per step
    x = seen[0].view(2, 3, 5, 8, 8)
    torch.testing.assert_close(x[:, :, :3], steps)
    torch.testing.assert_close(x[:, :, 3:], steps[:, :, :2].cumsum(1))


def test_centring_moves_the_motion_to_the_middle_and_the_iframe_with_it() -> None:
    """An actor moving in a corner and the same actor moving in the middle give the network one input."""
    from stae_ros.compressed.model import centre_on_motion

    pframes = torch.zeros(2, 4, 3, 8, 8)
    pframes[0, :, 0, 1, 1] = 1.0  # motion in the top-left cell
    pframes[1, :, 0, 4, 4] = 1.0  # the same motion in the middle cell
    iframe = torch.zeros(2, 3, 16, 16)
    iframe[0, :, 2:4, 2:4] = 1.0  # the actor's pixels under its motion
    iframe[1, :, 8:10, 8:10] = 1.0
    i, p = centre_on_motion(iframe, pframes)
    torch.testing.assert_close(p[0], p[1])
    torch.testing.assert_close(i[0], i[1])
    assert not torch.equal(p[0], pframes[0])
    still = torch.zeros(1, 4, 3, 8, 8)
    still[0, :, 2] = 0.5  # residual only, no motion: left where it is
    torch.testing.assert_close(centre_on_motion(iframe[:1], still)[1], still)
    net = CDNet(CDConfig(num_classes=3, frames=5, grid_h=8, grid_w=8, iframe_size=16, width=8, segments=1,
                         centre=True)).eval()
    with torch.no_grad():
        out = net(iframe, pframes)
    torch.testing.assert_close(out[0], out[1])


def test_actor_track_follows_the_moving_energy() -> None:
    """A blob that moves two cells right per P-frame has a track of +2/8 in x, none in y; a P-frame
    without energy holds the last position; the head reads the track only when asked to."""
    from stae_ros.compressed.model import actor_track

    pframes = torch.zeros(1, 4, 3, 8, 8)
    for t, x in enumerate((1, 3, 5)):
        pframes[0, t, 2, 4, x] = 1.0  # residual energy only: the track does not need the vectors
    track = actor_track(pframes).view(4, 4)
    torch.testing.assert_close(track[:, 1], torch.tensor([0.0, 0.25, 0.25, 0.0]))  # dx; the last P-frame holds
    torch.testing.assert_close(track[:, 0], torch.zeros(4))  # dy
    assert float(track[3, 2:].abs().sum()) == 0.0  # no energy, no spread
    wide = pframes.clone()
    wide[0, 0, 2, 4, 2] = 1.0
    assert float(actor_track(wide).view(4, 4)[0, 3]) > 0.0  # two cells apart: a spread in x
    cfg = dict(num_classes=3, frames=5, grid_h=8, grid_w=8, iframe_size=16, width=8, segments=1)
    assert CDNet(CDConfig(**cfg, track=True)).head[0].in_features == CDNet(CDConfig(**cfg)).head[0].in_features + 16


def test_training_flip_mirrors_maps_and_the_sign_of_dx() -> None:
    from stae_ros.training.h264_cd import _flip

    iframe = torch.rand(64, 3, 8, 8)
    pframes = torch.rand(64, 2, 3, 4, 4) - 0.5
    gen = torch.Generator().manual_seed(0)
    i, p = _flip((iframe, pframes), gen)
    flipped = [k for k in range(64) if not torch.equal(p[k], pframes[k])]
    assert 10 < len(flipped) < 54  # about half of the batch
    for k in range(64):
        if k in flipped:
            torch.testing.assert_close(i[k], iframe[k].flip(-1))
            torch.testing.assert_close(p[k, :, 0], -pframes[k, :, 0].flip(-1))
            torch.testing.assert_close(p[k, :, 1:], pframes[k, :, 1:].flip(-1))
        else:
            torch.testing.assert_close(i[k], iframe[k])


def test_ablation_holds_out_training_clips(tmp_path: Path) -> None:
    """A variant trains on the training clips not held out and is scored on the held-out ones (the
    test split only for information); the feature caches are written to the run folder and reused."""
    from stae_ros.compressed.ablation import run_variant

    cfg = _tiny_config(tmp_path)
    run = tmp_path / "run"
    r = run_variant(str(cfg), str(run), {"iframe_context": 2, "cumulative": True}, steps=2, val_every=2, progress=False)
    assert r["val_clips"] == 12 and r["steps"] == 2 and r["distill"] == 0.0  # 24 training clips, every 2nd held out
    assert 0.0 <= r["val_acc"] <= 1.0 and 0.0 <= r["test_acc"] <= 1.0
    assert r["model"]["iframe_context"] == 2 and r["model"]["width"] == 8  # the config's model: plus the overrides
    caches = sorted(p.name for p in run.glob("features_*.npz"))
    assert caches == ["features_test_crf28.npz", "features_train_crf28.npz"]
    stamp = (run / "features_train_crf28.npz").stat().st_mtime_ns
    again = run_variant(str(cfg), str(run), {}, steps=1, val_every=2, progress=False)
    assert (run / "features_train_crf28.npz").stat().st_mtime_ns == stamp and again["features"]["iframe_size"] == 16
    other = run_variant(str(cfg), str(tmp_path / "run8"), {}, steps=1, val_every=2, progress=False,
                        features={"iframe_size": 8})
    assert other["features"]["iframe_size"] == 8
    with pytest.raises(ValueError, match="unknown features key"):
        run_variant(str(cfg), str(run), {}, steps=1, features={"size": 8}, progress=False)


def test_an_edge_model_of_another_frame_size_is_fed_resized_clips(tmp_path: Path) -> None:
    """h264-cd at a larger clip than the edge model's: the edge model scores the decoded stream resized
    to its input, as an edge host runs it; other runs still refuse a teacher of another size."""
    from stae_ros.local import save_local_model
    from stae_ros.local.model import LocalClassifier
    from stae_ros.training.errors import TrainingError
    from stae_ros.training.teacher import load_teacher

    arch = {"stem_channels": 4, "stem_temporal_stride": 2, "stage_channels": [4, 8], "stage_depths": [1, 1],
            "expansion": 2.0, "se_ratio": 0.25, "head_channels": 8, "dropout": 0.0, "motion": False}
    torch.manual_seed(0)
    net = LocalClassifier(3, 8, 16, 16, **arch).eval()
    path = str(save_local_model(tmp_path / "edge.pt", net, ["a", "b", "c"], (8, 16, 16, 3), arch))
    with pytest.raises(TrainingError, match="classifies 8x16x16 clips; the run uses 8x32x32"):
        load_teacher(path, (8, 32, 32), ["a", "b", "c"], torch.device("cpu"))
    with pytest.raises(TrainingError, match="classifies 8x16x16"):  # another clip length is never resized
        load_teacher(path, (16, 32, 32), ["a", "b", "c"], torch.device("cpu"), resize=True)
    teacher = load_teacher(path, (8, 32, 32), ["a", "b", "c"], torch.device("cpu"), resize=True)
    x = torch.rand(2, 3, 8, 32, 32)
    with torch.no_grad():
        small = x.view(2, 3, 8, 16, 2, 16, 2).mean((4, 6))  # 2x2 area averages
        torch.testing.assert_close(teacher.classify(x), net(small))


def test_augmented_views_are_seeded_and_flip_only_when_asked() -> None:
    from stae_ros.training.h264_cd import CdTrainSettings, augmented_views

    rng = np.random.default_rng(0)
    clips = rng.integers(0, 256, (3, 8, 16, 16, 3), dtype=np.uint8)
    plain = CdTrainSettings(views=2, view_scale=0.0, view_time_shift=0, view_brightness=0.0, view_contrast=0.0)
    same = augmented_views(clips, plain, seed=0)
    assert len(same) == 2 and all(np.array_equal(v, clips) for v in same)  # nothing asked, nothing changed
    mirrored = augmented_views(clips, CdTrainSettings(views=4, view_scale=0.0, view_time_shift=0, view_brightness=0.0,
                                                      view_contrast=0.0, flip=True), seed=0)
    flips = [np.array_equal(v[i], clips[i, :, :, ::-1]) for v in mirrored for i in range(3)]
    assert any(flips) and not all(flips)
    jittered = CdTrainSettings(views=2)
    a, b = augmented_views(clips, jittered, seed=1), augmented_views(clips, jittered, seed=1)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))  # the same seed, the same views
    assert not np.array_equal(a[0], clips) and not np.array_equal(a[0], a[1])
    assert a[0].dtype == np.uint8 and a[0].shape == clips.shape


def test_an_ensemble_answers_with_its_members_mean_and_round_trips(tmp_path: Path) -> None:
    from stae_ros.compressed.model import CDEnsemble

    # centred, with the track: the ensemble prepares those once for all members
    cfg = CDConfig(num_classes=3, frames=8, grid_h=8, grid_w=8, iframe_size=16, width=8, hidden=16, centre=True,
                   track=True)
    members = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        members.append(CDNet(cfg).eval())
    ens = CDEnsemble(members).eval()
    x = (torch.rand(2, 3, 16, 16), torch.randn(2, 7, 3, 8, 8))
    with torch.no_grad():
        mean = (members[0](*x).softmax(1) + members[1](*x).softmax(1)) / 2
        torch.testing.assert_close(ens(*x).exp(), mean)
    spec = FeatureSpec(frames=8, height=32, width=32, block=4, iframe_size=16)
    loaded = load_cd_model(save_cd_model(tmp_path / "ens.pt", ens, spec, ["a", "b", "c"]))
    assert isinstance(loaded.model, CDEnsemble) and len(loaded.model.members) == 2
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(*x), ens(*x))
    blob = torch.load(tmp_path / "ens.pt", weights_only=True)
    for bad in (0, 99, "2", True):
        blob["members"] = bad
        torch.save(blob, tmp_path / "bad.pt")
        with pytest.raises(H264CdModelError, match="field 'members'"):
            load_cd_model(tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="same configuration"):
        CDEnsemble([members[0], CDNet(CDConfig(num_classes=3, frames=8, grid_h=8, grid_w=8, iframe_size=16, width=16))])
