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


def test_profile_cli_measures_a_mode_at_its_own_clip_size(tiny_loaded, tmp_path):
    """--clip-size cuts the test clips at another frame size: a local model of that size is measured,
    stae-px (the checkpoint's size) is skipped; a malformed size is refused in one line."""
    from stae_ros.cli import main
    from stae_ros.data.synthetic import CLASS_NAMES, generate_dataset
    from stae_ros.local import LocalClassifier, save_local_model

    _, loaded = tiny_loaded
    data = generate_dataset(tmp_path / "data", seed=0, train_per_class=1, test_per_class=1, frames=8, height=48,
                            width=48, workers=1, progress=False)
    model_path = save_checkpoint(tmp_path / "m.pt", loaded.model, loaded.config, list(CLASS_NAMES), "fr", {})
    torch.manual_seed(0)
    big = save_local_model(tmp_path / "local48.pt", LocalClassifier(12, 8, 48, 48), list(CLASS_NAMES), (8, 48, 48, 3), {})
    base = ["profile", "--model", str(model_path), "--data", str(data), "--limit", "3", "--out-dir",
            str(tmp_path / "profiles"), "--plots-dir", "", "--no-progress", "--modes", "local,stae-px",
            "--model-file", f"local={big}"]
    assert main([*base, "--name", "big", "--clip-size", "48x48"]) == 0
    profile = load_profile(tmp_path / "profiles" / "big.json")
    assert {pt.codec for pt in profile.points} == {"local"} and "stae-px" in profile.host["skipped_modes"]
    assert main([*base, "--name", "bad", "--clip-size", "48"]) == 2
    assert not (tmp_path / "profiles" / "bad.json").exists()


def test_every_mode_measured_on_the_same_clips_into_one_profile(tiny_loaded, tmp_path):
    """Local, h264 and stae-px points on one clip array: local sends nothing and costs FLOPs on the
    camera only, the offloading modes cost FLOPs on the edge, and a mode whose model takes another
    clip size is skipped with the reason, not measured on other clips."""
    from stae_ros.local import LocalClassifier, save_local_model
    from stae_ros.profiling.modes import PointSpec

    _, loaded = tiny_loaded
    c = loaded.config.clip
    shape = (c.frames, c.height, c.width, c.channels)
    torch.manual_seed(0)
    local = LocalClassifier(12, c.frames, c.height, c.width)
    local_file = save_local_model(tmp_path / "local.pt", local, list(loaded.class_names), shape, {})
    wrong = save_local_model(tmp_path / "local_big.pt", LocalClassifier(12, c.frames, 2 * c.height, 2 * c.width),
                             list(loaded.class_names), (c.frames, 2 * c.height, 2 * c.width, 3), {})
    rng = np.random.default_rng(1)
    clips = rng.integers(0, 256, (5,) + shape, dtype=np.uint8)
    labels = rng.integers(0, 12, 5)
    specs = [PointSpec("local"), PointSpec("h264", None, 1.0, {"crf": 30}), PointSpec("h264", None, 1.0, {"crf": 45}),
             PointSpec("stae-px", 8, 0.5)]
    profile = measure_profile(loaded, clips, labels, name="modes", specs=specs, model_files={"local": str(local_file)},
                              progress=False)
    by = {(pt.codec, pt.extra["label"]): pt for pt in profile.points}
    assert set(by) == {("local", "default"), ("h264", "crf=30"), ("h264", "crf=45"), ("stae-px", "K=8 p=0.5")}
    loc = by[("local", "default")]
    assert loc.bytes_mean == 0 and loc.edge_gflop is None and loc.camera_gflop > 0
    with torch.no_grad():  # the local point's accuracy is the camera classifier's own
        x = torch.from_numpy(clips).permute(0, 4, 1, 2, 3).float() / 255.0
        expected = float((local.eval()(x).argmax(1).numpy() == labels).mean())
    assert loc.accuracy == pytest.approx(expected)
    assert by[("h264", "crf=45")].bytes_mean < by[("h264", "crf=30")].bytes_mean
    assert all(pt.edge_gflop > 0 for pt in profile.points if pt.codec != "local")
    assert by[("stae-px", "K=8 p=0.5")].camera_gflop > 0  # FA + SA run on the camera
    assert by[("h264", "crf=30")].codec_settings() == {"crf": 30}  # what a BudgetCommand would carry
    from stae_ros.local import load_local_model
    from stae_ros.modes.base import state_identity

    assert loc.extra["model_id"] == load_local_model(local_file).model_id  # whose answers each accuracy is
    assert by[("stae-px", "K=8 p=0.5")].extra["model_id"] == state_identity(loaded)
    save_profile(profile, tmp_path / "modes.json")
    assert len(load_profile(tmp_path / "modes.json").points) == 4
    skipped = measure_profile(loaded, clips, labels, name="x", specs=[PointSpec("local")],
                              model_files={"local": str(wrong)}, progress=False)
    assert not skipped.points and "takes clips" in skipped.host["skipped_modes"]["local"]


def test_mode_grid_file_is_checked(tmp_path):
    from stae_ros.configio import ConfigError
    from stae_ros.profiling.modes import DEFAULT_MODES_FILE, load_mode_grid

    specs = load_mode_grid(DEFAULT_MODES_FILE, model_budgets=[(16, 1.0), (8, 0.5)])
    assert {s.mode for s in specs} >= {"local", "h264", "stae-px"}
    assert [(s.k, s.p) for s in specs if s.mode == "stae-px"] == [(16, 1.0), (8, 0.5)]
    bad = tmp_path / "m.yaml"
    bad.write_text("modes:\n  h265: {settings: [{}]}\n")
    with pytest.raises(ConfigError, match="m.yaml: unknown mode 'h265'"):
        load_mode_grid(bad)
    with pytest.raises(ConfigError, match="^unknown mode 'bogus' asked for; registered modes: h264"):
        load_mode_grid(DEFAULT_MODES_FILE, modes=["bogus"])  # a flag's mistake, not the file's
    bad.write_text("modes:\n  h264: {settings: {crf: 3}}\n")
    with pytest.raises(ConfigError, match="modes.h264.settings"):
        load_mode_grid(bad)
