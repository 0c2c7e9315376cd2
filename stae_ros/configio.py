"""Load YAML configuration files into plain dicts, with errors that say what is wrong.

Every `stae` subcommand that takes ``--config`` goes through here, so a typo in a key or a missing
file fails at start-up with the file name and the offending key, not deep inside training.
"""

from __future__ import annotations

import copy
import difflib
from pathlib import Path
from typing import Any, Iterable, Mapping

from .errtext import exc_line, not_text

__all__ = ["ConfigError", "load_yaml", "check_keys", "deep_merge", "typed_fields", "typed_value"]


class ConfigError(ValueError):
    """A configuration file is missing, is not valid YAML, or has unknown / missing keys."""


def _unique_key_loader() -> type:
    """yaml.SafeLoader that refuses a key given twice in one mapping: PyYAML keeps the last silently, so a
    pasted section or a typo'd duplicate would change a run without a word."""
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":  # '<<': its keys may be overridden, by design
                    continue
                key = self.construct_object(key_node, deep=deep)
                try:
                    duplicate = key in seen
                except TypeError:  # an unhashable key: the base constructor refuses it with its own error
                    break
                if duplicate:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark, f"found duplicate key {key!r}", key_node.start_mark)
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    return UniqueKeyLoader


def load_yaml(path: str | Path, allowed: Iterable[str] | None = None, required: Iterable[str] = ()) -> dict[str, Any]:
    """Read ``path`` as a YAML mapping; optionally check its top-level keys.

    ``allowed``: when given, any other top-level key raises ConfigError (with a close-match hint).
    ``required``: keys that must be present.
    """
    import yaml

    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {path}") from exc
    except IsADirectoryError as exc:
        raise ConfigError(f"config path is a directory, not a YAML file: {path}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config {path} is {not_text(exc)}") from exc
    except OSError as exc:
        raise ConfigError(f"config {path} cannot be read: {exc.strerror or exc}") from exc
    try:
        data = yaml.load(text, Loader=_unique_key_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigError(f"config {path} is not valid YAML: {exc_line(exc)}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"config {path} must be a YAML mapping at top level, got {type(data).__name__}")
    if allowed is not None:
        check_keys(data, allowed, where=str(path))
    missing = [key for key in required if key not in data]
    if missing:
        raise ConfigError(f"config {path} is missing required key(s): {', '.join(missing)}")
    return data


def check_output_file(path: str | Path, where: str) -> None:
    """A file a run will write at its end (an export): refuse now a target that is a folder or whose folder
    cannot be made or written, so the mistake costs a second, not a whole training run. The folder is made
    now (the export would make it anyway)."""
    import os

    target = Path(path).expanduser()
    if target.is_dir():
        raise ConfigError(f"{where}: {target} is a folder; give the file to write")
    folder = target.resolve().parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{where}: cannot write {target}: {exc.strerror or exc} ({folder})") from exc
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"{where}: cannot write {target}: {folder} is not writable")


def check_keys(data: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    """Raise ConfigError naming every key of ``data`` that is not in ``allowed``."""
    allowed = list(allowed)
    unknown = [key for key in data if key not in allowed]
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise ConfigError(f"{where}: unknown key(s) {', '.join(hints)}; allowed: {', '.join(sorted(allowed))}")


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``base`` with ``override`` merged in recursively (override wins); inputs are not changed."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _type_name(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def typed_value(value: Any, annotation: Any, where: str) -> Any:
    """``value`` checked against a dataclass field's annotation (int, float, bool, str, dict, list, their
    ``| None`` and ``Union`` forms); ConfigError naming ``where`` and the expected type otherwise.

    YAML already gives numbers and booleans their types, so nothing is coerced except an int where a
    float is wanted: ``epochs: abc`` or ``lr: fast`` fail here, before any work starts, instead of
    as a TypeError deep inside training.
    """
    import math
    import types
    import typing

    if annotation is Any or isinstance(annotation, str):
        return value
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(annotation):
            try:
                return typed_value(value, option, where)
            except ConfigError:
                continue
        names = " or ".join(_type_name(typing.get_origin(a) or a) for a in typing.get_args(annotation))
        raise ConfigError(f"{where} must be {names}, got {value!r}")
    if annotation is type(None):
        if value is None:
            return None
        raise ConfigError(f"{where} must be empty, got {value!r}")
    base = origin or annotation
    if base is bool:
        if isinstance(value, bool):
            return value
    elif base is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif base is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    elif base is str:
        if isinstance(value, str):
            return value
    elif base in (dict, list, tuple):
        if isinstance(value, (list, tuple) if base in (list, tuple) else dict):
            return value
    else:
        return value  # a type configs do not hold (nested dataclasses are checked where they are built)
    kind = {dict: "a mapping", list: "a list", tuple: "a list", bool: "true or false", int: "an integer",
            float: "a finite number", str: "a string"}[base]
    raise ConfigError(f"{where} must be {kind}, got {value!r}")


def typed_fields(cls: type, data: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``data`` with every key checked against the dataclass ``cls``'s field annotation (see typed_value)."""
    import typing

    hints = typing.get_type_hints(cls)  # resolves postponed (string) annotations in cls's module
    return {key: typed_value(value, hints[key], f"{where}.{key}") if key in hints else value
            for key, value in data.items()}
