"""The QoS each topic uses, in one place so publishers and subscribers always match.

- camera frames (`image_raw`): sensor-data QoS (best effort, keep last 5): a late frame is
  worthless, and best effort subscribers also match reliable camera drivers;
- semantic clips, labels and link stats: reliable, keep last `depth`: every clip costs the robot
  compute and is small, so the link should not silently lose it;
- labels and link stats are *published* transient local (like /tf_static): a volatile subscriber
  (`ros2 topic echo`, the controller) matches and sees only new messages, while a subscriber that
  asks for transient local (the demo, the tests, a dashboard started late) also gets the last
  `depth` ones, including those sent before discovery matched it to the edge;
- budget commands: reliable + transient local, depth 1: a camera that starts (or restarts) after
  the controller still receives the budget in force.
"""

from __future__ import annotations

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

__all__ = ["sensor_qos", "clip_qos", "label_qos", "command_qos", "image_out_qos"]


def sensor_qos(depth: int = 5) -> QoSProfile:
    """Camera frames in: best effort, volatile, keep last `depth` (like qos_profile_sensor_data)."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth,
                      reliability=ReliabilityPolicy.BEST_EFFORT, durability=DurabilityPolicy.VOLATILE)


def clip_qos(depth: int = 20) -> QoSProfile:
    """SemanticClip: reliable, volatile, keep last `depth` (a burst after a stall must fit)."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth,
                      reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE)


def label_qos(depth: int = 50, durable: bool = False) -> QoSProfile:
    """ActionLabel, LinkStats and ground truth: reliable; transient local when `durable`.

    Publishers pass durable=True so their last `depth` messages wait for late subscribers; a
    subscriber passes it only when it wants that history (a durable subscriber does not match a
    volatile publisher, so third-party publishers need it too).
    """
    durability = DurabilityPolicy.TRANSIENT_LOCAL if durable else DurabilityPolicy.VOLATILE
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth,
                      reliability=ReliabilityPolicy.RELIABLE, durability=durability)


def command_qos() -> QoSProfile:
    """BudgetCommand: reliable, transient local, depth 1 (late joiners get the budget in force)."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                      reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


def image_out_qos(depth: int = 2) -> QoSProfile:
    """Debug images out (original / recovered strips for rviz): best effort, keep last 2."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth,
                      reliability=ReliabilityPolicy.BEST_EFFORT, durability=DurabilityPolicy.VOLATILE)
