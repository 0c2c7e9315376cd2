"""The QoS each topic uses, in one place so publishers and subscribers always match.

Why each default (every one can be changed per node from its YAML, keys ``qos.<topic>.*``):

- camera frames (`image_raw`): sensor-data QoS (best effort, volatile, keep last 5): a late frame
  is worthless, and a best-effort reader also matches reliable camera drivers;
- semantic clips (`semantic_clip`): reliable, volatile, keep last 20: every clip costs the robot
  compute and is small, so the link should not silently lose one, and the bounded depth keeps a
  stalled edge from piling up memory on the robot;
- labels, ground truth and link stats (`action_label`, `ground_truth`, `link_stats`): reliable,
  **volatile** (live), keep last 10 / 10 / 50: a label describes what the camera sees now; a
  subscriber that joins late (`ros2 topic echo`, a dashboard) must see the next label, not a
  backlog of stale ones. A node that wants the latest label on joining sets the edge's
  ``qos.action_label.durability`` to ``transient_local`` and ``depth`` to 1 (at most one old label);
- budget commands (`budget_command`): reliable, **transient local**, depth 1 (latched, like
  /tf_static): a camera that starts or restarts after the controller still receives the budget in
  force, and only that one.

A transient-local reader does not match a volatile writer; a volatile reader matches both. So
readers of the live topics stay volatile unless they know the writer keeps history.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

__all__ = [
    "TopicQos", "TOPIC_QOS", "RELIABILITIES", "DURABILITIES", "profile", "topic_qos", "describe",
    "sensor_qos", "clip_qos", "label_qos", "command_qos", "image_out_qos",
]

RELIABILITIES = ("reliable", "best_effort")
DURABILITIES = ("volatile", "transient_local")


@dataclass(frozen=True)
class TopicQos:
    """A topic's QoS in the words of the YAML files and of `ros2 topic echo --qos-*`."""

    reliability: str
    durability: str
    depth: int

    def profile(self) -> QoSProfile:
        return profile(self.reliability, self.durability, self.depth)


#: default QoS of each topic (the node parameters qos.<topic>.* start from these)
TOPIC_QOS: dict[str, TopicQos] = {
    "image_raw": TopicQos("best_effort", "volatile", 5),
    "semantic_clip": TopicQos("reliable", "volatile", 20),
    "action_label": TopicQos("reliable", "volatile", 10),
    "ground_truth": TopicQos("reliable", "volatile", 10),
    "link_stats": TopicQos("reliable", "volatile", 50),
    "budget_command": TopicQos("reliable", "transient_local", 1),
}


def profile(reliability: str, durability: str, depth: int) -> QoSProfile:
    """A keep-last QoSProfile from policy names ('reliable'/'best_effort', 'volatile'/'transient_local')."""
    rel = {"reliable": ReliabilityPolicy.RELIABLE, "best_effort": ReliabilityPolicy.BEST_EFFORT}.get(reliability)
    dur = {"volatile": DurabilityPolicy.VOLATILE, "transient_local": DurabilityPolicy.TRANSIENT_LOCAL}.get(durability)
    if rel is None:
        raise ValueError(f"QoS reliability {reliability!r} is not one of {list(RELIABILITIES)}")
    if dur is None:
        raise ValueError(f"QoS durability {durability!r} is not one of {list(DURABILITIES)}")
    if int(depth) < 1:
        raise ValueError(f"QoS depth {depth} must be >= 1")
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=int(depth), reliability=rel, durability=dur)


def topic_qos(topic: str, cfg: Mapping[str, Any] | None = None) -> QoSProfile:
    """The QoS of `topic` from a node's parameters ``qos.<topic>.{reliability,durability,depth}``
    (each missing key falls back to TOPIC_QOS)."""
    base = TOPIC_QOS[topic]
    cfg = cfg or {}
    return profile(str(cfg.get(f"qos.{topic}.reliability", base.reliability)),
                   str(cfg.get(f"qos.{topic}.durability", base.durability)),
                   int(cfg.get(f"qos.{topic}.depth", base.depth)))


def describe(p: QoSProfile) -> str:
    """'reliable, volatile, keep last 10': for log lines."""
    rel = "reliable" if p.reliability == ReliabilityPolicy.RELIABLE else "best_effort"
    dur = "transient_local" if p.durability == DurabilityPolicy.TRANSIENT_LOCAL else "volatile"
    return f"{rel}, {dur}, keep last {p.depth}"


def sensor_qos(depth: int = 5) -> QoSProfile:
    """Camera frames in: best effort, volatile, keep last `depth` (like qos_profile_sensor_data)."""
    return profile("best_effort", "volatile", depth)


def clip_qos(depth: int = 20) -> QoSProfile:
    """SemanticClip: reliable, volatile, keep last `depth` (a burst after a stall must fit)."""
    return profile("reliable", "volatile", depth)


def label_qos(depth: int = 10, durable: bool = False) -> QoSProfile:
    """ActionLabel, LinkStats and ground truth: reliable; volatile (live) unless `durable`.

    A reader passes durable=True only when the writer keeps history (its qos.<topic>.durability
    is transient_local): a durable reader does not match a volatile writer.
    """
    return profile("reliable", "transient_local" if durable else "volatile", depth)


def command_qos() -> QoSProfile:
    """BudgetCommand: reliable, transient local, depth 1 (late joiners get the budget in force)."""
    return profile("reliable", "transient_local", 1)


def image_out_qos(depth: int = 2) -> QoSProfile:
    """Debug images out (original / recovered strips for rviz): best effort, keep last 2."""
    return profile("best_effort", "volatile", depth)
