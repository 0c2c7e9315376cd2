"""A stop signal that reaches a node process while it is still importing ends it quietly.

Why: a launcher that stops everything right after starting it (``stae demo`` when another node
failed at once, a test tearing down) sends SIGINT to nodes that are still importing numpy, rclpy
and torch. Python's default handler turns it into a KeyboardInterrupt raised inside whatever
module was loading, and the node's output ends in a traceback that says nothing about the stop.
:func:`stae_ros.ros.common.run_node` installs the real handler once the imports are done; until
then this one exits at once with the shell's code for SIGINT (130) and no traceback. It is
installed only in a node's own process (its console script, or ``python -m stae_ros.ros.<node>``),
never where the package is merely imported (tests, the ``stae`` command).
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any, Sequence

__all__ = ["NODE_EXECUTABLES", "is_node_process", "quiet_stop_while_starting"]

#: the node executables (setup.py console scripts), each the module ``stae_ros.ros.<name>``
NODE_EXECUTABLES: tuple[str, ...] = ("camera_node", "edge_node", "controller_node", "link_emulator_node")

#: exit status of a node stopped before it started: 128 + SIGINT, as a shell reports it
STOPPED_WHILE_STARTING = 130


def is_node_process(argv0: str, orig_argv: Sequence[str]) -> bool:
    """Whether this interpreter was started to run one of the nodes."""
    if Path(argv0).name in NODE_EXECUTABLES:
        return True
    args = list(orig_argv)
    if "-m" in args[:-1]:
        return args[args.index("-m") + 1] in {f"stae_ros.ros.{name}" for name in NODE_EXECUTABLES}
    return False


def _exit_quietly(signum: int, frame: Any) -> None:
    raise SystemExit(STOPPED_WHILE_STARTING)


def quiet_stop_while_starting() -> bool:
    """In a node's process, make SIGINT end it silently until run_node takes over; True if installed."""
    if not is_node_process(sys.argv[0] if sys.argv else "", getattr(sys, "orig_argv", [])):
        return False
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return False  # someone (an embedding host, a test harness) handles SIGINT already
    signal.signal(signal.SIGINT, _exit_quietly)
    return True
