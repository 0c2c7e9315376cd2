"""The camera's deadline fallback: its schedule, its simulation in `stae bench controller`, and the
planner's value of a late payload when the camera labels it itself."""

from __future__ import annotations

import numpy as np
import pytest

from stae_ros.bench.controller import simulate
from stae_ros.link import trace_from_rates
from stae_ros.planning import DeadlineFallback, Planner, PlanningError
from stae_ros.profiling.schema import OperatingPoint, Profile


def test_a_sent_clip_is_due_when_its_local_label_must_start_unless_its_label_came() -> None:
    fb: DeadlineFallback[str] = DeadlineFallback(deadline_s=1.0, local_s=0.3, slack_s=0.05)
    assert fb.feasible and fb.start_by(10.0) == pytest.approx(10.65)
    fb.sent(0, 10.0, "clip0")
    fb.sent(1, 10.5, "clip1")
    fb.sent(2, 11.0, "clip2")
    assert fb.labelled(1) and not fb.labelled(1)  # the edge's label for clip 1 came back in time
    assert fb.next_start() == pytest.approx(10.65)
    assert fb.due(10.6) == []
    due = fb.due(11.7)  # both clip 0 and clip 2 have come due by now, but clip 0 can no longer make its deadline
    assert [d.seq for d in due] == [2] and due[0].item == "clip2" and due[0].capture_s == 11.0
    assert fb.missed == 1 and len(fb) == 0 and fb.next_start() is None
    # a camera about to be busy 0.3 s starts a fallback that would come due meanwhile now (earliest deadline first)
    fb.sent(3, 20.0, "clip3")
    assert fb.due(20.5) == [] and [d.seq for d in fb.due(20.5, within_s=0.3)] == [3] and fb.missed == 1


def test_a_fallback_that_cannot_finish_in_time_holds_nothing_and_bad_settings_are_named() -> None:
    slow: DeadlineFallback[None] = DeadlineFallback(deadline_s=0.5, local_s=0.6)
    assert not slow.feasible
    slow.sent(0, 0.0, None)
    assert len(slow) == 0
    for kw, name in (({"deadline_s": 0.0, "local_s": 0.1}, "deadline_s"), ({"deadline_s": 1.0, "local_s": float("nan")}, "local_s"),
                     ({"deadline_s": 1.0, "local_s": 0.1, "slack_s": -1.0}, "slack_s"),
                     ({"deadline_s": 1.0, "local_s": 0.1, "max_pending": 0}, "max_pending")):
        with pytest.raises(PlanningError, match=name):
            DeadlineFallback(**kw)
    bounded: DeadlineFallback[int] = DeadlineFallback(deadline_s=1.0, local_s=0.1, max_pending=2)
    for seq in range(4):
        bounded.sent(seq, float(seq), seq)
    assert len(bounded) == 2 and bounded.missed == 2  # the oldest are forgotten, and counted


def _profile(local_ms: float) -> Profile:
    pts = [OperatingPoint("h264", 16, 1.0, 0.9, 20_000.0, 22_000.0, 2.0, 20.0, 0),
           OperatingPoint("stae-latent", 16, 1.0, 0.85, 300.0, 320.0, 5.0, 5.0, 0),
           OperatingPoint("local", 16, 1.0, 0.6, 0.0, 0.0, local_ms, 0.0, 0)]
    prof = Profile(name="fb", clip={"frames": 16, "height": 64, "width": 64, "channels": 3}, points=pts)
    prof.validate()
    return prof


def _outage_trace():
    # 2 Mbit/s, a 6 s outage (1 kbit/s), 2 Mbit/s again
    return trace_from_rates([2e6] * 40 + [1e3] * 60 + [2e6] * 60, step_ms=100)


def test_the_fallback_labels_in_time_the_clips_an_outage_makes_late() -> None:
    prof, tr = _profile(local_ms=200.0), _outage_trace()
    h264 = prof.points[0]
    plain = simulate(tr, prof, h264, deadline_s=1.0, interval_s=0.5)
    saved = simulate(tr, prof, h264, deadline_s=1.0, interval_s=0.5, fallback=True)
    s_plain, s_saved = plain.summary(1.0), saved.summary(1.0)
    assert s_plain["hit_rate"] < 0.9 and s_plain["fallbacks"] == 0
    assert s_saved["fallbacks"] >= 8 and s_saved["hit_rate"] > s_plain["hit_rate"]
    assert s_saved["useful_accuracy"] > s_plain["useful_accuracy"]
    rescued = saved.fallback
    assert np.all(saved.accuracy[rescued] == 0.6) and np.all(saved.completion_s[rescued] <= 1.0)
    # a clip the edge labelled in time keeps the edge's label
    on_time = plain.completion_s <= 1.0
    assert not np.any(rescued & on_time) and np.all(saved.accuracy[on_time] == 0.9)
    # the link is not touched: the same bytes go out either way
    assert np.array_equal(plain.nbytes, saved.nbytes)


def test_the_camera_is_one_processor_so_fallbacks_cannot_overlap() -> None:
    # 0.3 s of local classifier per clip every 0.25 s: the camera cannot label every late clip
    prof, tr = _profile(local_ms=300.0), _outage_trace()
    saved = simulate(tr, prof, prof.points[0], deadline_s=1.0, interval_s=0.25, fallback=True)
    done = np.sort(saved.t_clip[saved.fallback] + saved.completion_s[saved.fallback])
    assert done.size >= 5
    assert np.all(np.diff(done) >= 0.3 - 1e-9)  # each fallback took the whole camera for its 0.3 s
    late = saved.completion_s > 1.0
    assert late.sum() > 0  # some late clips could not be labelled in time: the camera was busy


def test_with_the_fallback_a_late_payload_is_worth_the_local_label_so_the_planner_offloads() -> None:
    prof = _profile(local_ms=200.0)
    ratios = np.exp(np.linspace(-3.0, 1.0, 41))  # a link that is often far slower than estimated
    without = Planner(prof, 1.0, period_s=0.5).choose(3e4, ratios=ratios)
    with_fb = Planner(prof, 1.0, period_s=0.5, fallback=True).choose(3e4, ratios=ratios)
    assert without.point.codec == "local"
    assert with_fb.point.codec == "stae-latent" and with_fb.p_hit < 1.0
    assert with_fb.utility >= 0.6  # never worth less than the camera's own label
    # a profile without a point that labels on the camera has nothing to fall back on
    no_local = Profile(name="x", clip=prof.clip, points=prof.points[:2])
    assert Planner(no_local, 1.0, fallback=True).fallback_accuracy == 0.0
    # a local classifier too slow for the deadline is no fallback either
    assert Planner(_profile(local_ms=950.0), 1.0, fallback=True).fallback_accuracy == 0.0


def test_with_the_fallback_a_blind_probe_goes_at_the_most_accurate_payload() -> None:
    prof = _profile(local_ms=200.0)
    plain = Planner(prof, 1.0, period_s=0.5).choose(None)  # 20 kB at the 0.1 Mbit/s probe rate: too big
    assert plain.probe and plain.point.codec == "stae-latent"
    planner = Planner(prof, 1.0, period_s=0.5, fallback=True)
    covered = planner.choose(None)  # late, it still gets the camera's label: nothing to save
    assert covered.probe and covered.point.codec == "h264" and np.isnan(covered.p_hit)
    assert "most accurate payload" in covered.reason


def test_stae_bench_controller_fallback_gives_every_policy_the_camera_fallback(tmp_path) -> None:
    import argparse
    import json

    from stae_ros.bench.controller import register_args, run
    from stae_ros.link import save_trace
    from stae_ros.profiling.schema import save_profile

    prof = save_profile(_profile(local_ms=200.0), tmp_path / "fb.json")
    trace = save_trace(_outage_trace(), tmp_path / "outage.up")
    parser = argparse.ArgumentParser()
    register_args(parser)
    common = ["--trace-dir", str(tmp_path / "none"), "--trace", str(trace), "--synthetic", "0", "--profile", str(prof)]
    reports = {}
    for flag in ([], ["--fallback"]):
        out = tmp_path / ("fb" if flag else "plain")
        assert run(parser.parse_args([*common, *flag, "--out", str(out)])) == 0
        reports[bool(flag)] = json.loads((out / "controller.json").read_text())
    plain, saved = reports[False], reports[True]
    assert saved["settings"]["fallback"] is True and plain["settings"]["fallback"] is False
    t_plain, t_saved = plain["traces"]["outage.up"], saved["traces"]["outage.up"]
    assert all(s["fallbacks"] == 0 for s in [t_plain["controller"], *t_plain["fixed"].values()])
    h264 = next(n for n in t_saved["fixed"] if "h264" in n)
    assert t_saved["fixed"][h264]["fallbacks"] > 0  # a fixed choice gets the fallback too
    assert t_saved["fixed"][h264]["hit_rate"] > t_plain["fixed"][h264]["hit_rate"]
    assert t_saved["controller"]["hit_rate"] >= t_plain["controller"]["hit_rate"]


def test_a_fallback_label_is_the_fallback_modes_label_of_a_clip_that_was_sent() -> None:
    from stae_ros.planning import FALLBACK_MODE, is_fallback_label
    from stae_ros.modes.registry import mode_names

    assert FALLBACK_MODE in mode_names()
    assert is_fallback_label(FALLBACK_MODE, 4557)  # the camera labelled a clip it had sent
    assert not is_fallback_label(FALLBACK_MODE, 0)  # a clip labelled on the camera from the start sends nothing
    assert not any(is_fallback_label(m, 4557) for m in mode_names() if m != FALLBACK_MODE)  # the edge's labels
