"""A rosbags typestore that knows sensor_msgs/std_msgs (ROS 2 Jazzy) and our stae_msgs types.

Bags written with it embed the full message definitions, so `ros2 bag info/play` on a ROS host and
any rosbags/mcap reader can decode them without our code. Our definitions come from the repo's
``msg/`` folder, the single source of truth, or the installed copy under ``share/``.
"""

from __future__ import annotations

import logging
import sys
from functools import lru_cache
from pathlib import Path

from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

from .errors import MessageDefinitionError

__all__ = ["MSG_PACKAGE", "MSG_NAMES", "find_msg_dir", "make_typestore", "msgtype"]

log = logging.getLogger(__name__)

#: the interface package our .msg files are generated into (stae_msgs/package.xml)
MSG_PACKAGE = "stae_msgs"
MSG_NAMES = ("SemanticClip", "ActionLabel", "LinkStats", "BudgetCommand")


def msgtype(name: str) -> str:
    """'SemanticClip' -> 'stae_msgs/msg/SemanticClip'."""
    return f"{MSG_PACKAGE}/msg/{name}"


def find_msg_dir() -> Path:
    """The folder holding our .msg files: the repo's msg/, else the installed share/ copies."""
    here = Path(__file__).resolve()
    candidates = [
        here.parents[2] / "msg",
        Path(sys.prefix) / "share" / MSG_PACKAGE / "msg",
        Path(sys.prefix) / "share" / "stae_ros" / "msg",
    ]
    for cand in candidates:
        if all((cand / f"{n}.msg").is_file() for n in MSG_NAMES):
            return cand
    raise MessageDefinitionError(
        "cannot find SemanticClip.msg etc.; looked in " + ", ".join(str(c) for c in candidates)
    )


@lru_cache(maxsize=4)
def _cached(msg_dir: str) -> Typestore:
    store = get_typestore(Stores.ROS2_JAZZY)
    types = {}
    for name in MSG_NAMES:
        path = Path(msg_dir) / f"{name}.msg"
        try:
            types.update(get_types_from_msg(path.read_text(), msgtype(name)))
        except Exception as exc:  # rosbags raises its own parse errors
            raise MessageDefinitionError(f"cannot parse {path}: {exc}") from exc
    store.register(types)
    return store


def make_typestore(msg_dir: str | Path | None = None) -> Typestore:
    """Typestore with ROS 2 Jazzy standard types plus stae_msgs/msg/{SemanticClip,...}."""
    return _cached(str(Path(msg_dir) if msg_dir is not None else find_msg_dir()))
