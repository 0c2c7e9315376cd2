"""A short fuzz run of every decoder and the SemanticClip field checks (scripts/fuzz_decoders.py).

The committed corpus (test/fuzz_corpus/<target>/: seeds and any inputs that once broke a
decoder) is replayed first, then a few hundred seeded mutations per target; each input may raise
only the target's documented error and must stay within the CPU and memory targets. The long
benchmark (>= 1,000,000 executions per target, atheris) is described in docs/reliability.md.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _fuzz_module():
    spec = importlib.util.spec_from_file_location("fuzz_decoders", ROOT / "scripts" / "fuzz_decoders.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["fuzz_decoders"] = mod
    spec.loader.exec_module(mod)
    return mod


fuzz = _fuzz_module()


def _target(name: str):
    try:
        return fuzz.TARGETS[name]()
    except ImportError as exc:  # the fields target needs rclpy and the generated messages
        pytest.skip(f"{name}: {exc}")


@pytest.mark.parametrize("name", fuzz.TARGET_NAMES)
def test_corpus_replays_without_findings(name: str) -> None:
    target = _target(name)
    corpus = fuzz.corpus_inputs(name)
    assert corpus, f"test/fuzz_corpus/{name} is empty"
    harness = fuzz.Harness(target)
    for data in corpus:
        harness.check(data)  # raises on an undocumented exception or an over-limit input
    assert harness.execs == len(corpus)


@pytest.mark.parametrize("name", fuzz.TARGET_NAMES)
def test_short_mutation_run_finds_nothing(name: str) -> None:
    _target(name)
    res = fuzz.run_mutation(name, runs=400, seconds=20.0, seed=7, findings=None)
    assert res["crashes"] == 0, res["examples"]
    assert res["execs"] >= 100  # it ran (400 unless the host is very slow)


def test_harness_reports_an_undocumented_exception() -> None:
    """The harness is able to fail: a target raising something else is a finding."""

    class Broken(fuzz.Target):
        name = "broken"
        documented = (ValueError,)

        def seeds(self):
            return [b"ok"]

        def run(self, data):
            if data == b"boom":
                raise KeyError("boom")
            raise ValueError("documented")

    harness = fuzz.Harness(Broken())
    harness.check(b"fine")
    with pytest.raises(KeyError):
        harness.check(b"boom")
