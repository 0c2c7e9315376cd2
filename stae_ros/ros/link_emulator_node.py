"""link_emulator_node: republishes SemanticClips after the delay a shaped link would give them.

`semantic_clip_in` -> stae_ros.link.TraceShaper (mahimahi trace or constant rate, drop-tail
queue, base delay) -> `semantic_clip_out` at the computed delivery time; dropped clips are counted
and logged. On top of the shaping, `loss`, `reorder` and `duplicate` lose, hold back (so later
messages overtake) or repeat a share of the messages, drawn from a seeded generator; every such
event is counted and reported on the status topic (stae_status). Use it between camera and edge (remap the edge's `semantic_clip` to the output) to
try budgets and the controller on a slow link on one host.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from typing import Any

from rclpy.node import Node

from stae_msgs.msg import SemanticClip
from std_msgs.msg import String

from . import qos
from .common import guarded, run_node
from .params import LINK_EMULATOR_PARAMS, declare_params, on_set_callback
from .status import STATUS_PERIOD_S, STATUS_TOPIC, status_json

__all__ = ["LinkEmulatorNode", "main"]


class LinkEmulatorNode(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("link_emulator_node", **kwargs)
        cfg = declare_params(self, LINK_EMULATOR_PARAMS)
        self.cfg = dict(cfg)
        from stae_ros.link import PACKET_BYTES, TraceShaper, load_trace, trace_from_rates

        if cfg["trace"]:
            trace = load_trace(cfg["trace"])
            what = f"trace {cfg['trace']}"
        else:
            # enough 100 ms steps that the trace holds several whole 1500 B opportunities: one
            # step of a slow rate would round to a single opportunity per period (a faster link)
            rate = float(cfg["rate_bps"])
            steps = min(100_000, max(1, math.ceil(10 * PACKET_BYTES * 8 / (rate * 0.1))))
            trace = trace_from_rates([rate] * steps)
            what = f"constant {float(cfg['rate_bps']) / 1e6:.3f} Mbps"
        limit = int(cfg["queue_limit_bytes"]) or None
        self.shaper = TraceShaper(trace, queue_limit_bytes=limit, base_delay_ms=float(cfg["base_delay_ms"]))
        self.t0 = self.get_clock().now().nanoseconds
        self.pending: list[tuple[float, int, SemanticClip, bool]] = []  #: (due, order, message, first copy)
        self._order = itertools.count()
        self.forwarded = 0
        self.dropped = 0  #: drop-tail queue overflows
        self.lost = 0  #: random losses (`loss`)
        self.reordered = 0
        self.duplicated = 0
        self.received = 0
        self.rng = random.Random(int(cfg["seed"]))
        clip_qos = qos.topic_qos("semantic_clip", cfg)
        self.pub = self.create_publisher(SemanticClip, "semantic_clip_out", clip_qos)
        self.create_subscription(SemanticClip, "semantic_clip_in", self._on_clip, clip_qos)
        self.create_timer(0.001, self._release)
        self.pub_status = self.create_publisher(String, STATUS_TOPIC, qos.label_qos())
        self.create_timer(STATUS_PERIOD_S, self._publish_status)
        self.add_on_set_parameters_callback(on_set_callback(LINK_EMULATOR_PARAMS, self._apply_params))
        self.get_logger().info(f"link emulator: {what}, queue {limit or 'unlimited'} B, "
                               f"base delay {cfg['base_delay_ms']} ms, loss {cfg['loss']:g}, "
                               f"reorder {cfg['reorder']:g} (+{cfg['reorder_delay_ms']:g} ms), "
                               f"duplicate {cfg['duplicate']:g}")

    def _apply_params(self, changes: dict[str, Any]) -> None:
        self.cfg.update(changes)
        return None

    def status(self) -> dict[str, Any]:
        """received = forwarded (first copies) + dropped + lost + in flight; duplicated copies come on top."""
        return {"received": self.received, "forwarded": self.forwarded, "dropped": self.dropped, "lost": self.lost,
                "reordered": self.reordered, "duplicated": self.duplicated, "in_flight": len(self.pending)}

    @guarded
    def _publish_status(self) -> None:
        self.pub_status.publish(String(data=status_json("link_emulator_node", self.status())))

    def _now_s(self) -> float:
        return (self.get_clock().now().nanoseconds - self.t0) / 1e9

    @guarded
    def _on_clip(self, msg: SemanticClip) -> None:
        self.received += 1
        if self.cfg["loss"] > 0 and self.rng.random() < float(self.cfg["loss"]):
            self.lost += 1
            self.get_logger().info(f"lost clip {msg.stream_id}#{msg.seq} ({self.lost} so far)",
                                   throttle_duration_sec=5.0)
            return
        nbytes = len(msg.payload) + int(self.cfg["overhead_bytes"])
        try:
            t = self.shaper.send(nbytes, self._now_s())
        except ValueError as exc:
            self.get_logger().warning(f"clip {msg.stream_id}#{msg.seq} not shaped: {exc}")
            return
        if t is None:
            self.dropped += 1
            self.get_logger().warning(f"link queue full: dropped clip {msg.stream_id}#{msg.seq} "
                                      f"({self.dropped} so far)")
            return
        if self.cfg["reorder"] > 0 and self.rng.random() < float(self.cfg["reorder"]):
            self.reordered += 1
            t += float(self.cfg["reorder_delay_ms"]) / 1000.0
        heapq.heappush(self.pending, (t, next(self._order), msg, True))
        if self.cfg["duplicate"] > 0 and self.rng.random() < float(self.cfg["duplicate"]):
            self.duplicated += 1
            heapq.heappush(self.pending, (t + 0.001, next(self._order), msg, False))

    @guarded
    def _release(self) -> None:
        now = self._now_s()
        while self.pending and self.pending[0][0] <= now:
            _, _, msg, first = heapq.heappop(self.pending)
            self.pub.publish(msg)
            self.forwarded += int(first)


def main(args: list[str] | None = None) -> int:
    return run_node(LinkEmulatorNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
