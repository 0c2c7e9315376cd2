"""Finding the package's shipped files (models, profiles, config) wherever stae_ros is installed.

One lookup for every caller (nodes, `stae bag`, the pipelines), so a colcon install, a pip install
and a source checkout all resolve an empty path parameter to the same default file.
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["PACKAGE", "DEFAULT_CODEC_MODELS", "find_data_file", "find_data_dir", "shipped_file", "named_or_shipped",
           "codec_model_file"]

PACKAGE = "stae_ros"
_REPO_ROOT = Path(__file__).resolve().parents[1]
#: the shipped model file of each model-backed codec (relative to the checkout / share/stae_ros)
DEFAULT_CODEC_MODELS = {"stae-latent": "models/stae_latent_default.pt", "stae-roi264": "models/stae_roi264_default.pt"}
#: folders of shipped files; a relative path under one of them may name the packaged file
_SHIPPED_DIRS = ("models/", "profiles/", "config/")


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


def find_data_dir(rel: str) -> Path:
    """The packaged folder ``rel`` (e.g. ``models``): installed share dirs first, then the checkout's."""
    candidates = [d / rel for d in _share_dirs()] + [_REPO_ROOT / rel]
    return next((cand for cand in candidates if cand.is_dir()), candidates[-1])


def shipped_file(value: str | Path) -> Path:
    """``value`` as given, unless it is a relative ``models/``, ``profiles/`` or ``config/`` path
    that is not under the current directory: then the packaged file of that name, where there is one.

    The commands' defaults and the profiles name shipped files that way, so `stae profile` or
    `stae bench controller` run outside a checkout finds the installed files instead of failing
    on a path that only exists at the repository root. A file under the current directory wins.
    """
    text = str(value)
    path = Path(text).expanduser()
    if path.is_absolute() or not text.startswith(_SHIPPED_DIRS) or path.exists():
        return path
    packaged = find_data_file("", text)
    return packaged if packaged.is_file() else path


def named_or_shipped(value: str | Path | None, default_rel: str) -> Path:
    """The file a model option names (:func:`shipped_file`), or the packaged ``default_rel`` when it
    names none."""
    return shipped_file(value) if value else find_data_file("", default_rel)


def codec_model_file(value: str | Path | None, codec: str) -> Path:
    """The model file a codec_model parameter or a profile point's ``model`` names, resolved.

    Empty = the codec's shipped file. A relative ``models/...`` that is not under the current
    directory is the packaged file of that name (profiles record shipped models that way), so a
    node started anywhere compares the same files.
    """
    return named_or_shipped(str(value or ""), DEFAULT_CODEC_MODELS.get(codec, "")).resolve()
