"""`stae bench codecs --tiny` end to end, and the bench's derived numbers on hand-made rows."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from stae_ros.bench import completion_curves, equal_accuracy_h264
from stae_ros.bench.child import _time_each, read_payloads, write_payloads
from stae_ros.bench.codecs import camera_vs_x264, compression_target, timing_stability

FAMILIES = {"raw", "jpeg", "h264", "h265", "fa", "fa_random", "fa_sa", "stae", "stae_fast", "stae_fast_b6", "stae_webp"}


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory):
    from stae_ros.cli import main

    out = tmp_path_factory.mktemp("bench")
    rc = main(["bench", "codecs", "--tiny", "--model", str(out / "tiny.pt"), "--out", str(out), "--repeats", "1",
               "--no-external"])
    assert rc == 0
    return out


def test_tiny_bench_writes_a_table_with_every_method(tiny_report) -> None:
    report = json.loads((tiny_report / "codecs.json").read_text())
    assert report["format"] == "stae-bench-codecs/2"
    assert report["finetune"]["mode"] == "full" and "every ViT weight" in report["finetune"]["recipe"]
    assert report["timing"]["runs"] == 1 and report["timing_stability"]["total"] == 2 * len(report["rows"])
    rows = report["rows"]
    assert {r["family"] for r in rows} >= FAMILIES
    for r in rows:
        assert "error" not in r, r
        assert r["bytes_mean"] > 0 and r["bytes_p95"] >= r["bytes_min"]
        assert 0.0 <= r["acc"] <= 1.0 and 0.0 <= r["acc_zero_shot"] <= 1.0
        assert r["camera_ms"] > 0 and r["edge_ms"] > 0 and r["camera_peak_rss_mb"] > 0
        assert len(r["camera_ms_runs"]) == 1 and r["camera_ms_spread"] == 0.0 and len(r["camera_ms_per_clip_runs"][0]) == 1
        assert math.isclose(r["ratio_vs_float32"] * r["bytes_mean"], report["clip"]["float32_bytes"])
    raw = next(r for r in rows if r["family"] == "raw")
    assert raw["bytes_mean"] == report["clip"]["uint8_bytes"] + 8
    assert raw["psnr_db"] == 99.0
    assert set(report["completion"]["curves"]) >= {"local", "h264", "stae"}
    md = (tiny_report / "codecs.md").read_text()
    assert "| h264 |" in md and "stae-k4" in md
    assert "**full** mode" in md and "within ±10%" in md and "libx264 `ultrafast`" in md
    assert {c["stae_point"] for c in report["camera_vs_x264"]} >= {"stae-k4-p0.25-fast", "stae-k4-p0.25-fast-b6"}
    by = {r["name"]: r for r in rows}
    assert by["stae-k4-p0.25-fast-b6"]["bytes_mean"] < by["stae-k4-p0.25-fast"]["bytes_mean"]  # 6-bit values
    for name in ("bench_accuracy_vs_kbit.png", "bench_camera_ms_vs_bytes.png", "bench_completion_vs_rate.png"):
        assert (tiny_report / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _row(name, family, nbytes, acc, cam=1.0, edge=1.0):
    return {"name": name, "family": family, "bytes_mean": float(nbytes), "acc": acc, "camera_ms": cam, "edge_ms": edge}


def test_equal_accuracy_picks_cheapest_h264_at_least_as_accurate() -> None:
    rows = [_row("h-a", "h264", 1000, 0.90), _row("h-b", "h264", 400, 0.80), _row("h-c", "h264", 200, 0.60),
            _row("s-1", "stae", 100, 0.805), _row("s-2", "stae", 300, 0.95), _row("s-3", "stae", 50, 0.50)]
    equal_accuracy_h264(rows)
    by = {r["name"]: r for r in rows}
    assert by["s-1"]["h264_point_at_acc"] == "h-b" and by["s-1"]["ratio_vs_h264"] == pytest.approx(4.0)
    assert by["s-2"]["ratio_vs_h264"] is None  # more accurate than any H.264 point tried
    assert by["s-3"]["h264_point_at_acc"] == "h-c" and by["s-3"]["ratio_vs_h264"] == pytest.approx(4.0)
    assert by["h-b"]["ratio_vs_h264"] == pytest.approx(1.0)


def test_completion_curves_mark_the_winner_per_rate() -> None:
    rows = [_row("big", "raw", 1_000_000, 0.9, cam=0.1, edge=0.1), _row("small", "stae", 1_000, 0.9, cam=50, edge=50)]
    c = completion_curves(rows, classify_edge_ms=5.0, local_ms=500.0, raw_acc=0.9)
    bands = c["winner_bands"]
    # slow links: the small payload wins; very fast links: the raw clip's zero encode cost wins
    assert bands[0]["family"] == "stae" and bands[-1]["family"] == "raw"
    i = 0
    assert c["curves"]["stae"]["ms"][i] == pytest.approx(50 + 1000 * 8 / c["rates_bps"][i] * 1e3 + 50 + 5)
    assert all(b["from_bps"] <= b["to_bps"] for b in bands)


def test_payload_files_round_trip(tmp_path) -> None:
    payloads = [b"", b"abc", bytes(np.arange(300) % 256)]
    write_payloads(tmp_path / "p.bin", payloads)
    assert read_payloads(tmp_path / "p.bin") == payloads


def test_bench_help_lists_subcommands(capsys) -> None:
    from stae_ros.cli import main

    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    text = capsys.readouterr().out
    assert "codecs" in text and "transport" in text and "controller" in text


def test_transport_summary_counts_losses_and_percentiles() -> None:
    from stae_ros.bench.transport import _summarise, _topic, transport_markdown

    case = {"type": "semantic", "size": 5000, "qos": "best_effort"}
    topic = _topic("semantic", 5000, "best_effort")
    recv = {topic: [("lat", i, float(i + 1), 100.0 + i) for i in range(8)] + [("tput", i, 1.0, 200.0 + 0.01 * i) for i in range(5)]}
    sent = {topic: {"lat": 10, "tput": 6, "tput_publish_s": 0.01}}
    (row,) = _summarise([case], recv, sent)
    assert row["latency_received"] == 8 and row["latency_sent"] == 10
    assert row["latency_p50_ms"] == pytest.approx(np.percentile(np.arange(1, 9), 50))
    assert row["tput_received"] == 5 and row["tput_msgs_per_s"] > 0
    md = transport_markdown({"rmw": "x", "messages": 10, "rate_hz": 20.0, "rows": [row]})
    assert "| 5,000 | semantic | best_effort |" in md and "8/10" in md


def test_external_sweep_is_empty_without_model_files(tmp_path) -> None:
    from stae_ros.baselines import UnknownCodecError
    from stae_ros.baselines.external import ExternalCodec, external_sweep

    assert external_sweep("unused.pt", root=tmp_path) == []
    with pytest.raises(UnknownCodecError, match="mpeg"):
        ExternalCodec("mpeg", str(tmp_path / "x.pt"))


def test_external_sweep_leaves_out_latent_files_built_for_another_frame_size(tmp_path) -> None:
    from stae_ros.baselines.external import external_sweep
    from stae_ros.latent.io import save_latent_model
    from stae_ros.latent.model import LatentConfig, LatentModel

    for size in (64, 112):
        cfg = LatentConfig(frames=8, height=size, width=size, num_classes=3, enc_width=4, latent_channels=2, head_width=4)
        save_latent_model(tmp_path / f"stae_latent_{size}.pt", LatentModel(cfg))
    names = lambda specs: sorted(Path(s["path"]).name for s in specs)  # noqa: E731
    assert names(external_sweep("unused.pt", root=tmp_path, clip_hw=(64, 64))) == ["stae_latent_64.pt"]
    assert names(external_sweep("unused.pt", root=tmp_path, clip_hw=(112, 112))) == ["stae_latent_112.pt"]
    assert len(external_sweep("unused.pt", root=tmp_path)) == 2  # no size given: every file
    named = [str(tmp_path / "stae_latent_112.pt")]
    assert names(external_sweep("unused.pt", files=named, clip_hw=(64, 64))) == ["stae_latent_112.pt"]  # asked for


def _timed(name, family, cam_runs, edge_runs, per_clip=None, preset=None):
    r = {"name": name, "family": family, "spec": {"family": family, "preset": preset}}
    for side, runs in (("camera", cam_runs), ("edge", edge_runs)):
        med = float(np.median(runs))
        r[f"{side}_ms"], r[f"{side}_ms_runs"] = med, runs
        r[f"{side}_ms_spread"] = (max(runs) - min(runs)) / 2 / med
        r[f"{side}_ms_per_clip_runs"] = per_clip or [[med] * 3 for _ in runs]
    return r


def test_timing_stability_counts_spreads() -> None:
    rows = [_timed("a", "h264", [10, 10.5, 11], [5, 5, 5]), _timed("b", "stae", [10, 14, 12], [1, 1.1, 1.05])]
    st = timing_stability(rows)
    assert st["total"] == 4 and st["within"] == 3 and st["within_2x"] == 4
    assert st["worst"][0]["point"] == "b" and st["worst"][0]["side"] == "camera"


def test_camera_comparison_pairs_clips_and_needs_disjoint_ranges() -> None:
    h = _timed("h264-ultrafast-crf28", "h264", [10, 10, 10], [5] * 3, [[9, 10, 11]] * 3, preset="ultrafast")
    med = _timed("h264-medium-crf28", "h264", [20, 20, 20], [5] * 3, preset="medium")
    fast = _timed("stae-k4-p0.05-fast", "stae_fast", [7, 7.5, 8], [50] * 3, [[8, 7, 12]] * 3)
    close = _timed("stae-k4-p0.05", "stae", [9, 10, 11], [50] * 3)
    latent = _timed("latent-small", "latent", [12, 12, 12], [1] * 3)
    jpeg = _timed("jpeg-q50", "jpeg", [1, 1, 1], [1] * 3)
    out = {c["stae_point"]: c for c in camera_vs_x264([h, med, fast, close, latent, jpeg])}
    assert set(out) == {"stae-k4-p0.05-fast", "stae-k4-p0.05", "latent-small"}  # STAE's payloads vs ultrafast x264 only
    assert out["latent-small"]["winner"] == "x264"
    assert out["stae-k4-p0.05-fast"]["winner"] == "stae" and out["stae-k4-p0.05-fast"]["stae_faster_clips"] == 2
    assert out["stae-k4-p0.05"]["winner"] == "tie"


def test_compression_target_uses_raw_accuracy_as_full_budget() -> None:
    rows = [dict(_row("raw-uint8", "raw", 196_616, 0.80), ratio_vs_float32=4.0),
            dict(_row("stae-k16-p0.05", "stae", 7_000, 0.77), ratio_vs_float32=112.0),
            dict(_row("stae-k4-p0.05", "stae", 2_000, 0.40), ratio_vs_float32=393.0),
            dict(_row("stae-k8-p0.25", "stae", 18_000, 0.79), ratio_vs_float32=44.0)]
    t = compression_target(rows)
    assert t["met"] and t["points_meeting"] == ["stae-k16-p0.05"] and t["full_budget_acc"] == 0.80
    rows[1]["acc"] = 0.70
    t = compression_target(rows)
    assert not t["met"] and t["best"]["point"] == "stae-k16-p0.05"


def test_time_each_keeps_per_clip_minimum_and_batches_fast_calls() -> None:
    calls = []
    t, outs = _time_each(lambda x: calls.append(x) or x * 2, [1, 2, 3], reps=3, warmup=1, min_sample_ms=0.5)
    assert outs == [2, 4, 6] and len(t["cpu"]) == len(t["wall"]) == 3
    assert all(n > 1 for n in t["inner"])  # a no-op is far below 0.5 ms: several calls per sample
    assert len(calls) == 1 + sum(1 + 3 * n for n in t["inner"])
    assert all(c >= 0 for c in t["cpu"])


def test_full_adaptation_is_seeded_and_leaves_the_checkpoint_alone(tmp_path, one_thread) -> None:
    import torch

    from stae_ros.bench.codecs import make_tiny_checkpoint
    from stae_ros.bench.finetune import FinetuneConfig, _batches, adapt_and_score, finetune_vit
    from stae_ros.training import load_model

    vit = load_model(make_tiny_checkpoint(tmp_path / "t.pt")).model.vit
    before = {k: v.clone() for k, v in vit.state_dict().items()}
    rng = np.random.default_rng(0)
    clips = rng.integers(0, 255, (6, 8, 32, 32, 3), dtype=np.uint8)
    labels = np.array([0, 1, 2, 3, 0, 1])
    cfg = FinetuneConfig(mode="full", steps=3, batch=4)
    a, info = finetune_vit(vit, clips, labels, cfg)
    b, _ = finetune_vit(vit, clips, labels, cfg)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert not torch.equal(a.state_dict()["head.weight"], before["head.weight"])
    assert all(torch.equal(v, before[k]) for k, v in vit.state_dict().items())
    assert info["loss_first"] is not None
    # every codec gets the same batches: 3 steps of 4 from 6 clips, epoch by epoch
    idx = _batches(6, 4, 3, 0)
    assert [len(i) for i in idx] == [4, 4, 4] and len(set(idx[0].tolist())) == 4
    assert all(np.array_equal(x, y) for x, y in zip(idx, _batches(6, 4, 3, 0)))
    head = adapt_and_score(vit, clips, labels, clips, labels, FinetuneConfig(mode="head", steps=2))
    assert set(head) >= {"acc", "acc_zero_shot", "adapt_cpu_s"}
    with pytest.raises(ValueError, match="full"):
        FinetuneConfig(mode="partial")


def _run(ms: float, probe: float) -> dict:
    return {"ms": ms, "host_probe_ms": probe}


def test_slow_runs_are_those_whose_host_probe_stands_out() -> None:
    from stae_ros.bench.codecs import slow_runs

    runs = [{"camera": [_run(2.0, 2.7), _run(2.5, 3.3), _run(2.0, 2.7)], "edge": [_run(9, 2.7)] * 3},
            {"camera": [_run(5.0, 2.8)] * 3, "edge": [_run(9, 2.6), _run(9, 2.7), _run(11, 3.1)]},
            {"error": "failed"}]
    slow, medians = slow_runs(runs, tolerance=0.08)
    assert medians == {"camera": 2.8, "edge": 2.7}
    assert slow == [(0, 1), (1, 2)]  # 3.3 > 1.08 * 2.8 on the camera side, 3.1 > 1.08 * 2.7 on the edge side
    assert slow_runs(runs, tolerance=0.25)[0] == []


def test_slow_runs_are_redone_and_recorded() -> None:
    from stae_ros.bench.codecs import CodecBenchOptions, _redo_slow_runs

    runs = [{"camera": [_run(2.0, 2.7), _run(2.6, 3.5), _run(2.1, 2.7)], "edge": [_run(9, 2.7)] * 3}]
    calls = []

    def one_run(i: int, run: int) -> bool:  # what the bench does: new children replace that run
        calls.append((i, run))
        runs[i]["camera"][run], runs[i]["edge"][run] = _run(2.05, 2.72), _run(9.1, 2.69)
        return True

    redone = _redo_slow_runs(runs, ["stae-k8"], CodecBenchOptions(probe_tolerance=0.08), one_run)
    assert calls == [(0, 1)] and [c["ms"] for c in runs[0]["camera"]] == [2.0, 2.05, 2.1]
    assert redone[0]["point"] == "stae-k8" and redone[0]["ms_before"]["camera"] == 2.6
    assert redone[0]["probe_ms_before"]["camera"] == 3.5 and redone[0]["probe_ms_after"]["camera"] == 2.72
    assert _redo_slow_runs(runs, ["stae-k8"], CodecBenchOptions(probe_tolerance=0.0), one_run) == []


def test_timing_child_reports_a_host_probe(tmp_path) -> None:
    from stae_ros.bench.child import run_child

    clips = tmp_path / "clips.npy"
    np.save(clips, np.zeros((2, 4, 8, 8, 3), np.uint8))
    res = run_child({"side": "camera", "spec": {"family": "raw"}, "clips": str(clips),
                     "payloads": str(tmp_path / "p.bin"), "threads": 1, "reps": 1, "min_run_s": 0.0})
    assert res["ms"] > 0 and 0.1 < res["host_probe_ms"] < 1000.0
    assert len(read_payloads(tmp_path / "p.bin")) == 2


def test_compare_runs_reports_spread_across_runs(tiny_report, tmp_path) -> None:
    """Two real reports (the tiny run, and a copy with one timing and one verdict changed)."""
    from stae_ros.cli import main

    report = json.loads((tiny_report / "codecs.json").read_text())
    other = json.loads(json.dumps(report))
    other["rows"][0]["camera_ms"] = report["rows"][0]["camera_ms"] * 1.5  # ±20% across the two runs
    if other["camera_vs_x264"]:
        other["camera_vs_x264"][0]["winner"] = "tie" if report["camera_vs_x264"][0]["winner"] != "tie" else "stae"
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "codecs.json").write_text(json.dumps(other))
    rc = main(["bench", "compare", str(tiny_report), str(tmp_path / "b"), "--out", str(tmp_path / "cmp")])
    assert rc == 0
    result = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert result["timings"] == 2 * len(report["rows"]) and result["within"] == result["timings"] - 1
    worst = result["largest"][0]
    assert worst["point"] == report["rows"][0]["name"] and worst["side"] == "camera"
    assert math.isclose(worst["spread"], 0.25 / 1.25)
    if report["camera_vs_x264"]:
        assert result["verdicts_same"] == len(result["verdicts"]) - 1
    md = (tmp_path / "cmp" / "compare.md").read_text()
    assert f"{result['within']} of {result['timings']} camera/edge timings within ±10%" in md


def test_compare_runs_rejects_what_is_not_a_bench_report(tmp_path, capsys) -> None:
    from stae_ros.cli import main

    (tmp_path / "x.json").write_text('{"format": "something-else"}')
    assert main(["bench", "compare", str(tmp_path / "x.json"), str(tmp_path / "x.json")]) == 2
    assert "not a `stae bench codecs` report" in capsys.readouterr().err
    assert main(["bench", "compare", str(tmp_path / "missing")]) == 2
    assert "no bench report" in capsys.readouterr().err


def test_codecs_bench_says_when_no_operating_point_is_left(tiny_report, tmp_path, capsys) -> None:
    """An --only that matches nothing, or points that all fail, end the bench with one line on stderr that says
    so, not with an empty table or min()'s error."""
    from stae_ros.cli import main

    base = ["bench", "codecs", "--tiny", "--model", str(tiny_report / "tiny.pt"), "--repeats", "1"]
    assert main([*base, "--no-external", "--only", "warpdrive", "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert "--only warpdrive: no operating point matches; families and modes: " in err and "h264" in err, err
    broken = tmp_path / "stae_latent_broken.pt"
    broken.write_bytes(b"PK\x03\x04 not a zip")
    assert main([*base, "--only", "latent", "--external-models", str(broken), "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert "every operating point failed" in err and "stae_latent_broken.pt" in err and "Traceback" not in err, err
