"""Synthetic data set, video I/O, control transforms, cached arrays and the `stae data` CLI."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from stae_ros.data import CLASS_NAMES, VideoReadError, generate_dataset, read_video, render_clip, write_video
from stae_ros.data.arrays import load_split_arrays
from stae_ros.data.controls import remove_motion_region, single_frame
from stae_ros.data.errors import VideoWriteError
from stae_ros.data.synthetic import dataset_digest

T, H, W = 8, 32, 40


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_dataset(tmp_path_factory.mktemp("synth") / "a", seed=3, train_per_class=2, test_per_class=1, frames=T, height=H, width=W, progress=False)


def test_at_least_twelve_distinct_classes() -> None:
    assert len(CLASS_NAMES) >= 12 and len(set(CLASS_NAMES)) == len(CLASS_NAMES)


@pytest.mark.parametrize("class_id", range(len(CLASS_NAMES)))
def test_every_class_renders_with_boxes_inside_frame_and_region(class_id: int) -> None:
    clip = render_clip(class_id, seed=11, frames=T, height=H, width=W)
    assert clip.frames.shape == (T, H, W, 3) and clip.frames.dtype == np.uint8
    assert clip.boxes.shape == (T, 4) and clip.class_name == CLASS_NAMES[class_id]
    x0, y0, x1, y1 = clip.boxes.T
    assert (x0 >= 0).all() and (y0 >= 0).all() and (x1 <= W).all() and (y1 <= H).all()
    assert (x1 > x0).all() and (y1 > y0).all()
    rx0, ry0, rx1, ry1 = clip.region
    assert (x0 >= rx0).all() and (y0 >= ry0).all() and (x1 <= rx1).all() and (y1 <= ry1).all()
    # the actor is drawn: its box is brighter than the frame on average
    bright = [clip.frames[t, y0[t] : y1[t], x0[t] : x1[t]].max() for t in range(T)]
    assert min(bright) > clip.frames.mean()


def test_render_is_deterministic_and_seed_sensitive() -> None:
    a, b, c = render_clip(4, 7), render_clip(4, 7), render_clip(4, 8)
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.boxes, b.boxes)
    assert not np.array_equal(a.frames, c.frames)


def test_render_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="class_id"):
        render_clip(len(CLASS_NAMES), 0)
    with pytest.raises(ValueError, match="frames"):
        render_clip(0, 0, frames=1)
    with pytest.raises(ValueError, match="height and width"):
        render_clip(0, 0, height=8)
    with pytest.raises(ValueError, match="distractors must be one of muted, busy, got 'loud'"):
        render_clip(0, 0, distractors="loud")


def _kept_off_path(distractors: str) -> float:
    """Share of the motion map's kept blocks (threshold 0.5) that the actor's path never touches."""
    from stae_ros.roi.importance import motion_importance

    shares = []
    for cid in range(len(CLASS_NAMES)):
        for k in range(4):
            c = render_clip(cid, 500 + k, 16, 64, 64, distractors)
            keep = motion_importance(c.frames, 8, 1)[0] >= 0.5
            path = np.zeros_like(keep)
            for x0, y0, x1, y1 in c.boxes:
                path[y0 // 8:(y1 - 1) // 8 + 1, x0 // 8:(x1 - 1) // 8 + 1] = True
            shares.append((keep & ~path).sum() / max(int(keep.sum()), 1))
    return float(np.mean(shares))


def test_busy_distractors_draw_the_motion_map_off_the_actor() -> None:
    """The busy scene exists so that motion alone no longer marks the action: check that it does that."""
    muted, busy = _kept_off_path("muted"), _kept_off_path("busy")
    assert muted < 0.3 and busy > 0.5, (muted, busy)
    a, b = render_clip(5, 11), render_clip(5, 11, distractors="busy")
    assert np.array_equal(a.boxes, b.boxes) and not np.array_equal(a.frames, b.frames)  # same actor, other clutter


def _centres(class_name: str, seeds: range, frames: int = 16, size: int = 64) -> np.ndarray:
    cid = CLASS_NAMES.index(class_name)
    out = []
    for s in seeds:
        b = render_clip(cid, s, frames, size, size).boxes.astype(float)
        out.append((b[:, :2] + b[:, 2:]) / 2.0)
    return np.stack(out)  # S,T,2


def test_translation_classes_move_the_right_way_by_a_clear_amount() -> None:
    for name, axis, sign in [("move_left", 0, -1), ("move_right", 0, 1), ("move_up", 1, -1), ("move_down", 1, 1)]:
        c = _centres(name, range(4))
        disp = c[:, -1] - c[:, 0]
        assert (sign * disp[:, axis] >= 10).all(), (name, disp)
        assert (np.abs(disp[:, axis]) > 2 * np.abs(disp[:, 1 - axis])).all(), (name, disp)


def test_scaling_and_static_classes() -> None:
    def areas(name: str) -> np.ndarray:
        b = np.stack([render_clip(CLASS_NAMES.index(name), s).boxes for s in range(3)]).astype(float)
        return (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])

    assert (areas("approach")[:, -1] > 2 * areas("approach")[:, 0]).all()
    assert (areas("recede")[:, 0] > 2 * areas("recede")[:, -1]).all()
    still = _centres("still", range(3))
    assert np.abs(still - still[:, :1]).max() <= 4  # only the camera drift
    jump = _centres("jump", range(3))
    assert ((jump[:, :, 1].min(axis=1) - jump[:, 0, 1]) <= -10).all()  # goes up...
    assert (np.abs(jump[:, -1, 1] - jump[:, 0, 1]) <= 4).all()  # ...and comes back


def test_rotation_direction() -> None:
    """Clockwise on screen (y down) = the far end's angle about the pivot increases."""
    for name, sign in [("rotate_cw", 1), ("rotate_ccw", -1)]:
        clip = render_clip(CLASS_NAMES.index(name), 5, 16, 64, 64)
        b = clip.boxes.astype(float)
        c = (b[:, :2] + b[:, 2:]) / 2
        # the box centre circles the pivot: the signed area swept (cross products) has the sign
        rel = c - c.mean(axis=0)
        cross = rel[:-1, 0] * rel[1:, 1] - rel[:-1, 1] * rel[1:, 0]
        assert sign * cross.sum() > 0, (name, cross.sum())


def test_generate_dataset_layout_and_splits(tiny_set: Path) -> None:
    ann = json.loads((tiny_set / "annotations.json").read_text())
    assert ann["classes"] == list(CLASS_NAMES) and ann["seed"] == 3 and (ann["frames"], ann["height"], ann["width"]) == (T, H, W)
    assert (tiny_set / "classInd.txt").read_text().splitlines()[0] == f"1 {CLASS_NAMES[0]}"
    for cname in CLASS_NAMES:
        lines = (tiny_set / "splits" / f"{cname}_test_split1.txt").read_text().split("\n")
        entries = [ln.split() for ln in lines if ln]
        train = {f for f, c in entries if c == "1"}
        test = {f for f, c in entries if c == "2"}
        assert len(train) == 2 and len(test) == 1 and not train & test
        for f in train | test:
            assert (tiny_set / cname / f).is_file() and f in ann["clips"]
            assert ann["clips"][f]["class"] == cname
    name = f"{CLASS_NAMES[6]}_0000.avi"
    video = read_video(tiny_set / CLASS_NAMES[6] / name)
    expect = render_clip(6, ann["clips"][name]["seed"], T, H, W)
    assert np.array_equal(video, expect.frames)  # FFV1 is lossless
    assert ann["clips"][name]["boxes"] == expect.boxes.tolist()


def test_generate_dataset_same_seed_same_bytes(tiny_set: Path, tmp_path: Path) -> None:
    again = generate_dataset(tmp_path / "b", seed=3, train_per_class=2, test_per_class=1, frames=T, height=H, width=W, progress=False, workers=2)
    assert _hashes(again) == _hashes(tiny_set)
    other = generate_dataset(tmp_path / "c", seed=4, train_per_class=2, test_per_class=1, frames=T, height=H, width=W, progress=False)
    h_other = _hashes(other)
    assert dataset_digest(other) != dataset_digest(tiny_set)
    assert h_other.keys() == _hashes(tiny_set).keys()
    assert sum(h_other[k] != v for k, v in _hashes(tiny_set).items() if k.endswith(".avi")) == len(CLASS_NAMES) * 3


def test_generate_dataset_rejects_empty(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="positive number"):
        generate_dataset(tmp_path, train_per_class=0, test_per_class=0)


def test_video_roundtrip_and_errors(tmp_path: Path) -> None:
    frames = np.random.default_rng(0).integers(0, 256, (5, 16, 24, 3), dtype=np.uint8)
    path = write_video(tmp_path / "x.avi", frames)
    assert np.array_equal(read_video(path), frames)
    assert read_video(path, max_frames=2).shape == (2, 16, 24, 3)
    with pytest.raises(VideoReadError, match="missing.avi.*does not exist"):
        read_video(tmp_path / "missing.avi")
    (tmp_path / "empty.avi").write_bytes(b"")
    with pytest.raises(VideoReadError, match="empty.avi.*empty"):
        read_video(tmp_path / "empty.avi")
    (tmp_path / "junk.avi").write_bytes(b"RIFF" + bytes(range(256)) * 8)
    with pytest.raises(VideoReadError, match="junk.avi"):
        read_video(tmp_path / "junk.avi")
    with pytest.raises(VideoWriteError, match="uint8"):
        write_video(tmp_path / "f.avi", frames.astype(np.float32))
    with pytest.raises(VideoWriteError, match="shape"):
        write_video(tmp_path / "f.avi", frames[..., 0])


def test_truncated_video_raises_naming_file(tmp_path: Path) -> None:
    frames = np.random.default_rng(1).integers(0, 256, (6, 16, 16, 3), dtype=np.uint8)
    path = write_video(tmp_path / "trunc.avi", frames)
    data = path.read_bytes()
    path.write_bytes(data[:40])  # header only
    with pytest.raises(VideoReadError, match="trunc.avi"):
        read_video(path)
    path.write_bytes(data[: len(data) // 2])  # cut mid-stream: FFmpeg decodes the prefix silently
    with pytest.raises(VideoReadError, match=r"trunc.avi.*truncated: decoded [1-5] of the 6 frames"):
        read_video(path)
    assert read_video(path, max_frames=1).shape == (1, 16, 16, 3)  # the prefix is still usable on request


def test_single_frame_control() -> None:
    clips = np.arange(2 * 4 * 3 * 3 * 1, dtype=np.uint8).reshape(2, 4, 3, 3, 1)
    out = single_frame(clips)
    assert out.shape == clips.shape
    assert all(np.array_equal(out[:, t], clips[:, 2]) for t in range(4))
    assert np.array_equal(single_frame(clips[0], index=-1)[1], clips[0, 3])
    rnd = single_frame(clips, index="random", seed=1)
    assert all(np.ptp(rnd[i].astype(int), axis=0).max() == 0 for i in range(2))
    with pytest.raises(ValueError, match="out of range"):
        single_frame(clips, index=4)


def test_remove_motion_region_hides_the_actor(tiny_set: Path) -> None:
    arrays = load_split_arrays(tiny_set, "test", clip_len=T, size=(H, W), cache=False, progress=False)
    assert arrays.boxes is not None and arrays.regions is not None
    for boxes in (arrays.regions, arrays.boxes):
        out = remove_motion_region(arrays.clips, boxes, margin=1)
        assert out.shape == arrays.clips.shape and out.dtype == np.uint8
        for i in range(len(arrays)):
            for t in range(T):
                x0, y0, x1, y1 = (arrays.boxes[i, t])
                # the actor (brightest pixels of its box) is gone...
                before = arrays.clips[i, t, y0:y1, x0:x1].astype(int)
                after = out[i, t, y0:y1, x0:x1].astype(int)
                assert np.abs(before - after).mean() > 5
        # ...and pixels far from every box are untouched
        far = np.ones(arrays.clips.shape[:4], bool)
        b = arrays.regions
        for i in range(len(arrays)):
            far[i, :, max(0, b[i, 1] - 1) : b[i, 3] + 1, max(0, b[i, 0] - 1) : b[i, 2] + 1] = False
        assert np.array_equal(out[far], arrays.clips[far])
    single = remove_motion_region(arrays.clips[0], arrays.boxes[0])
    assert single.shape == arrays.clips[0].shape
    with pytest.raises(ValueError, match="boxes"):
        remove_motion_region(arrays.clips, np.zeros((3, 5, 4)))


def test_load_split_arrays_caches_and_scales_boxes(tiny_set: Path) -> None:
    a = load_split_arrays(tiny_set, "train", clip_len=T, size=(16, 20), progress=False)
    assert a.clips.shape == (len(CLASS_NAMES) * 2, T, 16, 20, 3) and a.clips.dtype == np.uint8
    assert a.labels.dtype == np.int64 and sorted(set(a.labels.tolist())) == list(range(len(CLASS_NAMES)))
    assert a.class_names == list(CLASS_NAMES)
    assert a.boxes is not None and a.boxes.shape == (len(a), T, 4) and a.boxes[..., 2].max() <= 20
    cached = list((tiny_set / ".stae_cache").glob("train1_T8_16x20_*.npz"))
    assert len(cached) == 1
    b = load_split_arrays(tiny_set, "train", clip_len=T, size=(16, 20), progress=False)
    assert np.array_equal(a.clips, b.clips) and a.names == b.names and np.array_equal(a.boxes, b.boxes)
    cached[0].write_bytes(b"PK\x03\x04 a damaged zip")  # a damaged cache is rebuilt, not an error
    c = load_split_arrays(tiny_set, "train", clip_len=T, size=(16, 20), progress=False)
    assert np.array_equal(a.clips, c.clips) and cached[0].stat().st_size > 100
    for name, label in zip(a.names, a.labels):
        assert name.split("/")[0] == CLASS_NAMES[label]


def test_cli_synth_and_inspect(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from stae_ros.cli import data as data_cli

    parser = argparse.ArgumentParser(prog="stae")
    data_cli.register(parser.add_subparsers(dest="command"))

    def main(argv: list[str]) -> int:  # only this subcommand: other modules' imports stay out of the timing
        args = parser.parse_args(argv)
        return int(args.func(args))

    out = tmp_path / "s"
    rc = main(["data", "synth", "--out", str(out), "--train-per-class", "1", "--test-per-class", "1", "--frames", "4", "--size", "24x32", "--seed", "2"])
    assert rc == 0 and len(list(out.rglob("*.avi"))) == 2 * len(CLASS_NAMES)
    png = tmp_path / "sheet.png"
    summary = tmp_path / "summary.json"
    rc = main(["data", "inspect", str(out), "--png", str(png), "--clips", "2", "--json", str(summary)])
    text = capsys.readouterr().out
    assert rc == 0 and "broken files: 0" in text and "move_left" in text
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    s = json.loads(summary.read_text())
    assert s["counts"]["train"]["wave"] == 1 and s["shapes"] == {"4x24x32x3": 2 * len(CLASS_NAMES)}
    (out / "jump" / "jump_0000.avi").write_bytes(b"broken")
    rc = main(["data", "inspect", str(out), "--clips", "1"])
    text = capsys.readouterr().out
    assert rc == 1 and "broken files: 1" in text and "jump_0000.avi" in text
    busy = tmp_path / "busy"
    rc = main(["data", "synth", "--out", str(busy), "--train-per-class", "1", "--test-per-class", "1", "--frames", "4",
               "--size", "24x32", "--seed", "2", "--distractors", "busy"])
    assert rc == 0 and json.loads((busy / "annotations.json").read_text())["distractors"] == "busy"
    assert "distractors" not in json.loads((out / "annotations.json").read_text())
    assert (busy / "wave" / "wave_0000.avi").read_bytes() != (out / "wave" / "wave_0000.avi").read_bytes()
    assert main(["data", "synth", "--kind", "hard", "--out", str(tmp_path / "h"), "--distractors", "busy"]) == 2


def test_in_memory_and_streamed_training_clips_follow_the_distractor_style() -> None:
    """`data.generate.distractors` reaches every way training renders clips, not only `stae data synth`."""
    from stae_ros.data.stream import StreamSpec, render_batch
    from stae_ros.data.synthetic import clip_seed
    from stae_ros.training.loop import render_synthetic_splits

    gen = {"seed": 2, "train_per_class": 1, "test_per_class": 1, "frames": 4, "height": 32, "width": 32}
    train, _ = render_synthetic_splits(dict(gen, distractors="busy"), 4, (32, 32))
    muted, _ = render_synthetic_splits(gen, 4, (32, 32))
    busy_clip = render_clip(0, clip_seed(2, 0, 0), 4, 32, 32, "busy").frames
    assert np.array_equal(train.clips[0], busy_clip) and not np.array_equal(muted.clips[0], busy_clip)
    spec = StreamSpec(batch_size=3, frames=4, height=32, width=32)
    (a, la), (b, lb) = render_batch(spec, (0, 1)), render_batch(StreamSpec(**{**spec.__dict__, "distractors": "busy"}), (0, 1))
    assert np.array_equal(la, lb) and not np.array_equal(a, b)
    from stae_ros.data.errors import DataError

    with pytest.raises(DataError, match="stream distractors must be one of muted, busy, got 'loud'"):
        StreamSpec(batch_size=3, distractors="loud")
