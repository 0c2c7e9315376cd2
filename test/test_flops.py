"""FLOP counting (stae_ros.profiling.flops) against hand counts, and the camera budget presets."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml
from torch import nn

from stae_ros.profiling.budgets import BudgetError, camera_budget, load_camera_budgets
from stae_ros.profiling.flops import clip_flops, count_flops


class _Small(nn.Module):
    """A Conv3d then a Linear: 3->5 channels, 3x3x3 kernel, no padding; 720 features -> 10."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv3d(3, 5, kernel_size=3)
        self.fc = nn.Linear(5 * 4 * 6 * 6, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.conv(x)).flatten(1))


def test_small_model_matches_hand_count():
    # conv output 5 x 4 x 6 x 6 = 720 values, each 3 * 27 multiply-adds; linear 720 x 10 multiply-adds
    conv = 2 * (5 * 4 * 6 * 6) * (3 * 3 * 3 * 3)
    linear = 2 * 720 * 10
    count = count_flops(_Small(), torch.rand(1, 3, 6, 8, 8))
    assert count.total == conv + linear == 131_040
    assert count.by_op == {"convolution": conv, "addmm": linear}
    batch = count_flops(_Small(), torch.rand(4, 3, 6, 8, 8))
    assert batch.total == 4 * count.total
    assert batch.per_clip(4) == pytest.approx(count.gflop)


def test_depthwise_conv_counts_one_input_channel_per_output():
    dw = nn.Conv3d(8, 8, kernel_size=3, padding=1, groups=8, bias=False)
    dense = nn.Conv3d(8, 8, kernel_size=3, padding=1, bias=False)
    x = torch.rand(1, 8, 4, 6, 6)
    assert count_flops(dw, x).total == 2 * (8 * 4 * 6 * 6) * 27
    assert count_flops(dense, x).total == 8 * count_flops(dw, x).total


def test_clip_flops_leaves_training_mode_alone():
    model = _Small().train()
    assert clip_flops(model, 6, 8, 8).total == 131_040
    assert model.training


def test_shipped_presets_are_consistent():
    presets, default = load_camera_budgets("config/camera_budgets.yaml")
    assert default in presets
    assert {"pi4-1core", "pi5-1core", "host-1thread"} <= set(presets)
    for p in presets.values():
        assert p.budget_gflop_per_clip == pytest.approx(p.rate_gflops * p.period_s * p.utilisation, rel=0.01)
        assert p.sources and all(s["url"] and s["title"] for s in p.sources)
    assert presets["pi5-1core"].budget_gflop_per_clip > presets["pi4-1core"].budget_gflop_per_clip
    pi4 = camera_budget("pi4-1core")
    assert pi4.fits(pi4.budget_gflop_per_clip) and not pi4.fits(pi4.budget_gflop_per_clip * 1.01)


def _write(tmp_path: Path, presets: dict) -> Path:
    path = tmp_path / "budgets.yaml"
    path.write_text(yaml.safe_dump({"schema": "stae-camera-budgets/1", "default": next(iter(presets)), "presets": presets}))
    return path


_GOOD = {"device": "x", "rate_gflops": 2.0, "period_s": 0.5, "utilisation": 0.5, "budget_gflop_per_clip": 0.5,
         "sources": [{"title": "t", "url": "u", "figure": "f"}]}


def test_inconsistent_or_unsourced_presets_are_refused(tmp_path):
    assert camera_budget(None, _write(tmp_path, {"a": _GOOD})).budget_gflop_per_clip == 0.5
    with pytest.raises(BudgetError, match="budget_gflop_per_clip"):
        load_camera_budgets(_write(tmp_path, {"a": {**_GOOD, "budget_gflop_per_clip": 0.9}}))
    with pytest.raises(BudgetError, match="sources"):
        load_camera_budgets(_write(tmp_path, {"a": {**_GOOD, "sources": []}}))
    with pytest.raises(BudgetError, match="utilisation"):
        load_camera_budgets(_write(tmp_path, {"a": {**_GOOD, "utilisation": 1.5, "budget_gflop_per_clip": 1.5}}))
    with pytest.raises(BudgetError, match="rate_gflops"):
        load_camera_budgets(_write(tmp_path, {"a": {**_GOOD, "rate_gflops": -1}}))
    with pytest.raises(BudgetError, match="unknown camera budget preset 'b'"):
        camera_budget("b", _write(tmp_path, {"a": _GOOD}))
    with pytest.raises(BudgetError, match="not found"):
        load_camera_budgets(tmp_path / "missing.yaml")
