"""The camera's deadline fallback: label a sent clip on the camera when the edge's label is late.

A cellular uplink can stop for seconds without warning, and nothing the camera has seen tells it
before the clip is out. The camera still holds the clip and has a classifier of its own
(``local``), so it can bound the damage of a wrong guess: every clip it sent waits here with the
latest moment the camera can still start its own classifier and publish before the deadline,

    start_by = capture + deadline - local classifier time - slack,

and when that moment passes without the edge's label, the camera labels the clip itself. The
robot then gets the camera's (less accurate) label in time instead of the edge's too late one; if
the edge's label still arrives before the deadline it is the better one and supersedes it.

Pure Python: the camera node keeps its pending clips in one of these, and `stae bench controller`
simulates the same rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from .errors import PlanningError

__all__ = ["DeadlineFallback", "Due", "FALLBACK_MODE", "is_fallback_label"]

T = TypeVar("T")

#: the mode whose camera half labels a sent clip when its edge label is late
FALLBACK_MODE = "local"


def is_fallback_label(mode: str, payload_bytes: int) -> bool:
    """Whether an ActionLabel's mode and payload size mark the camera's deadline-fallback label: the
    fallback mode's label of a clip that was sent (a clip labelled on the camera from the start has
    no payload). A consumer that gets two labels for a clip keeps the other one, the edge's."""
    return mode == FALLBACK_MODE and int(payload_bytes) > 0


@dataclass(frozen=True)
class Due(Generic[T]):
    """A sent clip whose edge label has not come: run the camera's classifier on it now."""

    seq: int
    capture_s: float  #: when the clip was complete (its deadline counts from here)
    item: T  #: what the caller keeps to label it (the clip itself, in the node)


@dataclass
class DeadlineFallback(Generic[T]):
    """Sent clips waiting for their edge label, each with the time its camera fallback must start.

    ``local_s`` is the camera classifier's time on this camera; ``slack_s`` what publishing and
    scheduling take on top. A clip whose start time has passed by more than the classifier can
    still make up (the camera was busy) is dropped as missed: a late fallback label helps no one.
    """

    deadline_s: float
    local_s: float
    slack_s: float = 0.05
    max_pending: int = 64  #: the oldest clips are forgotten beyond this (each holds a clip in memory)
    _pending: dict[int, tuple[float, T]] = field(default_factory=dict)
    missed: int = 0  #: due clips the camera could no longer label in time

    def __post_init__(self) -> None:
        for name, value in (("deadline_s", self.deadline_s), ("local_s", self.local_s), ("slack_s", self.slack_s)):
            if not (math.isfinite(value) and value >= 0):
                raise PlanningError(f"deadline fallback: {name} must be a finite number >= 0, got {value}")
        if self.deadline_s <= 0:
            raise PlanningError(f"deadline fallback: deadline_s must be > 0, got {self.deadline_s}")
        if self.max_pending < 1:
            raise PlanningError(f"deadline fallback: max_pending must be >= 1, got {self.max_pending}")

    @property
    def feasible(self) -> bool:
        """Whether the camera's classifier can finish before the deadline at all."""
        return self.local_s + self.slack_s < self.deadline_s

    def start_by(self, capture_s: float) -> float:
        return capture_s + self.deadline_s - self.local_s - self.slack_s

    def sent(self, seq: int, capture_s: float, item: T) -> None:
        """A clip left the camera for the edge."""
        if not self.feasible:
            return
        self._pending[int(seq)] = (float(capture_s), item)
        while len(self._pending) > self.max_pending:
            self._pending.pop(next(iter(self._pending)))
            self.missed += 1

    def labelled(self, seq: int) -> bool:
        """The edge's label for ``seq`` arrived: nothing to do for it. True if it was pending."""
        return self._pending.pop(int(seq), None) is not None

    def next_start(self) -> float | None:
        """The earliest start time among the pending clips (None when nothing is pending)."""
        return min((self.start_by(c) for c, _ in self._pending.values()), default=None)

    def due(self, now_s: float, within_s: float = 0.0) -> list[Due[T]]:
        """Pending clips whose start time comes by ``now + within_s``, oldest first; each is removed.
        ``within_s`` > 0 is for a camera about to be busy that long: the fallbacks that would come due
        meanwhile start now instead (earliest deadline first). A clip that can no longer be labelled
        before its deadline (``now + local_s > capture + deadline``) is dropped and counted in ``missed``."""
        out: list[Due[T]] = []
        for seq, (capture, item) in sorted(self._pending.items(), key=lambda kv: kv[1][0]):
            if self.start_by(capture) > now_s + within_s:
                continue
            del self._pending[seq]
            if now_s + self.local_s > capture + self.deadline_s:
                self.missed += 1
                continue
            out.append(Due(seq, capture, item))
        return out

    def __len__(self) -> int:
        return len(self._pending)
