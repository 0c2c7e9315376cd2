"""The camera's side: hold the newest map and decide, clip by clip, whether it still applies.

Rules (:class:`GuidanceRules`), checked in this order; the first that fails makes the camera use
its own map for that clip:

- refused on arrival (never stored): bytes that do not decode (:func:`~.wire.decode_map`), a map
  for another model id or another mode than the camera runs;
- stale at use: more than ``max_age_clips`` clips or ``max_age_s`` seconds since it arrived, or a
  scene signature farther than ``max_signature_distance`` from the current clip's.

Why keep a refused map's predecessor: a corrupt map says nothing about the good one before it,
which is still as fresh as it was. Why count clips *and* seconds: a stalled camera (no clips)
must not wake up steered by an old map, and a fast one must not use a map the edge made many
clips ago.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from .errors import SensitivityError
from .map import SensitivityMap, scene_signature, signature_distance
from .wire import decode_map

__all__ = ["GuidanceRules", "GuidanceSlot", "supports_guidance"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GuidanceRules:
    """When a received map stops applying, and how strongly it steers (``weight`` for stae-px's SA
    logits, ``mix`` for stae-roi264's importance map: 1 = the map replaces the camera's own)."""

    max_age_clips: int = 12
    max_age_s: float = 5.0
    max_signature_distance: float = 0.08
    weight: float = 2.0
    mix: float = 1.0
    scale: str = "max"  #: stae-roi264: read the map as sent ("max") or as shares of its mass ("coverage")
    dilate: int = 0  #: stae-roi264: cells the map is dilated by before mixing

    def __post_init__(self) -> None:
        if self.max_age_clips < 1 or not self.max_age_s > 0 or not 0 <= self.max_signature_distance <= 1:
            raise SensitivityError("guidance rules need max_age_clips >= 1, max_age_s > 0, signature distance in [0, 1]")
        if not 0 <= self.mix <= 1 or not self.weight >= 0:
            raise SensitivityError("guidance mix must be in [0, 1] and weight >= 0")
        if self.scale not in ("max", "coverage") or not 0 <= self.dilate <= 8:
            raise SensitivityError(f"guidance scale must be 'max' or 'coverage' (got {self.scale!r}), dilate in 0..8")


class GuidanceSlot:
    """The newest accepted map of one camera mode, with its arrival time and the clips since."""

    def __init__(self, model_id: str, mode: str, rules: GuidanceRules | Mapping[str, Any] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.model_id, self.mode = model_id, mode
        if isinstance(rules, Mapping):
            try:
                rules = GuidanceRules(**rules)
            except TypeError as exc:
                raise SensitivityError(f"guidance rules: {exc}") from exc
        self.rules = rules or GuidanceRules()
        self.clock = clock
        self.map: SensitivityMap | None = None
        self.received_at = 0.0
        self.clips_since = 0
        self.last_reason = "no map received"
        self.counts = {"accepted": 0, "refused": 0, "used": 0, "ignored": 0}

    def offer(self, data: bytes | SensitivityMap | None, rules: GuidanceRules | None = None) -> str | None:
        """Take a map (wire bytes or decoded; None forgets the one held) and, if given, new rules;
        None when accepted, else the one-line reason it was refused (the map held stays)."""
        if rules is not None:
            self.rules = rules
        if data is None:
            self.map, self.last_reason = None, "map dropped"
            return None
        try:
            m = data if isinstance(data, SensitivityMap) else decode_map(data)
        except SensitivityError as exc:
            return self._refuse(str(exc))
        if m.model_id != self.model_id:
            return self._refuse(f"map made for model {m.model_id!r}; this camera runs {self.model_id!r}")
        if m.mode and m.mode != self.mode:
            return self._refuse(f"map made for mode {m.mode!r}; this camera runs {self.mode!r}")
        self.map, self.received_at, self.clips_since = m, self.clock(), 0
        self.counts["accepted"] += 1
        return None

    def _refuse(self, reason: str) -> str:
        self.counts["refused"] += 1
        self.last_reason = f"refused: {reason}"
        return reason

    def for_clip(self, clip: np.ndarray) -> SensitivityMap | None:
        """The map to use for this clip, or None (the reason in ``last_reason``). Counts the clip."""
        m = self.map
        if m is None:
            self.counts["ignored"] += 1
            return None
        self.clips_since += 1
        r = self.rules
        age_s = self.clock() - self.received_at
        if self.clips_since > r.max_age_clips:
            reason = f"stale: {self.clips_since} clips since it arrived (> {r.max_age_clips})"
        elif age_s > r.max_age_s:
            reason = f"stale: {age_s:.1f} s since it arrived (> {r.max_age_s:g} s)"
        else:
            dist = signature_distance(scene_signature(clip, m.signature.shape[0]), m.signature)
            reason = (f"stale: scene changed (signature distance {dist:.3f} > {r.max_signature_distance:g})"
                      if dist > r.max_signature_distance else "")
        if reason:
            self.last_reason = reason
            self.counts["ignored"] += 1
            return None
        self.last_reason = f"using the map of clip {m.seq}"
        self.counts["used"] += 1
        return m

    def status(self) -> dict[str, Any]:
        return dict(self.counts, last=self.last_reason)


def supports_guidance(mode: Any) -> bool:
    """Whether a camera mode takes sensitivity maps (implements ``set_guidance(bytes | None, rules=None) ->
    reason | None``)."""
    return callable(getattr(mode, "set_guidance", None))
