"""A real UDP link emulator on loopback: hold each datagram until the trace lets its bytes through.

``python -m stae_ros.link.relay --listen 127.0.0.1:9000 --forward 127.0.0.1:9001 --trace FILE``

Every datagram received on ``--listen`` is put through a :class:`TraceShaper` (the trace's clock
starts when the relay starts) and sent on to ``--forward`` at its delivery time, in order, or
dropped when the drop-tail queue is full. This is the process tests and demos put between a
sender and a receiver to see real sockets, real timers and real queueing over a cellular trace,
without root (no tc/netem) and without mahimahi. Loopback addresses only: it is an emulator, not
a forwarder to the outside world.

On start it prints ``READY <listen port>`` on stdout (so ``--listen 127.0.0.1:0`` works) and with
``--log FILE`` writes one JSON line per datagram: seq, bytes, t_recv, t_due (what the shaper
allows), t_sent (when it actually left; never earlier than t_due), all in seconds from start.
"""

from __future__ import annotations

import argparse
import heapq
import ipaddress
import json
import logging
import select
import signal
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence, TextIO

from ..cli.validate import float_in, int_in
from .errors import LinkError
from .shaper import TraceShaper
from .traces import load_trace

__all__ = ["RelayConfig", "run_relay", "parse_endpoint", "main"]

log = logging.getLogger(__name__)

MAX_DATAGRAM = 65535


@dataclass
class RelayConfig:
    listen: tuple[str, int]
    forward: tuple[str, int]
    trace_path: Path
    queue_limit_bytes: int | None = None
    base_delay_ms: float = 0.0
    duration_s: float | None = None
    max_datagrams: int | None = None
    log_path: Path | None = None


def parse_endpoint(text: str) -> tuple[str, int]:
    """'127.0.0.1:9000' -> ('127.0.0.1', 9000); only loopback hosts are accepted."""
    host, sep, port_s = text.rpartition(":")
    if not sep or not host:
        raise LinkError(f"endpoint {text!r} must be HOST:PORT, e.g. 127.0.0.1:9000")
    try:
        port = int(port_s)
    except ValueError as exc:
        raise LinkError(f"endpoint {text!r} has a non-numeric port") from exc
    if not 0 <= port <= 65535:
        raise LinkError(f"endpoint {text!r} has port {port} outside 0..65535")
    if host == "localhost":
        host = "127.0.0.1"
    try:
        addr = ipaddress.ip_address(host.strip("[]"))
    except ValueError as exc:
        raise LinkError(f"endpoint {text!r}: host must be a loopback IP address (127.0.0.1 or ::1)") from exc
    if not addr.is_loopback:
        raise LinkError(f"endpoint {text!r} is not a loopback address; the relay only emulates links on this host")
    return str(addr), port


def run_relay(cfg: RelayConfig, ready_out: TextIO | None = sys.stdout) -> dict[str, int]:
    """Relay until duration / datagram count is reached or SIGINT/SIGTERM; return counters."""
    trace = load_trace(cfg.trace_path)
    shaper = TraceShaper(trace, cfg.queue_limit_bytes, cfg.base_delay_ms)
    family = socket.AF_INET6 if ":" in cfg.listen[0] else socket.AF_INET
    rx = socket.socket(family, socket.SOCK_DGRAM)
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    rx.bind(cfg.listen)
    tx_family = socket.AF_INET6 if ":" in cfg.forward[0] else socket.AF_INET
    tx = socket.socket(tx_family, socket.SOCK_DGRAM)
    stop = {"flag": False}

    def _stop(signum: int, frame: object) -> None:
        stop["flag"] = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    logf = open(cfg.log_path, "w") if cfg.log_path else None
    heap: list[tuple[float, int, bytes, float, float]] = []
    counters = {"received": 0, "forwarded": 0, "dropped": 0}
    t0 = time.monotonic()
    if ready_out is not None:
        print(f"READY {rx.getsockname()[1]}", file=ready_out, flush=True)
    log.info("relay %s -> %s over %s (mean %.2f Mbps)", rx.getsockname()[:2], cfg.forward, trace.name, trace.mean_bps() / 1e6)
    seq = 0
    try:
        while not stop["flag"]:
            now = time.monotonic() - t0
            if cfg.duration_s is not None and now >= cfg.duration_s:
                break
            # forward everything that is due
            while heap and heap[0][0] <= now:
                t_due, s, data, t_recv, _ = heapq.heappop(heap)
                tx.sendto(data, cfg.forward)
                t_sent = time.monotonic() - t0
                counters["forwarded"] += 1
                if logf:
                    logf.write(json.dumps({"seq": s, "bytes": len(data), "t_recv": t_recv, "t_due": t_due, "t_sent": t_sent}) + "\n")
                now = t_sent
            if cfg.max_datagrams is not None and counters["received"] >= cfg.max_datagrams and not heap:
                break
            timeout = 0.05
            if heap:
                timeout = min(timeout, max(0.0, heap[0][0] - now))
            if cfg.duration_s is not None:
                timeout = min(timeout, max(0.0, cfg.duration_s - now))
            readable, _, _ = select.select([rx], [], [], timeout)
            if not readable:
                continue
            data, _addr = rx.recvfrom(MAX_DATAGRAM)
            t_recv = time.monotonic() - t0
            counters["received"] += 1
            d = shaper.send_detail(len(data), t_recv)
            if d.t_delivered is None:
                counters["dropped"] += 1
                if logf:
                    logf.write(json.dumps({"seq": seq, "bytes": len(data), "t_recv": t_recv, "t_due": None, "t_sent": None}) + "\n")
            else:
                heapq.heappush(heap, (d.t_delivered, seq, data, t_recv, d.t_delivered))
            seq += 1
    finally:
        rx.close()
        tx.close()
        if logf:
            logf.close()
    log.info("relay done: %s", counters)
    return counters


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m stae_ros.link.relay",
        description="UDP link emulator on loopback: forwards datagrams when a mahimahi trace lets their bytes through.",
    )
    p.add_argument("--listen", required=True, help="HOST:PORT to receive on (loopback; port 0 picks one, printed as READY <port>)")
    p.add_argument("--forward", required=True, help="HOST:PORT to deliver to (loopback)")
    p.add_argument("--trace", required=True, type=Path, help="mahimahi trace file (ms per 1500-byte delivery opportunity)")
    p.add_argument("--queue-bytes", type=int_in(1), default=None, help="drop-tail queue limit in bytes (default: unlimited, as mahimahi)")
    p.add_argument("--base-delay-ms", type=float_in(0.0, 60000.0), default=0.0, help="fixed one-way delay added after the link (ms)")
    p.add_argument("--duration", type=float_in(0.0, 1e7, lo_open=True), default=None, help="stop after this many seconds (default: run until SIGINT/SIGTERM)")
    p.add_argument("--max-datagrams", type=int_in(1), default=None, help="stop once this many datagrams were received and delivered or dropped")
    p.add_argument("--log", type=Path, default=None, help="write one JSON line per datagram (t_recv, t_due, t_sent, seconds from start)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        cfg = RelayConfig(
            listen=parse_endpoint(args.listen),
            forward=parse_endpoint(args.forward),
            trace_path=args.trace,
            queue_limit_bytes=args.queue_bytes,
            base_delay_ms=args.base_delay_ms,
            duration_s=args.duration,
            max_datagrams=args.max_datagrams,
            log_path=args.log,
        )
        counters = run_relay(cfg)
    except (LinkError, OSError) as exc:
        print(f"relay: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(counters), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
