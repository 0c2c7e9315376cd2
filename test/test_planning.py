"""Planner and estimators: deadline choices, hysteresis, rate estimates from shaped messages."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from stae_ros.link import TraceShaper, trace_from_rates
from stae_ros.planning import ComputeEstimator, Planner, PlanningError, RateEstimator
from stae_ros.profiling.schema import OperatingPoint, Profile


def make_profile() -> Profile:
    pts = []
    for k in (16, 8, 4, 2, 1):
        for p in (1.0, 0.5, 0.25, 0.1, 0.05):
            nbytes = 100 + k * p * 64 * 64 * 3 * 0.8
            acc = 0.9 - 0.05 * math.log2(16 / k) - 0.04 * math.log2(1 / p)
            pts.append(OperatingPoint("stae-px", k, p, max(acc, 0.1), nbytes, nbytes * 1.1, 10 + k, 30.0, 50))
    prof = Profile(name="t", clip={"frames": 16, "height": 64, "width": 64, "channels": 3}, points=pts)
    prof.validate()
    return prof


def test_choose_is_most_accurate_feasible() -> None:
    prof = make_profile()
    pl = Planner(prof, deadline_s=1.0, margin=0.1, hysteresis=0.0, up_hold=1)
    for rate in (5e4, 2e5, 1e6, 5e6, 1e8):
        d = pl.choose(rate)
        feasible = [p for p in prof.points if p.completion_s(rate) <= 0.9]
        if feasible:
            assert d.feasible and d.predicted_s <= 0.9
            assert d.point.accuracy == max(p.accuracy for p in feasible)
            assert d.predicted_s == pytest.approx(d.point.completion_s(rate))
        else:
            assert not d.feasible
            assert d.predicted_s == pytest.approx(min(p.completion_s(rate) for p in prof.points))
        pl.current = None  # independent decisions


def test_infeasible_and_no_rate() -> None:
    pl = Planner(make_profile(), deadline_s=0.01)
    d = pl.choose(1e3)
    assert not d.feasible and "nothing fits" in d.reason
    d0 = Planner(make_profile(), deadline_s=1.0).choose(None)
    assert not d0.feasible and d0.point.bytes_mean == min(p.bytes_mean for p in make_profile().points)


def test_scales_and_queue_change_the_choice() -> None:
    prof = make_profile()
    rate = 2e6
    a = Planner(prof, 1.0, hysteresis=0.0).choose(rate)
    b = Planner(prof, 1.0, hysteresis=0.0).choose(rate, camera_scale=20.0, edge_scale=5.0)
    c = Planner(prof, 1.0, hysteresis=0.0).choose(rate, queue_s=0.5)
    assert b.point.accuracy < a.point.accuracy
    assert c.point.accuracy < a.point.accuracy


def test_hysteresis_prevents_flapping() -> None:
    prof = make_profile()
    rng = np.random.default_rng(0)
    rates = 1.2e6 * np.exp(0.15 * rng.standard_normal(200))
    switches = {}
    for hyst, hold in ((0.0, 1), (0.2, 3)):
        pl = Planner(prof, 1.0, hysteresis=hyst, up_hold=hold)
        chosen = [pl.choose(float(r)).point for r in rates]
        switches[hyst] = sum(a is not b for a, b in zip(chosen, chosen[1:]))
    assert switches[0.2] < switches[0.0]


def test_steps_down_at_once() -> None:
    pl = Planner(make_profile(), 1.0, hysteresis=0.3, up_hold=5)
    hi = pl.choose(1e7)
    lo = pl.choose(1e5)
    assert lo.point.bytes_mean < hi.point.bytes_mean and lo.feasible == (lo.predicted_s <= 0.9)


def test_bad_settings() -> None:
    with pytest.raises(PlanningError, match="deadline"):
        Planner(make_profile(), 0.0)
    with pytest.raises(PlanningError, match="margin"):
        Planner(make_profile(), 1.0, margin=1.5)
    with pytest.raises(PlanningError, match="alpha"):
        RateEstimator(alpha=0)


def test_rate_estimator_tracks_a_shaped_link() -> None:
    for true_bps in (0.5e6, 4e6):
        tr = trace_from_rates([true_bps] * 100, step_ms=100)
        sh = TraceShaper(tr)
        est = RateEstimator()
        t = 0.0
        for _ in range(40):
            d = sh.send(20000, t)
            est.observe(20000, t, d)
            t += 0.02  # faster than the link: messages queue, the busy-time rule must see through it
        assert est.ewma_bps == pytest.approx(true_bps, rel=0.15)
        assert est.conservative_bps <= est.ewma_bps


def test_rate_estimator_quantile_is_conservative_after_a_fade() -> None:
    est = RateEstimator(alpha=0.5, window=10, quantile=0.2)
    for i in range(10):
        est.observe(10000, i * 1.0, i * 1.0 + (0.8 if i in (3, 4, 5) else 0.08))  # a fade, then recovery
    # the EWMA has forgotten the fade, the low quantile of the window has not
    assert est.ewma_bps > 0.9e6
    assert est.quantile_bps < 0.5 * est.ewma_bps
    assert est.conservative_bps == est.quantile_bps


def test_compute_estimator() -> None:
    ce = ComputeEstimator(alpha=0.5)
    assert ce.scale == 1.0
    for _ in range(10):
        ce.observe(30.0, 10.0)
    assert ce.scale == pytest.approx(3.0, rel=0.01)
    with pytest.raises(PlanningError):
        ce.observe(-1.0, 10.0)


def test_planner_period_constraint() -> None:
    prof = make_profile()
    rate = 1e6
    free = Planner(prof, deadline_s=5.0, hysteresis=0.0).choose(rate)
    paced = Planner(prof, deadline_s=5.0, hysteresis=0.0, period_s=0.5, max_utilization=0.6).choose(rate)
    assert paced.point.bytes_mean * 8 / rate <= 0.3 + 1e-9
    assert free.point.bytes_mean * 8 / rate > 0.3  # the deadline alone would have allowed a bigger point


def test_link_monitor_no_news_is_bad_news() -> None:
    from stae_ros.planning import LinkMonitor

    mon = LinkMonitor(RateEstimator(base_delay_s=0.02), feedback_delay_s=0.02)
    for i in range(5):
        mon.on_sent(i, 10000, i * 0.5)
        mon.on_feedback(i, 10000, i * 0.5, i * 0.5 + 0.1)  # 10 kB in 80 ms ~ 1 Mbps
    assert mon.rate_bps(2.5) == pytest.approx(1e6, rel=0.05)
    mon.on_sent(5, 10000, 2.5)
    # just after sending, a new clip waits for this one: 80 ms at 1 Mbps, plus the base delay
    assert mon.queue_s(2.51) == pytest.approx(0.02 + 0.08 - 0.01, rel=0.1)
    # no confirmation for 2 s: the link must be slower than 10 kB / 1.96 s
    slow = mon.rate_bps(4.5)
    assert slow < 10000 * 8 / (4.5 - 2.5 - 0.04) + 1
    # clip 5 was lost: once clip 6 is confirmed it no longer holds the estimate down
    mon.on_sent(6, 10000, 4.6)
    mon.on_feedback(6, 10000, 4.6, 4.7)
    assert mon.outstanding == 0 and mon.rate_bps(4.8) > 5 * slow


def test_bench_controller_simulation(tmp_path) -> None:
    from stae_ros.bench.controller import simulate, synthetic_profile
    from stae_ros.link import synthetic_fading_trace

    prof = synthetic_profile()
    tr = synthetic_fading_trace(seed=11, duration_s=40, mean_bps=1.5e6, fade_rate_hz=0.08, fade_depth=0.05)
    ctrl = simulate(tr, prof, "controller", deadline_s=1.0, interval_s=0.5)
    orc = simulate(tr, prof, "oracle", deadline_s=1.0, interval_s=0.5)
    biggest = max(prof.points, key=lambda p: p.bytes_mean)
    fixed_big = simulate(tr, prof, biggest, deadline_s=1.0, interval_s=0.5)
    s_c, s_o, s_b = (r.summary(1.0) for r in (ctrl, orc, fixed_big))
    assert s_c["clips"] == s_o["clips"] == 80
    assert s_o["hit_rate"] >= s_c["hit_rate"] - 0.05
    assert s_c["hit_rate"] > s_b["hit_rate"]  # the full budget cannot keep up with 1.5 Mbps
    assert s_c["useful_accuracy"] > s_b["useful_accuracy"]
    assert 0 < s_c["mean_bytes"] < s_b["mean_bytes"]


def test_bench_controller_cli(tmp_path) -> None:
    import argparse
    import json

    from stae_ros.bench.controller import register_args, run

    parser = argparse.ArgumentParser()
    register_args(parser)
    trace = tmp_path / "t.up"
    from stae_ros.link import save_trace, trace_from_rates

    save_trace(trace_from_rates([2e6] * 50 + [2e5] * 50, step_ms=100), trace)
    args = parser.parse_args(["--trace-dir", str(tmp_path / "none"), "--trace", str(trace), "--synthetic", "1", "--duration", "10", "--out", str(tmp_path / "out"), "--profile", str(tmp_path / "missing.json")])
    with pytest.raises(SystemExit, match="profile not found"):
        run(args)
    args.profile = None
    assert run(args) == 0
    rep = json.loads((tmp_path / "out" / "controller.json").read_text())
    assert set(rep["traces"]) == {"t.up", "synthetic-fade-s1000"}
    for t in rep["traces"].values():
        assert 0.0 <= t["controller"]["hit_rate"] <= 1.0
        assert (tmp_path / "out" / Path(t["plot"]).name).stat().st_size > 1000
    assert "controller" in (tmp_path / "out" / "controller.md").read_text()


def test_only_points_a_camera_can_realise_are_planned_over():
    from stae_ros.planning import realisable_points, settings_text

    def pt(codec, **extra):
        return OperatingPoint(codec, 16, 1.0, 0.7, 500.0, 600.0, 5.0, 5.0, 10, extra=extra)

    points = [
        pt("stae-px"),
        pt("stae-roi264", crf=38, threshold=0.5, mode="crop", label="roi crop crf=38"),
        pt("stae-roi264", crf=38, threshold=0.5, mode="crop", frame_select="uniform", frame_stride=4,
           frame_threshold=0.5, label="fa"),
        pt("stae-latent", **{"lambda": 1e-4, "model": "models/stae_latent_default.pt", "label": "lam"}),
        pt("stae-latent", **{"lambda": 1e-3, "model": "models/stae_latent_small.pt"}),
        pt("stae-latent", **{"lambda": 3e-3, "model": "", "model_not_shipped": "out/x.pt"}),
    ]
    roi, skipped = realisable_points(points, "stae-roi264")
    assert len(roi) == 2 and skipped == {"codec stae-px": 1, "codec stae-latent": 3}
    assert settings_text(roi[0]) == '{"crf":38,"mode":"crop","threshold":0.5}'  # no label: it only describes
    assert '"frame_select":"uniform"' in settings_text(roi[1])
    latent, skipped = realisable_points(points, "stae-latent")
    assert [p.extra["lambda"] for p in latent] == [1e-4]
    assert skipped["model file not shipped"] == 1 and skipped["another stae-latent model file"] == 1
    small, _ = realisable_points(points, "stae-latent", "models/stae_latent_small.pt")
    assert [p.extra["lambda"] for p in small] == [1e-3]
    px, _ = realisable_points(points, "stae-px")
    assert settings_text(px[0]) == ""


def test_the_cameras_accept_every_shipped_profile_point_the_controller_can_choose():
    """Measurement statistics in a point's ``extra`` are not knobs: sending them got every
    BudgetCommand of the demo rejected by the stae-px camera."""
    import json

    from stae_ros.pipeline import CameraPipeline
    from stae_ros.planning import realisable_points, settings_text
    from stae_ros.profiling.schema import load_profile
    from stae_ros.training import load_model

    root = Path(__file__).resolve().parents[1]
    camera = CameraPipeline(load_model(root / "models" / "stae_default.pt"), threads=1)
    points, _ = realisable_points(load_profile(root / "profiles" / "default.json").points, "stae-px")
    assert len(points) >= 20
    for point in points:
        text = settings_text(point)
        camera.set_codec_settings(json.loads(text) if text else {})
        camera.set_budget(point.k, point.p)
    roi_knobs = {"crf", "threshold", "mode", "frame_select", "frame_stride", "frame_threshold"}
    for name in ("payloads.json", "payloads_112.json"):
        roi, _ = realisable_points(load_profile(root / "profiles" / name).points, "stae-roi264")
        assert roi and all(set(json.loads(settings_text(p))) <= roi_knobs for p in roi)
