"""VideoFolderDataset on tiny folders built with write_video: HMDB51 and UCF101 split files, a fold
CSV, a plain <class>/<video> folder (seeded split), short-clip rules, and k-fold cross-validation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stae_ros.data import DatasetLayoutError, VideoReadError, write_video
from stae_ros.data.folder import SplitSpec, VideoFolderDataset, discover_samples, list_folds, sample_indices

CLASSES = ["brush_hair", "cartwheel", "catch"]


def _frames(n: int, value: int, h: int = 24, w: int = 32) -> np.ndarray:
    """Frame t has every pixel = value + t, so the sampled indices can be read back."""
    return np.stack([np.full((h, w, 3), value + t, np.uint8) for t in range(n)])


def _hmdb(root: Path, split_dir: str = "testTrainMulti_7030_splits", n_frames: int = 20) -> Path:
    (root / split_dir).mkdir(parents=True)
    for ci, c in enumerate(CLASSES):
        lines = []
        for k, code in enumerate((1, 1, 2, 0)):
            name = f"{c}_v{k}.avi"
            write_video(root / c / name, _frames(n_frames, 40 * ci))
            lines.append(f"{name} {code} ")
        (root / split_dir / f"{c}_test_split1.txt").write_text("\n".join(lines) + "\n")
    return root


def _ucf(root: Path) -> Path:
    lst = root / "ucfTrainTestlist"
    lst.mkdir(parents=True)
    names = ["ApplyEyeMakeup", "Basketball"]
    (lst / "classInd.txt").write_text("1 ApplyEyeMakeup\n2 Basketball\n")
    train, test = [], []
    for ci, c in enumerate(names):
        for g in range(3):
            rel = f"{c}/v_{c}_g0{g}_c01.avi"
            write_video(root / "UCF-101" / rel, _frames(12, 100 * ci))
            (train if g < 2 else test).append((rel, ci + 1))
    (lst / "trainlist01.txt").write_text("".join(f"{r} {label}\n" for r, label in train))
    (lst / "testlist01.txt").write_text("".join(f"{r}\n" for r, _ in test))
    return root


@pytest.fixture(scope="module")
def hmdb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _hmdb(tmp_path_factory.mktemp("hmdb"))


def test_hmdb_layout_splits_and_labels(hmdb: Path) -> None:
    train = VideoFolderDataset(hmdb, "train", clip_len=8, size=(24, 32))
    test = VideoFolderDataset(hmdb, "test", clip_len=8, size=(24, 32))
    assert train.layout == "hmdb51" and train.class_names == sorted(CLASSES)
    assert len(train) == 6 and len(test) == 3  # code 0 (unused) is in neither
    assert not {s.name for s in train.samples} & {s.name for s in test.samples}
    clip, label = train[2]
    assert clip.shape == (8, 24, 32, 3) and clip.dtype == np.uint8
    assert train.samples[2].name.startswith(CLASSES[label])
    assert int(clip[0, 0, 0, 0]) == 40 * CLASSES.index(train.class_names[label]) + sample_indices(20, 8)[0]


def test_uniform_sampling_spans_the_video(hmdb: Path) -> None:
    ds = VideoFolderDataset(hmdb, "test", clip_len=5, size=(24, 32), sampling="uniform")
    clip, label = ds[0]
    got = clip[:, 0, 0, 0].astype(int) - 40 * label
    assert got.tolist() == sample_indices(20, 5).tolist() == [2, 6, 10, 14, 18]


def test_random_sampling_is_seeded_ordered_and_varies(hmdb: Path) -> None:
    a = VideoFolderDataset(hmdb, "test", clip_len=5, sampling="random", seed=1, size=(24, 32))
    b = VideoFolderDataset(hmdb, "test", clip_len=5, sampling="random", seed=1, size=(24, 32))
    assert np.array_equal(a[0][0], b[0][0])
    seen = set()
    for epoch in range(6):
        a.set_epoch(epoch)
        idx = a[0][0][:, 0, 0, 0].astype(int)
        assert (np.diff(idx) > 0).all() and idx.min() >= 0 and idx.max() < 20
        assert all(4 * k <= v < 4 * (k + 1) for k, v in enumerate(idx))  # one per segment
        seen.add(tuple(idx))
    assert len(seen) > 1


def test_short_clips_loop_by_default_or_pad_by_repeating_the_last_frame() -> None:
    assert sample_indices(3, 6).tolist() == [0, 1, 2, 0, 1, 2]
    assert sample_indices(3, 6, short_clip="pad").tolist() == [0, 1, 2, 2, 2, 2]
    rng = np.random.default_rng(0)
    assert sample_indices(3, 6, "random", rng, short_clip="pad").tolist() == [0, 1, 2, 2, 2, 2]
    with pytest.raises(ValueError, match="sampling"):
        sample_indices(10, 4, "middle")  # type: ignore[arg-type]


def test_resizing(hmdb: Path) -> None:
    ds = VideoFolderDataset(hmdb, "train", clip_len=4, size=(12, 20))
    assert ds[0][0].shape == (4, 12, 20, 3)
    up = VideoFolderDataset(hmdb, "train", clip_len=4, size=(48, 50))
    clip = up[0][0]
    assert clip.shape == (4, 48, 50, 3) and np.ptp(clip[0].astype(int)) == 0  # flat frames stay flat


def test_ucf101_layout(tmp_path: Path) -> None:
    root = _ucf(tmp_path)
    train = VideoFolderDataset(root, "train", clip_len=16, size=(24, 32))
    test = VideoFolderDataset(root, "test", clip_len=16, size=(24, 32))
    assert train.layout == "ucf101" and train.class_names == ["ApplyEyeMakeup", "Basketball"]
    assert len(train) == 4 and len(test) == 2
    clip, label = test[1]
    assert label == 1 and clip.shape == (16, 24, 32, 3)
    assert clip[:, 0, 0, 0].astype(int).tolist() == [100 + i for i in range(12)] + [100, 101, 102, 103]  # looped
    (root / "ucfTrainTestlist" / "trainlist01.txt").write_text("Basketball/v_x.avi 1\n")
    with pytest.raises(DatasetLayoutError, match="disagrees"):
        VideoFolderDataset(root, "train")


def test_broken_file_raises_naming_it_or_is_skipped_and_counted(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = _hmdb(tmp_path / "d", split_dir="splits", n_frames=6)
    bad = root / "cartwheel" / "cartwheel_v0.avi"
    bad.write_bytes(b"not a video at all")
    missing = root / "catch" / "catch_v1.avi"
    missing.unlink()
    strict = VideoFolderDataset(root, "train", clip_len=4, size=(24, 32))
    i_bad = next(i for i, s in enumerate(strict.samples) if s.path == bad)
    with pytest.raises(VideoReadError, match="cartwheel_v0.avi") as err:
        strict[i_bad]
    assert err.value.path == bad
    i_missing = next(i for i, s in enumerate(strict.samples) if s.path == missing)
    with pytest.raises(VideoReadError, match="catch_v1.avi.*does not exist"):
        strict[i_missing]

    lenient = VideoFolderDataset(root, "train", clip_len=4, size=(24, 32), skip_broken=True)
    assert lenient.skipped == 1 and len(lenient) == 5  # the missing one, at construction
    items = list(lenient)
    assert len(items) == 4 and lenient.skipped == 2
    assert bad in lenient.skipped_paths and missing in lenient.skipped_paths
    assert "cartwheel_v0.avi" in caplog.text
    j = next(i for i, s in enumerate(lenient.samples) if s.path == bad)
    clip, label = lenient[j]  # replaced by the next readable item
    assert clip.shape == (4, 24, 32, 3) and lenient.skipped == 2


def test_layout_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetLayoutError, match="not a directory"):
        VideoFolderDataset(tmp_path / "nope")
    with pytest.raises(DatasetLayoutError, match="no split files .* and no <class>/<video> folders"):
        VideoFolderDataset(tmp_path)
    (tmp_path / "splits").mkdir()
    (tmp_path / "splits" / "run_test_split1.txt").write_text("a.avi 7\n")
    with pytest.raises(DatasetLayoutError, match="run_test_split1.txt:1"):
        VideoFolderDataset(tmp_path)
    with pytest.raises(ValueError, match="split"):
        VideoFolderDataset(tmp_path, split="val")
    (tmp_path / "splits" / "run_test_split1.txt").write_bytes(b"\xff\xfe a.avi 1\n")
    with pytest.raises(DatasetLayoutError, match=r"run_test_split1.txt is not a text \(UTF-8\) file: byte 0 is 0xff"):
        VideoFolderDataset(tmp_path)



# --------------------------------------------------------------------------- any labelled folder

PLAIN = {"bend": 5, "jack": 7, "wave": 4, "solo": 1}


def _plain(root: Path, counts: dict[str, int] = PLAIN, n_frames: int = 5) -> Path:
    """``root/<class>/<class>_NN.avi`` with no split file; frame values encode (class, clip)."""
    for ci, (c, n) in enumerate(counts.items()):
        for k in range(n):
            write_video(root / c / f"{c}_{k:02d}.avi", _frames(n_frames, 30 * ci + 3 * k, 8, 8))
    (root / "notes.txt").write_text("not a class folder\n")
    (root / next(iter(counts)) / "readme.md").write_text("not a video\n")
    return root


def _names(root: Path, split: str, **spec) -> list[str]:
    return [s.name for s in discover_samples(root, split, spec=SplitSpec(**spec))[2]]


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _plain(tmp_path_factory.mktemp("plain"))


def test_plain_folder_gets_a_seeded_stratified_split(plain: Path) -> None:
    source, classes, train = discover_samples(plain, "train")
    _, _, test = discover_samples(plain, "test")
    assert source == "seeded" and classes == sorted(PLAIN)
    tr, te = {s.name for s in train}, {s.name for s in test}
    assert not tr & te
    assert tr | te == {f"{c}/{c}_{k:02d}.avi" for c, n in PLAIN.items() for k in range(n)}  # .md / .txt ignored
    per_class = {c: sum(1 for s in test if s.name.startswith(c + "/")) for c in PLAIN}
    assert per_class == {"bend": 2, "jack": 2, "wave": 1, "solo": 0}  # round(0.3 n), >= 1 test, >= 1 train
    assert all(s.label == classes.index(s.name.split("/")[0]) for s in train + test)
    half = {c: sum(1 for n in _names(plain, "test", source="seeded", test_fraction=0.5) if n.startswith(c + "/")) for c in PLAIN}
    assert half == {"bend": 2, "jack": 4, "wave": 2, "solo": 0}  # round half to even: 2.5 -> 2, 3.5 -> 4


def test_seeded_split_is_stable_across_runs_and_listing_order(plain: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = _names(plain, "test")
    assert _names(plain, "test") == first
    other_seeds = {tuple(_names(plain, "test", seed=s)) for s in range(1, 6)}
    assert any(o != tuple(first) for o in other_seeds)  # the seed matters
    real_iterdir = Path.iterdir

    def shuffled(self: Path):
        """Another file system's order: reverse-sorted, then rotated by one."""
        items = sorted(real_iterdir(self), reverse=True)
        return iter(items[1:] + items[:1])

    train = _names(plain, "train")
    monkeypatch.setattr(Path, "iterdir", shuffled)
    assert [p.name for p in Path.iterdir(plain)] != sorted(p.name for p in real_iterdir(plain))  # really shuffled
    assert _names(plain, "test") == first and _names(plain, "train") == train


def test_seeded_split_of_a_class_ignores_other_classes(tmp_path: Path, plain: Path) -> None:
    """Adding a class leaves the other classes' splits as they were (per-class generators)."""
    bigger = _plain(tmp_path / "b", {**PLAIN, "zzz": 3})
    before = set(_names(plain, "test"))
    after = set(_names(bigger, "test"))
    assert {n for n in after if not n.startswith("zzz/")} == before


def test_seeded_folder_loads_clips(plain: Path) -> None:
    ds = VideoFolderDataset(plain, "test", clip_len=4, size=(8, 8))
    assert ds.layout == "seeded" and ds.split_tag == "seed0_0.3" and len(ds) == 5
    clip, label = ds[0]
    assert clip.shape == (4, 8, 8, 3) and ds.class_names[label] == ds.samples[0].name.split("/")[0]


def _folds_csv(root: Path, rows: list[str], name: str = "folds.csv", header: str = "clip,class,fold,frames") -> Path:
    path = root / name
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def _fold_rows() -> list[str]:
    return [f"{c}/{c}_{k:02d}.avi,{c},{k % 3},5" for c, n in PLAIN.items() if c != "solo" for k in range(n)]


def test_fold_file_chooses_the_test_fold(tmp_path: Path) -> None:
    root = _plain(tmp_path / "d")
    _folds_csv(root, _fold_rows())
    assert list_folds(root) == [0, 1, 2]
    tested: list[str] = []
    for fold in (0, 1, 2):
        source, classes, test = discover_samples(root, "test", spec=SplitSpec(test_fold=fold))
        _, _, train = discover_samples(root, "train", spec=SplitSpec(test_fold=fold))
        assert source == "folds" and classes == ["bend", "jack", "wave"]  # classes from the CSV, not the folders
        assert {s.name for s in test} == {f"{c}/{c}_{k:02d}.avi" for c, n in PLAIN.items() if c != "solo"
                                          for k in range(n) if k % 3 == fold}
        assert not {s.name for s in train} & {s.name for s in test}
        tested += [s.name for s in test]
    assert sorted(tested) == sorted(r.split(",")[0] for r in _fold_rows())  # every clip tested exactly once
    ds = VideoFolderDataset(root, "test", clip_len=3, size=(8, 8), split_spec=SplitSpec(test_fold=2))
    assert ds.layout == "folds" and ds.split_tag == "fold2"
    clip, label = ds[0]
    assert int(clip[0, 0, 0, 0]) == 30 * list(PLAIN).index(ds.class_names[label]) + 3 * 2  # bend_02: class 0, clip 2


def test_named_fold_file_wins_over_split_files(tmp_path: Path) -> None:
    root = _hmdb(tmp_path / "h", split_dir="splits", n_frames=4)
    _folds_csv(root, [f"{c},{c}/{c}_v{k}.avi,{k % 2}" for c in CLASSES for k in range(4)], name="my_folds.csv",
               header="class,clip,fold")
    assert discover_samples(root, "test")[0] == "hmdb51"
    source, _, test = discover_samples(root, "test", spec=SplitSpec(folds_file="my_folds.csv", test_fold=1))
    assert source == "folds" and len(test) == 6


@pytest.mark.parametrize(
    "header, rows, fold, match",
    [
        ("clip,class", ["bend/bend_00.avi,bend"], 0, r"folds.csv:1: header 'clip,class' lacks column\(s\) fold"),
        ("clip,class,fold", ["bend/bend_00.avi,bend,x"], 0, r"folds.csv:2: fold must be a non-negative integer, got 'x'"),
        ("clip,class,fold", ["bend/bend_00.avi,bend,0", "bend/bend_00.avi,bend,1"], 0, r"folds.csv:3: clip 'bend/bend_00.avi' is listed twice"),
        ("clip,class,fold", ["bend/bend_00.avi,bend"], 0, r"folds.csv:2: 2 fields, the header has 3"),
        ("clip,class,fold", ["bend/bend_00.avi,,0"], 0, r"folds.csv:2: empty clip or class"),
        ("clip,class,fold", ["bend/bend_00.avi,bend,0", "bend/bend_01.avi,bend,1"], 4, r"test_fold 4 is not one of the file's folds \[0, 1\]"),
        ("clip,class,fold", ["bend/bend_00.avi,bend,0"], 0, r"only fold 0: need at least two folds"),
        ("clip,class,fold", [], 0, r"folds.csv: fold file lists no clips"),
    ],
)
def test_bad_fold_files_name_the_file_and_the_problem(tmp_path: Path, header: str, rows: list[str], fold: int, match: str) -> None:
    root = _plain(tmp_path / "d", {"bend": 2})
    _folds_csv(root, rows, header=header)
    with pytest.raises(DatasetLayoutError, match=match) as err:
        discover_samples(root, "test", spec=SplitSpec(test_fold=fold))
    assert "\n" not in str(err.value)


def test_missing_or_empty_fold_file_and_bad_spec(tmp_path: Path) -> None:
    root = _plain(tmp_path / "d", {"bend": 2})
    with pytest.raises(DatasetLayoutError, match=r"elsewhere.csv: fold file does not exist"):
        discover_samples(root, "test", spec=SplitSpec(folds_file="elsewhere.csv"))
    (root / "folds.csv").write_text("")
    with pytest.raises(DatasetLayoutError, match=r"folds.csv: fold file is empty"):
        discover_samples(root, "test")
    with pytest.raises(ValueError, match="split source"):
        SplitSpec(source="kfold")
    with pytest.raises(ValueError, match="test_fraction"):
        SplitSpec(test_fraction=1.0)


def test_short_clip_rules() -> None:
    assert sample_indices(3, 7, short_clip="loop").tolist() == [0, 1, 2, 0, 1, 2, 0]
    assert sample_indices(3, 6, short_clip="resample").tolist() == [0, 0, 1, 1, 2, 2]
    assert sample_indices(3, 6, short_clip="pad").tolist() == [0, 1, 2, 2, 2, 2]
    starts = {sample_indices(5, 8, "random", np.random.default_rng(s), short_clip="loop")[0] for s in range(20)}
    assert len(starts) > 1  # random sampling starts the loop anywhere
    for s in range(5):
        idx = sample_indices(5, 8, "random", np.random.default_rng(s), short_clip="loop")
        assert ((np.diff(idx) == 1) | (np.diff(idx) == -4)).all()  # consecutive frames, wrapping once at most
    assert sample_indices(20, 5, short_clip="loop").tolist() == [2, 6, 10, 14, 18]  # long videos: unchanged
    with pytest.raises(ValueError, match="short_clip"):
        sample_indices(3, 6, short_clip="stretch")  # type: ignore[arg-type]


def test_short_clip_rule_reaches_the_loaded_clip(plain: Path) -> None:
    ds = VideoFolderDataset(plain, "train", clip_len=8, size=(8, 8), short_clip="loop")
    clip, label = ds[0]
    base = int(clip[0, 0, 0, 0])
    assert clip[:, 0, 0, 0].astype(int).tolist() == [base + t for t in (0, 1, 2, 3, 4, 0, 1, 2)]


def test_inspect_prints_source_counts_and_lengths(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import argparse

    from stae_ros.cli import data as data_cli

    root = _plain(tmp_path / "d")
    _folds_csv(root, _fold_rows())
    parser = argparse.ArgumentParser()
    data_cli.register(parser.add_subparsers())
    args = parser.parse_args(["data", "inspect", str(root), "--test-fold", "1", "--clip-len", "8"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "split source folds" in out and "test fold 1" in out
    assert "fold0  fold1  fold2" in out
    assert "  jack       5     2      3      2      2" in out  # train, test (fold 1), then per fold
    assert "clip length, test: 5-5 frames" in out and "5 of 5 shorter than 8" in out
    (root / "folds.csv").unlink()
    args = parser.parse_args(["data", "inspect", str(root), "--no-decode"])
    assert args.func(args) == 0
    assert "split source seeded" in capsys.readouterr().out
    _folds_csv(root, ["bend/bend_00.avi,bend,zero"])
    args = parser.parse_args(["data", "inspect", str(root)])
    assert args.func(args) == 2


# --------------------------------------------------------------------------- cross-validation


def test_pool_and_parse_folds() -> None:
    from stae_ros.training.crossval import parse_fold, pool_folds
    from stae_ros.training.errors import TrainingError

    pooled = pool_folds({0: {"test_clips": 30, "final": {"acc_k16_p1": 0.5, "acc_k8_p1": 1.0, "loss": 3.0}},
                         1: {"test_clips": 10, "final": {"acc_k16_p1": 1.0}}})
    assert pooled == {"acc_k16_p1": pytest.approx((15 + 10) / 40)}
    assert parse_fold("all") == [] and parse_fold("0,2") == [0, 2] and parse_fold(None) is None
    with pytest.raises(TrainingError, match="--fold"):
        parse_fold("first")


def test_train_folds_tests_every_clip_once(tmp_path: Path) -> None:
    import json

    from stae_ros.training import load_train_config
    from stae_ros.training.crossval import train_folds

    root = _plain(tmp_path / "d", {"a": 3, "b": 3}, n_frames=6)
    _folds_csv(root, [f"{c}/{c}_{k:02d}.avi,{c},{k}" for c in "ab" for k in range(3)], header="clip,class,fold")
    cfg = load_train_config(Path(__file__).resolve().parents[1] / "config" / "train_tiny.yaml")
    cfg.data.root, cfg.data.generate, cfg.data.short_clip = str(root), None, "loop"
    for st in cfg.stages.values():
        st.epochs, st.batch_size = 1, 4
    cfg.stages["fr"].epochs = 0
    res = train_folds(cfg, tmp_path / "cv", folds=[0, 2], progress=False, stages=["classifier", "fa"])
    assert sorted(res.folds) == [0, 2] and all(f["test_clips"] == 2 for f in res.folds.values())
    cv = json.loads((tmp_path / "cv" / "cv.json").read_text())
    assert cv["test_clips"] == 4 and set(cv["folds"]) == {"0", "2"}
    assert cv["pooled"]["acc_k8_p1"] == pytest.approx((res.folds[0]["final"]["acc_k8_p1"] + res.folds[2]["final"]["acc_k8_p1"]) / 2)
    assert (tmp_path / "cv" / "fold2" / "model.pt").is_file()
    again = train_folds(cfg, tmp_path / "cv", folds=[0, 2], resume=True, progress=False, stages=["classifier", "fa"])
    assert again.pooled == res.pooled  # finished folds are read back, not retrained
