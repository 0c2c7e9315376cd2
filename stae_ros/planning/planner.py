"""Pick the operating point (codec, K, p) that is most accurate and still meets the deadline.

Completion time of a clip at an operating point is the paper's: camera compute + bytes / rate +
edge compute (plus whatever is already queued ahead of it on the link). The planner keeps a safety
``margin`` (plan for deadline * (1 - margin)) and hysteresis: it steps down at once when the
current point stops fitting, but steps up only when a better point fits with ``hysteresis`` extra
slack for ``up_hold`` consecutive decisions, so one optimistic sample does not make it flap.

With a clip stream (``period_s`` = seconds between clips) a point must also be sustainable: its
transmission time bytes / rate must stay below ``max_utilization`` * period, or every clip queues
behind the last one and completion grows without bound even though each clip alone would fit.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from ..profiling.schema import OperatingPoint, Profile
from .errors import PlanningError

__all__ = ["Decision", "Planner"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decision:
    point: OperatingPoint
    predicted_s: float  #: predicted completion time of a clip at this point
    feasible: bool  #: predicted_s fits the planning budget deadline * (1 - margin)
    reason: str


def _label(pt: OperatingPoint) -> str:
    return f"{pt.codec} K={pt.k} p={pt.p:g}"


class Planner:
    """Deadline-aware choice over a profile's operating points."""

    def __init__(
        self,
        profile: Profile,
        deadline_s: float,
        margin: float = 0.1,
        hysteresis: float = 0.15,
        up_hold: int = 2,
        use_p95_bytes: bool = False,
        period_s: float | None = None,
        max_utilization: float = 0.6,
    ) -> None:
        if not deadline_s > 0:
            raise PlanningError(f"deadline must be > 0 s, got {deadline_s}")
        if not 0.0 <= margin < 1.0:
            raise PlanningError(f"margin must be in [0, 1), got {margin}")
        if not 0.0 <= hysteresis < 1.0:
            raise PlanningError(f"hysteresis must be in [0, 1), got {hysteresis}")
        if not profile.points:
            raise PlanningError("profile has no operating points")
        self.profile = profile
        self.deadline_s = deadline_s
        self.margin = margin
        self.hysteresis = hysteresis
        self.up_hold = max(1, up_hold)
        self.use_p95_bytes = use_p95_bytes
        if period_s is not None and not period_s > 0:
            raise PlanningError(f"period must be > 0 s or None, got {period_s}")
        if not 0.0 < max_utilization <= 1.0:
            raise PlanningError(f"max_utilization must be in (0, 1], got {max_utilization}")
        self.period_s = period_s
        self.max_utilization = max_utilization
        # most accurate first; among equals the cheaper one
        self.points = sorted(profile.points, key=lambda p: (-p.accuracy, p.bytes_mean, p.camera_ms + p.edge_ms))
        self.current: OperatingPoint | None = None
        self._up_count = 0

    @property
    def budget_s(self) -> float:
        return self.deadline_s * (1.0 - self.margin)

    def predict(self, pt: OperatingPoint, rate_bps: float, camera_scale: float = 1.0, edge_scale: float = 1.0, queue_s: float = 0.0) -> float:
        nbytes = pt.bytes_p95 if self.use_p95_bytes else pt.bytes_mean
        if rate_bps <= 0 or not math.isfinite(rate_bps):
            link = math.inf if rate_bps <= 0 else 0.0
        else:
            link = nbytes * 8.0 / rate_bps
        return (pt.camera_ms * camera_scale + pt.edge_ms * edge_scale) / 1000.0 + queue_s + link

    def _link_s(self, pt: OperatingPoint, rate_bps: float) -> float:
        nbytes = pt.bytes_p95 if self.use_p95_bytes else pt.bytes_mean
        return math.inf if rate_bps <= 0 else nbytes * 8.0 / rate_bps

    def _fits(self, pt: OperatingPoint, pred_s: float, rate_bps: float, budget_s: float) -> bool:
        if pred_s > budget_s:
            return False
        return self.period_s is None or self._link_s(pt, rate_bps) <= self.max_utilization * self.period_s

    def fastest(self, rate_bps: float, camera_scale: float = 1.0, edge_scale: float = 1.0) -> OperatingPoint:
        return min(self.points, key=lambda p: (self.predict(p, rate_bps, camera_scale, edge_scale), -p.accuracy))

    def choose(self, rate_bps: float | None, camera_scale: float = 1.0, edge_scale: float = 1.0, queue_s: float = 0.0) -> Decision:
        """Decide for the next clip. ``rate_bps`` None (no measurement yet) picks the fastest point."""
        budget = self.budget_s
        if rate_bps is None:
            pt = self.fastest(1.0, camera_scale, edge_scale)
            self.current, self._up_count = pt, 0
            return Decision(pt, math.inf, False, "no rate measured yet: starting at the smallest payload")
        pred = {id(p): self.predict(p, rate_bps, camera_scale, edge_scale, queue_s) for p in self.points}
        best = next((p for p in self.points if self._fits(p, pred[id(p)], rate_bps, budget)), None)
        rate_txt = f"{rate_bps / 1e6:.2f} Mbps"
        if best is None:
            pt = min(self.points, key=lambda p: (pred[id(p)], -p.accuracy))
            self.current, self._up_count = pt, 0
            return Decision(pt, pred[id(pt)], False, f"nothing fits {budget:.3f} s at {rate_txt}: fastest point {_label(pt)}")
        cur = self.current
        if cur is None or cur not in self.points or not self._fits(cur, pred[id(cur)], rate_bps, budget):
            why = "start" if cur is None else f"{_label(cur)} no longer fits ({pred[id(cur)]:.3f} s)" if cur in self.points else "start"
            self.current, self._up_count = best, 0
            return Decision(best, pred[id(best)], True, f"{why}: {_label(best)} fits {budget:.3f} s at {rate_txt}")
        if best.accuracy <= cur.accuracy:
            self._up_count = 0
            if best is not cur and best.accuracy == cur.accuracy and pred[id(best)] < pred[id(cur)]:
                self.current = best
                return Decision(best, pred[id(best)], True, f"same accuracy, cheaper: {_label(best)}")
            return Decision(cur, pred[id(cur)], True, f"keep {_label(cur)} at {rate_txt}")
        # a more accurate point fits: step up only with extra slack, held for up_hold decisions
        up = next(
            (p for p in self.points if p.accuracy > cur.accuracy and self._fits(p, pred[id(p)] / (1.0 - self.hysteresis), rate_bps, budget)),
            None,
        )
        if up is None:
            self._up_count = 0
            return Decision(cur, pred[id(cur)], True, f"keep {_label(cur)}: better points fit only without hysteresis slack")
        self._up_count += 1
        if self._up_count < self.up_hold:
            return Decision(cur, pred[id(cur)], True, f"keep {_label(cur)}: {_label(up)} fits, waiting {self._up_count}/{self.up_hold}")
        self.current, self._up_count = up, 0
        return Decision(up, pred[id(up)], True, f"step up to {_label(up)} ({pred[id(up)]:.3f} s) at {rate_txt}")

    def oracle(self, completion_s: dict[int, float]) -> OperatingPoint:
        """Most accurate point whose *actual* completion (by id(point)) meets the deadline, else fastest."""
        ok = [p for p in self.points if completion_s[id(p)] <= self.deadline_s]
        if ok:
            return ok[0]
        return min(self.points, key=lambda p: completion_s[id(p)])
