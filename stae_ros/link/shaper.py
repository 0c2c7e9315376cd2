"""Trace-driven link shaping: when would a message sent at t arrive over a mahimahi link?

This is mahimahi's ``LinkQueue`` in closed form. Each delivery opportunity of the trace carries up
to 1500 bytes; a message waits in a FIFO queue and its bytes leave in the opportunities that come
after it arrived, sharing an opportunity with the message before it when that one finished
mid-opportunity; bytes of an opportunity that finds the queue empty are lost. A message is
delivered when its last byte leaves, plus the fixed one-way ``base_delay_ms`` (mahimahi's
``mm-delay`` outside ``mm-link``). The queue is drop-tail in bytes: a message is dropped when the
bytes waiting (not yet started) plus its own size exceed ``queue_limit_bytes``.

Like mahimahi, time is integer milliseconds: a message arriving at 10.7 ms is stamped 10 ms and can
use opportunities from 11 ms on (mahimahi consumes the opportunities of "now" before enqueuing).
Unlike mahimahi a message may be larger than one packet (a whole SemanticClip): it simply spans
several opportunities, which is what its IP fragments would do.

Because the queue is FIFO, a message's delivery time is fixed the moment it is accepted, so
``send`` answers immediately in O(log n) and the relay only needs a timer per datagram.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass

from .errors import ShaperError
from .traces import PACKET_BYTES, DeliveryTrace

__all__ = ["TraceShaper", "Delivery"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """What happened to one message: accepted with its first/last opportunity, or dropped."""

    t_send: float  #: seconds
    nbytes: int
    t_delivered: float | None  #: seconds; None when dropped
    t_start: float | None = None  #: seconds, when its first byte left (None when dropped)

    @property
    def dropped(self) -> bool:
        return self.t_delivered is None


class TraceShaper:
    """FIFO drop-tail queue drained by a looping delivery trace (times in seconds)."""

    def __init__(self, trace: DeliveryTrace, queue_limit_bytes: int | None = None, base_delay_ms: float = 0.0) -> None:
        if queue_limit_bytes is not None and queue_limit_bytes <= 0:
            raise ShaperError(f"queue_limit_bytes must be > 0 or None (unlimited), got {queue_limit_bytes}")
        if base_delay_ms < 0:
            raise ShaperError(f"base_delay_ms must be >= 0, got {base_delay_ms}")
        self.trace = trace
        self.queue_limit_bytes = queue_limit_bytes
        self.base_delay_ms = float(base_delay_ms)
        # state of the virtual link after every accepted message: the global index of the
        # opportunity that carried the last byte, and the bytes left unused in it
        self._last_op: int = -1
        self._leftover: int = 0
        self._last_arrival_ms: int = -(10**18)
        # accepted messages whose first byte has not left yet: (start time ms, nbytes)
        self._waiting: deque[tuple[int, int]] = deque()
        self.sent = 0
        self.dropped = 0

    # ---- core ---------------------------------------------------------------------------------
    def _schedule(self, nbytes: int, arrival_ms: int) -> tuple[int, int, int]:
        """(first op index, last op index, leftover bytes) for a message arriving at arrival_ms."""
        tr = self.trace
        busy = self._last_op >= 0 and tr.opportunity_ms(self._last_op) > arrival_ms
        if busy and self._leftover > 0:
            first = self._last_op
            if nbytes <= self._leftover:
                return first, first, self._leftover - nbytes
            remaining = nbytes - self._leftover
            start_next = self._last_op + 1
        else:
            start_next = self._last_op + 1 if busy else tr.first_after_ms(arrival_ms)
            first = start_next
            remaining = nbytes
        n_ops = max(1, math.ceil(remaining / PACKET_BYTES))
        last = start_next + n_ops - 1
        return first, last, n_ops * PACKET_BYTES - remaining

    def _queued_bytes(self, arrival_ms: int) -> int:
        while self._waiting and self._waiting[0][0] <= arrival_ms:
            self._waiting.popleft()
        return sum(n for _, n in self._waiting)

    def _check(self, nbytes: int, t_send: float) -> int:
        if nbytes <= 0:
            raise ShaperError(f"message size must be > 0 bytes, got {nbytes}")
        if not math.isfinite(t_send) or t_send < 0:
            raise ShaperError(f"send time must be a finite time >= 0 s, got {t_send}")
        arrival_ms = int(math.floor(t_send * 1000.0))
        if arrival_ms < self._last_arrival_ms:
            raise ShaperError(
                f"send times must not go backwards: {t_send:.3f} s after a message at {self._last_arrival_ms / 1000:.3f} s"
            )
        return arrival_ms

    def predict(self, nbytes: int, t_send: float) -> float | None:
        """Delivery time (s) the message would get if sent now, without sending it."""
        arrival_ms = self._check(int(nbytes), t_send)
        if self.queue_limit_bytes is not None:
            waiting = [n for s, n in self._waiting if s > arrival_ms]
            if sum(waiting) + nbytes > self.queue_limit_bytes:
                return None
        _, last, _ = self._schedule(int(nbytes), arrival_ms)
        return (self.trace.opportunity_ms(last) + self.base_delay_ms) / 1000.0

    def send(self, nbytes: int, t_send: float) -> float | None:
        """Enqueue a message of ``nbytes`` at ``t_send`` seconds; its delivery time, or None if dropped."""
        return self.send_detail(nbytes, t_send).t_delivered

    def send_detail(self, nbytes: int, t_send: float) -> Delivery:
        nbytes = int(nbytes)
        arrival_ms = self._check(nbytes, t_send)
        self._last_arrival_ms = arrival_ms
        if self.queue_limit_bytes is not None and self._queued_bytes(arrival_ms) + nbytes > self.queue_limit_bytes:
            self.dropped += 1
            log.debug("drop %d B at %.3f s (queue full)", nbytes, t_send)
            return Delivery(t_send, nbytes, None)
        first, last, leftover = self._schedule(nbytes, arrival_ms)
        self._last_op, self._leftover = last, leftover
        t_first = self.trace.opportunity_ms(first)
        self._waiting.append((t_first, nbytes))
        self.sent += 1
        t_last = self.trace.opportunity_ms(last)
        return Delivery(t_send, nbytes, (t_last + self.base_delay_ms) / 1000.0, t_first / 1000.0)

    def backlog_bytes(self, t: float) -> int:
        """Bytes accepted but not yet started at time t (what drop-tail counts)."""
        t_ms = int(math.floor(t * 1000.0))
        return sum(n for s, n in self._waiting if s > t_ms)
