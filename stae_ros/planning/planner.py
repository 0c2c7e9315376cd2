"""Pick, for each clip, the mode and setting with the highest expected useful accuracy.

A label is useful when it is right and arrives before the deadline, so the planner scores every
operating point of the profile (any mode: ``local``, ``h264``, ``stae-px``, ``stae-latent``, ...) as

    expected useful accuracy = accuracy x P(completion <= deadline * (1 - margin))

Completion is the paper's: camera compute + the queue ahead on the link + bytes / rate + edge
compute. The probability comes from how wrong the rate estimate has been on this link
(:class:`~stae_ros.planning.uncertainty.RateRatioModel`): each recent ratio "realised / estimated
rate" is one plausible next rate, so a payload that only fits when the link holds steady scores
low on a link that fades often, and a steady link lets the planner spend bytes on accuracy.

Compute time is taken on the *target* hosts: a point that records its FLOPs is timed with the
camera's (or edge's) effective GFLOP/s when the planner is given one (a Raspberry Pi preset, not
this development host), otherwise with its measured milliseconds times a measured scale.

A point that sends nothing (``bytes_mean == 0``: the camera labels the clip itself) needs no link,
so it is the fallback when no link statistics exist. With a clip stream (``period_s``) the planner looks
one clip ahead: a payload is charged for what it costs the next clip, whose best choice must wait
for the link this one occupies (during a fade a large payload would otherwise make every later
clip queue behind it). When the profile has a point that sends nothing, the look-ahead also credits
what a payload *tells* the next clip: one whose LinkStats are back before the next clip lets that
clip choose knowing the link's current ratio, while a clip kept local leaves the next one with the
same, aging estimate (otherwise one slow first message could keep the camera local, and blind,
until the estimate goes stale).

Hysteresis: the planner leaves its current point only for one whose expected useful accuracy is
``hysteresis`` higher, and moves to a larger payload only after ``up_hold`` decisions in a row
favour it; it moves to a smaller one at once. With the camera's deadline fallback it leaves a point
for a *less accurate* one only when the gain is also ``significance`` standard errors above zero,
measured over the rate ratios the gain was estimated from: a late payload then still gets the
camera's label, so a hedge buys little, and a handful of slow ratios in a few hundred must not
trade measured accuracy for it. Without the fallback a late payload loses its label, and the first
slow samples of a fade must move the planner at once.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from ..profiling.schema import OperatingPoint, Profile
from .errors import PlanningError
from .estimators import PACKET_BYTES, wire_bits
from .uncertainty import RateRatioModel

__all__ = ["Decision", "Planner", "point_label"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decision:
    point: OperatingPoint
    predicted_s: float  #: median predicted completion time of a clip at this point (inf: no link)
    feasible: bool  #: the point meets the planning budget with probability >= 0.5
    reason: str
    p_hit: float = 0.0  #: predicted probability that the clip's label arrives before the deadline
    utility: float = 0.0  #: this clip's expected useful accuracy: accuracy x p_hit
    probe: bool = False  #: made without link statistics, as if the link ran at the planner's probe rate


def point_label(pt: OperatingPoint) -> str:
    """How logs and reasons name a point: its mode and its setting."""
    label = pt.extra.get("label") if isinstance(pt.extra, dict) else None
    if label:
        return f"{pt.codec} {label}"
    return f"{pt.codec} K={pt.k} p={pt.p:g}"


class Planner:
    """Expected-useful-accuracy choice over a profile's operating points."""

    def __init__(
        self,
        profile: Profile,
        deadline_s: float,
        margin: float = 0.1,
        hysteresis: float = 0.005,
        up_hold: int = 1,
        significance: float = 3.0,
        use_p95_bytes: bool = False,
        period_s: float | None = None,
        camera_gflops: float | None = None,
        edge_gflops: float | None = None,
        ratios: RateRatioModel | None = None,
        probe_every: int = 4,
        probe_bps: float = 1e5,
        learn_ahead: bool | None = None,
        packet_bytes: int | None = PACKET_BYTES,
        fallback: bool = False,
    ) -> None:
        if not deadline_s > 0:
            raise PlanningError(f"deadline must be > 0 s, got {deadline_s}")
        if not 0.0 <= margin < 1.0:
            raise PlanningError(f"margin must be in [0, 1), got {margin}")
        if not 0.0 <= hysteresis < 1.0:
            raise PlanningError(f"hysteresis must be in [0, 1), got {hysteresis}")
        if not (0.0 <= significance and math.isfinite(significance)):
            raise PlanningError(f"significance must be a finite number of standard errors >= 0, got {significance}")
        if not profile.points:
            raise PlanningError("profile has no operating points")
        if period_s is not None and not period_s > 0:
            raise PlanningError(f"period must be > 0 s or None, got {period_s}")
        for name, value in (("camera_gflops", camera_gflops), ("edge_gflops", edge_gflops)):
            if value is not None and not (value > 0 and math.isfinite(value)):
                raise PlanningError(f"{name} must be a finite rate > 0 GFLOP/s or None, got {value}")
        self.profile = profile
        self.deadline_s = deadline_s
        self.margin = margin
        self.hysteresis = hysteresis
        self.up_hold = max(1, up_hold)
        self.significance = float(significance)
        self.use_p95_bytes = use_p95_bytes
        self.period_s = period_s
        self.camera_gflops = camera_gflops
        self.edge_gflops = edge_gflops
        self.ratios = ratios if ratios is not None else RateRatioModel()
        if probe_every < 0 or not probe_bps > 0:
            raise PlanningError(f"probe_every must be >= 0 and probe_bps > 0, got {probe_every} and {probe_bps}")
        self.probe_every = int(probe_every)
        #: credit a payload with what its LinkStats tell the next clip (default: when some point sends nothing)
        self.learn_ahead = any(p.bytes_mean <= 0 for p in profile.points) if learn_ahead is None else bool(learn_ahead)
        self.probe_bps = float(probe_bps)
        #: a payload occupies whole packets on the link, as the rate estimate counts them (:func:`wire_bits`)
        self.packet_bytes = packet_bytes
        self._blind = 0  #: decisions in a row without a rate
        #: with the camera's deadline fallback, a sent clip whose label is late still gets the camera's label
        #: (:class:`~stae_ros.planning.fallback.DeadlineFallback`): the point that labels it, None without one
        self.fallback_point = self._fallback_point() if fallback else None
        # most accurate first; among equals the cheaper one (the order ties are broken in)
        self.points = sorted(profile.points, key=lambda p: (-p.accuracy, p.bytes_mean, p.camera_ms + p.edge_ms))
        self.current: OperatingPoint | None = None
        self._up_count = 0

    def _fallback_point(self) -> OperatingPoint | None:
        """The most accurate point that sends nothing and finishes on the camera within the budget."""
        local = [p for p in self.profile.points if p.bytes_mean <= 0 and self.camera_s(p) < self.budget_s]
        return max(local, key=lambda p: p.accuracy, default=None)

    @property
    def fallback_accuracy(self) -> float:
        """What a late payload is still worth: the fallback point's accuracy, 0 without a fallback."""
        return self.fallback_point.accuracy if self.fallback_point is not None else 0.0

    def _threshold(self) -> float:
        """The hysteresis in score units. It guards against a noisy P(on time), and with the camera's
        fallback a unit of P(on time) is worth only the accuracy above the fallback's, so the threshold
        shrinks by the same factor."""
        if self.fallback_accuracy <= 0:
            return self.hysteresis
        top = self.points[0].accuracy
        return self.hysteresis * max(0.0, top - self.fallback_accuracy) / top if top > 0 else self.hysteresis

    def worth(self, pt: OperatingPoint, p_hit: float | np.ndarray) -> float | np.ndarray:
        """Expected useful accuracy of a clip at ``pt`` that is on time with probability ``p_hit``: its
        accuracy when on time; when late, a payload is still worth the camera fallback's accuracy."""
        late = self.fallback_accuracy if self._bytes(pt) > 0 else 0.0
        return pt.accuracy * p_hit + late * (1.0 - p_hit)

    @property
    def budget_s(self) -> float:
        return self.deadline_s * (1.0 - self.margin)

    # ------------------------------------------------------------------ costs on the target hosts
    def camera_s(self, pt: OperatingPoint, camera_scale: float = 1.0) -> float:
        """Camera compute of one clip on the target camera: FLOPs / its rate, else measured ms x scale."""
        if self.camera_gflops is not None and pt.camera_gflop is not None:
            return pt.camera_gflop / self.camera_gflops * camera_scale
        return pt.camera_ms * camera_scale / 1000.0

    def edge_s(self, pt: OperatingPoint, edge_scale: float = 1.0) -> float:
        if self.edge_gflops is not None and pt.edge_gflop is not None:
            return pt.edge_gflop / self.edge_gflops * edge_scale
        return pt.edge_ms * edge_scale / 1000.0

    def _bytes(self, pt: OperatingPoint) -> float:
        return pt.bytes_p95 if self.use_p95_bytes else pt.bytes_mean

    def _bits(self, pt: OperatingPoint) -> float:
        """What the point's payload occupies on the link: its bytes in whole packets."""
        return wire_bits(self._bytes(pt), self.packet_bytes)

    @staticmethod
    def _queue(queue_s: float | np.ndarray, ratios: np.ndarray) -> np.ndarray:
        """The wait ahead of a new clip under each ratio: a number is replayed at the same ratio as the
        clip (a slow link is slow for both); an array is already one wait per ratio sample."""
        if np.ndim(queue_s) == 0:
            return float(queue_s) / ratios
        q = np.asarray(queue_s, dtype=np.float64)
        if q.shape != ratios.shape:
            raise PlanningError(f"queue samples must match the ratios, got {q.shape} and {ratios.shape}")
        return q

    def completions(self, pt: OperatingPoint, rate_bps: float | None, ratios: np.ndarray, camera_scale: float = 1.0,
                    edge_scale: float = 1.0, queue_s: float | np.ndarray = 0.0) -> np.ndarray:
        """A clip's completion time at ``pt`` under each plausible next rate rate x ratio (inf: no link known)."""
        compute = self.camera_s(pt, camera_scale) + self.edge_s(pt, edge_scale)
        if self._bytes(pt) <= 0:
            return np.full(ratios.shape, compute)
        if rate_bps is None or not rate_bps > 0:
            return np.full(ratios.shape, math.inf)
        return compute + self._queue(queue_s, ratios) + self._bits(pt) / (rate_bps * ratios)

    def hit_probability(self, pt: OperatingPoint, rate_bps: float | None, ratios: np.ndarray, camera_scale: float = 1.0,
                        edge_scale: float = 1.0, queue_s: float | np.ndarray = 0.0) -> tuple[float, float]:
        """(P(completion <= budget), median completion) over the plausible next rates rate x ratio."""
        completion = self.completions(pt, rate_bps, ratios, camera_scale, edge_scale, queue_s)
        return float(np.mean(completion <= self.budget_s)), float(np.median(completion))

    def _gain_noise(self, to: OperatingPoint, frm: OperatingPoint, rate_bps: float | None, ratios: np.ndarray,
                    camera_scale: float, edge_scale: float, queue_s: float | np.ndarray) -> float:
        """``significance`` standard errors of the estimated gain of ``to`` over ``frm``, when ``to`` is less
        accurate and the camera runs its deadline fallback (0 otherwise). Both points are scored on the same
        ratio samples, so the gain's error is the spread of its per-sample differences over the square root
        of their number."""
        if (self.significance <= 0 or self.fallback_point is None or to.accuracy >= frm.accuracy
                or rate_bps is None or ratios.size < 2):
            return 0.0
        def worth_each(pt: OperatingPoint) -> np.ndarray:
            on_time = self.completions(pt, rate_bps, ratios, camera_scale, edge_scale, queue_s) <= self.budget_s
            return np.asarray(self.worth(pt, on_time.astype(np.float64)))
        diff = worth_each(to) - worth_each(frm)
        return self.significance * float(np.std(diff)) / math.sqrt(diff.size)

    def _next_clip_value(self, rate_bps: float | None, ratios: np.ndarray, camera_scale: float, edge_scale: float,
                         queue_s: float | np.ndarray) -> np.ndarray:
        """Per point: the best expected useful accuracy the *next* clip can still get after this one.

        A payload that occupies the link past the next clip's start delays that clip too, which the
        score of this clip alone does not see (a greedy planner then fills the queue during a fade).
        The same rate ratio is used for both clips: a fade lasts longer than one clip period.
        Without a clip period (single clips) nothing follows, and every point gets 0.

        With ``learn_ahead`` the next clip's information depends on this choice (myopic value of
        information): under the ratios for which this clip's payload (or a late one already out) is
        confirmed before the next clip, that clip picks its best point for that ratio; under the
        others it must pick one point for all of them. Sending nothing leaves it with today's estimate.
        """
        n = len(self.points)
        if self.period_s is None or rate_bps is None or not rate_bps > 0 or not math.isfinite(rate_bps):
            return np.zeros(n)
        bits = np.array([self._bits(pt) for pt in self.points])
        camera = np.array([self.camera_s(pt, camera_scale) for pt in self.points])
        compute = camera + np.array([self.edge_s(pt, edge_scale) for pt in self.points])
        acc = np.array([pt.accuracy for pt in self.points])
        link = bits[:, None] / (rate_bps * ratios[None, :])  # (point, ratio): transmission time
        queue = self._queue(queue_s, ratios)[None, :]
        # link busy time left when the next clip is ready, after sending point i now (0 for no payload)
        left = np.where(bits[:, None] > 0, np.maximum(0.0, queue + link - self.period_s), np.maximum(0.0, queue - self.period_s))
        # next clip at point j: (i, j, ratio) completion; points without payload ignore the link
        done = compute[None, :, None] + np.where(bits[None, :, None] > 0, left[:, None, :] + link[None, :, :], 0.0)
        if not self.learn_ahead:
            p_next = (done <= self.budget_s).mean(axis=2)  # (i, j)
            late = np.where(bits > 0, self.fallback_accuracy, 0.0)[None, :]
            return (acc[None, :] * p_next + late * (1.0 - p_next)).max(axis=1)
        late = np.where(bits > 0, self.fallback_accuracy, 0.0)[None, :, None]  # a late payload's worth
        value = np.where(done <= self.budget_s, acc[None, :, None], late)  # (i, j, ratio): the next clip's useful accuracy
        # a payload whose LinkStats are back before the next clip tells that clip how fast the link is now
        # (a late message that arrives before then tells it too, whatever this clip does)
        arrived = np.where(bits[:, None] > 0, camera[:, None] + queue + link, queue if np.ndim(queue_s) else math.inf)
        learned = arrived <= self.period_s  # (i, ratio)
        knows = (value.max(axis=1) * learned).sum(axis=1)  # the next clip picks its best point for that ratio
        guesses = (value * ~learned[:, None, :]).sum(axis=2).max(axis=1)  # one point for all ratios it cannot tell apart
        return (knows + guesses) / ratios.size

    # ------------------------------------------------------------------ the decision
    def choose(self, rate_bps: float | None, camera_scale: float = 1.0, edge_scale: float = 1.0,
               queue_s: float | np.ndarray = 0.0, ratios: np.ndarray | None = None) -> Decision:
        """Decide for the next clip. ``rate_bps`` None means no link statistics yet.

        Without statistics only points that need no link are sure to be on time; but a controller
        that never sends never learns the link. So the first blind decision, and every
        ``probe_every``-th after it, plans as if the link ran at ``probe_bps`` with the prior's
        spread (a probe: usually a small payload), and its LinkStats start the estimate; the others
        choose among the points that need no link (``local``). A link that is up from the start
        thus costs no clip, and one that is down costs one clip in ``probe_every``.

        With the camera's deadline fallback a probe that comes too late still gets the label the
        camera would have given it by staying local, so nothing is gained by keeping it small: it
        goes at the most accurate point that sends. Between probes a payload is then worth what
        staying local is (the camera's label), and the planner keeps the point it has.
        """
        probing = False
        if rate_bps is None:
            self._blind += 1
            due = self.probe_every == 1 or (self.probe_every > 1 and self._blind % self.probe_every == 1)
            if due and any(self._bytes(p) > 0 for p in self.points):
                if self.fallback_point is not None:
                    return self._probe_covered()
                rate_bps, ratios, probing = self.probe_bps, self.ratios.prior, True
        else:
            self._blind = 0
        r = self.ratios.samples() if ratios is None else np.asarray(ratios, dtype=np.float64)
        if r.size == 0 or not np.all(r > 0):
            raise PlanningError("rate ratios must be a non-empty array of values > 0")
        # (score = this clip's expected useful accuracy + the next clip's best, p_hit, median_s, point)
        scored: list[tuple[float, float, float, OperatingPoint]] = []
        later = self._next_clip_value(rate_bps, r, camera_scale, edge_scale, queue_s)
        for i, pt in enumerate(self.points):
            p_hit, med = self.hit_probability(pt, rate_bps, r, camera_scale, edge_scale, queue_s)
            scored.append((float(self.worth(pt, p_hit)) + later[i], p_hit, med, pt))
        rate_txt = ("no link statistics" if rate_bps is None else
                    f"no link statistics: probing as if {rate_bps / 1e6:.2f} Mbps" if probing else f"{rate_bps / 1e6:.2f} Mbps")
        best = max(scored, key=lambda s: (s[0], -self._bytes(s[3])))
        if best[0] <= 0.0:
            # nothing is expected to arrive in time: send what finishes first (and costs least)
            fastest = min(scored, key=lambda s: (s[2], self._bytes(s[3]), -s[3].accuracy))
            self.current, self._up_count = fastest[3], 0
            return Decision(fastest[3], fastest[2], False,
                            f"nothing is expected to meet {self.budget_s:.3f} s at {rate_txt}: fastest "
                            f"{point_label(fastest[3])}", fastest[1], float(self.worth(fastest[3], fastest[1])), probing)
        by_point = {id(s[3]): s for s in scored}
        cur = by_point.get(id(self.current)) if self.current is not None else None
        def decide(s: tuple[float, float, float, OperatingPoint], reason: str) -> Decision:
            return Decision(s[3], s[2], s[1] >= 0.5, reason, s[1], float(self.worth(s[3], s[1])), probing)

        why = (f"{point_label(best[3])}: expected useful accuracy {float(self.worth(best[3], best[1])):.3f} "
               f"(P(on time) {best[1]:.2f}) at {rate_txt}")
        if cur is None or cur[0] <= 0.0:
            self.current, self._up_count = best[3], 0
            return decide(best, ("start: " if cur is None else "current point fails: ") + why)
        # hysteresis guards against a noisy P(on time); a point that is more accurate and at least as
        # likely on time (e.g. both sure) is better however small the gap, so it is taken at once; with the
        # fallback a less accurate one must also gain significantly over the ratio samples
        dominates = best[3].accuracy > cur[3].accuracy and best[1] >= cur[1] and best[0] > cur[0]
        needed = self._threshold()  # the gain that leaves the current point
        if best[3] is not cur[3] and not dominates and best[0] > cur[0] + needed:
            needed += self._gain_noise(best[3], cur[3], rate_bps, r, camera_scale, edge_scale, queue_s)
        if best[3] is cur[3] or (best[0] <= cur[0] + needed and not dominates):
            self._up_count = 0
            return decide(cur, f"keep {point_label(cur[3])}: expected useful accuracy {float(self.worth(cur[3], cur[1])):.3f} at {rate_txt}")
        if self._bytes(best[3]) > self._bytes(cur[3]):
            self._up_count += 1
            if self._up_count < self.up_hold:
                return decide(cur, f"keep {point_label(cur[3])}: {point_label(best[3])} better, waiting "
                                   f"{self._up_count}/{self.up_hold}")
        self.current, self._up_count = best[3], 0
        return decide(best, "switch to " + why)

    def _probe_covered(self) -> Decision:
        """A blind probe under the deadline fallback: the most accurate point that sends (the points
        are sorted most accurate first, the cheaper first among equals)."""
        pt = next(p for p in self.points if self._bytes(p) > 0)
        self.current, self._up_count = pt, 0
        reason = (f"no link statistics: probing at the most accurate payload, {point_label(pt)} "
                  f"(late, it gets the camera's fallback label)")
        return Decision(pt, math.inf, False, reason, math.nan, math.nan, True)  # no rate: P(on time) unknown

    def oracle(self, completion_s: dict[int, float]) -> OperatingPoint:
        """Most accurate point whose *actual* completion (by id(point)) meets the deadline, else fastest."""
        ok = [p for p in self.points if completion_s[id(p)] <= self.deadline_s]
        if ok:
            return ok[0]
        return min(self.points, key=lambda p: completion_s[id(p)])
