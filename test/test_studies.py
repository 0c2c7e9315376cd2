"""studies/ (research code outside the package) still imports against the current stae_ros API.

The studies are not installed and no node or command runs them, so nothing else would notice when
a product refactor breaks one of their imports.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STUDY_MODULES = sorted(
    ".".join(p.relative_to(ROOT).with_suffix("").parts)
    for p in (ROOT / "studies").rglob("*.py")
    if p.name != "__init__.py"
)


def test_studies_are_found() -> None:
    assert "studies.roi.evaluate" in STUDY_MODULES and "studies.latent.evaluate" in STUDY_MODULES


@pytest.mark.parametrize("name", STUDY_MODULES)
def test_study_module_imports(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__doc__, f"{name} has no docstring saying what it studies"
