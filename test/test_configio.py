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
