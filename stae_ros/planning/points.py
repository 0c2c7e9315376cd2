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


def realisable_points(points: Iterable[OperatingPoint], codec: str,
                      codec_model: str = "") -> tuple[list[OperatingPoint], dict[str, int]]:
    """(points of `codec` a camera with `codec_model` can realise, counts of the others by reason)."""
    kept: list[OperatingPoint] = []
    skipped: dict[str, int] = {}

    def skip(reason: str) -> None:
        skipped[reason] = skipped.get(reason, 0) + 1

    in_use = codec_model_file(codec_model, codec) if codec == "stae-latent" else None
    for pt in points:
        if pt.codec != codec:
            skip(f"codec {pt.codec}")
        elif not pt.shipped:
            skip("model file not shipped")
        elif in_use is not None and codec_model_file(pt.extra.get("model", ""), codec) != in_use:
            skip("another stae-latent model file")
        else:
            kept.append(pt)
    return kept, skipped


def settings_text(point: OperatingPoint) -> str:
    """BudgetCommand.codec_settings for `point`: its knobs as compact JSON, "" when it has none."""
    knobs = point.codec_settings()
    return json.dumps(knobs, sort_keys=True, separators=(",", ":")) if knobs else ""
