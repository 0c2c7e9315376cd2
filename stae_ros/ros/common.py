"""Small helpers the nodes share: file defaults, time stamps, and the spin/shutdown wrapper."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

from stae_ros.errtext import exc_line
from stae_ros.resources import PACKAGE, find_data_file

__all__ = [
    "PACKAGE", "guarded", "resolve_data_file", "wall_ns", "ns_to_stamp", "stamp_to_ns", "ms_between", "run_node",
    "STOP_GRACE_S",
]

#: With ``fast_exit``, how long the clean-up after SIGINT/SIGTERM may take before the process ends
#: anyway. Why: a callback still running (a batch on a loaded host) or a DDS clean-up that blocks
#: holds the executor's shutdown, and a launcher that waits for its nodes would then kill it
#: without a word; this ends it with one line saying so, inside the launchers' usual wait.
STOP_GRACE_S = 8.0


def resolve_data_file(value: str, default_rel: str) -> Path:
    """The file a path parameter names; empty = the packaged default (see stae_ros.resources)."""
    return find_data_file(value, default_rel)


def wall_ns() -> int:
    """Wall-clock time in ns: what the stamps across hosts are compared in (needs synced clocks)."""
    return time.time_ns()


def ns_to_stamp(ns: int) -> Any:
    from builtin_interfaces.msg import Time

    ns = int(ns)
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def stamp_to_ns(stamp: Any) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def ms_between(start_ns: int, end_ns: int) -> float:
    """end - start in ms; 0 when the start is unknown (a zero stamp)."""
    if start_ns <= 0:
        return 0.0
    return (end_ns - start_ns) / 1e6


def guarded(method: Callable) -> Callable:
    """Wrap a node callback so an unexpected exception is logged and counted, never fatal.

    The executor re-raises callback exceptions and would end the node; one bad message or frame
    must not stop a robot's camera. The count is kept in ``node.callback_errors``.
    """
    import functools

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - that is the point
            context = getattr(self, "context", None)
            if context is not None and not context.ok():
                return None  # a publish racing the Ctrl-C shutdown: the node is stopping, not failing
            self.callback_errors = getattr(self, "callback_errors", 0) + 1
            self.get_logger().error(f"{method.__name__} failed ({self.callback_errors} so far): {exc_line(exc)}")
            return None

    return wrapper


def run_node(make_node: Callable[[], Any], args: list[str] | None = None, threads: int = 1,
             fast_exit: bool = True) -> int:
    """Create the node and spin it until SIGINT/SIGTERM or shutdown; always clean up.

    Returns the process exit code: 0 on a clean stop, 1 when the node could not start (the
    reason is logged: a missing model, a bad parameter), 2 when ROS itself could not be started
    (enforced security without this node's keys: stae_ros.ros.status.check_security). With `fast_exit` the process ends right
    after the ROS clean-up (os._exit after flushing output): the interpreter's own teardown of
    torch takes seconds on a small host, longer than launchers wait after SIGINT.
    """
    import rclpy
    from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor, SingleThreadedExecutor

    from stae_ros.runtime import keep_freed_memory

    keep_freed_memory()  # per-clip buffers stay in the heap: no page faults every clip (stae_ros.runtime)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # Stopping on SIGINT/SIGTERM. The terminal's and `ros2 launch`'s Ctrl-C both arrive, often
    # mid clean-up. rclpy's own handler (installed by rclpy.init, chaining to this one) shuts the
    # context down and wakes the executor, which then returns at a clean point. This handler:
    # - while the node is being built (model loading: seconds), raises KeyboardInterrupt as
    #   Python's default handler would, so a Ctrl-C at start-up stops at once;
    # - once spinning, only marks the stop: a KeyboardInterrupt raised inside the executor's own
    #   code left half-built rclpy objects behind (a Task without _exception, whose __del__
    #   printed a traceback) and, about once in a hundred bursts under load, the process died of
    #   SIGSEGV in clean-up;
    # - takes rclpy's handler out after the first signal, so later ones reach only this handler
    #   (which returns) while the executor, node and context are torn down. Setting SIG_IGN from
    #   here instead made CPython print "Signal 2 ignored due to race condition" when one was pending.
    state = {"spinning": False, "stopping": False}

    def force_exit() -> None:
        # not _exit(): logging.shutdown() would wait for a handler lock the stuck thread may hold
        print(f"[WARN] clean-up after the stop signal took over {STOP_GRACE_S:g} s; exiting without it",
              file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(0)

    def on_signal(signum: int, frame: Any) -> None:
        if state["stopping"]:
            return
        state["stopping"] = True
        if fast_exit:
            watchdog = threading.Timer(STOP_GRACE_S, force_exit)
            watchdog.daemon = True
            watchdog.start()
        try:
            from rclpy.signals import uninstall_signal_handlers

            uninstall_signal_handlers()
        except Exception:  # noqa: BLE001 - an rclpy without it (or not installed yet): nothing to take out
            pass
        if not state["spinning"]:
            raise KeyboardInterrupt

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    from .status import SecurityConfigError, check_security

    # fail closed, in one line: enforced security without this node's keys never starts a participant
    try:
        check_security(args=args if args is not None else sys.argv)
        rclpy.init(args=args)
    except SecurityConfigError as exc:
        print(f"[FATAL] could not start: {exc}", file=sys.stderr, flush=True)
        return _exit(2, fast_exit)
    except Exception as exc:  # noqa: BLE001 - rcl's own refusal (e.g. a DDS-Security error): one line, not a trace
        print(f"[FATAL] could not start: {exc_line(exc)}", file=sys.stderr, flush=True)
        return _exit(2, fast_exit)
    node = None
    rc = 0
    try:
        node = make_node()
        # from here a signal only marks the stop: one raised inside rclpy's executor constructor left a
        # half-built executor whose __del__ printed a traceback (a burst of SIGINTs at start-up)
        state["spinning"] = True
        executor = MultiThreadedExecutor(num_threads=threads) if threads > 1 else SingleThreadedExecutor()
        executor.add_node(node)
        try:
            while not state["stopping"] and rclpy.ok():
                executor.spin_once(timeout_sec=0.2)  # the timeout bounds the exit where no rclpy handler wakes it
        finally:
            executor.shutdown()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception as exc:  # noqa: BLE001 - a startup failure must say why, not dump a trace only
        if state["stopping"]:  # the context went down under a callback or start-up step: a normal stop
            logging.getLogger(PACKAGE).debug("error while stopping", exc_info=True)
        else:
            msg = " ".join(f"{type(exc).__name__}: {exc}".split())  # one line, whatever rcl's message holds
            if node is not None:
                node.get_logger().fatal(msg)
            else:
                print(f"[FATAL] could not start: {msg}", file=sys.stderr, flush=True)
            logging.getLogger(PACKAGE).debug("startup failure", exc_info=True)
            rc = 1
    finally:
        try:
            if node is not None:
                node.destroy_node()
            rclpy.try_shutdown()
        except BaseException:  # noqa: BLE001 - shutting down anyway; do not print a traceback
            pass
    return _exit(rc, fast_exit)


def _exit(rc: int, fast_exit: bool) -> int:
    """Return `rc`, or with `fast_exit` end the process with it at once (after flushing output)."""
    if fast_exit:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(rc)
    return rc
