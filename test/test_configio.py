"""Config values are checked against their fields' types before any work starts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from stae_ros.configio import ConfigError, typed_fields, typed_value


@dataclass
class Example:
    epochs: int = 1
    lr: float = 1e-3
    name: str = "run"
    cache: bool = True
    generate: dict[str, Any] | None = None
    budgets: list[int] = field(default_factory=list)
    half: bool | str = "auto"


@pytest.mark.parametrize("key, value, message", [
    ("epochs", "abc", "cfg.epochs must be an integer, got 'abc'"),
    ("epochs", 2.5, "cfg.epochs must be an integer"),
    ("epochs", True, "cfg.epochs must be an integer"),
    ("lr", "fast", "cfg.lr must be a finite number, got 'fast'"),
    ("lr", float("nan"), "cfg.lr must be a finite number"),
    ("name", 3, "cfg.name must be a string"),
    ("cache", "yes", "cfg.cache must be true or false"),
    ("generate", "abc", "cfg.generate must be dict or NoneType"),
    ("budgets", 5, "cfg.budgets must be a list"),
    ("half", 3, "cfg.half must be bool or str"),
])
def test_wrong_types_are_named(key, value, message) -> None:
    with pytest.raises(ConfigError) as exc:
        typed_fields(Example, {key: value}, "cfg")
    assert message in str(exc.value)


def test_right_types_pass_and_ints_become_floats() -> None:
    out = typed_fields(Example, {"epochs": 3, "lr": 1, "name": "x", "cache": False, "generate": None,
                                 "budgets": [1, 2], "half": True, "unknown": object}, "cfg")
    assert out["lr"] == 1.0 and isinstance(out["lr"], float) and out["epochs"] == 3 and out["half"] is True
    assert typed_value("auto", bool | str, "half") == "auto"


ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("edit, named", [
    ("stages:\n  classifier:\n    epochs: abc\n", "stages.classifier.epochs must be an integer, got 'abc'"),
    ("stages:\n  classifier:\n    lr: fast\n", "stages.classifier.lr must be a finite number, got 'fast'"),
    ("seed: abc\n", "seed must be an integer, got 'abc'"),
    ("eval:\n  budgets: [[16, 1.0], 7]\n", "eval.budgets must be a list of [K, p] pairs"),
    ("eval:\n  budgets: [[sixteen, 1.0]]\n", "eval.budgets K must be an integer"),
    ("data: abc\n", "data must be a mapping"),
    ("data:\n  cache: maybe\n", "data.cache must be true or false"),
    ("model:\n  base: 5\n", "model.base must be the path of a model YAML, got 5"),
    ("half: quarter\n", "half must be true, false or auto, got 'quarter'"),
    ("stages:\n  classifier: {epochs: 0}\n  fa: {epochs: 0}\n  sa: {epochs: 0}\n  fr: {epochs: 0}\n",
     "every stage has epochs: 0, so nothing would be trained"),
    ("threads: -4\n", "threads must be >= 0"),
    ("augment:\n  noise: -1.0\n", "augment.noise must be >= 0, got -1.0"),
    ("model:\n  clip:\n    frames: 0\n", "model: clip.frames must be a positive number, got 0"),
])
def test_training_configs_with_wrong_types_fail_before_any_work(tmp_path, edit, named, caplog) -> None:
    """`stae train` on such a file: exit 2 and one line naming the key, before a model is built."""
    import yaml

    from stae_ros.cli import main
    from stae_ros.training import load_train_config

    base = yaml.safe_load((ROOT / "config" / "train_tiny.yaml").read_text())
    base.update(yaml.safe_load(edit))
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(base))
    with pytest.raises(ConfigError) as exc:
        load_train_config(bad)
    assert named in str(exc.value)
    assert main(["train", "--config", str(bad), "--out", str(tmp_path / "run"), "--no-progress"]) == 2
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and named in errors[0].getMessage() and errors[0].exc_info is None
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())


def test_a_config_that_is_not_text_is_named(tmp_path) -> None:
    from stae_ros.configio import load_yaml

    bad = tmp_path / "weights.yaml"
    bad.write_bytes(b"\x80\x03 a pickle, not YAML")
    with pytest.raises(ConfigError, match=r"weights.yaml is not a text \(UTF-8\) file: byte 0 is 0x80"):
        load_yaml(bad)


def test_an_export_that_cannot_be_written_stops_training_before_it_starts(tmp_path, caplog) -> None:
    """A run writes its export last: a folder, or a path under a file, is refused in one line, first."""
    from stae_ros.cli import main

    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    for export, named in ((tmp_path, "is a folder; give the file to write"),
                          (blocker / "m.pt", f"--export: cannot write {blocker / 'm.pt'}")):
        caplog.clear()
        assert main(["train", "--config", str(ROOT / "config" / "train_tiny.yaml"), "--out", str(tmp_path / "run"),
                     "--export", str(export), "--no-progress"]) == 2
        errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
        assert len(errors) == 1 and named in errors[0], errors
        assert not (tmp_path / "run").exists() or not any((tmp_path / "run").rglob("*.pt"))



def test_a_key_given_twice_is_refused_naming_it(tmp_path) -> None:
    """PyYAML keeps the last of two equal keys without a word; a config refuses them, naming the key and line."""
    from stae_ros.configio import load_yaml

    bad = tmp_path / "twice.yaml"
    bad.write_text("name: a\nstages:\n  classifier:\n    epochs: 2\n    epochs: 3\n")
    with pytest.raises(ConfigError, match=r"twice.yaml is not valid YAML: .*duplicate key 'epochs' at line 5"):
        load_yaml(bad)
    merged = tmp_path / "merge.yaml"  # a merge key's values may be overridden: that is not a duplicate
    merged.write_text("base: &b {lr: 1, epochs: 2}\nstage:\n  <<: *b\n  epochs: 5\n")
    assert load_yaml(merged)["stage"] == {"lr": 1, "epochs": 5}
