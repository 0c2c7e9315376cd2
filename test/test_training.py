"""Training: each stage's loss falls, resume continues from the saved step, checkpoints round-trip."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from stae_ros.configio import ConfigError, load_yaml
from stae_ros.training import (
    STAGES,
    CheckpointError,
    load_model,
    load_train_config,
    save_checkpoint,
    stage_loss,
    train,
)
from stae_ros.training.stages import Budget, parse_stages

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "config" / "train_tiny.yaml"


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny_cfg(tmp_path_factory):
    """The tiny config with its data root in a temporary folder (generated on first use)."""
    cfg = load_train_config(TINY)
    cfg.data.root = str(tmp_path_factory.mktemp("tiny_data") / "synth")
    cfg.threads = 0
    cfg.data.generate = dict(cfg.data.generate, workers=1)
    return cfg


def _tiny_model(cfg):
    from stae_ros.training.loop import build_model_config
    from stae_ros.models import STAE

    torch.manual_seed(0)
    mcfg = build_model_config(cfg, 12)
    return STAE(mcfg), mcfg


def _fit(model, stage, x, y, budget, scfg, steps, lr):
    model.freeze(stage)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    model.train()
    losses = []
    for _ in range(steps):
        loss, _ = stage_loss(model, stage, x, y, budget, scfg)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("stage", STAGES)
def test_stage_loss_falls(tiny_cfg, stage):
    """A few optimiser steps of each stage on one fixed batch lower that batch's loss.

    FA/SA learn against a frozen classifier, so it is first fitted to the batch (as stage 1 would).
    """
    model, _ = _tiny_model(tiny_cfg)
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(8, 3, 8, 32, 32, generator=gen)
    y = torch.arange(8) % 4
    if stage != "classifier":
        _fit(model, "classifier", x, y, Budget(8, 1.0), tiny_cfg.stages["classifier"], 15, 1e-2)
    budget = {"classifier": Budget(8, 1.0), "fa": Budget(2, 1.0), "sa": Budget(4, 0.1), "fr": Budget(2, 0.25)}[stage]
    lr = {"classifier": 3e-3, "fa": 5e-2, "sa": 5e-2, "fr": 3e-3}[stage]
    losses = _fit(model, stage, x, y, budget, tiny_cfg.stages[stage], 15, lr)
    assert min(losses[-5:]) < losses[0], losses


def test_frozen_parts_do_not_change(tiny_cfg):
    """In the sa stage only SA learns: FA, FR and the classifier keep their weights."""
    model, _ = _tiny_model(tiny_cfg)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.freeze("sa")
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
    loss, _ = stage_loss(model, "sa", torch.rand(4, 3, 8, 32, 32), torch.arange(4), Budget(4, 0.1), tiny_cfg.stages["sa"])
    loss.backward()
    opt.step()
    after = model.state_dict()
    changed = {k.split(".")[0] for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"sa"}


def test_train_all_stages_and_resume(tiny_cfg, tmp_path):
    """A full tiny run writes metrics and a loadable model; a run stopped early resumes where it stopped."""
    full = train(tiny_cfg, tmp_path / "full", progress=False)
    assert [r["stage"] for r in full.history] == ["classifier", "classifier", "fa", "sa", "fr"]
    assert (tmp_path / "full" / "metrics.csv").is_file() and (tmp_path / "full" / "metrics.json").is_file()
    assert load_model(full.model_path).meta["stage"] == "fr"

    part = train(tiny_cfg, tmp_path / "part", progress=False, stop_after_steps=3)
    saved = torch.load(tmp_path / "part" / "last.pt", weights_only=True)["train_state"]
    resumed = train(tiny_cfg, tmp_path / "part", resume=True, progress=False)
    first = resumed.history[len(part.history)]
    assert first["step"] > saved["step"]
    assert (first["stage"], first["epoch"]) > (saved["stage"], saved["epoch"]) or first["stage"] != saved["stage"]
    assert resumed.history[-1]["stage"] == "fr"
    assert len(resumed.history) == len(part.history) + len(full.history) - 1
    # a run folder of another model: one line naming it, not load_state_dict's report
    vit = dict(tiny_cfg.model.get("vit", {}))
    other = dataclasses.replace(tiny_cfg, model={**tiny_cfg.model, "vit": {**vit, "dim": 2 * int(vit.get("dim", 128))}})
    from stae_ros.training import TrainingError

    with pytest.raises(TrainingError, match=r"--resume: .*last.pt does not fit this config's model: RuntimeError: Error\(s\) "
                                             r"in loading state_dict for STAE: .*size mismatch"):
        train(other, tmp_path / "part", resume=True, progress=False)


def test_checkpoint_round_trip_identical_logits(tiny_cfg, tmp_path):
    model, mcfg = _tiny_model(tiny_cfg)
    model.eval()
    x = torch.rand(2, 3, 8, 32, 32)
    path = save_checkpoint(tmp_path / "m.pt", model, mcfg, [f"c{i}" for i in range(12)], "fr", {"acc": 0.5}, half=False)
    loaded = load_model(path)
    assert not loaded.model.training
    assert loaded.class_names[3] == "c3"
    with torch.no_grad():
        assert torch.equal(model.classify(x), loaded.model.classify(x))
        sel_a, sel_b = model.select(x, 4, 0.25), loaded.model.select(x, 4, 0.25)
        assert torch.equal(sel_a.frame_indices, sel_b.frame_indices) and torch.equal(sel_a.mask, sel_b.mask)


def test_half_checkpoint_loads_float32(tiny_cfg, tmp_path):
    model, mcfg = _tiny_model(tiny_cfg)
    path = save_checkpoint(tmp_path / "h.pt", model, mcfg, ["a"] * 12, "fr", {}, half=True)
    loaded = load_model(path)
    assert loaded.meta["dtype"] == "float16"
    assert all(p.dtype == torch.float32 for p in loaded.model.parameters())
    x = torch.rand(1, 3, 8, 32, 32)
    with torch.no_grad():
        assert torch.allclose(model.eval().classify(x), loaded.model.classify(x), atol=5e-2)


def test_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_model(tmp_path / "missing.pt")
    torch.save({"format": "something-else"}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="stae-ckpt/1"):
        load_model(tmp_path / "other.pt")
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError):
        load_model(tmp_path / "garbage.pt")


def test_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_yaml(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_yaml(bad)
    typo = tmp_path / "typo.yaml"
    typo.write_text(TINY.read_text().replace("stages:", "stagse:"))
    with pytest.raises(ConfigError, match="did you mean 'stages'"):
        load_train_config(typo)
    with pytest.raises(Exception, match="unknown stage"):
        parse_stages("classifier,fx")


def test_init_skip_keeps_the_other_modules_and_refreshes_the_skipped(tiny_cfg, tmp_path):
    """--init-skip vit: FA/SA/FR come from the source checkpoint, the ViT starts fresh (here: another stem)."""
    from stae_ros.training import TrainingError

    src = train(tiny_cfg, tmp_path / "src", progress=False, stages=["classifier"], stop_after_steps=2)
    assert src.history
    src_state = load_model(tmp_path / "src" / "last.pt").model.state_dict()
    flow_cfg = dataclasses.replace(tiny_cfg, model={**tiny_cfg.model, "vit": {**tiny_cfg.model.get("vit", {}), "stem": "flow"}})
    out = train(flow_cfg, tmp_path / "flow", progress=False, stages=["fa"], stop_after_steps=1,
                init=tmp_path / "src" / "last.pt", init_skip=["vit"])
    got = load_model(tmp_path / "flow" / "last.pt").model.state_dict()
    assert out.history and all(torch.equal(got[k], src_state[k]) for k in src_state if k.startswith(("sa.", "fr.")))
    assert got["vit.patch_embed.proj.weight"].shape[1] == 8 != src_state["vit.patch_embed.proj.weight"].shape[1]  # 3 + 3 diff + 2 flow
    assert not torch.equal(got["vit.head.weight"], src_state["vit.head.weight"])
    with pytest.raises(TrainingError, match="unknown modules"):
        train(tiny_cfg, tmp_path / "bad", progress=False, init=tmp_path / "src" / "last.pt", init_skip=["head"])
