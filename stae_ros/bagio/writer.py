"""Writing rosbag2 bags (mcap or sqlite3) with rosbags, and the clip bags `stae bag make` produces.

A clip bag holds what a camera_node subscribes to and what it publishes besides its clips, under
the nodes' own topic names, so `ros2 bag play` (or `stae bag eval --nodes`) feeds it straight
into the nodes:

- every frame of every clip as sensor_msgs/Image (rgb8) on ``/image_raw``, stamped at ``fps`` on
  one continuous timeline;
- one stae_msgs/ActionLabel per clip on ``/ground_truth``, as camera_node publishes it for a
  source that knows the class: ``clip_seq`` = clip index, ``label``/``class_id``, ``score`` 1,
  ``header.stamp`` = ``clip_stamp`` = the stamp of the clip's last frame.

Each topic's ``offered_qos_profiles`` in metadata.yaml is the QoS the nodes use on it (so
`ros2 bag play` offers what the camera expects), and ``ros_distro`` names the ROS distribution
($ROS_DISTRO, else ``jazzy``, whose message definitions the typestore holds).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime
from rosbags.rosbag2 import StoragePlugin, Writer, WriterError

from .errors import BagError
from .images import rgb_to_image, stamp_from_ns
from .typestore import make_typestore
from .typestore import msgtype as msgtype_of

__all__ = ["STORAGES", "IMAGE_TOPIC", "GT_TOPIC", "DEFAULT_DISTRO", "BagWriter", "ClipItem", "ClipBagSummary",
           "write_clip_bag", "storage_plugin", "bag_qos", "topic_qos", "ros_distro"]

log = logging.getLogger(__name__)

STORAGES = ("mcap", "sqlite3")
IMAGE_TOPIC = "/image_raw"  #: camera_node's input (relative `image_raw` in the root namespace)
GT_TOPIC = "/ground_truth"  #: camera_node's ground-truth output
DEFAULT_DISTRO = "jazzy"  #: the distribution whose message definitions make_typestore registers

_RELIABILITY = {"reliable": QosReliability.RELIABLE, "best_effort": QosReliability.BEST_EFFORT}
_DURABILITY = {"volatile": QosDurability.VOLATILE, "transient_local": QosDurability.TRANSIENT_LOCAL}


def bag_qos(reliability: str, durability: str, depth: int) -> Qos:
    """A keep-last QoS profile as rosbag2 metadata records it ('reliable'/'best_effort', 'volatile'/'transient_local')."""
    try:
        rel, dur = _RELIABILITY[reliability], _DURABILITY[durability]
    except KeyError:
        raise BagError(f"unknown QoS {reliability!r}/{durability!r}; use {list(_RELIABILITY)} and {list(_DURABILITY)}") from None
    zero = QosTime(0, 0)
    return Qos(QosHistory.KEEP_LAST, int(depth), rel, dur, zero, zero, QosLiveliness.AUTOMATIC, zero, False)


def topic_qos(topic: str) -> Qos:
    """The QoS the nodes publish `topic` with by default (stae_ros.ros.params: what config/*.yaml holds)."""
    from stae_ros.ros.params import QOS_DEFAULTS  # no rclpy: the parameter tables only

    rel, dur, depth = QOS_DEFAULTS[topic.rsplit("/", 1)[-1]]
    return bag_qos(rel, dur, depth)


def ros_distro() -> str:
    """$ROS_DISTRO, else the distribution our typestore's standard definitions come from."""
    return os.environ.get("ROS_DISTRO", "").strip() or DEFAULT_DISTRO


def storage_plugin(name: str) -> StoragePlugin:
    try:
        return {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}[name]
    except KeyError:
        raise BagError(f"unknown bag storage {name!r}; use one of {', '.join(STORAGES)}") from None


class BagWriter:
    """Context manager around rosbags' Writer: one connection per topic, typed or raw CDR writes."""

    def __init__(self, path: str | Path, storage: str = "mcap", typestore: Any = None, overwrite: bool = False) -> None:
        self.path = Path(path)
        self.storage = storage
        self.store = typestore if typestore is not None else make_typestore()
        plugin = storage_plugin(storage)
        if self.path.exists():
            if not overwrite:
                raise BagError(f"{self.path} already exists; choose another path or pass --force")
            if self.path.is_dir() and not (self.path / "metadata.yaml").exists() and any(self.path.iterdir()):
                raise BagError(f"{self.path} exists and is not a bag (no metadata.yaml); refusing to delete it")
            shutil.rmtree(self.path) if self.path.is_dir() else self.path.unlink()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = Writer(self.path, version=9, storage_plugin=plugin)
        self._conns: dict[str, Any] = {}
        self.count = 0

    def __enter__(self) -> "BagWriter":
        try:
            self._writer.open()
        except WriterError as exc:
            raise BagError(f"cannot create bag {self.path}: {exc}") from exc
        return self

    def __exit__(self, *exc: object) -> None:
        self._writer.close()
        self._set_distro(ros_distro())

    def _set_distro(self, distro: str) -> None:
        """rosbags writes ``ros_distro: rosbags`` into metadata.yaml; name the real distribution."""
        meta = self.path / "metadata.yaml"
        if not meta.is_file():
            return
        text, n = re.subn(r"(?m)^(\s*ros_distro:).*$", lambda m: f"{m.group(1)} {distro}", meta.read_text())
        if n:
            meta.write_text(text)

    def connection(self, topic: str, msgtype: str, qos: Sequence[Qos] = ()) -> Any:
        """The bag's connection for `topic` (made on first use with the publishers' offered `qos`)."""
        conn = self._conns.get(topic)
        if conn is None:
            if msgtype not in self.store.types:
                raise BagError(f"message type {msgtype!r} for {topic} is not in the typestore")
            conn = self._writer.add_connection(topic, msgtype, typestore=self.store, offered_qos_profiles=list(qos))
            self._conns[topic] = conn
        elif conn.msgtype != msgtype:
            raise BagError(f"topic {topic} already has type {conn.msgtype}, not {msgtype}")
        return conn

    def write(self, topic: str, msg: Any, stamp_ns: int) -> None:
        """Serialise a rosbags message object and write it at ``stamp_ns`` (log time)."""
        msgtype = msg.__msgtype__
        conn = self.connection(topic, msgtype)
        self._writer.write(conn, int(stamp_ns), self.store.serialize_cdr(msg, msgtype))
        self.count += 1

    def write_raw(self, topic: str, msgtype: str, data: bytes | memoryview, stamp_ns: int) -> None:
        """Write already-serialised CDR bytes (e.g. from rclpy.serialization.serialize_message)."""
        conn = self.connection(topic, msgtype)
        self._writer.write(conn, int(stamp_ns), bytes(data))
        self.count += 1


@dataclass(frozen=True)
class ClipItem:
    frames: np.ndarray  #: uint8 T,H,W,3 RGB
    class_id: int
    label: str
    name: str = ""


@dataclass(frozen=True)
class ClipBagSummary:
    path: Path
    storage: str
    clips: int
    frames: int
    duration_s: float


def write_clip_bag(
    out: str | Path,
    clips: Iterable[ClipItem],
    *,
    fps: float = 10.0,
    storage: str = "mcap",
    class_names: Sequence[str] = (),
    start_ns: int = 1_700_000_000 * 1_000_000_000,
    frame_id: str = "camera",
    overwrite: bool = False,
    image_topic: str = IMAGE_TOPIC,
    gt_topic: str = GT_TOPIC,
    stream_id: str = "camera",
) -> ClipBagSummary:
    """Write clips as Image frames at ``fps`` on one timeline plus one ground-truth ActionLabel per clip.

    ``class_names`` is kept for callers that have it; the labels carry each clip's own name.
    """
    if not fps > 0:
        raise BagError(f"fps must be > 0, got {fps}")
    period_ns = int(round(1e9 / fps))
    n_clips = n_frames = 0
    t = start_ns
    with BagWriter(out, storage, overwrite=overwrite) as bw:
        ActionLabel = bw.store.types[msgtype_of("ActionLabel")]
        Header = bw.store.types["std_msgs/msg/Header"]
        bw.connection(image_topic, "sensor_msgs/msg/Image", [topic_qos("image_raw")])
        bw.connection(gt_topic, msgtype_of("ActionLabel"), [topic_qos("ground_truth")])
        for item in clips:
            frames = np.asarray(item.frames)
            if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[3] != 3 or frames.shape[0] < 1:
                raise BagError(f"clip {n_clips} ({item.name}) must be uint8 T,H,W,3; got {frames.dtype} {frames.shape}")
            for frame in frames:
                bw.write(image_topic, rgb_to_image(bw.store, frame, t, frame_id), t)
                last = t
                t += period_ns
                n_frames += 1
            stamp = stamp_from_ns(bw.store, last)
            gt = ActionLabel(header=Header(stamp=stamp, frame_id=frame_id), stream_id=stream_id, clip_seq=n_clips,
                             clip_stamp=stamp, label=item.label, class_id=int(item.class_id), score=1.0,
                             topk_labels=[item.label], topk_ids=np.array([int(item.class_id)], dtype=np.int32),
                             topk_scores=np.array([1.0], dtype=np.float32), **_zero_fields(ActionLabel))
            bw.write(gt_topic, gt, last)
            n_clips += 1
    if n_clips == 0:
        raise BagError("no clips to write")
    log.info("wrote %s: %d clips, %d frames (%s)", out, n_clips, n_frames, storage)
    return ClipBagSummary(Path(out), storage, n_clips, n_frames, n_frames / fps)


def _zero_fields(cls: Any) -> dict[str, Any]:
    """Every other field of a rosbags message class at its zero value (the message set may grow)."""
    import dataclasses

    set_here = {"header", "stream_id", "clip_seq", "clip_stamp", "label", "class_id", "score", "topk_labels",
                "topk_ids", "topk_scores"}
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name in set_here or f.name == "__msgtype__":
            continue
        kind = str(f.type)
        if kind == "str":
            out[f.name] = ""
        elif kind == "float":
            out[f.name] = 0.0
        elif kind == "int":
            out[f.name] = 0
        elif kind == "bool":
            out[f.name] = False
        else:
            raise BagError(f"ActionLabel field {f.name} of type {kind} has no zero value here")
    return out
