"""The camera's side: hold the newest map and decide, clip by clip, whether it still applies.

Rules (:class:`GuidanceRules`), checked in this order; the first that fails makes the camera use
its own map for that clip:

- refused on arrival (never stored): bytes that do not decode (:func:`~.wire.decode_map`), a map
  for another model id or another mode than the camera runs;
- stale at use: more than ``max_age_clips`` clips or ``max_age_s`` seconds since it arrived, or a
  current clip whose scene signature is farther than ``max_signature_distance`` from the reference.

The reference is the camera's own signature of the last clip it coded before the map arrived (the
map names a clip one or two before that). Why not the signature the map carries: the edge computes
it from the clip it classified, and a stae-roi264 crop (grey outside the window) or a stae-px
recovery at p = 0.1 shifts the mean colours by 0.06-0.10 (median, 50 synthetic test clips), as
much as a different scene does; the map's own signature is used only when the camera has coded no
clip yet. Measured with the camera's signatures (docs/sensitivity.md): the next 8-frame window of the
same Weizmann video differs by at most 0.034, two different synthetic scenes by at least 0.055,
hence the default 0.05.

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
    max_signature_distance: float = 0.05
    weight: float = 2.0
    mix: float = 0.5  #: the best measured on the synthetic set (docs/sensitivity.md)
    scale: str = "max"  #: stae-roi264: read the map as sent ("max") or as shares of its mass ("coverage")
    dilate: int = 0  #: stae-roi264: cells the map is dilated by before mixing
    #: stae-roi264: "linear" ``(1-mix)*own + mix*map`` or "geometric" ``own**(1-mix) * map**mix``
    #: (sensitivity.camera.mix_importance)
    combine: str = "linear"

    def __post_init__(self) -> None:
        if self.max_age_clips < 1 or not self.max_age_s > 0 or not 0 <= self.max_signature_distance <= 1:
            raise SensitivityError("guidance rules need max_age_clips >= 1, max_age_s > 0, signature distance in [0, 1]")
        if not 0 <= self.mix <= 1 or not self.weight >= 0:
            raise SensitivityError("guidance mix must be in [0, 1] and weight >= 0")
        if self.scale not in ("max", "coverage") or not 0 <= self.dilate <= 8:
            raise SensitivityError(f"guidance scale must be 'max' or 'coverage' (got {self.scale!r}), dilate in 0..8")
        if self.combine not in ("linear", "geometric"):
            raise SensitivityError(f"guidance combine must be 'linear' or 'geometric' (got {self.combine!r})")


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
        self.reference: np.ndarray | None = None  #: scene signature the current clip is compared with
        self.last_signature: np.ndarray | None = None  #: the camera's signature of the last clip it saw
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
        last = self.last_signature
        self.reference = last if last is not None and last.shape == m.signature.shape else m.signature
        self.counts["accepted"] += 1
        return None

    def _refuse(self, reason: str) -> str:
        self.counts["refused"] += 1
        self.last_reason = f"refused: {reason}"
        return reason

    def for_clip(self, clip: np.ndarray) -> SensitivityMap | None:
        """The map to use for this clip, or None (the reason in ``last_reason``). Counts the clip."""
        m = self.map
        signature = scene_signature(clip, m.signature.shape[0] if m is not None else 4)
        self.last_signature = signature
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
            ref = self.reference if self.reference is not None else m.signature
            dist = signature_distance(signature, ref)
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
