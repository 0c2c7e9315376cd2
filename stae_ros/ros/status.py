"""The nodes' status topic (``stae_status``) and the security pre-check every node runs at start.

Status: diagnostic_msgs is not part of the Python wheels this package runs on, so each node
publishes a std_msgs/String holding one JSON object on ``stae_status`` (relative to its namespace)
once a second, and again at once after an event worth seeing (a mode switch). A consumer reads
``json.loads(msg.data)``; every object carries ``node`` and ``stamp_ns``; the rest is the node's
counters (docs/ros.md, "Status topic"). Counters only grow while a node runs, so a reader can
difference two reports; a node that restarts starts again from zero (``started_ns`` changes).

Security: with ROS_SECURITY_ENABLE=true and ROS_SECURITY_STRATEGY=Enforce, rcl refuses to start a
participant without its enclave's keys, but it says so in a Python traceback. ``check_security``
looks first and names what is missing in one line, so a node fails closed with a clear reason.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

__all__ = ["STATUS_TOPIC", "STATUS_PERIOD_S", "ENCLAVE_FILES", "rss_mb", "status_json", "parse_status",
           "enclave_from_args", "check_security", "SecurityConfigError"]

#: relative topic name of the status reports (std_msgs/String, JSON)
STATUS_TOPIC = "stae_status"
STATUS_PERIOD_S = 1.0

#: files rcl's DDS-Security plugins read from an enclave directory (what `ros2 security create_enclave` writes)
ENCLAVE_FILES = ("identity_ca.cert.pem", "permissions_ca.cert.pem", "governance.p7s", "permissions.p7s",
                 "cert.pem", "key.pem")


class SecurityConfigError(RuntimeError):
    """Security is enforced but the keystore or enclave this node needs is missing or incomplete."""


def rss_mb() -> float:
    """Resident set size of this process in MB (Linux /proc; 0.0 where it cannot be read)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError, IndexError):
        return 0.0


def status_json(node: str, counters: Mapping[str, Any]) -> str:
    """One status report: the node's counters plus its name, the time and its RSS."""
    body = {"node": node, "stamp_ns": time.time_ns(), "rss_mb": round(rss_mb(), 1)}
    body.update(counters)
    return json.dumps(body, sort_keys=True)


def parse_status(text: str) -> dict[str, Any]:
    """The JSON object of one report; ValueError naming the problem for anything else."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"status report is not JSON: {exc}") from None
    if not isinstance(obj, dict) or "node" not in obj:
        raise ValueError("status report is not an object with a 'node' key")
    return obj


def enclave_from_args(args: Sequence[str] | None) -> str | None:
    """The enclave named by ``--ros-args ... --enclave NAME`` (or ``-e NAME``), if any."""
    args = list(args or [])
    if "--ros-args" not in args:
        return None
    for i, a in enumerate(args[args.index("--ros-args") + 1:], start=args.index("--ros-args") + 1):
        if a in ("--enclave", "-e") and i + 1 < len(args):
            return args[i + 1]
        if a.startswith("--enclave="):
            return a.split("=", 1)[1]
    return None


def check_security(env: Mapping[str, str] | None = None, args: Sequence[str] | None = None) -> str | None:
    """Raise SecurityConfigError when security is enforced and this node's keys are missing.

    Returns the enclave directory that will be used (None when security is off). Mirrors rcl's own
    rules: ROS_SECURITY_ENABLE=true turns security on; ROS_SECURITY_STRATEGY=Enforce makes missing
    keys fatal (Permissive lets rcl start the node without security); the enclave is
    ROS_SECURITY_ENCLAVE_OVERRIDE, else ``--enclave``, else "/"; its keys live under
    ``$ROS_SECURITY_KEYSTORE/enclaves/<enclave>``.
    """
    env = os.environ if env is None else env
    if env.get("ROS_SECURITY_ENABLE", "").lower() != "true":
        return None
    enforce = env.get("ROS_SECURITY_STRATEGY", "") == "Enforce"
    enclave = env.get("ROS_SECURITY_ENCLAVE_OVERRIDE") or enclave_from_args(args) or "/"
    keystore = env.get("ROS_SECURITY_KEYSTORE", "")
    problem = None
    if not keystore:
        problem = "ROS_SECURITY_KEYSTORE is not set"
    elif not Path(keystore).is_dir():
        problem = f"keystore {keystore} does not exist"
    else:
        where = Path(keystore) / "enclaves" / enclave.strip("/")
        if not where.is_dir():
            problem = f"enclave {enclave!r} has no directory {where} in keystore {keystore}"
        else:
            missing = [f for f in ENCLAVE_FILES if not (where / f).is_file()]
            if missing:
                problem = f"enclave {where} lacks {', '.join(missing)}"
            else:
                return str(where)
    if enforce:
        raise SecurityConfigError(f"security is enforced (ROS_SECURITY_STRATEGY=Enforce) but {problem}; "
                                  "create the keys with `ros2 security create_keystore` and "
                                  "`ros2 security create_enclave` (docs/ros.md, 'Security')")
    return None
