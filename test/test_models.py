"""Tests for stae_ros.models on a tiny 8x32x32 configuration (fast on 2 CPU cores)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
import yaml

from stae_ros.models import (
    STAE,
    STAGES,
    BudgetError,
    ClipConfig,
    ConfigError,
    ModelConfig,
    PretrainedLoadError,
    ShapeError,
    StageError,
    VideoViT,
    ViTConfig,
    budget_pixels,
)
from stae_ros.models.temporal import interpolate_missing_frames, kept_frames, neighbour_blend

ROOT = Path(__file__).resolve().parents[1]

TINY = {
    "clip": {"frames": 8, "height": 32, "width": 32, "channels": 3},
    "budgets": {"frame": [8, 4, 2, 1], "spatial": [1.0, 0.5, 0.25, 0.1, 0.05]},
    "fa": {"hidden": 8, "feature_channels": 4, "downsample": 2, "motion": True},
    "sa": {"kernel_size": 5, "hidden": 0, "motion": True},
    "fr": {"base_channels": 4, "downsample": 2, "frame_channels": 4, "frame_layers": 2},
    "vit": {"tubelet": [2, 8, 8], "dim": 32, "depth": 1, "heads": 2, "mlp_ratio": 2.0, "dropout": 0.0,
            "num_classes": 3, "pos_embed": "learned", "pool": "mean", "stem": "diff"},
}


def tiny_cfg(frame_fill: str = "none", **vit: object) -> ModelConfig:
    d = copy.deepcopy(TINY)
    d["vit"].update(vit)
    d["fr"]["frame_fill"] = frame_fill
    return ModelConfig.from_dict(d)


@pytest.fixture(scope="module")
def model() -> STAE:
    torch.manual_seed(0)
    return STAE(tiny_cfg()).eval()


@pytest.fixture(scope="module")
def clip() -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    return torch.rand(2, 3, 8, 32, 32, generator=g)


# ---------------------------------------------------------------- config
@pytest.mark.parametrize("name", ["model_default.yaml", "model_vitb_224.yaml"])
def test_shipped_configs_load_and_round_trip(name: str) -> None:
    data = yaml.safe_load((ROOT / "config" / name).read_text())
    cfg = ModelConfig.from_dict(data)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    assert set(cfg.to_dict()) == set(data)


def test_unknown_keys_are_named() -> None:
    d = copy.deepcopy(TINY)
    d["vit"]["dimm"] = 3
    with pytest.raises(ConfigError, match="dimm"):
        ModelConfig.from_dict(d)
    with pytest.raises(ConfigError, match="extra"):
        ModelConfig.from_dict({**TINY, "extra": {}})


def test_impossible_config_values_rejected() -> None:
    d = copy.deepcopy(TINY)
    d["budgets"]["frame"] = [9]
    with pytest.raises(ConfigError, match="K=9"):
        ModelConfig.from_dict(d)
    d = copy.deepcopy(TINY)
    d["vit"]["tubelet"] = [3, 8, 8]
    with pytest.raises(ConfigError, match="tubelet"):
        ModelConfig.from_dict(d)
    with pytest.raises(ConfigError, match="heads"):
        ViTConfig(dim=30, heads=4)


def test_budget_pixels() -> None:
    assert budget_pixels(1.0, 64, 64) == 4096
    assert budget_pixels(0.1, 64, 64) == 410  # 409.6 -> 410
    assert budget_pixels(0.25, 64, 64) == 1024  # exact, no float round-up
    assert budget_pixels(0.05, 32, 32) == 52  # 51.2 -> 52
    assert budget_pixels(1e-9, 8, 8) == 1
    for bad in (0.0, -0.1, 1.5, float("nan")):
        with pytest.raises(BudgetError):
            budget_pixels(bad, 8, 8)


# ---------------------------------------------------------------- shapes and budgets
def test_module_shapes(model: STAE, clip: torch.Tensor) -> None:
    s = model.fa(clip)
    assert s.shape == (2, 8) and bool(((s > 0) & (s < 1)).all())
    frames = clip[:, :, :3]
    ps = model.sa(frames)
    assert ps.shape == (2, 3, 32, 32) and bool(((ps > 0) & (ps < 1)).all())
    mask = (torch.rand(2, 1, 8, 32, 32) > 0.5).float()
    out = model.recover(clip * mask, mask)
    assert out.shape == clip.shape and bool(((out >= 0) & (out <= 1)).all())
    assert model.classify(clip).shape == (2, 3)


@pytest.mark.parametrize("pool,pos_embed,stem", [("mean", "learned", "none"), ("max", "sincos", "diff"), ("cls", "learned", "conv"),
                                                  ("max", "learned", "flow"), ("mean", "sincos", "curl")])
def test_vit_variants(pool: str, pos_embed: str, stem: str) -> None:
    vit = VideoViT(ViTConfig(tubelet=[2, 8, 8], dim=32, depth=1, heads=2, num_classes=4, pool=pool,
                             pos_embed=pos_embed, stem=stem, stem_channels=4), ClipConfig(8, 32, 32, 3))
    out = vit(torch.rand(2, 3, 8, 32, 32))
    assert out.shape == (2, 4) and bool(torch.isfinite(out).all())
    with pytest.raises(ShapeError):
        vit(torch.rand(2, 3, 8, 32, 16))


@pytest.mark.parametrize("k", [8, 4, 2, 1])
@pytest.mark.parametrize("p", [1.0, 0.5, 0.25, 0.1, 0.05])
def test_select_exact_budgets(model: STAE, clip: torch.Tensor, k: int, p: float) -> None:
    sel = model.select(clip, k, p)
    assert sel.frame_indices.shape == (2, k) and sel.frame_indices.dtype == torch.long
    assert sel.mask.shape == (2, k, 32, 32) and sel.mask.dtype == torch.bool
    idx = sel.frame_indices
    assert bool((idx[:, 1:] > idx[:, :-1]).all()), "kept frames must be strictly ascending"
    assert int(idx.min()) >= 0 and int(idx.max()) < 8
    n = budget_pixels(p, 32, 32)
    assert sel.mask.sum(dim=(2, 3)).eq(n).all(), "every kept frame keeps exactly budget_pixels"
    zero_filled, mask = model.assemble(clip, sel)
    assert int(mask.sum()) == 2 * k * n


def test_selected_frames_are_the_top_scored(model: STAE, clip: torch.Tensor) -> None:
    sel = model.select(clip, 3, 1.0)
    logits = model.fa.logits(clip)
    for b in range(2):
        kept = set(sel.frame_indices[b].tolist())
        worst_kept = min(float(logits.detach()[b, i]) for i in kept)
        best_dropped = max(float(logits.detach()[b, i]) for i in range(8) if i not in kept)
        assert worst_kept >= best_dropped


def test_ties_break_deterministically(clip: torch.Tensor) -> None:
    m = STAE(tiny_cfg()).eval()
    with torch.no_grad():
        for p in list(m.fa.parameters()) + list(m.sa.parameters()):
            p.zero_()
    sel = m.select(clip, 3, 0.05)
    assert sel.frame_indices.tolist() == [[0, 1, 2], [0, 1, 2]]
    n = budget_pixels(0.05, 32, 32)
    flat = sel.mask.reshape(2, 3, -1)
    assert bool(flat[..., :n].all()) and not bool(flat[..., n:].any())


def test_pixel_mask_matches_a_stable_sort_with_many_ties() -> None:
    from stae_ros.models.selection import top_pixels_mask

    g = torch.Generator().manual_seed(0)
    for _ in range(50):
        scores = torch.randint(0, 4, (2, 3, 5, 7), generator=g).float()
        n = int(torch.randint(1, 35, (1,), generator=g))
        mask = top_pixels_mask(scores, n).reshape(2, 3, 35)
        order = torch.sort(scores.reshape(2, 3, 35), dim=-1, descending=True, stable=True).indices[..., :n]
        ref = torch.zeros(2, 3, 35, dtype=torch.bool).scatter(-1, order, True)
        assert torch.equal(mask, ref)


def test_assemble_and_scatter_place_frames_at_their_indices(model: STAE, clip: torch.Tensor) -> None:
    sel = model.select(clip, 3, 0.25)
    zero_filled, mask = model.assemble(clip, sel)
    assert zero_filled.shape == clip.shape and mask.shape == (2, 1, 8, 32, 32)
    for b in range(2):
        kept = sel.frame_indices[b].tolist()
        for t in range(8):
            if t in kept:
                j = kept.index(t)
                m = sel.mask[b, j]
                assert torch.equal(mask[b, 0, t].bool(), m)
                assert torch.equal(zero_filled[b, :, t][:, m], clip[b, :, t][:, m])
                assert float(zero_filled[b, :, t][:, ~m].abs().sum()) == 0.0
            else:
                assert float(zero_filled[b, :, t].abs().sum()) == 0.0 and float(mask[b, 0, t].sum()) == 0.0
    # the edge side: decoded kept frames (dense, garbage off-mask) scatter to the same clip
    frames = torch.stack([clip[b, :, sel.frame_indices[b]] for b in range(2)])
    noisy = torch.where(sel.mask[:, None], frames, torch.rand_like(frames))
    zf2, mask2 = model.scatter(noisy, sel, 8)
    assert torch.equal(zf2, zero_filled) and torch.equal(mask2, mask)


def test_scatter_rejects_bad_selection(model: STAE, clip: torch.Tensor) -> None:
    sel = model.select(clip, 2, 0.5)
    frames = clip[:, :, :2]
    sel.frame_indices[0, 1] = 8
    with pytest.raises(ShapeError, match="0..7"):
        model.scatter(frames, sel, 8)
    with pytest.raises(ShapeError):
        model.scatter(clip[:, :, :3], model.select(clip, 2, 0.5), 8)


def test_fr_keeps_arrived_pixels_exactly(model: STAE, clip: torch.Tensor) -> None:
    sel = model.select(clip, 4, 0.1)
    zero_filled, mask = model.assemble(clip, sel)
    with torch.no_grad():
        out = model.recover(zero_filled, mask)
    m = mask.expand_as(out).bool()
    assert torch.equal(out[m], clip[m])
    assert float((out[~m] - zero_filled[~m]).abs().sum()) > 0, "FR must fill the missing pixels"


def test_bad_inputs_raise(model: STAE, clip: torch.Tensor) -> None:
    with pytest.raises(BudgetError):
        model.select(clip, 0, 0.5)
    with pytest.raises(BudgetError):
        model.select(clip, 9, 0.5)
    with pytest.raises(BudgetError):
        model.select(clip, 2, 0.0)
    with pytest.raises(ShapeError):
        model.select(clip[:, :, :4], 2, 0.5)
    with pytest.raises(StageError):
        model(clip, 2, 0.5, "decoder")
    with pytest.raises(StageError):
        model.freeze("everything")


# ---------------------------------------------------------------- frame fill
def test_interpolate_missing_frames_blends_the_kept_neighbours_and_holds_the_ends() -> None:
    t = 8
    clip = torch.arange(t, dtype=torch.float32).view(1, 1, t, 1, 1).repeat(2, 3, 1, 4, 4) * 10.0
    clip[1] += torch.rand(3, t, 4, 4)
    kept = torch.zeros(2, t, dtype=torch.bool)
    kept[:, [2, 6]] = True
    out = interpolate_missing_frames(clip, kept)
    assert torch.equal(out[:, :, [2, 6]], clip[:, :, [2, 6]])
    # between the kept frames 2 and 6: a straight line; before 2 and after 6: held
    want0 = torch.tensor([20, 20, 20, 30, 40, 50, 60, 60], dtype=torch.float32)
    assert torch.allclose(out[0, 0, :, 0, 0], want0)
    assert torch.allclose(out[1, :, 4], (clip[1, :, 2] + clip[1, :, 6]) / 2)
    assert torch.equal(interpolate_missing_frames(clip, torch.zeros(2, t, dtype=torch.bool)), clip)
    assert torch.equal(interpolate_missing_frames(clip, torch.ones(2, t, dtype=torch.bool)), clip)
    with pytest.raises(ShapeError):
        interpolate_missing_frames(clip, kept[:, :4])


def test_neighbour_blend_is_the_fill_for_dropped_frames_and_leave_one_out_for_kept_ones() -> None:
    t = 8
    clip = torch.arange(t, dtype=torch.float32).view(1, 1, t, 1, 1).repeat(2, 3, 1, 4, 4) * 10.0
    clip[1] += torch.rand(3, t, 4, 4)
    kept = torch.zeros(2, t, dtype=torch.bool)
    kept[:, [1, 4, 6]] = True
    ref = neighbour_blend(clip, kept)
    dropped = ~kept[0]
    assert torch.allclose(ref[:, :, dropped], interpolate_missing_frames(clip, kept)[:, :, dropped])
    # kept frame 4 without itself: the line from 1 to 6; kept 1 (no kept frame before it): held at 4
    assert torch.allclose(ref[1, :, 4], clip[1, :, 1] + (clip[1, :, 6] - clip[1, :, 1]) * 3 / 5)
    assert torch.allclose(ref[1, :, 1], clip[1, :, 4])
    assert torch.allclose(ref[1, :, 6], clip[1, :, 4])
    only = torch.zeros(2, t, dtype=torch.bool)
    only[:, 3] = True  # a lone kept frame is its own reference, and everything else holds it
    assert torch.allclose(neighbour_blend(clip, only), clip[:, :, 3:4].expand_as(clip))
    with pytest.raises(ShapeError):
        neighbour_blend(clip, kept[:, :4])


def test_fa_training_with_the_linear_fill_sends_gradient_to_dropped_frames(clip: torch.Tensor) -> None:
    """The fill overwrites dropped frames; the FA path must still tell FA what adding one would gain."""
    torch.manual_seed(6)
    m = STAE(tiny_cfg("linear"))
    m.freeze("fa")
    m.train()
    s = m.fa(clip)
    s.retain_grad()
    orig = m.fa.forward
    m.fa.forward = lambda x: s  # the same scores tensor, so its gradient can be read
    try:
        loss = torch.nn.functional.cross_entropy(m(clip, 2, 1.0, "fa"), torch.tensor([0, 2]))
        loss.backward()
    finally:
        m.fa.forward = orig
    kept = torch.zeros_like(s, dtype=torch.bool).scatter(1, torch.topk(s.detach(), 2, dim=1).indices, True)
    assert s.grad is not None
    assert float(s.grad[~kept].abs().sum()) > 0.0, "dropped frames got no gradient"
    assert float(s.grad[kept].abs().sum()) > 0.0, "kept frames got no gradient"


def test_fr_linear_frame_fill_blends_the_recovered_kept_frames(clip: torch.Tensor) -> None:
    torch.manual_seed(5)
    m = STAE(tiny_cfg(frame_fill="linear")).eval()
    plain = STAE(tiny_cfg()).eval()
    plain.load_state_dict(m.state_dict())
    sel = m.select(clip, 3, 0.25)
    zf, mask = m.assemble(clip, sel)
    with torch.no_grad():
        out, cnn = m.recover(zf, mask), plain.recover(zf, mask)
    kept = kept_frames(mask)
    assert int(kept.sum()) == 2 * 3
    assert torch.equal(out[:, :, kept[0]][0], cnn[:, :, kept[0]][0])  # kept frames: FR's CNN, arrived pixels exact
    assert torch.allclose(out, interpolate_missing_frames(cnn, kept))
    assert not torch.allclose(out, cnn), "dropped frames must be blended, not the CNN's guess"
    with pytest.raises(ConfigError, match="frame_fill"):
        tiny_cfg(frame_fill="cubic")


# ---------------------------------------------------------------- training paths
@pytest.mark.parametrize("frame_fill", ["none", "linear"])
def test_training_path_forward_equals_inference(clip: torch.Tensor, frame_fill: str) -> None:
    torch.manual_seed(3)
    m = STAE(tiny_cfg(frame_fill)).eval()
    with torch.no_grad():
        zf, mask = m.assemble(clip, m.select(clip, 3, 1.0))
        assert torch.allclose(m(clip, 3, 1.0, "fa"), m.classify(m.fill_dropped_frames(zf, kept_frames(mask))), atol=1e-6)
        zf, mask = m.assemble(clip, m.select(clip, 3, 0.1))
        assert torch.allclose(m(clip, 3, 0.1, "sa"), m.classify(m.fill_dropped_frames(zf, kept_frames(mask))), atol=1e-6)
        assert torch.allclose(m(clip, 3, 0.1, "fr"), m.classify(m.recover(zf, mask)), atol=1e-6)
    if frame_fill == "none":
        assert torch.equal(m.fill_dropped_frames(zf, kept_frames(mask)), zf)


@pytest.mark.parametrize("frame_fill", ["none", "linear"])
@pytest.mark.parametrize(
    "stage,trained",
    [("classifier", {"vit"}), ("fa", {"fa"}), ("sa", {"sa"}), ("fr", {"fr", "vit"})],
)
def test_gradients_reach_only_the_trained_modules(clip: torch.Tensor, stage: str, trained: set[str], frame_fill: str) -> None:
    torch.manual_seed(4)
    m = STAE(tiny_cfg(frame_fill))
    assert set(m.freeze(stage)) == trained
    m.train()
    loss = torch.nn.functional.cross_entropy(m(clip, 2, 0.1, stage), torch.tensor([0, 2]))
    loss.backward()
    for name, module in (("fa", m.fa), ("sa", m.sa), ("fr", m.fr), ("vit", m.vit)):
        grads = [p.grad for p in module.parameters()]
        if name in trained:
            assert all(p.requires_grad for p in module.parameters())
            assert module.training
            total = sum(float(g.abs().sum()) for g in grads if g is not None)
            assert total > 0, f"no gradient reached {name} in stage {stage}"
        else:
            assert all(g is None for g in grads), f"frozen {name} got gradients in stage {stage}"
            assert not module.training, f"frozen {name} should stay in eval mode"


def test_sample_budget_draws_from_the_sets() -> None:
    m = STAE(tiny_cfg())
    g = torch.Generator().manual_seed(0)
    seen_k, seen_p = set(), set()
    for _ in range(60):
        k, p = m.sample_budget("sa", g)
        seen_k.add(k)
        seen_p.add(p)
        assert m.sample_budget("fa", g)[1] == 1.0
    assert seen_k == {8, 4, 2, 1}
    assert seen_p == {0.5, 0.25, 0.1, 0.05}
    assert m.sample_budget("classifier") == (8, 1.0)


def test_classifier_loss_falls_on_a_toy_problem() -> None:
    """A few AdamW steps on a learnable toy task (class = clip brightness level) lower the loss."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    m = STAE(tiny_cfg())
    m.freeze("classifier")
    m.train()
    opt = torch.optim.AdamW([p for p in m.parameters() if p.requires_grad], lr=1e-3)
    losses = []
    for _ in range(30):
        y = torch.randint(3, (16,), generator=g)
        x = torch.rand(16, 3, 8, 32, 32, generator=g) * 0.3 + y[:, None, None, None, None] * 0.3
        loss = torch.nn.functional.cross_entropy(m(x, stage="classifier"), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < first * 0.8, f"loss did not fall: {first:.3f} -> {last:.3f}"


# ---------------------------------------------------------------- pretrained ViT
def test_load_pretrained_with_other_head_and_grid() -> None:
    torch.manual_seed(5)
    src = VideoViT(ViTConfig(tubelet=[2, 8, 8], dim=32, depth=1, heads=2, num_classes=7, stem="none"),
                   ClipConfig(frames=16, height=32, width=32))
    dst = VideoViT(ViTConfig(tubelet=[2, 8, 8], dim=32, depth=1, heads=2, num_classes=3, stem="diff"),
                   ClipConfig(frames=8, height=32, width=32))
    head_before = dst.head.weight.detach().clone()
    sd = {"module." + k: v for k, v in src.state_dict().items()}
    report = dst.load_pretrained(sd)
    assert torch.equal(dst.blocks[0].attn.qkv.weight, src.blocks[0].attn.qkv.weight)
    assert torch.equal(dst.head.weight, head_before)
    assert "head.weight" in report.skipped and "pos_embed" in report.adapted
    assert dst.pos_embed.shape == (1, 4 * 4 * 4, 32)
    # diff stem: first 3 input channels copied, difference channels zero
    w = dst.patch_embed.proj.weight
    assert torch.equal(w[:, :3], src.patch_embed.proj.weight) and float(w[:, 3:].detach().abs().sum()) == 0.0
    assert dst(torch.rand(1, 3, 8, 32, 32)).shape == (1, 3)


def test_load_pretrained_maps_videomae_qv_bias_and_rejects_wrong_width() -> None:
    vit = VideoViT(ViTConfig(tubelet=[2, 8, 8], dim=32, depth=1, heads=2, num_classes=3), ClipConfig(8, 32, 32, 3))
    q, v = torch.randn(32), torch.randn(32)
    vit.load_pretrained({"encoder.blocks.0.attn.q_bias": q, "encoder.blocks.0.attn.v_bias": v})
    bias = vit.blocks[0].attn.qkv.bias
    assert torch.equal(bias[:32], q) and torch.equal(bias[64:], v) and float(bias[32:64].detach().abs().sum()) == 0.0
    with pytest.raises(PretrainedLoadError, match="qkv"):
        vit.load_pretrained({"blocks.0.attn.qkv.weight": torch.zeros(96, 16)})


def test_stages_constant() -> None:
    assert STAGES == ("classifier", "fa", "sa", "fr")


def test_flow_stem_loads_a_diff_checkpoint_unchanged() -> None:
    """A ``diff`` model's weights in a ``flow`` model give the same logits until the new inputs train."""
    from stae_ros.training.checkpoints import load_init_weights

    torch.manual_seed(0)
    src = STAE(tiny_cfg(stem="diff")).eval()
    dst = STAE(tiny_cfg(stem="flow")).eval()
    adapted = load_init_weights(dst, src.state_dict())
    assert adapted == ["vit.patch_embed.proj.weight"]
    x = torch.rand(2, 3, 8, 32, 32)
    with torch.no_grad():
        assert torch.equal(src.classify(x), dst.classify(x))
    # a step on the flow inputs alone changes the logits: they are wired in
    dst.train()
    torch.nn.functional.cross_entropy(dst.classify(x), torch.tensor([0, 1])).backward()
    with torch.no_grad():
        dst.vit.patch_embed.proj.weight[:, 6:] -= dst.vit.patch_embed.proj.weight.grad[:, 6:]
    dst.eval()
    with torch.no_grad():
        assert not torch.allclose(src.classify(x), dst.classify(x))


def test_normal_flow_moments_point_along_the_motion() -> None:
    """A bright edge moving right: dI/dt * dI/dx is positive where it moved; mirrored, negative."""
    from stae_ros.models.motion import normal_flow_moments

    clip = torch.zeros(1, 3, 2, 8, 8)
    clip[:, :, 0, :, :4] = 1.0  # bright left half, edge at x=4
    clip[:, :, 1, :, :5] = 1.0  # edge moved to x=5
    m = normal_flow_moments(clip)
    assert m.shape == (1, 2, 2, 8, 8)
    assert float(m[0, 0, 1].sum()) < 0  # dt > 0 where dx < 0 (bright to dark going right): product < 0
    mirrored = normal_flow_moments(clip.flip(-1))
    assert torch.allclose(mirrored[0, 0, 1].sum(), -m[0, 0, 1].sum())
    assert torch.count_nonzero(m[0, 1]) == 0  # vertical edges: no y moment


def _bar_clip(turn_deg: float, frames: int = 6, size: int = 32) -> torch.Tensor:
    """A bright bar on a noisy grey background turning about its left end by turn_deg per frame
    (image y points down, so positive is clockwise on screen)."""
    import numpy as np

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    out = []
    for t in range(frames):
        a = np.deg2rad(20 + turn_deg * t)
        px, py = 8.0, 16.0
        dx, dy = np.cos(a), np.sin(a)
        along = (xx - px) * dx + (yy - py) * dy
        across = np.abs(-(xx - px) * dy + (yy - py) * dx)
        bar = ((along > 0) & (along < 14) & (across < 1.5)).astype(np.float32)
        out.append(0.3 + 0.6 * bar + rng.normal(0, 0.02, bar.shape).astype(np.float32))
    return torch.from_numpy(np.stack(out))[None, None].repeat(1, 3, 1, 1, 1)


def test_moment_curl_has_the_sign_of_the_turn_and_divergence_of_growth() -> None:
    from stae_ros.models.motion import moment_curl_divergence, normal_flow_moments

    cw = moment_curl_divergence(normal_flow_moments(_bar_clip(+8.0)))
    ccw = moment_curl_divergence(normal_flow_moments(_bar_clip(-8.0)))
    assert cw.shape == (1, 2, 6, 32, 32)
    assert float(ccw[0, 0, 1:].sum()) > 0 > float(cw[0, 0, 1:].sum())  # measured sign: see the docstring
    assert float(moment_curl_divergence(normal_flow_moments(_bar_clip(0.0)))[0, 0].abs().sum()) < 0.2 * float(cw[0, 0].abs().sum())
    # a bright disk growing: the moments point outwards, so their divergence is positive
    yy, xx = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    r = ((yy - 16) ** 2 + (xx - 16) ** 2).sqrt()
    grow = torch.stack([torch.sigmoid(2.0 * (6 + 1.5 * t - r)) for t in range(4)])[None, None].repeat(1, 3, 1, 1, 1)
    div = moment_curl_divergence(normal_flow_moments(grow))[0, 1, 1:].sum()
    shrink = moment_curl_divergence(normal_flow_moments(grow.flip(2)))[0, 1, 1:].sum()
    assert float(div) > 0 > float(shrink)


def test_gradients_through_the_curl_stem_are_finite_on_zero_filled_frames() -> None:
    """FA and SA train through the classifier's stem; frames FA dropped are zeros (no motion
    energy at all), which once made every FA step NaN."""
    vit = VideoViT(ViTConfig(tubelet=[2, 8, 8], dim=16, depth=1, heads=2, num_classes=3, stem="curl"),
                   ClipConfig(4, 16, 16, 3))
    clip = torch.rand(2, 3, 4, 16, 16)
    clip[:, :, 1:3] = 0.0
    clip.requires_grad_(True)
    vit(clip).sum().backward()
    assert clip.grad is not None and bool(torch.isfinite(clip.grad).all())


def test_motion_stats_tell_the_turn_and_a_grown_model_starts_identical() -> None:
    from stae_ros.training.checkpoints import load_init_weights

    def vit(stats: bool) -> VideoViT:
        torch.manual_seed(0)
        return VideoViT(ViTConfig(tubelet=[2, 8, 8], dim=16, depth=1, heads=2, num_classes=3, stem="curl",
                                  motion_stats=stats), ClipConfig(6, 32, 32, 3)).eval()

    with_stats = vit(True)
    cw, ccw = with_stats.motion_statistics(_bar_clip(+8.0)), with_stats.motion_statistics(_bar_clip(-8.0))
    assert cw.shape == (1, 6)  # curl and divergence of 3 token time steps
    assert float(cw[0, :3].sum()) < 0 < float(ccw[0, :3].sum())  # curl: the sign of the turn
    assert with_stats.features(_bar_clip(8.0)).shape == (1, 16 + 6)
    plain = vit(False)
    grown = vit(True)
    adapted = load_init_weights(grown, plain.state_dict(), "plain")
    assert "head.weight" in adapted
    clip = _bar_clip(8.0)
    assert torch.allclose(grown(clip), plain(clip), atol=1e-6)


def test_load_init_weights_rejects_foreign_or_misshapen_weights() -> None:
    from stae_ros.training.checkpoints import load_init_weights
    from stae_ros.training.errors import CheckpointError

    dst = STAE(tiny_cfg(stem="diff"))
    src = STAE(tiny_cfg(stem="conv", stem_channels=4)).state_dict()
    with pytest.raises(CheckpointError, match="lacks"):
        load_init_weights(dst, src)
    other = STAE(tiny_cfg(stem="diff", dim=16)).state_dict()
    with pytest.raises(CheckpointError, match="another shape"):
        load_init_weights(dst, other)
    wider = STAE(tiny_cfg(stem="flow")).state_dict()  # more input channels than this model: not a growth
    with pytest.raises(CheckpointError, match="another shape"):
        load_init_weights(dst, wider)


def test_sa_inference_conv_matches_the_training_conv(model: STAE, clip: torch.Tensor) -> None:
    """The camera's depthwise form of SA's conv computes the trained conv (up to float order)."""
    frames = clip[:, :, :5]
    with torch.no_grad():
        fast = model.sa.logits(frames)
    with torch.enable_grad():
        ref = model.sa.logits(frames).detach()
    assert fast.shape == ref.shape == (2, 5, 32, 32)
    assert torch.allclose(fast, ref, atol=1e-4), float((fast - ref).abs().max())


@pytest.mark.parametrize("p", [0.5, 0.05])
def test_select_every_frame_shortcut_equals_the_general_path(model: STAE, clip: torch.Tensor, p: float) -> None:
    """K = T skips FA and the frame gather; it must keep what the general path keeps."""
    from stae_ros.models.selection import gather_frames, top_pixels_mask

    sel = model.select(clip, 8, p)
    assert torch.equal(sel.frame_indices, torch.arange(8).repeat(2, 1))
    with torch.no_grad():
        idx = torch.arange(8).repeat(2, 1)
        logits = model.sa.logits(gather_frames(clip, idx), model._motion(clip, idx))
    assert torch.equal(sel.mask, top_pixels_mask(logits, budget_pixels(p, 32, 32)))
