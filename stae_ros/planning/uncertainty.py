"""How far the link's next delivery rate may fall from today's estimate.

A deadline planner that trusts one rate number plans as if the next second looked like the last
ones, and a cellular fade proves it wrong exactly when a large payload is in flight. Instead of a
safety factor tuned to some traces, the planner here asks the link itself: every confirmed
message gives one ratio "rate the message actually got / rate the planner would have planned
with when it was sent". The recent ratios are an empirical distribution of the estimate's error
on *this* link (deep and frequent fades give a long lower tail, a steady link a narrow one), and
the planner turns it into a probability that a payload arrives before its deadline.

Until a link has shown enough ratios, a small prior fills in: its pessimistic tail makes a new
controller careful, and its weight fades as real ratios arrive.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

import numpy as np

from .errors import PlanningError

__all__ = ["DEFAULT_PRIOR", "RateRatioModel", "lognormal_prior"]

def lognormal_prior(sigma: float = 0.5, n: int = 20) -> tuple[float, ...]:
    """``n`` evenly spaced quantiles of a log-normal ratio with median 1: an estimate that is right on
    average and off by a factor exp(sigma) one time in three."""
    from statistics import NormalDist

    return tuple(math.exp(sigma * NormalDist().inv_cdf((i + 0.5) / n)) for i in range(n))


#: prior ratios (realised / estimated rate); each counts as one observed message
DEFAULT_PRIOR: tuple[float, ...] = lognormal_prior()


class RateRatioModel:
    """Empirical distribution of realised / estimated delivery rate over the last ``window`` messages."""

    def __init__(self, window: int = 240, prior: Sequence[float] = DEFAULT_PRIOR, max_ratio: float = 20.0) -> None:
        if window < 1:
            raise PlanningError(f"ratio window must be >= 1 message, got {window}")
        if any(not (r > 0 and math.isfinite(r)) for r in prior):
            raise PlanningError(f"prior ratios must be finite and > 0, got {list(prior)}")
        self.window = int(window)
        self.prior = np.asarray(prior, dtype=np.float64)
        self.max_ratio = float(max_ratio)
        self._ratios: deque[float] = deque(maxlen=self.window)

    def observe(self, estimated_bps: float | None, realised_bps: float) -> float | None:
        """Add one message's ratio; returns it (None when there was no estimate to compare with)."""
        if estimated_bps is None or not (estimated_bps > 0) or not math.isfinite(estimated_bps):
            return None
        if not (realised_bps >= 0) or not math.isfinite(realised_bps):
            raise PlanningError(f"realised rate must be finite and >= 0, got {realised_bps}")
        ratio = min(max(realised_bps / estimated_bps, 1e-3), self.max_ratio)
        self._ratios.append(ratio)
        return ratio

    @property
    def n(self) -> int:
        return len(self._ratios)

    def samples(self) -> np.ndarray:
        """The ratios the planner integrates over: the observed ones plus the prior."""
        if not self._ratios:
            return self.prior.copy()
        return np.concatenate([np.fromiter(self._ratios, dtype=np.float64, count=len(self._ratios)), self.prior])

    def quantile(self, q: float) -> float:
        return float(np.quantile(self.samples(), q))

    def reset(self) -> None:
        self._ratios.clear()
