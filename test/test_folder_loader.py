"""VideoFolderDataset on tiny HMDB51- and UCF101-layout folders built with write_video."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stae_ros.data import DatasetLayoutError, VideoReadError, write_video
from stae_ros.data.folder import VideoFolderDataset, sample_indices

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


def test_short_clips_pad_by_repeating_the_last_frame() -> None:
    assert sample_indices(3, 6).tolist() == [0, 1, 2, 2, 2, 2]
    rng = np.random.default_rng(0)
    assert sample_indices(3, 6, "random", rng).tolist() == [0, 1, 2, 2, 2, 2]
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
    assert clip[:, 0, 0, 0].astype(int).tolist() == [100 + i for i in range(12)] + [111] * 4
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
    with pytest.raises(DatasetLayoutError, match="no HMDB51 split files"):
        VideoFolderDataset(tmp_path)
    (tmp_path / "splits").mkdir()
    (tmp_path / "splits" / "run_test_split1.txt").write_text("a.avi 7\n")
    with pytest.raises(DatasetLayoutError, match="run_test_split1.txt:1"):
        VideoFolderDataset(tmp_path)
    with pytest.raises(ValueError, match="split"):
        VideoFolderDataset(tmp_path, split="val")
