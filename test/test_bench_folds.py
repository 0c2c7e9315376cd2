"""`stae bench codecs --fold`: a real tiny cross-validated run on a folder set made here (fold CSV,
one tiny checkpoint and one local classifier per fold), its pooled rows and its results summary."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from stae_ros.bench import summary as sm
from stae_ros.bench.errors import BenchDataError
from stae_ros.bench.folds import fold_file, parse_folds, pool_rows

FOLDS = 3
PER_FOLD = 1  # videos per class and fold


def _make_set(root: Path, classes: list[str]) -> None:
    from stae_ros.data import write_video

    rng = np.random.default_rng(0)
    lines = ["clip,class,fold"]
    for ci, c in enumerate(classes):
        for f in range(FOLDS):
            for k in range(PER_FOLD):
                rel = f"{c}/{c}_{f}{k}.avi"
                frames = rng.integers(0, 40, (10, 32, 32, 3), dtype=np.uint8)
                frames[:, 4:12, 4 + 4 * ci : 12 + 4 * ci] = 220  # a class-specific bright patch
                (root / c).mkdir(parents=True, exist_ok=True)
                write_video(root / rel, frames)
                lines.append(f"{rel},{c},{f}")
    (root / "folds.csv").write_text("\n".join(lines) + "\n")


def _make_models(root: Path, classes: list[str]) -> None:
    import torch

    from stae_ros.bench.codecs import make_tiny_checkpoint
    from stae_ros.local import save_local_model
    from stae_ros.local.model import LocalClassifier

    arch = {"stem_channels": 4, "stem_temporal_stride": 2, "stage_channels": [4, 8], "stage_depths": [1, 1],
            "expansion": 2.0, "se_ratio": 0.25, "head_channels": 8, "dropout": 0.0, "motion": False}
    for f in range(FOLDS):
        make_tiny_checkpoint(root / f"fold{f}" / "model.pt", seed=f, classes=len(classes))
        torch.manual_seed(f)
        local = LocalClassifier(len(classes), 8, 32, 32, **arch).eval()
        save_local_model(root / f"local{f}.pt", local, classes, (8, 32, 32, 3), arch)


@pytest.fixture(scope="module")
def fold_run(tmp_path_factory):
    from stae_ros.cli import main
    from stae_ros.data import CLASS_NAMES

    base = tmp_path_factory.mktemp("bench_folds")
    classes = list(CLASS_NAMES[:4])  # make_tiny_checkpoint labels the first synthetic classes
    _make_set(base / "data", classes)
    _make_models(base / "models", classes)
    out = base / "out"
    rc = main(["bench", "codecs", "--tiny", "--data", str(base / "data"), "--fold", "all", "--model", str(base / "models"),
               "--local-model", str(base / "models" / "local{fold}.pt"), "--local-short-clip", "pad", "--sweep", "rate",
               "--out", str(out),
               "--repeats", "1"])
    assert rc == 0
    return base, json.loads((out / "codecs.json").read_text())


def test_fold_run_pools_every_fold_and_records_a_valid_summary(fold_run) -> None:
    base, report = fold_run
    cv = report["crossval"]
    assert cv["folds"] == [0, 1, 2]
    assert report["test_clips"] == sum(cv["test_clips"].values()) == 4 * FOLDS * PER_FOLD  # every clip tested once
    for f in range(FOLDS):  # each fold used its own checkpoint
        assert Path(cv["checkpoints"][str(f)]) == (base / "models" / f"fold{f}" / "model.pt").resolve()
    rows = [r for r in report["rows"] if "error" not in r]
    names = {r["name"] for r in rows}
    assert {"raw-uint8", "h264-medium-crf30", "h264-medium-crf30-x0.5", "stae-k4-p0.25"} <= names
    for r in rows:
        per = r["folds"]
        assert sorted(per) == ["0", "1", "2"]
        n = sum(v["test_clips"] for v in per.values())
        assert r["acc"] == pytest.approx(sum(v["acc"] * v["test_clips"] for v in per.values()) / n)
        assert r["bytes_mean"] == pytest.approx(sum(v["bytes_mean"] * v["test_clips"] for v in per.values()) / n)
        assert r["camera_ms"] > 0 and r["edge_ms"] > 0  # timed once, with the first fold's files
    scaled = next(r for r in rows if r["name"] == "h264-medium-crf30-x0.5")
    full = next(r for r in rows if r["name"] == "h264-medium-crf30")
    assert scaled["bytes_mean"] < full["bytes_mean"]  # a quarter of the pixels coded

    summary = sm.load_summary(base / "out" / "summary.json")  # --tiny: into the run's folder
    s = summary["sets"]["data"]
    assert s["kind"] == "real" and s["classes"] == 4 and s["test_clips"] == report["test_clips"]
    local = [p for p in s["points"] if p["setting"].startswith("local classifier")]
    assert len(local) == 1 and local[0]["mode"] == "local" and local[0]["bytes_mean"] == 0.0
    lm = report["local_models"][0]
    assert lm["n"] == report["test_clips"] and local[0]["accuracy"] == pytest.approx(lm["correct"] / lm["n"])
    assert {a["short_clip"] for a in lm["folds"].values()} == {"pad"}  # its own rule for short videos
    assert local[0]["camera_gflop"] > 0 and local[0]["camera_ms"] > 0
    cmd = s["command"]
    assert "--fold all" in cmd and "--sweep rate" in cmd and "--local-model" in cmd


def test_pool_rows_weights_folds_by_their_test_clips() -> None:
    rows = {0: [{"name": "a", "family": "h264", "acc": 1.0, "bytes_mean": 100.0, "bytes_min": 90.0, "bytes_max": 110.0}],
            1: [{"name": "a", "family": "h264", "acc": 0.0, "bytes_mean": 400.0, "bytes_min": 300.0, "bytes_max": 500.0}]}
    (row,) = pool_rows(rows, {0: 3, 1: 1})
    assert row["acc"] == pytest.approx(0.75) and row["bytes_mean"] == pytest.approx(175.0)
    assert row["bytes_min"] == 90.0 and row["bytes_max"] == 500.0
    rows[1][0] = {"name": "a", "family": "h264", "error": "boom"}
    (row,) = pool_rows(rows, {0: 3, 1: 1})
    assert "fold 1: boom" in row["error"]


def test_fold_files_and_fold_lists_are_checked(tmp_path) -> None:
    (tmp_path / "fold1").mkdir()
    (tmp_path / "fold1" / "model.pt").write_bytes(b"x")
    assert fold_file(str(tmp_path), 1) == tmp_path / "fold1" / "model.pt"
    assert fold_file(str(tmp_path / "fold{fold}" / "model.pt"), 1) == tmp_path / "fold1" / "model.pt"
    with pytest.raises(BenchDataError, match="fold 2"):
        fold_file(str(tmp_path), 2)
    assert parse_folds("all", [0, 1, 2]) == [0, 1, 2] and parse_folds("2,0", [0, 1, 2]) == [2, 0]
    with pytest.raises(BenchDataError, match="defines folds"):
        parse_folds("3", [0, 1, 2])
    with pytest.raises(BenchDataError, match="'all' or fold numbers"):
        parse_folds("first", [0, 1, 2])


def test_an_edge_model_file_is_the_classifier_when_given(fold_run) -> None:
    """--edge-model: each fold's edge model (here the tiny local files) is adapted per codec instead
    of the STAE ViT; its GFLOP and time replace the ViT's in the summary."""
    from stae_ros.cli import main

    base, _ = fold_run
    out = base / "out_edge"
    rc = main(["bench", "codecs", "--tiny", "--data", str(base / "data"), "--fold", "0,1", "--model", str(base / "models"),
               "--edge-model", str(base / "models" / "local{fold}.pt"), "--adapt", "head", "--sweep", "rate",
               "--only", "raw", "h264", "--local-model", "", "--out", str(out), "--repeats", "1"])
    assert rc == 0
    report = json.loads((out / "codecs.json").read_text())
    assert report["crossval"]["folds"] == [0, 1] and report["test_clips"] == 8
    edge = report["edge_classifier"]
    assert edge["pattern"].endswith("local{fold}.pt") and edge["gflop"] > 0
    assert report["classify_ms"]["edge"] == edge["ms"]
    s = sm.load_summary(out / "summary.json")["sets"]["data"]
    raw = next(p for p in s["points"] if p["mode"] == "raw")
    assert raw["edge_gflop"] == pytest.approx(edge["gflop"])  # the raw clip costs the edge model only
    assert next(p for p in s["points"] if p["mode"] == "local")["setting"] == "edge model on the camera"
