"""results/summary.json: built from a real tiny bench run, validated, merged, and the README's table."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from stae_ros.bench import summary as sm

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A real `stae bench codecs --tiny` run (a few families), which records its own summary."""
    from stae_ros.cli import main

    out = tmp_path_factory.mktemp("bench_summary")
    rc = main(["bench", "codecs", "--tiny", "--model", str(out / "tiny.pt"), "--out", str(out), "--repeats", "1",
               "--no-external", "--only", "raw", "h264", "stae_fast", "fa"])
    assert rc == 0
    return out, json.loads((out / "codecs.json").read_text())


def test_the_bench_records_a_valid_summary_of_what_it_measured(tiny_run) -> None:
    out, report = tiny_run
    summary = sm.load_summary(out / "summary.json")  # --only: into the run's folder, not results/
    assert list(summary["sets"]) == ["synthetic"]  # no --data: clips rendered in memory
    s = summary["sets"]["synthetic"]
    assert s["kind"] == "procedural" and s["classes"] == len(report["class_names"]) and s["test_clips"] == report["test_clips"]
    assert summary["date"] == report["created_utc"][:10]
    points = {p["setting"]: p for p in s["points"]}
    edge_classify = report["classify_ms"]["edge"]
    kept = [r for r in report["rows"] if r["family"] in sm.FAMILY_MODES]
    assert kept and {r["family"] for r in report["rows"]} - set(sm.FAMILY_MODES) == {"fa"}  # the ablation left out
    for r in kept:
        p = points.pop(r["name"])
        assert p["mode"] == sm.FAMILY_MODES[r["family"]]
        assert p["accuracy"] == r["acc"] and p["bytes_mean"] == r["bytes_mean"] and p["camera_ms"] == r["camera_ms"]
        assert p["edge_ms"] == pytest.approx(r["edge_ms"] + edge_classify)
        if p["mode"] == "h264":  # libx264 is not torch: not counted, so null, never a made-up zero
            assert p["camera_gflop"] is None and p["edge_gflop"] > 0.0
        if p["mode"] == "stae-px":  # FA + SA on the camera; FR + ViT on the edge
            assert p["camera_gflop"] > 0.0 and p["edge_gflop"] > 0.0
    local = points.pop("edge ViT on the camera")
    assert not points
    assert local["mode"] == "local" and local["camera_ms"] == report["classify_ms"]["local_camera_1thread"]
    assert local["bytes_mean"] == 0.0 and local["accuracy"] == next(r["acc"] for r in report["rows"] if r["family"] == "raw")
    raw = next(p for p in s["points"] if p["mode"] == "raw")
    assert raw["camera_gflop"] == 0.0  # the raw clip is sent as it is
    assert local["camera_gflop"] > 0.0
    assert local["camera_gflop"] == pytest.approx(raw["edge_gflop"])  # the same ViT, on the camera or the edge
    assert local["edge_gflop"] == 0.0 and local["edge_ms"] == 0.0


def test_the_recorded_command_reproduces_the_run_options(tiny_run) -> None:
    from stae_ros.cli import build_parser

    _, report = tiny_run
    cmd = sm.load_summary(tiny_run[0] / "summary.json")["command"]
    args = build_parser().parse_args(shlex.split(cmd)[1:])
    opts = report["options"]
    assert args.tiny and args.no_external and args.only == opts["only"] and args.repeats == opts["repeats"]
    assert args.model == opts["model"] and args.out == opts["out"]


def _summary(tiny_run) -> dict:
    return sm.load_summary(tiny_run[0] / "summary.json")


@pytest.mark.parametrize("path, value, field", [
    (("sets", "synthetic", "points", 0, "accuracy"), 1.7, "points[0].accuracy"),
    (("sets", "synthetic", "points", 1, "bytes_mean"), "many", "points[1].bytes_mean"),
    (("sets", "synthetic", "points", 0, "mode"), "mpeg2", "points[0].mode"),
    (("sets", "synthetic", "kind"), "imaginary", "sets.synthetic.kind"),
    (("sets", "synthetic", "test_clips"), 0, "sets.synthetic.test_clips"),
    (("date",), "yesterday", "summary.date"),
])
def test_a_bad_summary_is_refused_naming_the_field(tiny_run, path, value, field) -> None:
    bad = _summary(tiny_run)
    target = bad
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(sm.SummaryError, match=field.replace("[", r"\[").replace("]", r"\]")):
        sm.validate(bad)


def test_missing_fields_are_named_and_null_only_means_not_measured(tiny_run) -> None:
    bad = _summary(tiny_run)
    del bad["sets"]["synthetic"]["points"][0]["edge_ms"]
    with pytest.raises(sm.SummaryError, match=r"points\[0\]\.edge_ms: missing"):
        sm.validate(bad)
    bad = _summary(tiny_run)
    bad["sets"]["synthetic"]["points"][0]["accuracy"] = None
    with pytest.raises(sm.SummaryError, match=r"points\[0\]\.accuracy"):
        sm.validate(bad)
    ok = _summary(tiny_run)
    ok["sets"]["synthetic"]["points"][0]["edge_gflop"] = None
    sm.validate(ok)


def test_registered_modes_are_accepted() -> None:
    registry = pytest.importorskip("stae_ros.modes.registry")
    assert set(registry.mode_names()) <= sm.known_modes()


def test_merge_replaces_a_set_measured_again_and_keeps_the_others(tiny_run, tmp_path) -> None:
    _, report = tiny_run
    first = sm.from_bench_report(report)
    other = sm.from_bench_report(report, set_name="other", kind="real", command="stae bench codecs --data other")
    again = sm.from_bench_report(report, command="stae bench codecs --tiny --repeats 2")
    again["sets"]["synthetic"]["points"] = again["sets"]["synthetic"]["points"][:1]
    path = tmp_path / "summary.json"
    sm.write_summary(first, path)
    sm.write_summary(other, path)
    merged = sm.write_summary(again, path)
    assert sm.load_summary(path) == merged
    assert list(merged["sets"]) == ["other", "synthetic"]
    assert merged["sets"]["other"]["command"] == "stae bench codecs --data other"
    assert merged["sets"]["synthetic"]["command"] == "stae bench codecs --tiny --repeats 2"
    assert len(merged["sets"]["synthetic"]["points"]) == 1
    assert merged["command"] == "stae bench codecs --tiny --repeats 2"


def test_summary_command_converts_a_report_and_refuses_other_files(tiny_run, tmp_path, capsys) -> None:
    from stae_ros.cli import main

    out, report = tiny_run
    dest = tmp_path / "results" / "summary.json"
    assert main(["bench", "summary", "--from-bench", str(out / "codecs.json"), "--set", "tiny", "--kind", "procedural",
                 "--out", str(dest)]) == 0
    assert list(sm.load_summary(dest)["sets"]) == ["tiny"]
    (tmp_path / "x.json").write_text(json.dumps({"format": "something else"}))
    assert main(["bench", "summary", "--from-bench", str(tmp_path / "x.json"), "--out", str(dest)]) == 2
    assert "not a `stae bench codecs` report" in capsys.readouterr().err
    (tmp_path / "b.json").write_bytes(b"\x80\x81 not text")
    assert main(["bench", "summary", "--from-bench", str(tmp_path / "b.json"), "--out", str(dest)]) == 2
    assert f"{tmp_path / 'b.json'}: not a JSON bench report: UnicodeDecodeError" in capsys.readouterr().err
    assert main(["bench", "rates", "--results", str(tmp_path / "b.json"), "--out", str(tmp_path / "r.png")]) == 2
    assert f"{tmp_path / 'b.json'}: cannot read a JSON summary (UnicodeDecodeError" in capsys.readouterr().err


def test_readme_block_is_rewritten_from_the_summary(tiny_run, tmp_path) -> None:
    summary = _summary(tiny_run)
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{sm.BEGIN}\nold table\n{sm.END}\n\nafter\n")
    results = tmp_path / "summary.json"
    results.write_text(json.dumps(summary))
    from stae_ros.cli import main

    assert main(["bench", "readme", "--results", str(results), "--readme", str(readme), "--check"]) == 1
    assert main(["bench", "readme", "--results", str(results), "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert "old table" not in text and text.endswith(f"{sm.END}\n\nafter\n")
    h264 = [p for p in summary["sets"]["synthetic"]["points"] if p["mode"] == "h264"]
    best = max(p["accuracy"] for p in h264)
    rows = [line for line in text.splitlines() if line.startswith("| h264 |")]
    assert len(rows) == 1  # one row per mode: its cheapest point within a point of its best accuracy
    assert any(rows[0].startswith(f"| h264 | {p['setting']} | {100 * p['accuracy']:.1f}% | {p['bytes_mean']:,.0f} |")
               for p in h264 if p["accuracy"] >= best - 0.01)
    assert main(["bench", "readme", "--results", str(results), "--readme", str(readme), "--check"]) == 0


def test_committed_readme_table_matches_the_committed_results_file() -> None:
    summary = sm.load_summary(ROOT / "results" / "summary.json")
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert sm.current_block(text) == sm.readme_block(summary, str(sm.DEFAULT_PATH)), \
        "README.md's results table is stale: run `stae bench readme`"
    with pytest.raises(sm.SummaryError, match="markers"):
        sm.replace_block("no markers here", "x")



def test_a_modes_profile_becomes_one_set_of_every_mode(tmp_path):
    """`stae bench summary --from-profile`: each profile point is one results point, local sends nothing
    and costs the edge nothing, and the README table can be made from it."""
    from stae_ros.bench.summary import from_profile, main as summary_main, results_table
    from stae_ros.profiling.schema import OperatingPoint, Profile, save_profile

    pts = [OperatingPoint("local", 16, 1.0, 0.7, 0.0, 0.0, 30.0, 0.0, 10, {"label": "default"}, camera_gflop=0.1),
           OperatingPoint("h264", 16, 1.0, 0.9, 2000.0, 2600.0, 5.0, 40.0, 10, {"label": "crf=33", "crf": 33},
                          camera_gflop=0.0, edge_gflop=0.127)]
    prof = Profile(name="m", clip={"frames": 16, "height": 64, "width": 64, "channels": 3}, points=pts,
                   model="models/stae_default.pt", dataset="d (test, 10 clips)", command="stae profile --modes all",
                   created="2026-12-06T10:00:00+00:00", host={"machine": "x86_64", "python": "3.11.7"})
    summary = from_profile(prof, "tiny", "procedural", 12, camera_budget_gflop=0.8)
    entry = summary["sets"]["tiny"]
    assert entry["test_clips"] == 10 and entry["command"] == "stae profile --modes all"
    local, h264 = entry["points"]
    assert (local["mode"], local["bytes_mean"], local["edge_gflop"], local["edge_ms"]) == ("local", 0.0, 0.0, 0.0)
    assert (h264["setting"], h264["edge_gflop"], h264["accuracy"]) == ("crf=33", 0.127, 0.9)
    assert h264["camera_gflop"] is None  # libx264 is not torch: the profile's 0.0 is "not counted"
    assert "| h264 | crf=33 | 90.0% |" in results_table(summary)
    path = save_profile(prof, tmp_path / "m.json")
    out = tmp_path / "summary.json"
    assert summary_main(["summary", "--from-profile", str(path), "--out", str(out)]) == 2  # set, kind, classes needed
    assert summary_main(["summary", "--from-profile", str(path), "--out", str(out), "--set", "tiny", "--kind",
                         "procedural", "--classes", "12"]) == 0
    assert json.loads(out.read_text())["sets"]["tiny"]["points"][1]["mode"] == "h264"


def test_fold_profiles_are_pooled_over_every_tested_clip_and_can_replace_one_mode(tmp_path):
    """One profile per cross-validation fold: accuracy and bytes over every tested clip (folds of 30 and
    33 clips weigh 30 and 33); a fold that measured other points is refused; --modes replaces only that
    mode's points of a set already in the file."""
    from stae_ros.bench.summary import from_profile, main as summary_main
    from stae_ros.profiling.schema import OperatingPoint, Profile, save_profile

    def fold(acc: float, nbytes: float, n: int, label: str = "default") -> Profile:
        pts = [OperatingPoint("stae-latent", 16, 1.0, acc, nbytes, nbytes, 5.0, 7.0, n, {"label": label},
                              camera_gflop=0.03, edge_gflop=0.127)]
        return Profile(name="f", clip={"frames": 16, "height": 64, "width": 64, "channels": 3}, points=pts,
                       model="m.pt", dataset="w", command=f"stae profile --fold {n}", created="2026-12-06T10:00:00+00:00",
                       host={"machine": "x86_64"})

    pooled = from_profile([fold(1.0, 60.0, 30), fold(0.0, 93.0, 33)], "w", "real", 10)["sets"]["w"]
    (pt,) = pooled["points"]
    assert pooled["test_clips"] == 63 and pt["accuracy"] == pytest.approx(30 / 63)
    assert pt["bytes_mean"] == pytest.approx((60 * 30 + 93 * 33) / 63) and pt["camera_gflop"] == pytest.approx(0.03)
    with pytest.raises(sm.SummaryError, match="other points"):
        from_profile([fold(1.0, 60.0, 30), fold(1.0, 60.0, 30, label="other")], "w", "real", 10)

    out = tmp_path / "summary.json"
    base = {"command": "bench", "date": "2026-12-01", "host": "h", "sets": {"w": {
        "kind": "real", "classes": 10, "test_clips": 63, "camera_budget_gflop": 0.8, "points": [
            {"mode": "h264", "setting": "crf28", "accuracy": 0.9, "bytes_mean": 2500.0, "camera_gflop": None,
             "camera_ms": 1.0, "edge_gflop": 4.0, "edge_ms": 80.0}]}}}
    out.write_text(json.dumps(base))
    paths = [save_profile(fold(1.0, 60.0, 30), tmp_path / "f0.json"), save_profile(fold(0.0, 93.0, 33), tmp_path / "f1.json")]
    assert summary_main(["summary", "--from-profile", *map(str, paths), "--out", str(out), "--set", "w", "--kind", "real",
                         "--classes", "10", "--modes", "stae-latent", "--note", "pooled folds"]) == 0
    points = json.loads(out.read_text())["sets"]["w"]["points"]
    assert [p["mode"] for p in points] == ["h264", "stae-latent"] and points[1]["note"] == "pooled folds"
    assert points[1]["accuracy"] == pytest.approx(30 / 63)


def _completion_summary() -> dict:
    def pt(mode, setting, acc, nbytes, cam_ms, edge_ms, cam_g=None):
        return {"mode": mode, "setting": setting, "accuracy": acc, "bytes_mean": nbytes, "camera_gflop": cam_g,
                "camera_ms": cam_ms, "edge_gflop": None, "edge_ms": edge_ms}

    points = [pt("local", "small net", 0.80, 0.0, 10.0, 0.0, 0.5),        # 10 ms x 2 on the camera
              pt("local", "big net", 0.95, 0.0, 1.0, 0.0, 9.0),           # over the 1 GFLOP budget: left out
              pt("h264", "crf28", 0.81, 1000.0, 1.0, 2.0),
              pt("h264", "crf40", 0.60, 100.0, 1.0, 2.0),                 # > 1 point below h264's best: not its point
              pt("raw", "raw", 0.82, 100000.0, 0.0, 1.0)]
    return {"command": "x", "date": "2026-01-01", "host": "h",
            "sets": {"s": {"kind": "real", "classes": 3, "test_clips": 9, "camera_budget_gflop": 1.0, "points": points}}}


def test_completion_time_per_mode_and_the_fastest_mode_per_rate() -> None:
    from stae_ros.bench.plots import completion_from_summary

    res = completion_from_summary(_completion_summary()["sets"]["s"], camera_slowdown=2.0, rates_bps=(1e4, 1e6, 1e8))
    assert res["left_out"] == ["local big net"]
    c = res["curves"]
    assert c["h264"]["setting"] == "crf28" and c["local"]["setting"] == "small net"
    # h264 at 1 Mbit/s: 1 ms x 2 + 1000 B x 8 / 1e6 s + 2 ms = 12 ms; local 20 ms at every rate
    assert c["h264"]["ms"][1] == pytest.approx(12.0) and c["local"]["ms"] == [20.0, 20.0, 20.0]
    assert c["raw"]["ms"][2] == pytest.approx(0.0 + 8.0 + 1.0)
    assert [b["mode"] for b in res["winners"]] == ["local", "h264"]  # 10 kbit/s: 802 ms for h264
    assert res["winners"][0]["to_bps"] == 1e4 and res["winners"][1]["from_bps"] == 1e6


def test_completion_command_writes_the_figure(tmp_path, capsys) -> None:
    from stae_ros.cli import main

    path = tmp_path / "summary.json"
    path.write_text(json.dumps(_completion_summary()))
    rc = main(["bench", "completion", "--results", str(path), "--out", str(tmp_path / "c.png"), "--json", str(tmp_path / "c.json")])
    assert rc == 0
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads((tmp_path / "c.json").read_text())
    assert data["camera_slowdown"] == pytest.approx(data["host"]["rate_gflops"] / data["camera"]["rate_gflops"])
    assert "fastest within 5 points of the best" in capsys.readouterr().out


def test_replace_modes_updates_only_those_modes_of_a_set() -> None:
    base = _completion_summary()
    update = json.loads(json.dumps(base))
    new_local = {"mode": "local", "setting": "new net", "accuracy": 0.9, "bytes_mean": 0.0, "camera_gflop": 0.4,
                 "camera_ms": 5.0, "edge_gflop": 0.0, "edge_ms": 0.0}
    update["sets"]["s"]["points"] = [new_local, dict(base["sets"]["s"]["points"][2], accuracy=0.1)]
    update.update(command="y", date="2026-02-02")
    update["sets"]["s"]["command"] = "y"
    out = sm.replace_modes(base, update, ["local"])
    pts = out["sets"]["s"]["points"]
    assert [p["setting"] for p in pts if p["mode"] == "local"] == ["new net"]  # both old local points replaced
    assert [p["accuracy"] for p in pts if p["mode"] == "h264"] == [0.81, 0.60]  # other modes kept as they were
    assert out["sets"]["s"]["command"].startswith("x ; local points measured again: y")
    assert out["sets"]["s"]["date"] == "2026-02-02"
    with pytest.raises(sm.SummaryError, match="no points of mode"):
        sm.replace_modes(base, update, ["stae-latent"])
    kept = sm.replace_modes(base, update, ["local"], note="busy host", keep=["small net"])["sets"]["s"]["points"]
    assert sorted((p["setting"], p.get("note")) for p in kept if p["mode"] == "local") == [("new net", "busy host"),
                                                                                         ("small net", None)]


def test_rates_command_draws_each_modes_best_accuracy_per_byte(tmp_path, capsys) -> None:
    """`stae bench rates`: every mode's points against bytes; the line is the points nothing beats with fewer
    bytes (a setting that costs more bytes for less accuracy is drawn as a point only)."""
    from stae_ros.bench.plots import frontier, rate_curves
    from stae_ros.cli import main

    summary = _completion_summary()
    summary["sets"]["s"]["points"].append(dict(summary["sets"]["s"]["points"][2], setting="crf20", accuracy=0.79,
                                               bytes_mean=3000.0))
    curves = rate_curves(summary["sets"]["s"])
    assert [q["setting"] for q in curves["h264"]] == ["crf40", "crf28", "crf20"]
    assert [q["setting"] for q in frontier(curves["h264"])] == ["crf40", "crf28"]
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(summary))
    assert main(["bench", "rates", "--results", str(path), "--out", str(tmp_path / "r.png")]) == 0
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "h264 3 points" in capsys.readouterr().out
    assert main(["bench", "rates", "--results", str(tmp_path / "missing.json"), "--out", str(tmp_path / "x.png")]) == 2
