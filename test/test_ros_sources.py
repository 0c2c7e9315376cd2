"""The camera node's own frame sources (no ROS needed): synthetic split, video files, errors."""

import numpy as np
import pytest

from stae_ros.ros.errors import SourceError
from stae_ros.ros.sources import SynthSource, iter_frames, open_source


def test_synth_source_plays_labelled_clips_in_class_order():
    src = open_source("synth:3", 4, 16, 16, loop=False)
    frames = list(iter_frames(src))
    assert len(frames) == 3 * 4
    assert [f.truth for f in frames[::4]] == [0, 1, 2]
    assert all(f.rgb.shape == (16, 16, 3) and f.rgb.dtype == np.uint8 for f in frames)
    assert frames[4].truth_name == src.names[1]
    # deterministic: the same clip again gives the same pixels
    again = SynthSource(4, 16, 16).clip(1)[0]
    np.testing.assert_array_equal(np.stack([f.rgb for f in frames[4:8]]), again)


def test_synth_source_matches_the_generated_test_split():
    from stae_ros.data import synthetic

    clip, cid, _ = SynthSource(4, 16, 16, dataset_seed=5, first_index=7).clip(13)
    n = len(synthetic.CLASS_NAMES)
    want = synthetic.render_clip(13 % n, synthetic.clip_seed(5, 13 % n, 7 + 13 // n), 4, 16, 16).frames
    assert cid == 13 % n
    np.testing.assert_array_equal(clip, want)


def test_video_file_source_reads_rgb_and_loops(tmp_path):
    from stae_ros.data import write_video

    frames = np.zeros((5, 24, 32, 3), np.uint8)
    frames[:, :, :, 0] = 200  # red in RGB
    path = write_video(tmp_path / "red.avi", frames, fps=10) or tmp_path / "red.avi"
    src = open_source(str(path), 4, 16, 16, loop=True)
    got = [src.read() for _ in range(7)]  # more than the file holds: it loops
    assert all(f is not None and f.rgb.shape == (24, 32, 3) for f in got)
    assert got[0].rgb[..., 0].mean() > 150 and got[0].rgb[..., 2].mean() < 50
    src.close()
    once = open_source(str(path), 4, 16, 16, loop=False)
    assert len(list(iter_frames(once))) == 5


@pytest.mark.parametrize("spec,match", [
    ("/no/such/video.mp4", "does not exist"),
    ("/dev/video_front", "form /dev/videoN"),
    ("/dev/video97", "does not exist"),
    ("synth:many", "clip count"),
])
def test_bad_sources_name_the_problem(spec, match):
    with pytest.raises(SourceError, match=match):
        open_source(spec, 4, 16, 16)


def test_a_video_file_opencv_cannot_open_is_reported_once(tmp_path):
    """libav's own line ("moov atom not found") is not printed beside the source's one-line error."""
    import os
    import subprocess
    import sys

    bad = tmp_path / "no_moov.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom\x00\x00\x00\x08free" + b"x" * 100)
    code = ("from stae_ros.ros.sources import open_source\n"
            f"open_source({str(bad)!r}, 8, 32, 32)\n")
    env = {k: v for k, v in os.environ.items() if k != "OPENCV_FFMPEG_LOGLEVEL"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode != 0 and "SourceError: cannot open video file" in proc.stderr, proc.stderr
    assert "moov atom" not in proc.stderr, proc.stderr
