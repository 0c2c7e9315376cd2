"""Writing rosbag2 bags (mcap or sqlite3) with rosbags, and the clip bags `stae bag make` produces.

A clip bag holds every frame of every clip as sensor_msgs/Image (rgb8) on ``/camera/image_raw``,
stamped at ``fps`` on one continuous timeline, and one std_msgs/String per clip on
``/stae/ground_truth`` whose ``data`` is JSON::

    {"clip": 3, "name": "wave_0012", "class_id": 5, "label": "wave",
     "first_stamp_ns": ..., "last_stamp_ns": ..., "frames": 16, "classes": [...]}

(``classes`` only in the first message). String/JSON rather than a custom type so any ROS tool can
read the labels without our interface package.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer, WriterError

from .errors import BagError
from .images import rgb_to_image
from .typestore import make_typestore

__all__ = ["STORAGES", "IMAGE_TOPIC", "GT_TOPIC", "BagWriter", "ClipItem", "ClipBagSummary", "write_clip_bag", "storage_plugin"]

log = logging.getLogger(__name__)

STORAGES = ("mcap", "sqlite3")
IMAGE_TOPIC = "/camera/image_raw"
GT_TOPIC = "/stae/ground_truth"


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

    def connection(self, topic: str, msgtype: str) -> Any:
        conn = self._conns.get(topic)
        if conn is None:
            if msgtype not in self.store.types:
                raise BagError(f"message type {msgtype!r} for {topic} is not in the typestore")
            conn = self._writer.add_connection(topic, msgtype, typestore=self.store)
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
) -> ClipBagSummary:
    """Write clips as Image frames at ``fps`` on one timeline plus one ground-truth String per clip."""
    if not fps > 0:
        raise BagError(f"fps must be > 0, got {fps}")
    period_ns = int(round(1e9 / fps))
    n_clips = n_frames = 0
    t = start_ns
    with BagWriter(out, storage, overwrite=overwrite) as bw:
        String = bw.store.types["std_msgs/msg/String"]
        for item in clips:
            frames = np.asarray(item.frames)
            if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[3] != 3 or frames.shape[0] < 1:
                raise BagError(f"clip {n_clips} ({item.name}) must be uint8 T,H,W,3; got {frames.dtype} {frames.shape}")
            first, last = t, t + (frames.shape[0] - 1) * period_ns
            gt: dict[str, Any] = {
                "clip": n_clips, "name": item.name, "class_id": int(item.class_id), "label": item.label,
                "first_stamp_ns": first, "last_stamp_ns": last, "frames": int(frames.shape[0]),
            }
            if n_clips == 0 and class_names:
                gt["classes"] = list(class_names)
            bw.write(gt_topic, String(data=json.dumps(gt)), first)
            for frame in frames:
                bw.write(image_topic, rgb_to_image(bw.store, frame, t, frame_id), t)
                t += period_ns
                n_frames += 1
            n_clips += 1
    if n_clips == 0:
        raise BagError("no clips to write")
    log.info("wrote %s: %d clips, %d frames (%s)", out, n_clips, n_frames, storage)
    return ClipBagSummary(Path(out), storage, n_clips, n_frames, n_frames / fps)
