"""The commands name shipped files as `models/...` and `profiles/...`: outside a checkout those are
the installed files, and a file of that name under the current directory still wins."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from stae_ros.configio import load_yaml
from stae_ros.profiling.schema import ProfileError, load_profile
from stae_ros.resources import shipped_file
from stae_ros.training.checkpoints import load_checkpoint_dict
from stae_ros.training.errors import CheckpointError

REPO = Path(__file__).resolve().parents[1]


def test_a_shipped_name_outside_a_checkout_is_the_packaged_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert shipped_file("models/stae_default.pt") == REPO / "models" / "stae_default.pt"
    assert load_checkpoint_dict("models/stae_default.pt")["format"]
    assert load_profile("profiles/modes.json").points


def test_a_file_under_the_current_directory_wins(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "stae_default.pt").write_bytes(b"not a checkpoint")
    assert shipped_file("models/stae_default.pt") == Path("models/stae_default.pt")
    with pytest.raises(CheckpointError, match="models/stae_default.pt is not a readable checkpoint file"):
        load_checkpoint_dict("models/stae_default.pt")


def test_other_paths_are_left_alone(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert shipped_file("models/no_such_model.pt") == Path("models/no_such_model.pt")
    assert shipped_file("data/stae_default.pt") == Path("data/stae_default.pt")
    assert shipped_file(tmp_path / "x.pt") == tmp_path / "x.pt"
    with pytest.raises(CheckpointError, match="checkpoint file not found: models/no_such_model.pt"):
        load_checkpoint_dict("models/no_such_model.pt")
    with pytest.raises(ProfileError, match="profile file not found: profiles/none.json"):
        load_profile("profiles/none.json")


def test_bench_controller_outside_the_checkout_plans_over_the_shipped_profile(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "stae_ros.bench.controller", "--profile", "profiles/modes.json",
                           "--trace-dir", "NONE", "--synthetic", "1", "--duration", "10", "--out", "out"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads((tmp_path / "out" / "controller.json").read_text())
    assert report["profile"] == "profiles/modes.json"
    chosen = report["traces"]["synthetic-fade-s1000"]["controller"]["modes"]
    assert set(chosen) <= {p.codec for p in load_profile(REPO / "profiles" / "modes.json").points}, chosen


def test_a_train_config_outside_the_checkout_finds_the_shipped_model_base(tmp_path, monkeypatch):
    from stae_ros.training.config import load_train_config

    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.yaml").write_text("data: {root: datasets/mine}\nstages: {classifier: {epochs: 1}}\n")
    cfg = load_train_config("mine.yaml")  # no `model:`: config/model_default.yaml, the shipped one
    shipped = load_yaml(REPO / "config" / "model_default.yaml")
    assert cfg.model["vit"] == shipped["vit"]


def test_a_mode_model_named_as_a_profile_records_it_loads_outside_the_checkout(tmp_path, monkeypatch):
    from stae_ros.local import LocalModelError, load_local_model
    from stae_ros.modes.base import load_mode_file

    monkeypatch.chdir(tmp_path)
    path, model = load_mode_file("local", "models/stae_local_default.pt", "models/stae_local_default.pt",
                                 load_local_model, LocalModelError)
    assert path == REPO / "models" / "stae_local_default.pt" and model.class_names
