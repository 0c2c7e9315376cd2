"""Bad flags get one line naming the flag and its range, exit status 2 and no traceback."""

from __future__ import annotations

import argparse

import pytest

from stae_ros import cli
from stae_ros.cli.validate import float_in, int_in


@pytest.mark.parametrize("argv, flag, shown", [
    (["eval", "--k", "0"], "--k", "got 0"),
    (["eval", "--p", "nan"], "--p", "got nan"),
    (["eval", "--p", "7"], "--p", "(0, 1]"),
    (["eval", "--limit", "-1"], "--limit", ">= 0"),
    (["profile", "--zstd-level", "99"], "--zstd-level", "in [1, 22]"),
    (["profile", "--edge-batch", "0"], "--edge-batch", "got 0"),
    (["profile", "--limit", "-5"], "--limit", "got -5"),
    (["profile", "--edge-batch", "many"], "--edge-batch", "'many'"),
    (["data", "synth", "--size", "60000"], "--size", "[16, 1024]"),
    (["data", "synth", "--size", "8x64"], "--size", "'8x64'"),
    (["data", "synth", "--train-per-class", "-3"], "--train-per-class", "got -3"),
    (["data", "synth", "--test-per-class", "0"], "--test-per-class", "got 0"),
    (["data", "synth", "--workers", "0"], "--workers", "in [1, 256]"),
    (["data", "synth", "--frames", "-1"], "--frames", "got -1"),
    (["data", "inspect", "x", "--test-fraction", "0"], "--test-fraction", "(0, 1]"),
    (["data", "inspect", "x", "--split-id", "4"], "--split-id", "in [1, 3]"),
    (["train", "--threads", "0"], "--threads", "in [1, 256]"),
    (["train", "--threads", "two"], "--threads", "'two'"),
    (["bag", "make", "--fps", "0"], "--fps", "(0, 1000]"),
    (["bag", "make", "--size", "16", "-4"], "--size", "got -4"),
    (["bag", "eval", "x", "--k", "0"], "--k", "got 0"),
    (["bag", "eval", "x", "--p", "1.5"], "--p", "(0, 1]"),
    (["bag", "record", "--duration", "-1"], "--duration", "> 0"),
    (["bag", "eval", "x", "--device", "tpu"], "--device", "got 'tpu'"),
    (["profile", "--edge-device", "gpu0"], "--edge-device", "got 'gpu0'"),
    (["bench", "codecs", "--repeats", "0"], "--repeats/--repeat", "in [1, 100]"),
    (["bench", "codecs", "--edge-threads", "0"], "--edge-threads", "got 0"),
    (["bench", "codecs", "--probe-tolerance", "nan"], "--probe-tolerance", "got nan"),
    (["bench", "transport", "--sizes=-5,5"], "--sizes", "got -5"),
    (["bench", "codecs", "--stae-points", "16:nan"], "--stae-points", "got '16:nan'"),
    (["bench", "codecs", "--stae-points", "0:0.5"], "--stae-points", "got '0:0.5'"),
    (["bench", "transport", "--sizes", "small,big"], "--sizes", "got 'small'"),
    (["demo", "--k", "0"], "--k", ">= 1"),
    (["demo", "--p", "7"], "--p", "(0, 1]"),
    (["demo", "--clips", "-2"], "--clips", "got -2"),
    (["demo", "--domain-id", "999"], "--domain-id", "in [0, 232]"),
    (["bench", "controller", "--interval", "0"], "--interval", "(0, 3600]"),
    (["bench", "controller", "--duration", "-5"], "--duration", "got -5"),
    (["bench", "controller", "--synthetic", "-3"], "--synthetic", "in [0, 1000]"),
    (["bench", "controller", "--deadline", "nan"], "--deadline", "got nan"),
    (["bench", "controller", "--margin", "1"], "--margin", "in [0, 0.99]"),
    (["bench", "controller", "--queue-bytes", "0"], "--queue-bytes", ">= 1"),
    (["bench", "controller", "--feedback-ms", "-1"], "--feedback-ms", "got -1"),
    (["bench", "controller", "--start", "inf"], "--start", "got inf"),
    (["profile", "--fold", "-1"], "--fold", ">= 0"),
])
def test_bad_flag_values_are_refused_before_any_work(argv, flag, shown, capsys) -> None:
    _assert_refused(lambda: cli.main(argv), flag, shown, capsys)


def _assert_refused(run, flag: str, shown: str, capsys) -> None:
    """``run`` exits 2 with one argparse line that names ``flag`` and shows ``shown``."""
    with pytest.raises(SystemExit) as exc:
        run()
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"argument {flag}:" in err and shown in err and "Traceback" not in err


def test_an_unexpected_failure_is_one_line_and_exit_2(monkeypatch, capsys) -> None:
    import stae_ros.cli.eval as eval_cmd

    def boom(args: argparse.Namespace) -> int:
        raise KeyError("clip_seq")

    monkeypatch.setattr(eval_cmd, "run", boom)  # register() binds the module's run when the parser is built
    assert cli.main(["eval"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "KeyError" in err[0] and "clip_seq" in err[0] and "-v" in err[0]
    with pytest.raises(KeyError):  # -v shows the traceback
        cli.main(["-v", "eval"])


def test_validators_accept_the_range_and_only_it() -> None:
    assert int_in(1, 3)("3") == 3 and float_in(0.0, 1.0, lo_open=True)("1") == 1.0
    for parse, text in ((int_in(1, 3), "4"), (int_in(1), "1.5"), (float_in(0.0, 1.0, lo_open=True), "0"),
                        (float_in(0.0), "inf"), (float_in(0.0), "-0.1")):
        with pytest.raises(argparse.ArgumentTypeError):
            parse(text)


@pytest.mark.parametrize("module, argv, flag, shown", [
    ("stae_ros.link.relay", ["--listen", "127.0.0.1:0", "--forward", "127.0.0.1:9", "--trace", "t.up",
                             "--base-delay-ms", "-3"], "--base-delay-ms", "got -3"),
    ("stae_ros.link.relay", ["--listen", "127.0.0.1:0", "--forward", "127.0.0.1:9", "--trace", "t.up",
                             "--max-datagrams", "0"], "--max-datagrams", ">= 1"),
    ("stae_ros.ros.soak", ["soak", "--rate", "0"], "--rate", "(0, 100]"),
    ("stae_ros.ros.soak", ["switch", "--period", "-1"], "--period", "got -1"),
    ("stae_ros.ros.launcher", ["--domain-id", "300"], "--domain-id", "in [0, 232]"),
    ("stae_ros.sensitivity.bench", ["--grid", "0"], "--grid", "in [1, 64]"),
    ("stae_ros.sensitivity.bench", ["--limit", "0"], "--limit", ">= 1"),
    ("stae_ros.compressed.bench", ["--data", "d", "--limit", "-1"], "--limit", ">= 0"),
    ("stae_ros.roi.node_model", ["--crf", "60"], "--crf", "in [0, 51]"),
    ("stae_ros.codec.compare", ["--video", "v.mp4", "--quality", "0"], "--quality", "in [1, 100]"),
])
def test_bad_flags_of_the_module_commands_are_refused_before_any_work(module, argv, flag, shown, capsys) -> None:
    import importlib

    _assert_refused(lambda: importlib.import_module(module).main(argv), flag, shown, capsys)


def test_ctrl_c_while_the_subcommands_import_is_exit_130_not_a_traceback(monkeypatch) -> None:
    def interrupted() -> argparse.ArgumentParser:
        raise KeyboardInterrupt  # as when Ctrl-C lands while build_parser imports torch

    monkeypatch.setattr(cli, "build_parser", interrupted)
    assert cli.main(["demo"]) == 130


@pytest.mark.parametrize("content, shown", [(None, "trace file not found"), ("root:x:0:0\n", ":1: expected an integer")],
                         ids=["missing", "not-a-trace"])
def test_demo_refuses_a_bad_trace_before_starting_the_nodes(tmp_path, monkeypatch, capsys, content, shown) -> None:
    from stae_ros.ros import launcher

    trace = tmp_path / "t.up"
    if content is not None:
        trace.write_text(content)

    def no_launch(*args, **kwargs):
        raise AssertionError("the demo started its nodes")

    monkeypatch.setattr(launcher.Launcher, "__init__", no_launch)
    assert cli.main(["demo", "--trace", str(trace), "--clips", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("stae demo: --trace:") and shown in err and str(trace) in err, err


def test_profile_refuses_an_unknown_mode_before_loading_anything(tmp_path, caplog) -> None:
    # the data root does not exist: a check made after loading would report that instead
    assert cli.main(["profile", "--modes", "h264,bogus", "--data", str(tmp_path / "none"), "--model", str(tmp_path / "none.pt")]) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert errors and errors[0].startswith("--modes: unknown mode 'bogus'; registered modes: h264"), errors


def test_demo_refuses_bad_files_before_starting_any_node(tmp_path, capsys) -> None:
    """A model, profile, source or --viz path the nodes could not use is named in one line, exit 2, before
    the nodes start (they would stop at start-up, and the demo could only say that no label came)."""
    from stae_ros.cli import main

    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    bad_profile = tmp_path / "profile.json"
    bad_profile.write_text('{"schema": "stae-profile/1", "points": [')
    cases = [
        (["--model", str(empty)], "stae demo: --model: ", "empty.pt"),
        (["--profile", str(bad_profile)], "stae demo: --profile: ", "is not valid JSON"),
        (["--source", str(tmp_path / "none.mp4")], "stae demo: --source: ", "none.mp4 does not exist"),
        (["--source", "synth:abc"], "stae demo: --source: ", "after 'synth:' give a clip count"),
        (["--viz", "/proc/nope/x.png"], "stae demo: --viz: ", "/proc/nope"),
    ]
    for argv, head, detail in cases:
        assert main(["demo", *argv]) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert err and err[-1].startswith(head) and detail in err[-1], (argv, err)


@pytest.mark.parametrize("argv", [[], ["bench"], ["bag"], ["data"]])
def test_a_command_without_its_action_prints_the_help_as_an_error(argv, capsys) -> None:
    from stae_ros.cli import main

    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("usage: stae"), (out, err)


@pytest.mark.parametrize("argv, named", [
    (["--modes", "h264,bogus"], "--modes: unknown mode 'bogus'"),
    (["--modes", "h264", "--model-file", "warp=x.pt"], "--model-file warp=x.pt: unknown mode 'warp'"),
    (["--modes", "h264", "--model-file", "no-equals-sign"], "--model-file takes MODE=PATH, got 'no-equals-sign'"),
])
def test_profile_refuses_bad_mode_flags_before_loading_anything(tmp_path, argv, named, caplog) -> None:
    """Refused before the model and the clips load: a model path that does not exist is never reached."""
    from stae_ros.cli import main

    assert main(["profile", "--model", str(tmp_path / "none.pt"), *argv]) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and errors[0].startswith(named), errors
