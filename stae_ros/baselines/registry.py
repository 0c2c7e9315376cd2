"""Codec specs (JSON dicts) <-> codec objects, and the default operating-point sweeps.

A spec is what a child process needs to rebuild the same codec for timing and memory
measurements, and what the JSON report records for every row.
"""

from __future__ import annotations

from typing import Any, Iterable

from .base import ClipCodec
from .errors import UnknownCodecError
from .jpeg import JpegCodec
from .raw import RawCodec
from .video import H264Codec, H265Codec

__all__ = ["make_codec", "classic_sweep", "semantic_sweep", "CLASSIC_FAMILIES", "SEMANTIC_POINTS", "LAYOUT_POINTS"]

CLASSIC_FAMILIES = ("raw", "jpeg", "h264", "h265")


def make_codec(spec: dict[str, Any], loaded: Any = None) -> ClipCodec:
    """Build the codec a spec describes; ``loaded`` (a LoadedModel) saves re-reading the checkpoint."""
    family = spec.get("family")
    params = {k: v for k, v in spec.items() if k != "family"}
    if family == "raw":
        return RawCodec()
    if family == "jpeg":
        return JpegCodec(**params)
    if family == "h264":
        return H264Codec(**params)
    if family == "h265":
        return H265Codec(**params)
    if family == "semantic":
        from .semantic import SelectionCodec

        return SelectionCodec(loaded=loaded, **params)
    if family == "external":
        from .external import ExternalCodec

        return ExternalCodec(loaded=loaded, **params)
    raise UnknownCodecError(f"unknown codec family {family!r} in spec {spec}; known: raw, jpeg, h264, h265, semantic, external")


def classic_sweep(tiny: bool = False) -> list[dict[str, Any]]:
    """Specs of the codecs robots stream today, at the operating points the bench compares."""
    if tiny:
        return [{"family": "raw"}, {"family": "jpeg", "quality": 50},
                {"family": "h264", "crf": 30, "preset": "ultrafast"}, {"family": "h265", "crf": 30, "preset": "ultrafast"}]
    specs: list[dict[str, Any]] = [{"family": "raw"}]
    specs += [{"family": "jpeg", "quality": q} for q in (90, 50, 15)]
    specs += [{"family": "h264", "crf": c, "preset": "ultrafast"} for c in (28, 38)]
    specs += [{"family": "h264", "crf": c, "preset": "medium"} for c in (18, 23, 28, 33, 38, 43, 48)]
    specs += [{"family": "h265", "crf": c, "preset": "ultrafast"} for c in (30, 40)]
    specs += [{"family": "h265", "crf": c, "preset": "medium"} for c in (28, 36, 44)]
    return specs


#: (K, p) of the full sweep: K=16 / K=8 at p=0.05 and K=16 at p=0.1 are the high-compression points of
#: the core issue's target (>= 104x fewer bytes than the float32 clip within 5 points of full budget)
SEMANTIC_POINTS: tuple[tuple[int, float], ...] = ((16, 0.1), (16, 0.05), (8, 0.25), (8, 0.1), (8, 0.05), (4, 0.1), (4, 0.05))
#: the points also sent with the camera node's fixed ``fast`` layout and the lossy WebP layout
LAYOUT_POINTS: tuple[tuple[int, float], ...] = ((16, 0.05), (8, 0.25), (4, 0.05))


def semantic_sweep(checkpoint: str, tiny: bool = False,
                   points: Iterable[tuple[int, float]] | None = None, frames: int | None = None) -> list[dict[str, Any]]:
    """Specs of the paper's selections (FA, FA+random, FA+SA, STAE) at (K, p) budgets.

    ``frames`` (the model's clip length) drops the points with K > frames; FA alone (all pixels
    of K frames) is swept only at K < frames, since K = frames with every pixel is the raw clip.
    """
    if points is None:
        points = [(4, 0.25)] if tiny else list(SEMANTIC_POINTS)
    points = [(int(k), float(p)) for k, p in points if frames is None or k <= frames]
    few = points[:1] if tiny else [pt for pt in LAYOUT_POINTS if pt in points] or points[-1:]
    t = frames if frames is not None else max((k for k, _ in points), default=0)
    fa_ks = sorted({k for k, _ in points if k < t} or {k for k, _ in points}, reverse=True)
    specs: list[dict[str, Any]] = [
        {"family": "semantic", "mode": "fa", "k": k, "p": 1.0, "checkpoint": checkpoint} for k in fa_ks
    ]
    for mode in ("fa_random", "fa_sa", "stae"):
        specs += [{"family": "semantic", "mode": mode, "k": k, "p": p, "checkpoint": checkpoint} for k, p in points]
    # the camera node's default layout (fixed, no search: cheapest to encode) and the codec
    # work's best lossy layout (kept values as a WebP image), on the full method
    specs += [{"family": "semantic", "mode": "stae", "k": k, "p": p, "checkpoint": checkpoint, "layout": "fast"} for k, p in few]
    # what the camera node sends by default: the fast layout with 6-bit values (config/camera.yaml value_bits)
    specs += [{"family": "semantic", "mode": "stae", "k": k, "p": p, "checkpoint": checkpoint, "layout": "fast", "bits": 6}
              for k, p in few]
    specs += [{"family": "semantic", "mode": "stae", "k": k, "p": p, "checkpoint": checkpoint,
               "layout": "auto+webp", "quality": 50} for k, p in few]
    return specs
