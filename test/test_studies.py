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


def test_graded_qp_probe_codes_the_less_important_macroblocks_coarser() -> None:
    """The probe's offsets follow the map: a macroblock holding the peak gets none, an empty one the
    whole Q, one at half importance about half; the crop window picks its own macroblocks."""
    import numpy as np

    from stae_ros.roi.codec import RoiCodec, RoiSettings
    from studies.probes.graded_qp_probe import graded_offsets

    imp = np.zeros((4, 8, 8), np.float32)  # 64x64 frames, 8-px blocks: 4x4 macroblocks
    imp[:, 0:2, 0:2] = 1.0  # macroblock (0, 0)
    imp[:, 2:4, 2:4] = 0.5  # macroblock (1, 1)
    codec = RoiCodec(RoiSettings(region_qp=20))
    off = graded_offsets(codec, imp, 64, 64)
    assert off.shape == (4, 4)
    assert off[0, 0] == 0 and off[1, 1] == 10 and off[3, 3] == 20
    assert graded_offsets(codec, imp, 64, 64, (16, 16, 32, 32)).tolist() == [[10, 20], [20, 20]]
    assert graded_offsets(RoiCodec(RoiSettings(region_qp=0)), imp, 64, 64) is None
