"""Reading rosbag2 bags with rosbags, with errors that say what is wrong with the bag."""

from __future__ import annotations

import json
import logging
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from rosbags.rosbag2 import Reader, ReaderError
from rosbags.serde import SerdeError

from ..errtext import exc_line
from .errors import BagFormatError, BagNotFoundError, MissingTopicError
from .images import image_to_rgb, ns_from_stamp
from .typestore import make_typestore
from .writer import GT_TOPIC, IMAGE_TOPIC

__all__ = ["GroundTruth", "open_bag", "bag_topics", "read_images", "read_ground_truth", "read_messages"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GroundTruth:
    clip: int
    class_id: int
    label: str
    first_stamp_ns: int
    last_stamp_ns: int
    frames: int  #: -1 when the ground truth does not say (ActionLabel)
    name: str = ""


@contextmanager
def open_bag(path: str | Path) -> Iterator[Reader]:
    """rosbags Reader, opened; missing or malformed bags raise BagNotFoundError / BagFormatError."""
    path = Path(path)
    if not path.exists():
        raise BagNotFoundError(f"bag not found: {path}")
    try:
        reader = Reader(path)
        reader.open()
    except ReaderError as exc:  # its text may quote the YAML over several lines: the telling one is kept
        raise BagFormatError(f"{path} is not a readable rosbag2: {exc_line(exc).partition(': ')[2]}") from exc
    except Exception as exc:  # corrupt sqlite/mcap files surface as their libraries' errors
        raise BagFormatError(f"{path} is not a readable rosbag2: {exc_line(exc)}") from exc
    try:
        yield reader
    finally:
        reader.close()


def bag_topics(path: str | Path) -> dict[str, tuple[str, int]]:
    """{topic: (msgtype, message count)}."""
    with open_bag(path) as reader:
        return {t: (info.msgtype or "", info.msgcount) for t, info in reader.topics.items()}


def _connections(reader: Reader, topic: str, path: Path) -> list[Any]:
    conns = [c for c in reader.connections if c.topic == topic]
    if not conns:
        have = ", ".join(sorted({c.topic for c in reader.connections})) or "none"
        raise MissingTopicError(f"bag {path} has no topic {topic} (topics: {have})")
    return conns


def read_messages(path: str | Path, topic: str, store: Any = None) -> Iterator[tuple[int, Any]]:
    """(log time ns, deserialised message) of one topic, in log-time order."""
    path = Path(path)
    store = store if store is not None else make_typestore()
    with open_bag(path) as reader:
        conns = _connections(reader, topic, path)
        try:
            for conn, t, raw in reader.messages(connections=conns):
                yield t, store.deserialize_cdr(raw, conn.msgtype)
        except ReaderError as exc:
            raise BagFormatError(f"{path}: cannot read {topic}: {exc}") from exc
        except (SerdeError, KeyError, AssertionError, ValueError, IndexError) as exc:
            raise BagFormatError(f"{path}: malformed message on {topic}: {exc_line(exc)}") from exc


def read_images(path: str | Path, topic: str = IMAGE_TOPIC) -> Iterator[tuple[int, np.ndarray]]:
    """(header stamp ns, uint8 H,W,3 RGB) for every Image on ``topic``."""
    for _, msg in read_messages(path, topic):
        yield ns_from_stamp(msg.header.stamp), image_to_rgb(msg)


def read_ground_truth(path: str | Path, topic: str = GT_TOPIC) -> tuple[list[GroundTruth], list[str]]:
    """Ground-truth clips and the class names (when the bag lists them).

    Reads stae_msgs/ActionLabel ground truth (what camera_node publishes and `stae bag make`
    writes): clip i spans the frames after clip i-1's ``clip_stamp`` up to its own. Older bags with
    std_msgs/String JSON ground truth (with first/last stamps and the class list) read too.
    """
    path = Path(path)
    out: list[GroundTruth] = []
    classes: list[str] = []
    with open_bag(path) as reader:
        kinds = {c.msgtype for c in _connections(reader, topic, path)}
    if kinds == {"std_msgs/msg/String"}:
        for _, msg in read_messages(path, topic):
            try:
                d = json.loads(msg.data)
                out.append(GroundTruth(int(d["clip"]), int(d["class_id"]), str(d["label"]), int(d["first_stamp_ns"]),
                                       int(d["last_stamp_ns"]), int(d["frames"]), str(d.get("name", ""))))
                classes = classes or list(d.get("classes", []))
            except (ValueError, KeyError, TypeError) as exc:
                raise BagFormatError(f"{path}: ground-truth message on {topic} is not the expected JSON: {exc}") from exc
        return out, classes
    if kinds != {"stae_msgs/msg/ActionLabel"}:
        raise BagFormatError(f"{path}: ground truth on {topic} must be stae_msgs/msg/ActionLabel; got {sorted(kinds)}")
    labels = sorted((ns_from_stamp(m.clip_stamp), m) for _, m in read_messages(path, topic))
    previous = 0
    for last, m in labels:
        out.append(GroundTruth(int(m.clip_seq), int(m.class_id), str(m.label), previous + 1, last, -1))
        previous = last
    return out, classes
