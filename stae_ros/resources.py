"""Finding the package's shipped files (models, profiles, config) wherever stae_ros is installed.

One lookup for every caller (nodes, `stae bag`, the pipelines), so a colcon install, a pip install
and a source checkout all resolve an empty path parameter to the same default file.
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["PACKAGE", "find_data_file"]

PACKAGE = "stae_ros"
_REPO_ROOT = Path(__file__).resolve().parents[1]


def _share_dirs() -> list[Path]:
    dirs = []
    try:  # a ROS install: the ament index knows share/stae_ros (no rclpy needed)
        from ament_index_python.packages import get_package_share_directory

        dirs.append(Path(get_package_share_directory(PACKAGE)))
    except Exception:  # noqa: BLE001 - no ament index, or the package is not in it
        pass
    dirs.append(Path(sys.prefix) / "share" / PACKAGE)  # pip's data_files
    return dirs


def find_data_file(value: str | Path | None, default_rel: str) -> Path:
    """The file a path parameter names; empty = the packaged `default_rel` (installed share dirs,
    then the source checkout). Returns the first existing candidate, else the checkout path so an
    error message names a sensible place."""
    if value:
        return Path(value).expanduser()
    candidates = [d / default_rel for d in _share_dirs()] + [_REPO_ROOT / default_rel]
    for cand in candidates:
        if cand.is_file():
            return cand
    return candidates[-1]
