"""Which profile points a camera can actually be switched to, and what a command to it carries.

A profile may hold points of several codecs, points measured with model files that are not
shipped (the payload studies' lambda sweeps), and stae-latent points of other model files than
the one camera and edge share. Choosing one of those would send a budget the camera rejects, so
the controller plans only over the points this returns.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from stae_ros.profiling.schema import OperatingPoint
from stae_ros.resources import codec_model_file

__all__ = ["realisable_points", "settings_text"]


def realisable_points(points: Iterable[OperatingPoint], codec: str | Iterable[str],
                      codec_model: str = "") -> tuple[list[OperatingPoint], dict[str, int]]:
    """(points a camera can realise, counts of the others by reason).

    ``codec``: one mode name, several, or "all" (every registered mode). ``codec_model``: the
    stae-latent model file camera and edge share (only its points are kept).
    """
    from stae_ros.modes.registry import mode_names

    wanted = set(mode_names()) if codec == "all" else {codec} if isinstance(codec, str) else set(codec)
    known = set(mode_names())
    kept: list[OperatingPoint] = []
    skipped: dict[str, int] = {}

    def skip(reason: str) -> None:
        skipped[reason] = skipped.get(reason, 0) + 1

    latent = "stae-latent"
    in_use = codec_model_file(codec_model, latent) if latent in wanted else None
    for pt in points:
        if pt.codec not in known:
            skip(f"unknown mode {pt.codec}")
        elif pt.codec not in wanted:
            skip(f"codec {pt.codec}")
        elif not pt.shipped:
            skip("model file not shipped")
        elif pt.codec == latent and codec_model_file(pt.extra.get("model", ""), latent) != in_use:
            skip("another stae-latent model file")
        else:
            kept.append(pt)
    return kept, skipped


def settings_text(point: OperatingPoint) -> str:
    """BudgetCommand.codec_settings for `point`: its knobs as compact JSON, "" when it has none."""
    knobs = point.codec_settings()
    return json.dumps(knobs, sort_keys=True, separators=(",", ":")) if knobs else ""
