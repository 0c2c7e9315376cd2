"""controller_node: LinkStats -> rate estimate -> planner -> BudgetCommand (when the choice changes).

The decision logic is stae_ros.planning (Planner, RateEstimator, LinkMonitor); the profile is
stae_ros.profiling.schema. The planner chooses a mode and its setting (BudgetCommand.payload_mode
plus K, p and codec_settings); before any LinkStats it sends the camera to a mode that needs no
link (local) when the profile has one, else leaves the camera's budget alone. Without a profile
the node stays up and says so.

The camera announces each clip it sends on ``clip_sent``; with those the controller plans as
`stae bench controller` does: the clips still unconfirmed are the queue ahead of the next one, and
one that is overdue rules out the rates under which it would have arrived (no news is bad news).
That works best on the robot, next to the camera; on the edge host the announcements cross the same
uplink as the clips and arrive as late as they do.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import replace
from typing import Any, Mapping

from rclpy.node import Node

from stae_msgs.msg import BudgetCommand, LinkStats
from std_msgs.msg import String

from . import qos
from .common import guarded, ns_to_stamp, resolve_data_file, run_node, stamp_to_ns, wall_ns
from .params import CONTROLLER_PARAMS, declare_params, on_set_callback
from .status import STATUS_TOPIC, parse_status

__all__ = ["ControllerNode", "main"]


class ControllerNode(Node):
    """Chooses the camera's operating point from the accuracy profile and the measured link rate."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("controller_node", **kwargs)
        cfg = declare_params(self, CONTROLLER_PARAMS)
        self.cfg = dict(cfg)
        from stae_ros.planning import LinkMonitor, Planner, RateEstimator, realisable_points, settings_text
        from stae_ros.profiling.schema import ProfileError, load_profile

        self._Planner = Planner
        self.rate = RateEstimator(prior_bps=float(cfg["initial_rate_bps"]) or None)
        #: the camera's sent clips (clip_sent) and their confirmations (link_stats), in wall-clock seconds
        self.monitor = LinkMonitor(self.rate, feedback_delay_s=float(cfg["feedback_delay_s"]),
                                   stale_after_s=float(cfg["stale_after_s"]))
        self.sent_seen = 0
        #: how long the edge took from receiving a clip to its LinkStats (queue, decode, inference), recently:
        #: a clip is overdue only once its confirmation could have been issued and have arrived
        self._edge_lags: deque[float] = deque(maxlen=20)
        self.planner = None
        self._settings_text = settings_text
        self.current: tuple[str, int, float, str] | None = None
        self.last_change = -1e18
        self.stats_seen = 0
        self._last_stats = -1e18  #: time.monotonic() of the last usable LinkStats
        self.commands_sent = 0
        path = resolve_data_file(cfg["profile"], "profiles/modes.json")
        try:
            profile = load_profile(path)
            points, skipped = realisable_points(profile.points, cfg["codec"], cfg["codec_model"])
            if not points:
                raise ProfileError(f"profile {path} has no operating points a {cfg['codec']!r} camera can realise "
                                   f"(skipped: {skipped or 'none'})")
            if skipped:
                self.get_logger().info(f"profile points not planned over: {skipped}")
            self.profile = replace(profile, points=points)
            self.camera_gflops = self._camera_rate(cfg["camera_preset"])
            self.planner = self._make_planner(self.cfg)
        except (ProfileError, ValueError) as exc:
            self.get_logger().error(f"no planning: {exc}; the camera keeps its configured budget")
        self.pub_cmd = self.create_publisher(BudgetCommand, "budget_command", qos.topic_qos("budget_command", cfg))
        self.create_subscription(LinkStats, "link_stats", self._on_stats, qos.topic_qos("link_stats", cfg))
        self.create_subscription(LinkStats, "clip_sent", self._on_sent, qos.label_qos(depth=50))
        self.create_timer(float(cfg["decide_period_s"]), self._decide)
        self._fallback_seen: dict[str, float] = {}  #: each camera's fallback deadline, as its status reports it
        self.create_subscription(String, STATUS_TOPIC, self._on_status, qos.label_qos())
        self.add_on_set_parameters_callback(on_set_callback(CONTROLLER_PARAMS, self._apply_params))
        if self.planner is not None:
            modes = sorted({pt.codec for pt in self.profile.points})
            self.get_logger().info(f"controller ready: profile {path} ({len(self.profile.points)} points, modes "
                                   f"{', '.join(modes)}), deadline {cfg['deadline_s']} s, margin {cfg['margin']}, "
                                   f"camera {cfg['camera_preset'] or 'as measured'}, "
                                   f"camera fallback {'on' if cfg['fallback'] else 'off'}")

    @staticmethod
    def _camera_rate(preset: str) -> float | None:
        """The preset's effective GFLOP/s ("" = None: the profile's measured ms); BudgetError names a bad preset."""
        if not preset:
            return None
        from stae_ros.profiling.budgets import camera_budget

        return camera_budget(preset).rate_gflops

    def _make_planner(self, cfg: Mapping[str, Any]) -> Any:
        period = float(cfg["clip_period_s"])
        return self._Planner(self.profile, float(cfg["deadline_s"]), float(cfg["margin"]),
                             hysteresis=float(cfg["hysteresis"]),
                             significance=float(cfg["significance"]), period_s=period if period > 0 else None,
                             camera_gflops=self.camera_gflops, ratios=self.rate.ratios,
                             packet_bytes=self.rate.packet_bytes,  # one packet size: the rate is measured in it
                             fallback=bool(cfg["fallback"]))

    def _apply_params(self, changes: Mapping[str, Any]) -> str | None:
        planning = {"deadline_s", "margin", "hysteresis", "significance", "clip_period_s"}
        if planning & set(changes) and self.planner is not None:
            try:
                self.planner = self._make_planner({**self.cfg, **changes})
            except ValueError as exc:
                return str(exc)
            self.current = None  # re-announce under the new constraints
        self.cfg.update(changes)
        return None

    @guarded
    def _on_status(self, msg: String) -> None:
        """Say once, per camera and setting, when the camera's deadline fallback and this planner disagree:
        the planner values late payloads by it, so the two must be set together."""
        try:
            report = parse_status(msg.data)
        except ValueError:
            return  # another node's business; the status topic is not ours to police
        stream = str(report.get("stream_id", ""))
        if report.get("node") != "camera_node" or "fallback_deadline_s" not in report:
            return
        if self.cfg["stream_id"] and stream != self.cfg["stream_id"]:
            return
        deadline = float(report["fallback_deadline_s"] or 0.0)
        if self._fallback_seen.get(stream) == deadline:
            return
        self._fallback_seen[stream] = deadline
        planned = bool(self.cfg["fallback"])
        if (deadline > 0) != planned:
            camera = f"its deadline fallback (fallback_deadline_s {deadline:g} s)" if deadline > 0 else "no deadline fallback"
            self.get_logger().warning(f"camera {stream!r} runs {camera} but this controller plans "
                                      f"{'with' if planned else 'without'} one (fallback: {str(planned).lower()}); "
                                      "set the two together")
        elif planned and abs(deadline - float(self.cfg["deadline_s"])) > 1e-6:
            self.get_logger().warning(f"camera {stream!r} falls back at a {deadline:g} s deadline, this controller plans "
                                      f"for {float(self.cfg['deadline_s']):g} s (deadline_s); set them equal")

    @guarded
    def _on_stats(self, msg: LinkStats) -> None:
        if self.cfg["stream_id"] and msg.stream_id != self.cfg["stream_id"]:
            return
        self.stats_seen += 1
        sent, recv = stamp_to_ns(msg.sent_stamp), stamp_to_ns(msg.received_stamp)
        if sent <= 0 or recv <= 0 or msg.bytes <= 0:
            return
        issued = stamp_to_ns(msg.header.stamp)
        if issued >= recv:
            self._edge_lags.append(min((issued - recv) / 1e9, 60.0))
        try:
            self.monitor.on_feedback(int(msg.clip_seq), int(msg.bytes), sent / 1e9, max(recv, sent) / 1e9)
            self._last_stats = time.monotonic()
        except ValueError as exc:
            self.get_logger().warning(f"LinkStats {msg.stream_id}#{msg.clip_seq} ignored: {exc}")

    @guarded
    def _on_sent(self, msg: LinkStats) -> None:
        if self.cfg["stream_id"] and msg.stream_id != self.cfg["stream_id"]:
            return
        sent = stamp_to_ns(msg.sent_stamp)
        if sent <= 0 or msg.bytes <= 0:
            return
        self.monitor.on_sent(int(msg.clip_seq), int(msg.bytes), sent / 1e9)
        self.sent_seen += 1

    def _outlook(self) -> tuple[float | None, Any, Any]:
        """(rate, queue, ratios) for the planner. Before any LinkStats: initial_rate_bps (None without
        one). With the camera's clip_sent: the LinkMonitor's outlook (queue and overdue clips). Without:
        the EWMA rate while LinkStats are fresh, else None."""
        if self.stats_seen == 0:
            return self.rate.ewma_bps, 0.0, None
        if self.sent_seen:
            self.monitor.stale_after_s = float(self.cfg["stale_after_s"])
            self.monitor.feedback_delay_s = float(self.cfg["feedback_delay_s"]) + max(self._edge_lags, default=0.0)
            return self.monitor.outlook(wall_ns() / 1e9, self.rate.ratios.samples())
        fresh = time.monotonic() - self._last_stats <= float(self.cfg["stale_after_s"])
        return (self.rate.ewma_bps if fresh else None), 0.0, None

    @guarded
    def _decide(self) -> None:
        if self.planner is None:
            return
        rate, queue, ratios = self._outlook()
        decision = self.planner.choose(rate, queue_s=queue, ratios=ratios)
        if rate is None and decision.point.bytes_mean > 0 and not decision.probe:
            return  # nothing measured, no initial rate and no mode without a link: leave the camera alone
        chosen = decision.point
        point = (chosen.codec, int(chosen.k), float(chosen.p), self._settings_text(chosen))
        if point == self.current:
            return
        now = time.monotonic()
        if self.current is not None and now - self.last_change < float(self.cfg["min_interval_s"]):
            return
        cmd = BudgetCommand()
        cmd.header.stamp = ns_to_stamp(wall_ns())
        cmd.stream_id = self.cfg["stream_id"]
        cmd.mode = BudgetCommand.MODE_SET
        cmd.payload_mode, cmd.k, cmd.p, cmd.codec_settings = point
        cmd.rate_bps = float(rate or 0.0)
        cmd.predicted_s = float(decision.predicted_s) if decision.predicted_s != float("inf") else 0.0
        cmd.reason = command_reason(decision.reason)
        self.pub_cmd.publish(cmd)
        self.commands_sent += 1
        self.current, self.last_change = point, now
        knobs = f" settings {point[3]}" if point[3] else ""
        self.get_logger().info(f"budget -> {point[0]} K={point[1]} p={point[2]:g}{knobs}: {decision.reason}")


def command_reason(reason: str) -> str:
    """The planner's reason as the camera sees the command. A command always changes the camera's
    point, but when a switch was not sent at once (``min_interval_s``, or blind with nothing to send)
    the planner, deciding again, already holds that point and says "keep ..."; a reader of the
    command would see a switch explained as a keep."""
    if reason.startswith("keep "):
        return f"switch to {reason[len('keep '):]} (decided before, sent now)"
    return reason


def main(args: list[str] | None = None) -> int:
    return run_node(ControllerNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
