"""`stae bench codecs --tiny` end to end, and the bench's derived numbers on hand-made rows."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from stae_ros.bench import completion_curves, equal_accuracy_h264
from stae_ros.bench.child import read_payloads, write_payloads

FAMILIES = {"raw", "jpeg", "h264", "h265", "fa", "fa_random", "fa_sa", "stae", "stae_fast", "stae_webp"}


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
    assert report["format"] == "stae-bench-codecs/1"
    rows = report["rows"]
    assert {r["family"] for r in rows} >= FAMILIES
    for r in rows:
        assert "error" not in r, r
        assert r["bytes_mean"] > 0 and r["bytes_p95"] >= r["bytes_min"]
        assert 0.0 <= r["acc"] <= 1.0 and 0.0 <= r["acc_zero_shot"] <= 1.0
        assert r["camera_ms"] > 0 and r["edge_ms"] > 0 and r["camera_peak_rss_mb"] > 0
        assert math.isclose(r["ratio_vs_float32"] * r["bytes_mean"], report["clip"]["float32_bytes"])
    raw = next(r for r in rows if r["family"] == "raw")
    assert raw["bytes_mean"] == report["clip"]["uint8_bytes"] + 8
    assert raw["psnr_db"] == 99.0
    assert set(report["completion"]["curves"]) >= {"local", "h264", "stae"}
    md = (tiny_report / "codecs.md").read_text()
    assert "| h264 |" in md and "stae-k4" in md
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
