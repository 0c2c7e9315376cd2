"""The hard procedural set (stae_ros.data.articulated): determinism, shapes, every class, the
writer's layout and background fallback, and controls that leave a motion classifier at chance."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from stae_ros.data.articulated import CLASS_DESCRIPTIONS, CLASS_NAMES, FAMILIES, BackgroundPool, render_clip
from stae_ros.data.articulated.clip import HardClip
from stae_ros.data.articulated.controls import render_control, single_frame_index
from stae_ros.data.articulated.writer import generate_hard_dataset
from stae_ros.data.synthetic import dataset_digest

T, H, W = 8, 48, 56


def test_at_least_24_classes_with_descriptions_and_families() -> None:
    assert len(CLASS_NAMES) >= 24 and len(set(CLASS_NAMES)) == len(CLASS_NAMES)
    assert set(CLASS_DESCRIPTIONS) == set(CLASS_NAMES) and all(CLASS_DESCRIPTIONS.values())
    assert all(set(members) <= set(CLASS_NAMES) for members in FAMILIES.values())


def test_render_is_deterministic_and_seed_sensitive() -> None:
    a = render_clip(3, seed=7, frames=T, height=H, width=W)
    b = render_clip(3, seed=7, frames=T, height=H, width=W)
    c = render_clip(3, seed=8, frames=T, height=H, width=W)
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(a.boxes, b.boxes)
    assert not np.array_equal(a.frames, c.frames)


def test_default_shape_is_16x112x112_uint8_rgb() -> None:
    clip = render_clip(0, seed=1)
    assert clip.frames.shape == (16, 112, 112, 3) and clip.frames.dtype == np.uint8


@pytest.mark.parametrize("class_id", range(len(CLASS_NAMES)))
def test_every_class_renders_a_visible_actor_inside_the_frame(class_id: int) -> None:
    clip = render_clip(class_id, seed=21, frames=T, height=H, width=W)
    empty = render_clip(class_id, seed=21, frames=T, height=H, width=W, actor=False)
    assert clip.frames.shape == (T, H, W, 3) and clip.frames.dtype == np.uint8
    assert clip.class_name == CLASS_NAMES[class_id]
    x0, y0, x1, y1 = clip.boxes.T
    assert (x0 >= 0).all() and (y0 >= 0).all() and (x1 <= W).all() and (y1 <= H).all()
    assert ((x1 - x0) >= 4).all() and ((y1 - y0) >= 8).all()
    rx0, ry0, rx1, ry1 = clip.region
    assert rx0 == x0.min() and ry0 == y0.min() and rx1 == x1.max() and ry1 == y1.max()
    np.testing.assert_array_equal(clip.boxes, empty.boxes)  # same placement without the actor
    diff = np.abs(clip.frames.astype(np.int16) - empty.frames.astype(np.int16)).sum(axis=-1)
    for t in range(T):
        inside = diff[t, y0[t] : y1[t], x0[t] : x1[t]]
        assert (inside > 30).mean() > 0.1, f"frame {t}: the actor is not visible in its box"
    # only the actor and its props differ: background, camera, distractors and noise are shared
    assert (diff > 0).mean() < 0.35


def test_bad_arguments_are_refused_in_one_line() -> None:
    with pytest.raises(ValueError, match="class_id"):
        render_clip(len(CLASS_NAMES), seed=0)
    with pytest.raises(ValueError, match="frames"):
        render_clip(0, seed=0, frames=2)
    with pytest.raises(ValueError, match="height and width"):
        render_clip(0, seed=0, height=16, width=16)
    with pytest.raises(ValueError, match="control"):
        render_control("no_actor", 0, 0)


def test_single_frame_control_repeats_one_frame_of_the_clip() -> None:
    clip = render_clip(5, seed=4, frames=T, height=H, width=W)
    still = render_control("single_frame", 5, 4, T, H, W)
    k = single_frame_index(4, T)
    assert (still.frames == clip.frames[k][None]).all()


def test_background_pool_from_a_video_folder(tmp_path: Path) -> None:
    from stae_ros.data.video_io import write_video

    rng = np.random.default_rng(0)
    frames = np.repeat(rng.integers(0, 255, (1, 40, 64, 3), dtype=np.uint8), 6, axis=0)
    write_video(tmp_path / "scene.avi", frames)
    (tmp_path / "notes.txt").write_text("not a video")
    pool = BackgroundPool.from_folder(tmp_path, short_side=96, per_video=3)
    assert pool.kind == "video" and len(pool.frames) == 3 and min(pool.frames[0].shape[:2]) == 96
    a = render_clip(2, seed=1, frames=T, height=H, width=W, backgrounds=pool)
    b = render_clip(2, seed=1, frames=T, height=H, width=W)
    assert not np.array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(a.boxes, b.boxes)  # the background stream is independent of the rest


def test_writer_layout_loader_cli_and_procedural_fallback(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import argparse

    from stae_ros.cli import data as data_cli
    from stae_ros.data.arrays import load_split_arrays
    from stae_ros.data.video_io import read_video

    parser = argparse.ArgumentParser(prog="stae")
    data_cli.register(parser.add_subparsers(dest="command"))

    def main(argv: list[str]) -> int:  # only the data subcommand
        args = parser.parse_args(argv)
        return int(args.func(args))

    out = tmp_path / "hard"
    with caplog.at_level(logging.INFO):
        rc = main(["data", "synth", "--kind", "hard", "--out", str(out), "--train-per-class", "1", "--test-per-class", "1",
                   "--frames", "4", "--size", "32", "--seed", "5", "--backgrounds", str(tmp_path / "missing")])
    assert rc == 0
    assert any("procedural" in r.getMessage() for r in caplog.records)
    names = (out / "classInd.txt").read_text().split()
    assert names[1::2] == list(CLASS_NAMES)
    assert (out / "splits" / f"{CLASS_NAMES[0]}_test_split1.txt").read_text() == f"{CLASS_NAMES[0]}_0000.avi 1\n{CLASS_NAMES[0]}_0001.avi 2\n"
    arrays = load_split_arrays(out, "test", clip_len=4, size=(32, 32), cache=False, progress=False)
    assert arrays.clips.shape == (len(CLASS_NAMES), 4, 32, 32, 3) and sorted(arrays.labels.tolist()) == list(range(len(CLASS_NAMES)))
    import json

    ann = json.loads((out / "annotations.json").read_text())
    entry = ann["clips"][f"{CLASS_NAMES[3]}_0001.avi"]
    assert ann["format"] == "stae-hard/1" and ann["backgrounds"]["kind"] == "procedural" and entry["split"] == "test"
    decoded = read_video(out / CLASS_NAMES[3] / f"{CLASS_NAMES[3]}_0001.avi")
    np.testing.assert_array_equal(decoded, render_clip(3, entry["seed"], 4, 32, 32).frames)  # lossless
    again = generate_hard_dataset(tmp_path / "again", seed=5, train_per_class=1, test_per_class=1, frames=4, height=32, width=32,
                                  backgrounds=tmp_path / "missing", progress=False, workers=2)
    assert dataset_digest(again) == dataset_digest(out)


# --- controls: a motion classifier separates a time-reversed pair; the controls leave it at chance

_PAIR = (CLASS_NAMES.index("sit_down"), CLASS_NAMES.index("stand_up"))
_CT, _CS = 12, 64


def _vertical_flow(clip: HardClip) -> np.ndarray:
    """Cumulative vertical motion inside the clip's actor region, relative to the camera motion
    (median flow outside it): Farneback optical flow, one value per frame pair."""
    import cv2

    x0, y0, x1, y1 = clip.region
    grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in clip.frames]
    inside = np.zeros(grey[0].shape, bool)
    inside[y0:y1, x0:x1] = True
    out = []
    for a, b in zip(grey[:-1], grey[1:]):
        flow = cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 2, 9, 2, 5, 1.1, 0)
        camera = np.median(flow[~inside], axis=0) if (~inside).any() else np.zeros(2)
        out.append(float((flow[inside] - camera)[:, 1].mean()))
    return np.cumsum(out)


def _region_crop(clip: HardClip) -> np.ndarray:
    """The (single) frame's actor region, resized: an appearance (pose) feature."""
    import cv2

    x0, y0, x1, y1 = clip.region
    return cv2.resize(clip.frames[0, y0:y1, x0:x1], (8, 16), interpolation=cv2.INTER_AREA).astype(np.float32).ravel()


def _nearest_centroid(xtr: np.ndarray, ytr: np.ndarray, xte: np.ndarray, yte: np.ndarray) -> float:
    mu, sd = xtr.mean(axis=0), xtr.std(axis=0) + 1e-6
    a, b = (xtr - mu) / sd, (xte - mu) / sd
    centres = np.stack([a[ytr == k].mean(axis=0) for k in range(2)])
    pred = np.argmin(((b[:, None] - centres[None]) ** 2).sum(axis=-1), axis=1)
    return float((pred == yte).mean())


def test_controls_stay_near_chance_while_motion_separates_a_reversed_pair() -> None:
    """sit_down and stand_up show the same poses in reverse order. A nearest-centroid classifier
    on optical flow separates them; on the actor-removed control (same scenes, no actor) it is at
    chance, and so is a nearest-centroid pose classifier on the single-frame control."""
    labels = {"train": [], "test": []}
    feats: dict[str, dict[str, list[np.ndarray]]] = {k: {"train": [], "test": []} for k in ("flow", "removed", "still")}
    for split, n, offset in (("train", 12, 0), ("test", 16, 1000)):
        for lab, cid in enumerate(_PAIR):
            for i in range(n):
                seed = offset + i
                labels[split].append(lab)
                clip = render_control("none", cid, seed, _CT, _CS, _CS)
                k = single_frame_index(seed, _CT)  # what render_control("single_frame", ...) repeats
                still = HardClip(np.repeat(clip.frames[k : k + 1], _CT, axis=0), clip.boxes, clip.region, cid, clip.class_name, seed)
                feats["flow"][split].append(_vertical_flow(clip))
                feats["removed"][split].append(_vertical_flow(render_control("actor_removed", cid, seed, _CT, _CS, _CS)))
                feats["still"][split].append(_region_crop(still))
    ytr, yte = np.array(labels["train"]), np.array(labels["test"])
    acc = {k: _nearest_centroid(np.stack(v["train"]), ytr, np.stack(v["test"]), yte) for k, v in feats.items()}
    print("nearest-centroid accuracy (chance 0.5):", acc)
    assert acc["flow"] >= 0.75, acc
    assert acc["removed"] <= 0.69, acc
    assert acc["still"] <= 0.69, acc
