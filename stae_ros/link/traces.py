"""Mahimahi delivery traces: when a cellular link could deliver a 1500-byte packet.

A trace file holds one integer per line, a time in milliseconds from the start of the trace;
each line is one opportunity to deliver one 1500-byte packet (a time repeated n times means n
packets may leave in that millisecond). The trace loops forever with period equal to its last
timestamp, exactly as mahimahi's ``LinkQueue`` wraps its schedule. Capacity over a window is
(opportunities in the window) * 1500 * 8 / window seconds.

Everything here is in seconds at the API (ROS stamps and planners think in seconds) and in
integer milliseconds inside, because that is the resolution of the format.
"""

from __future__ import annotations

import bisect
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .errors import TraceError

__all__ = ["PACKET_BYTES", "DeliveryTrace", "load_trace", "save_trace", "trace_from_rates", "synthetic_fading_trace"]

log = logging.getLogger(__name__)

#: bytes one delivery opportunity can carry (mahimahi's PACKET_SIZE)
PACKET_BYTES = 1500


@dataclass(frozen=True)
class DeliveryTrace:
    """A looping schedule of delivery opportunities.

    ``times_ms`` is non-decreasing, starts at >= 0 and its last value (> 0) is the loop period.
    """

    times_ms: np.ndarray
    name: str = "trace"
    _times_list: list[int] = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        times = np.asarray(self.times_ms, dtype=np.int64)
        if times.ndim != 1 or times.size == 0:
            raise TraceError(f"trace {self.name!r} has no delivery opportunities")
        if times[0] < 0:
            raise TraceError(f"trace {self.name!r} has a negative timestamp {int(times[0])} ms")
        if np.any(np.diff(times) < 0):
            bad = int(np.argmax(np.diff(times) < 0)) + 1
            raise TraceError(
                f"trace {self.name!r} is not sorted: line {bad + 1} ({int(times[bad])} ms) comes after "
                f"{int(times[bad - 1])} ms"
            )
        if times[-1] <= 0:
            raise TraceError(f"trace {self.name!r} must last a nonzero time (its last timestamp is {int(times[-1])} ms)")
        object.__setattr__(self, "times_ms", times)
        object.__setattr__(self, "_times_list", times.tolist())

    # ---- basic facts -------------------------------------------------------------------------
    @property
    def period_ms(self) -> int:
        """Loop period in ms (the last timestamp, as mahimahi wraps)."""
        return int(self.times_ms[-1])

    @property
    def duration_s(self) -> float:
        return self.period_ms / 1000.0

    @property
    def n_opportunities(self) -> int:
        return int(self.times_ms.size)

    def mean_bps(self) -> float:
        """Mean capacity over one loop of the trace, bits per second."""
        return self.n_opportunities * PACKET_BYTES * 8 / self.duration_s

    # ---- the looped schedule -----------------------------------------------------------------
    def opportunity_ms(self, index: int) -> int:
        """Time in ms of the global (looped) opportunity number ``index`` (0-based)."""
        n = self.n_opportunities
        loop, i = divmod(index, n)
        return loop * self.period_ms + self._times_list[i]

    def first_after_ms(self, t_ms: float) -> int:
        """Global index of the first opportunity whose time is strictly after ``t_ms``."""
        if t_ms < 0:
            t_ms = -1
        period = self.period_ms
        loop = int(math.floor(t_ms / period)) if t_ms >= 0 else 0
        within = t_ms - loop * period
        i = bisect.bisect_right(self._times_list, within)
        if i >= self.n_opportunities:
            loop, i = loop + 1, 0
            # the next loop's first opportunity may still not be after t_ms (first line 0, t at the seam)
            i = bisect.bisect_right(self._times_list, t_ms - loop * period)
        return loop * self.n_opportunities + i

    def count_between_ms(self, t0_ms: float, t1_ms: float) -> int:
        """Opportunities with t0 <= time < t1 on the looped schedule."""
        if t1_ms <= t0_ms:
            return 0
        return self.first_after_ms(math.ceil(t1_ms) - 1) - self.first_after_ms(math.ceil(t0_ms) - 1)

    def capacity_bps(self, t0: float, t1: float) -> float:
        """Capacity in bits/s over [t0, t1) seconds of the looped trace."""
        if t1 <= t0:
            raise TraceError(f"capacity window is empty: t0={t0} s, t1={t1} s")
        n = self.count_between_ms(t0 * 1000.0, t1 * 1000.0)
        return n * PACKET_BYTES * 8 / (t1 - t0)

    def windowed_bps(self, window_s: float = 1.0, duration_s: float | None = None) -> np.ndarray:
        """Capacity of consecutive windows (bits/s) over ``duration_s`` (default one loop)."""
        if window_s <= 0:
            raise TraceError(f"window must be > 0 s, got {window_s}")
        duration = self.duration_s if duration_s is None else duration_s
        n_win = max(1, int(duration // window_s))
        edges_ms = np.arange(n_win + 1) * window_s * 1000.0
        counts = np.array([self.count_between_ms(edges_ms[i], edges_ms[i + 1]) for i in range(n_win)])
        return counts * PACKET_BYTES * 8 / window_s

    def percentiles_bps(self, qs: Sequence[float] = (10, 50, 90), window_s: float = 1.0) -> dict[float, float]:
        """Percentiles (0..100) of the windowed capacity over one loop."""
        w = self.windowed_bps(window_s)
        return {float(q): float(np.percentile(w, q)) for q in qs}

    def summary(self) -> dict[str, float]:
        p = self.percentiles_bps((10, 50, 90))
        return {
            "duration_s": self.duration_s,
            "mean_bps": self.mean_bps(),
            "p10_bps": p[10.0],
            "p50_bps": p[50.0],
            "p90_bps": p[90.0],
        }


#: the largest timestamp a trace may hold: far beyond any recording, far below int64 overflow
MAX_TRACE_MS = 10**12


def load_trace(path: str | Path) -> DeliveryTrace:
    """Read a mahimahi trace file; raise TraceError naming the file and line when it is bad."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError as exc:
        raise TraceError(f"trace file not found: {path}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise TraceError(f"cannot read trace file {path}: {exc}") from exc
    values: list[int] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s:
            continue
        try:
            value = int(s)
        except ValueError as exc:
            raise TraceError(f"{path}:{lineno}: expected an integer millisecond timestamp, got {s[:40]!r}") from exc
        if abs(value) > MAX_TRACE_MS:
            raise TraceError(f"{path}:{lineno}: timestamp {s[:40]} ms is beyond {MAX_TRACE_MS} ms (about 31 years)")
        values.append(value)
    if not values:
        raise TraceError(f"trace file {path} is empty")
    try:
        return DeliveryTrace(np.asarray(values, dtype=np.int64), name=path.name)
    except TraceError as exc:
        raise TraceError(f"{path}: {exc}") from exc


def save_trace(trace: DeliveryTrace, path: str | Path) -> Path:
    """Write a trace in mahimahi format (one ms timestamp per line)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(str(int(t)) for t in trace.times_ms) + "\n")
    return path


def trace_from_rates(rates_bps: Iterable[float], step_ms: int = 100, name: str = "synthetic") -> DeliveryTrace:
    """Turn a piecewise-constant rate (one value per ``step_ms``) into delivery opportunities.

    Opportunities are spread evenly inside each step, carrying fractional packets over so the
    long-run rate is exact.
    """
    times: list[int] = []
    carry = 0.0
    rates = list(rates_bps)
    for s, rate in enumerate(rates):
        if rate < 0:
            raise TraceError(f"rate {rate} bps at step {s} is negative")
        pkts = rate * step_ms / 1000.0 / (PACKET_BYTES * 8) + carry
        n = int(pkts)
        carry = pkts - n
        start = s * step_ms
        for j in range(n):
            times.append(start + int((j + 0.5) * step_ms / n))
    end = len(rates) * step_ms
    if not times or times[-1] < end:
        times.append(end)  # the period marker; mahimahi loops at the last timestamp
    return DeliveryTrace(np.asarray(times, dtype=np.int64), name=name)


def synthetic_fading_trace(
    seed: int,
    duration_s: float = 120.0,
    mean_bps: float = 2e6,
    fade_rate_hz: float = 0.05,
    fade_depth: float = 0.1,
    fade_len_s: float = 4.0,
    jitter: float = 0.35,
    step_ms: int = 100,
) -> DeliveryTrace:
    """A random cellular-like trace: log-normal AR(1) rate with deep fades at random times.

    Used so the controller is evaluated on traces it was not tuned on. ``fade_depth`` is the
    rate multiplier inside a fade; fades start as a Poisson process of ``fade_rate_hz``.
    """
    rng = np.random.default_rng(seed)
    n = int(duration_s * 1000 / step_ms)
    rho = 0.95
    z = np.zeros(n)
    for i in range(1, n):
        z[i] = rho * z[i - 1] + math.sqrt(1 - rho * rho) * rng.standard_normal()
    rate = np.exp(jitter * z - 0.5 * jitter * jitter) * mean_bps
    t = 0.0
    dt = step_ms / 1000.0
    i = 0
    while i < n:
        if rng.random() < fade_rate_hz * dt:
            length = max(1, int(rng.exponential(fade_len_s) / dt))
            depth = fade_depth * rng.uniform(0.3, 1.5)
            rate[i : i + length] *= depth
            i += length
        else:
            i += 1
        t += dt
    return trace_from_rates(rate, step_ms=step_ms, name=f"synthetic-fade-s{seed}")
