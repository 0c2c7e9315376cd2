"""Bags through the real nodes: a bag's frames into camera_node's image_raw, labels out of edge_node.

`stae bag eval --nodes` uses this to score a bag with the node processes a robot runs (their
YAML, QoS, clip cutting and the edge's batching), rather than with the pipelines in one process.
Camera and edge run as processes (stae_ros.ros.launcher) on a private ROS_DOMAIN_ID under a
namespace of their own; this process plays the bag's frames on <ns>/image_raw and listens to
<ns>/semantic_clip and <ns>/action_label.

Frames go clip by clip: after a clip's frames the player waits for the camera's SemanticClip
before sending the next frames, and the camera's image_raw reader is made reliable with a deep
history for the replay, so no frame is dropped however slow the host (a live camera driver is
best effort and may drop). ``live_labels`` runs the same pair with the camera's own source, for
comparison with the same clips played from a bag.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

from .errors import LaunchError
from .launcher import Launcher, NodeSpec, pick_domain_id

__all__ = ["NodeLabel", "ReplayResult", "replay_bag", "live_labels"]

#: camera parameters for a replay: nothing dropped on image_raw, whatever the rate
REPLAY_CAMERA_QOS = {"qos.image_raw.reliability": "reliable", "qos.image_raw.depth": 1000}


@dataclass(frozen=True)
class NodeLabel:
    """What the edge said about one clip, with the camera's clip fields."""

    seq: int
    label: str
    class_id: int
    score: float
    payload_bytes: int
    k: int
    p: float
    camera_ms: float
    link_ms: float
    edge_ms: float
    first_stamp_ns: int
    last_stamp_ns: int


@dataclass
class ReplayResult:
    labels: dict[int, NodeLabel] = field(default_factory=dict)
    clips_sent: int = 0
    frames_sent: int = 0
    node_output: dict[str, str] = field(default_factory=dict)


class _Rig:
    """camera_node + edge_node processes and a listener node on their private domain."""

    def __init__(self, model: str | Path, camera: Mapping[str, Any], edge: Mapping[str, Any],
                 domain_id: int | None = None, startup_s: float = 120.0) -> None:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from stae_msgs.msg import ActionLabel, SemanticClip

        from . import qos

        self.domain = pick_domain_id() if domain_id is None else int(domain_id)
        self.ns = f"stae_replay_{os.getpid()}"
        self.startup_s = startup_s
        self.specs = [
            NodeSpec("camera_node", self.ns, params={"model": str(model), **dict(camera)}),
            NodeSpec("edge_node", self.ns, params={"model": str(model), **dict(edge)}),
        ]
        self.launcher = Launcher(self.specs, domain_id=self.domain, output=None)
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=self.domain)
        self.node = rclpy.create_node("stae_bag_player", namespace=self.ns, context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.clips: dict[int, Any] = {}
        self.labels: dict[int, Any] = {}
        self.node.create_subscription(SemanticClip, "semantic_clip", lambda m: self.clips.setdefault(m.seq, m),
                                      qos.clip_qos(100))
        self.node.create_subscription(ActionLabel, "action_label", lambda m: self.labels.setdefault(m.clip_seq, m),
                                      qos.label_qos(depth=100))

    def start(self) -> "_Rig":
        self.launcher.start()
        for spec in self.specs:
            label = spec.label
            word = "camera ready" if spec.executable == "camera_node" else "edge ready"
            if not self.launcher.wait_for_line(label, word, self.startup_s):
                raise LaunchError(f"{label} did not start:\n{self.launcher.output_of(label)[-2000:]}")
        return self

    def spin_until(self, cond, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=0.02)
            if cond():
                return True
            if self.launcher.exited():
                raise LaunchError(f"node(s) exited: {self.launcher.exited()}\n" + "\n".join(
                    self.launcher.output_of(k)[-2000:] for k in self.launcher.exited()))
        return cond()

    def wait_matched(self, timeout: float = 30.0) -> None:
        """Until the camera's clips reach this listener and the edge, and the edge's labels reach it."""
        node = self.node
        ok = self.spin_until(lambda: node.count_subscribers("semantic_clip") >= 2
                             and node.count_publishers("semantic_clip") >= 1
                             and node.count_publishers("action_label") >= 1, timeout)
        if not ok:
            raise LaunchError("camera and edge did not match their topics within "
                              f"{timeout:.0f} s (semantic_clip readers {node.count_subscribers('semantic_clip')})")

    def result(self, clips_sent: int = 0, frames_sent: int = 0) -> ReplayResult:
        from .common import stamp_to_ns

        out = ReplayResult(clips_sent=clips_sent, frames_sent=frames_sent)
        for seq, m in self.labels.items():
            clip = self.clips.get(seq)
            out.labels[seq] = NodeLabel(
                seq=seq, label=str(m.label), class_id=int(m.class_id), score=float(m.score),
                payload_bytes=int(m.payload_bytes), k=int(m.k), p=float(m.p), camera_ms=float(m.camera_ms),
                link_ms=float(m.link_ms), edge_ms=float(m.edge_ms),
                first_stamp_ns=stamp_to_ns(clip.first_stamp) if clip is not None else 0,
                last_stamp_ns=stamp_to_ns(clip.last_stamp) if clip is not None else stamp_to_ns(m.clip_stamp))
        out.node_output = {s.label: self.launcher.output_of(s.label) for s in self.specs}
        return out

    def close(self) -> None:
        self.launcher.stop(timeout=10.0)
        self.executor.shutdown()
        self.node.destroy_node()
        import rclpy

        rclpy.try_shutdown(context=self.context)


def replay_bag(bag: str | Path, model: str | Path, *, camera: Mapping[str, Any] | None = None,
               edge: Mapping[str, Any] | None = None, image_topic: str | None = None, window: int = 0,
               max_clips: int | None = None, rate: str = "max", clip_timeout_s: float = 60.0,
               domain_id: int | None = None, start_frame: int = 0) -> ReplayResult:
    """Play the bag's images into camera_node clip by clip and collect edge_node's labels.

    ``window``: frames per clip window (0 = the model's clip length, how `stae bag make` lays
    clips out); the camera cuts the same windows (its clip_length parameter). ``rate``: 'max'
    sends a clip's frames once the previous clip is labelled (one clip in flight, so the label
    latencies are the nodes' work); 'recorded' sends each frame at its recorded time and waits
    only for the camera's clip, so a host slower than real time shows up as queueing on the edge.
    ``start_frame``: start the replay at this image of the bag (mid-bag, mid-clip: the camera
    cuts its windows from the first frame it gets, as a camera switched on at that moment would).
    """
    import itertools

    from stae_ros.bagio import read_images
    from stae_ros.bagio.writer import IMAGE_TOPIC
    from sensor_msgs.msg import Image

    from . import qos
    from .images import array_to_image

    if rate not in ("max", "recorded"):
        raise ValueError(f"rate must be 'max' or 'recorded', got {rate!r}")
    if int(start_frame) < 0:
        raise ValueError(f"start_frame must be >= 0, got {start_frame}")
    window = int(window) or _clip_length(model)
    cam = {"source": "", "clip_length": window, **REPLAY_CAMERA_QOS, **dict(camera or {})}
    rig = _Rig(model, cam, dict(edge or {}), domain_id)
    frames = sent = 0
    try:
        rig.start()
        pub = rig.node.create_publisher(Image, "image_raw", qos.profile("reliable", "volatile", 1000))
        if not rig.spin_until(lambda: pub.get_subscription_count() >= 1, 30.0):
            raise LaunchError("camera_node did not subscribe to image_raw within 30 s")
        rig.wait_matched()
        t0_wall = time.monotonic()
        t0_bag: int | None = None
        images = itertools.islice(read_images(bag, image_topic or IMAGE_TOPIC), int(start_frame), None)
        for i, clip in enumerate(_windows(images, window)):
            if max_clips is not None and i >= max_clips:
                break
            for stamp_ns, rgb in clip:
                if rate == "recorded":
                    t0_bag = stamp_ns if t0_bag is None else t0_bag
                    wait = (stamp_ns - t0_bag) / 1e9 - (time.monotonic() - t0_wall)
                    if wait > 0:
                        rig.spin_until(lambda: False, wait)
                msg = array_to_image(rgb, "rgb8")
                msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(int(stamp_ns), 1_000_000_000)
                pub.publish(msg)
                frames += 1
            sent += 1
            if not rig.spin_until(lambda: i in rig.clips, clip_timeout_s):
                raise LaunchError(f"camera_node sent no clip {i} within {clip_timeout_s:.0f} s of its frames:\n"
                                  + rig.launcher.output_of(rig.specs[0].label)[-2000:])
            if rate == "max":  # one clip in flight: the latencies are the nodes' work, not a queue
                rig.spin_until(lambda: i in rig.labels, clip_timeout_s)
        rig.spin_until(lambda: all(s in rig.labels for s in range(sent)), clip_timeout_s)
        return rig.result(sent, frames)
    finally:
        rig.close()


def live_labels(model: str | Path, source: str, clips: int, *, camera: Mapping[str, Any] | None = None,
                edge: Mapping[str, Any] | None = None, timeout_s: float = 120.0,
                domain_id: int | None = None) -> ReplayResult:
    """camera_node with its own `source` (e.g. 'synth') for `clips` clips, through edge_node: the labels."""
    # no frame is read before this listener and the edge both take the clips (a paused camera
    # would still read its source and skip clips)
    cam = {"source": source, "max_clips": int(clips), "wait_for_subscribers": 2, **dict(camera or {})}
    rig = _Rig(model, cam, dict(edge or {}), domain_id)
    try:
        rig.start()
        rig.spin_until(lambda: all(s in rig.labels for s in range(clips)), timeout_s)
        return rig.result(clips, 0)
    finally:
        rig.close()


def _clip_length(model: str | Path) -> int:
    from stae_ros.training.checkpoints import load_model

    return int(load_model(model).config.clip.frames)


def _windows(frames: Iterator[tuple[int, Any]], window: int) -> Iterator[list[tuple[int, Any]]]:
    buf: list[tuple[int, Any]] = []
    for item in frames:
        buf.append(item)
        if len(buf) == window:
            yield buf
            buf = []
