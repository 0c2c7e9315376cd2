"""Profile: one point per (K, p) through the real camera -> codec -> edge path, a valid schema file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from stae_ros.profiling import load_profile, save_profile
from stae_ros.profiling.profile import compression_ratio, measure_profile, profile_table, summarize
from stae_ros.training import LoadedModel, load_train_config, save_checkpoint
from stae_ros.training.loop import build_model_config

ROOT = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny_loaded():
    from stae_ros.models import STAE

    cfg = load_train_config(ROOT / "config" / "train_tiny.yaml")
    mcfg = build_model_config(cfg, 12)
    torch.manual_seed(0)
    model = STAE(mcfg).eval()
    return cfg, LoadedModel(model=model, config=mcfg, class_names=[f"c{i}" for i in range(12)])


def test_profile_one_point_per_budget(tiny_loaded, tmp_path):
    _, loaded = tiny_loaded
    rng = np.random.default_rng(0)
    clips = rng.integers(0, 256, (6, 8, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 12, 6)
    profile = measure_profile(loaded, clips, labels, name="tiny", progress=False)
    budgets = {(k, p) for k in loaded.config.budgets.frame for p in loaded.config.budgets.spatial}
    assert {(pt.k, pt.p) for pt in profile.points} == budgets
    assert len(profile.points) == len(budgets)
    path = save_profile(profile, tmp_path / "tiny.json")
    again = load_profile(path)
    assert again.name == "tiny" and len(again.points) == len(budgets)
    by = {(pt.k, pt.p): pt for pt in again.points}
    # fewer frames and pixels must cost fewer bytes (random pixels barely compress)
    assert by[(2, 0.1)].bytes_mean < by[(8, 1.0)].bytes_mean
    assert all(pt.n_clips == 6 and pt.camera_ms > 0 and pt.edge_ms > 0 for pt in again.points)
    assert compression_ratio(again, by[(2, 0.1)]) == pytest.approx(again.raw_float32_bytes / by[(2, 0.1)].bytes_mean)
    summary = summarize(again)
    assert summary["best_ratio_within_tolerance"] >= compression_ratio(again, by[(8, 1.0)])
    assert profile_table(again).count("\n") == len(budgets) + 1


def test_profile_cli_on_tiny_data(tiny_loaded, tmp_path):
    """`stae profile` on a generated tiny data set writes a loadable profile and both plots."""
    from stae_ros.cli import main
    from stae_ros.data.synthetic import CLASS_NAMES, generate_dataset

    cfg, loaded = tiny_loaded
    data = generate_dataset(tmp_path / "data", seed=0, train_per_class=1, test_per_class=1, frames=8, height=32,
                            width=32, workers=1, progress=False)
    model_path = save_checkpoint(tmp_path / "m.pt", loaded.model, loaded.config, list(CLASS_NAMES), "fr", {})
    rc = main(["profile", "--model", str(model_path), "--data", str(data), "--name", "t", "--limit", "4",
               "--out-dir", str(tmp_path / "profiles"), "--plots-dir", str(tmp_path / "img"), "--no-progress"])
    assert rc == 0
    profile = load_profile(tmp_path / "profiles" / "t.json")
    assert len(profile.points) == len(loaded.config.budgets.frame) * len(loaded.config.budgets.spatial)
    assert all(pt.n_clips == 4 for pt in profile.points)
    assert json.loads((tmp_path / "profiles" / "t.json").read_text())["schema"] == "stae-profile/1"
    for name in ("profile_t_bytes.png", "profile_t_budget.png"):
        assert (tmp_path / "img" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
