"""What the link and the two computers are doing now, from per-message measurements only.

The controller sees one LinkStats per clip: payload bytes, the camera's send stamp and the edge's
receive stamp. ``RateEstimator`` turns those into a delivery rate the planner can divide bytes by:
an EWMA, which follows the rate quickly, and beside it how wrong that EWMA has been on this link
(``ratios``, realised / estimated rate of every message), which the planner turns into a
probability of meeting the deadline. A low quantile over a sliding window (``conservative_bps``)
is kept for callers that want one pessimistic number instead of a distribution.

A per-message rate is bits / busy time, where busy time starts when the message was sent or when
the previous message finished arriving, whichever is later: a message queued behind another one
was not slowed down by the link being slow but by its predecessor (the usual delivery-rate
estimate of BBR-style congestion control).
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from .errors import PlanningError
from .uncertainty import RateRatioModel

__all__ = ["PACKET_BYTES", "RateEstimator", "RateSample", "ComputeEstimator", "LatencyEstimator", "LinkMonitor", "wire_bits"]

log = logging.getLogger(__name__)

#: the link's delivery unit (an Ethernet MTU, as mahimahi's traces count them)
PACKET_BYTES = 1500


def wire_bits(nbytes: float, packet_bytes: int | None = PACKET_BYTES) -> float:
    """Bits a message occupies on the link: whole packets of ``packet_bytes`` (None: exactly its bytes).

    A link delivers packets, one per delivery opportunity, so a 113-byte message costs the link as
    long as a 1,500-byte one. Measuring and planning in payload bits instead makes every small
    message look like a slow link: its busy time is the wait for the next opportunity, not its
    size over the rate, and its ratio (a tenth of a large message's on the same link) then tells
    the planner that large payloads would be ten times slower than they are.
    """
    if packet_bytes is None or nbytes <= 0:
        return float(nbytes) * 8.0
    return max(float(nbytes), float(packet_bytes)) * 8.0


@dataclass(frozen=True)
class RateSample:
    bytes: int
    sent_s: float
    received_s: float
    rate_bps: float


class RateEstimator:
    """EWMA + low-quantile estimate of the link's delivery rate (bits/s)."""

    def __init__(
        self,
        alpha: float = 0.3,
        window: int = 10,
        quantile: float = 0.2,
        base_delay_s: float = 0.0,
        min_interval_s: float = 0.001,
        prior_bps: float | None = None,
        ratios: RateRatioModel | None = None,
        packet_bytes: int | None = PACKET_BYTES,
    ) -> None:
        if packet_bytes is not None and packet_bytes < 1:
            raise PlanningError(f"packet size must be >= 1 byte or None, got {packet_bytes}")
        if not 0.0 < alpha <= 1.0:
            raise PlanningError(f"alpha must be in (0, 1], got {alpha}")
        if window < 1:
            raise PlanningError(f"window must be >= 1 sample, got {window}")
        if not 0.0 <= quantile <= 1.0:
            raise PlanningError(f"quantile must be in [0, 1], got {quantile}")
        self.alpha = alpha
        self.quantile = quantile
        self.base_delay_s = base_delay_s
        self.min_interval_s = min_interval_s
        self.prior_bps = prior_bps
        #: rates are bits of whole packets per second (:func:`wire_bits`); None: payload bits
        self.packet_bytes = packet_bytes
        #: realised / estimated rate of each message: how wrong this estimator has been on this link
        self.ratios = ratios if ratios is not None else RateRatioModel()
        self._samples: deque[float] = deque(maxlen=window)
        self._ewma: float | None = None
        self._last_received: float = -math.inf
        self.n = 0

    def observe(self, nbytes: int, sent_s: float, received_s: float) -> RateSample:
        """Add one message (payload bytes, send and receive stamps in seconds)."""
        if nbytes < 0:
            raise PlanningError(f"message size must be >= 0, got {nbytes}")
        if not (math.isfinite(sent_s) and math.isfinite(received_s)):
            raise PlanningError(f"stamps must be finite, got sent={sent_s} received={received_s}")
        start = max(sent_s + self.base_delay_s, self._last_received)
        busy = max(received_s - start, self.min_interval_s)
        # a message that found the link idle occupied whole packets; one queued behind another shares
        # its first packet with the predecessor's leftover, so its bytes are what it cost
        alone = sent_s + self.base_delay_s >= self._last_received
        rate = (wire_bits(nbytes, self.packet_bytes) if alone else nbytes * 8.0) / busy
        self.ratios.observe(self.ewma_bps if self.n else None, rate)
        self._last_received = max(self._last_received, received_s)
        self._samples.append(rate)
        self._ewma = rate if self._ewma is None else self.alpha * rate + (1 - self.alpha) * self._ewma
        self.n += 1
        return RateSample(nbytes, sent_s, received_s, rate)

    @property
    def ewma_bps(self) -> float | None:
        return self._ewma if self._ewma is not None else self.prior_bps

    @property
    def quantile_bps(self) -> float | None:
        if not self._samples:
            return self.prior_bps
        return float(np.quantile(np.asarray(self._samples), self.quantile))

    @property
    def conservative_bps(self) -> float | None:
        """min(EWMA, low quantile): the rate the planner should plan with; None before any sample."""
        vals = [v for v in (self.ewma_bps, self.quantile_bps) if v is not None]
        return min(vals) if vals else None

    def reset(self) -> None:
        self._samples.clear()
        self.ratios.reset()
        self._ewma = None
        self._last_received = -math.inf
        self.n = 0


class ComputeEstimator:
    """How much slower (or faster) a host runs than the profile says: EWMA of measured/profile ms.

    The profile was measured on one machine; the robot's camera or a busy edge differ. The planner
    multiplies profile ms by this scale, so one estimator per side (camera, edge).
    """

    def __init__(self, alpha: float = 0.2, initial_scale: float = 1.0, min_scale: float = 0.05, max_scale: float = 100.0) -> None:
        if not 0.0 < alpha <= 1.0:
            raise PlanningError(f"alpha must be in (0, 1], got {alpha}")
        self.alpha = alpha
        self.min_scale, self.max_scale = min_scale, max_scale
        self._scale = float(initial_scale)
        self.n = 0

    def observe(self, measured_ms: float, profile_ms: float) -> float:
        """Add one measurement of an operating point whose profile says ``profile_ms``; new scale."""
        if measured_ms < 0 or not math.isfinite(measured_ms):
            raise PlanningError(f"measured time must be a finite value >= 0 ms, got {measured_ms}")
        if profile_ms <= 0:
            return self._scale  # nothing to scale against
        ratio = min(max(measured_ms / profile_ms, self.min_scale), self.max_scale)
        self._scale = ratio if self.n == 0 else self.alpha * ratio + (1 - self.alpha) * self._scale
        self.n += 1
        return self._scale

    @property
    def scale(self) -> float:
        return self._scale


#: the name CONTRACTS.md uses
LatencyEstimator = ComputeEstimator


class LinkMonitor:
    """The camera-side view of the link: what it sent, what the edge confirmed, what is still out.

    Wraps a :class:`RateEstimator` fed with confirmations (LinkStats) and adds two things only the
    sender knows (:meth:`outlook` hands both to the planner):

    * *no news is bad news*: if the oldest unconfirmed message (everything before it is confirmed)
      has been out for ``elapsed`` seconds beyond the base and feedback delays, the link delivered
      fewer than its bytes in that time, so the rate is below bytes*8/elapsed. This reacts to a
      fade one clip period after it starts instead of after the first slow confirmation arrives;
    * the queue ahead of a new clip: unconfirmed messages replayed at the current rate estimate.
    """

    def __init__(self, estimator: RateEstimator | None = None, feedback_delay_s: float = 0.0, lost_after_s: float = 30.0,
                 stale_after_s: float = 5.0) -> None:
        self.estimator = estimator if estimator is not None else RateEstimator()
        self.feedback_delay_s = feedback_delay_s
        self.lost_after_s = lost_after_s
        #: with nothing in flight and no confirmation for this long, the estimate says nothing about the
        #: link now (a camera that switched to local stops measuring): rate_bps is then None
        self.stale_after_s = stale_after_s
        self._out: dict[int, tuple[float, int]] = {}  # seq -> (sent_s, bytes)
        self._confirmed: tuple[int, float] | None = None  # (seq, sent_s) of the latest confirmed message
        self._last_feedback_s = -math.inf

    def _bits(self, nbytes: int) -> float:
        return wire_bits(nbytes, self.estimator.packet_bytes)

    def on_sent(self, seq: int, nbytes: int, sent_s: float) -> None:
        """A message is out. One whose confirmation came first (the notice took another path than the
        message) is not: it is ignored. A sequence number at or below one already seen, but sent later,
        means the sender numbers from the start again (a restarted camera): the earlier record says
        nothing about this link now."""
        if self._confirmed is not None and seq <= self._confirmed[0]:
            if sent_s <= self._confirmed[1]:
                return
            self._out.clear()
            self._confirmed = None
        elif any(s >= seq for s in self._out):
            self._out.clear()
        self._out[seq] = (sent_s, int(nbytes))

    def on_feedback(self, seq: int, nbytes: int, sent_s: float, received_s: float) -> RateSample:
        """A confirmation (LinkStats). The link is FIFO, so unconfirmed clips numbered or sent before it
        were lost (sent before it: a restarted sender's numbers start again)."""
        for s in [s for s, (t, _) in self._out.items() if s <= seq or t < sent_s]:
            del self._out[s]
        if self._confirmed is None or sent_s >= self._confirmed[1]:
            self._confirmed = (seq, sent_s)
        self._last_feedback_s = max(self._last_feedback_s, received_s)
        return self.estimator.observe(nbytes, sent_s, received_s)

    def _prune(self, now_s: float) -> list[tuple[float, int]]:
        for seq in [s for s, (t, _) in self._out.items() if now_s - t > self.lost_after_s]:
            del self._out[seq]
        return sorted(self._out.values())

    def rate_bps(self, now_s: float) -> float | None:
        """The EWMA rate, capped by what the oldest unconfirmed message proves; None before any
        confirmation, or when the last one is older than ``stale_after_s`` and nothing is in flight."""
        rate = self.estimator.ewma_bps
        out = self._prune(now_s)
        if not out and now_s - self._last_feedback_s > self.stale_after_s:
            return None
        if out and rate is not None:
            sent, nbytes = out[0]
            elapsed = now_s - sent - self.estimator.base_delay_s - self.feedback_delay_s
            if elapsed > 0:
                rate = min(rate, self._bits(nbytes) / elapsed)
        return rate

    def queue_s(self, now_s: float, rate_bps: float | None = None) -> float:
        """Predicted wait (s) before a message sent now starts transmitting, plus the base delay."""
        rate = self.rate_bps(now_s) if rate_bps is None else rate_bps
        out = self._prune(now_s)
        if not out or rate is None or rate <= 0:
            return self.estimator.base_delay_s
        return float(self._waits(now_s, out, rate, np.ones(1))[0])

    def outlook(self, now_s: float, ratios: np.ndarray) -> tuple[float | None, float | np.ndarray, np.ndarray]:
        """(rate, queue, ratios) for the planner: what a clip sent now can expect.

        The queue is one wait per ratio sample: the propagation delay (``base_delay_s``, which a slower
        link does not lengthen) plus the unconfirmed messages replayed at rate x ratio. With nothing
        late the rate is the EWMA and the ratios are the link's. When the oldest unconfirmed message
        is late, its silence is information: the ratios under which it would have been confirmed by
        now did not happen to it. Those are replaced by the
        ones it can still have had (cycling through them), each with the wait it implies, and the new
        clip is planned at that same ratio (a fade lasts longer than a clip period). Two
        pseudo-observations join them (Laplace's rule of succession): the late message arrives just now,
        or it never arrives; so one or two past stalls cannot make the planner sure either way. When no
        ratio explains the silence (the link has never been this slow), the planner falls back to the
        bound of :meth:`rate_bps` with the queue replayed at it.
        """
        r = np.asarray(ratios, dtype=np.float64)
        rate = self.estimator.ewma_bps
        out = self._prune(now_s)
        if not out and now_s - self._last_feedback_s > self.stale_after_s:
            return None, self.estimator.base_delay_s, r
        base = self.estimator.base_delay_s
        if rate is None or rate <= 0 or r.size == 0:
            return self.rate_bps(now_s), self.queue_s(now_s), r
        if not out:
            return rate, np.full(r.size, base), r
        sent0, bytes0 = out[0]
        seen = now_s - base - self.feedback_delay_s  # a message confirmed by now arrived before this
        possible = sent0 + self._bits(bytes0) / (rate * r) > seen
        if possible.all():
            return rate, self._waits(now_s, out, rate, r), r
        if not possible.any():  # later than under any ratio this link has shown: only the bound is known
            bound = self.rate_bps(now_s)
            return bound, self._waits(now_s, out, bound, r), r
        wait = self._waits(now_s, out, rate, r)
        # the ratio at which it arrives just now (the link keeps it for the next clip: fades last)
        now_ratio = self._bits(bytes0) / (rate * max(seen - sent0, 1e-9))
        pool = np.concatenate([np.flatnonzero(possible), [-1, -2]])  # -1: arrives now, -2: never
        pick = pool[np.arange(r.size) % pool.size]
        safe = np.maximum(pick, 0)
        queue = np.where(possible, wait, np.where(pick >= 0, wait[safe], np.where(pick == -1, base, math.inf)))
        cond = np.where(possible, r, np.where(pick >= 0, r[safe], now_ratio))
        return rate, queue, cond

    def _waits(self, now_s: float, out: list[tuple[float, int]], rate: float, r: np.ndarray) -> np.ndarray:
        """Per ratio: the propagation delay plus the unconfirmed messages ``out`` replayed at rate x ratio."""
        finish = np.full(r.size, -math.inf)
        for sent, nbytes in out:
            finish = np.maximum(finish, sent) + self._bits(nbytes) / (rate * r)
        return self.estimator.base_delay_s + np.maximum(0.0, finish - now_s)

    @property
    def outstanding(self) -> int:
        return len(self._out)
