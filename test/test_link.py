"""Link emulation: trace parsing, the shaper against a literal mahimahi simulation, the UDP relay."""

from __future__ import annotations

import json
import math
import socket
import subprocess
import sys
import time
from collections import deque
from pathlib import Path

import numpy as np
import pytest

from stae_ros.link import (
    PACKET_BYTES,
    DeliveryTrace,
    ShaperError,
    TraceError,
    TraceShaper,
    load_trace,
    save_trace,
    synthetic_fading_trace,
    trace_from_rates,
)

TRACES = Path(__file__).resolve().parents[2] / "shared" / "traces"
REPO = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------------- traces
def test_load_trace_and_capacity(tmp_path: Path) -> None:
    f = tmp_path / "t.up"
    f.write_text("0\n5\n5\n10\n20\n")
    tr = load_trace(f)
    assert tr.period_ms == 20 and tr.n_opportunities == 5
    # [0, 10) ms holds 0, 5, 5 -> 3 packets
    assert tr.capacity_bps(0.0, 0.010) == pytest.approx(3 * PACKET_BYTES * 8 / 0.010)
    # looping: second loop starts at 20 ms, the seam holds 20 (last line) and 20+0
    assert tr.opportunity_ms(4) == 20 and tr.opportunity_ms(5) == 20 and tr.opportunity_ms(6) == 25
    # [0, 40) ms: 0 5 5 10 20 | 20 25 25 30 (40 is the next window's)
    assert tr.capacity_bps(0.0, 0.040) == pytest.approx(9 * PACKET_BYTES * 8 / 0.040)
    assert tr.mean_bps() == pytest.approx(5 * PACKET_BYTES * 8 / 0.020)


@pytest.mark.parametrize(
    "text, fragment",
    [("", "empty"), ("0\nabc\n", ":2:"), ("0\n10\n5\n", "not sorted"), ("0\n0\n", "nonzero"), ("-3\n10\n", "negative"),
     ("0\n" + "9" * 29 + "\n", ":2: timestamp 9+ ms is beyond")],
)
def test_bad_trace_files(tmp_path: Path, text: str, fragment: str) -> None:
    f = tmp_path / "bad.up"
    f.write_text(text)
    with pytest.raises(TraceError, match=fragment):
        load_trace(f)


def test_missing_trace_file(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match="not found"):
        load_trace(tmp_path / "nope.up")


@pytest.mark.skipif(not (TRACES / "ATT-LTE-driving-2016.up").exists(), reason="shared traces not present")
def test_shared_trace_mean_matches_readme() -> None:
    tr = load_trace(TRACES / "ATT-LTE-driving-2016.up")
    assert 1.7e6 < tr.mean_bps() < 2.1e6  # README: 1.9 Mbps
    p = tr.percentiles_bps((10, 90))
    assert p[10.0] < 0.5e6 < 3e6 < p[90.0]


def test_trace_from_rates_and_synthetic_roundtrip(tmp_path: Path) -> None:
    tr = trace_from_rates([1.2e6] * 10, step_ms=100)
    assert tr.mean_bps() == pytest.approx(1.2e6, rel=0.02)
    syn = synthetic_fading_trace(seed=3, duration_s=30)
    back = load_trace(save_trace(syn, tmp_path / "s.up"))
    assert np.array_equal(back.times_ms, syn.times_ms)
    w = syn.windowed_bps(1.0)
    assert w.min() < 0.5 * w.max()  # it has fades
    assert not np.array_equal(synthetic_fading_trace(seed=4, duration_s=30).times_ms, syn.times_ms)


# ---------------------------------------------------------------------------------- shaper
def mahimahi_reference(trace: DeliveryTrace, sends: list[tuple[float, int]], limit: int | None) -> list[float | None]:
    """A literal transcription of mahimahi's LinkQueue event loop, one opportunity at a time."""
    times = trace.times_ms.tolist()
    period = times[-1]
    nxt, base = 0, 0
    queue: deque[tuple[int, int]] = deque()  # (msg id, size)
    in_transit: list[int] | None = None  # [msg id, bytes left]
    out: list[float | None] = [None] * len(sends)

    def next_time() -> int:
        return base + times[nxt]

    def rationalize(now: int) -> None:
        nonlocal nxt, base, in_transit
        while next_time() <= now:
            this_time = next_time()
            left = PACKET_BYTES
            nxt = (nxt + 1) % len(times)
            if nxt == 0:
                base += period
            while left > 0:
                if in_transit is None:
                    if not queue:
                        break
                    mid, size = queue.popleft()
                    in_transit = [mid, size]
                amount = min(left, in_transit[1])
                in_transit[1] -= amount
                left -= amount
                if in_transit[1] == 0:
                    out[in_transit[0]] = this_time / 1000.0
                    in_transit = None

    for i, (t, size) in enumerate(sends):
        now = int(math.floor(t * 1000))
        rationalize(now)
        if limit is not None and sum(s for _, s in queue) + size > limit:
            continue
        queue.append((i, size))
    rationalize(10**9 if not sends else int(sends[-1][0] * 1000) + 10 * period + 100000)
    return out


@pytest.mark.parametrize("seed", range(6))
def test_shaper_matches_mahimahi_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    tr = trace_from_rates(rng.uniform(0.1e6, 3e6, size=20), step_ms=50, name="r")
    limit = None if seed % 2 == 0 else int(rng.integers(3000, 30000))
    t = 0.0
    sends = []
    for _ in range(60):
        t += float(rng.exponential(0.02))
        sends.append((t, int(rng.integers(1, 6000))))
    ref = mahimahi_reference(tr, sends, limit)
    sh = TraceShaper(tr, queue_limit_bytes=limit)
    got = [sh.send(n, ts) for ts, n in sends]
    assert got == pytest.approx(ref)  # also checks drops (None) line up
    assert sh.dropped == sum(g is None for g in got)
    if limit is not None:
        assert any(g is None for g in got) or limit > 25000


def test_shaper_basics() -> None:
    tr = DeliveryTrace(np.arange(0, 1001, 10))  # one packet every 10 ms = 1.2 Mbps
    sh = TraceShaper(tr, base_delay_ms=5)
    d1 = sh.send(1500, 0.0)  # misses the opportunity at 0 (mahimahi consumes "now" first)
    assert d1 == pytest.approx(0.010 + 0.005)
    d2 = sh.send(3000, 0.0)  # two more packets behind it
    assert d2 == pytest.approx(0.030 + 0.005)
    assert sh.predict(100, 0.001) == pytest.approx(0.040 + 0.005)
    d3 = sh.send(100, 0.5)  # idle link: next opportunity after 500 ms
    assert d3 == pytest.approx(0.510 + 0.005)
    with pytest.raises(ShaperError, match="backwards"):
        sh.send(10, 0.1)
    with pytest.raises(ShaperError, match="> 0 bytes"):
        sh.send(0, 0.6)


def test_shaper_delivery_never_before_capacity_allows() -> None:
    tr = synthetic_fading_trace(seed=1, duration_s=20)
    sh = TraceShaper(tr)
    t, total = 0.0, 0
    for i in range(50):
        d = sh.send(20000, t)
        total += 20000
        assert d is not None and d > t
        # bytes delivered by d cannot exceed the opportunities between 0 and d
        assert total <= tr.count_between_ms(0, d * 1000 + 1) * PACKET_BYTES
        t += 0.1


# ---------------------------------------------------------------------------------- relay
def _start_relay(trace: Path, fwd_port: int, log: Path, extra: list[str]) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "stae_ros.link.relay", "--listen", "127.0.0.1:0", "--forward", f"127.0.0.1:{fwd_port}",
         "--trace", str(trace), "--log", str(log), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )
    line = proc.stdout.readline()
    if not line.startswith("READY"):
        proc.kill()
        raise AssertionError(f"relay did not start: {line!r} {proc.stderr.read()}")
    return proc, int(line.split()[1])


def test_relay_real_process(tmp_path: Path) -> None:
    tr = DeliveryTrace(np.arange(0, 2001, 4))  # 3 Mbps: 1500 B every 4 ms
    trace_file = save_trace(tr, tmp_path / "flat.up")
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)  # the burst must not overflow our own socket
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(10.0)
    log = tmp_path / "relay.jsonl"
    n, size = 40, 3000
    proc, port = _start_relay(trace_file, rx.getsockname()[1], log, ["--max-datagrams", str(n), "--duration", "30"])
    try:
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        t_first = time.monotonic()
        for i in range(n):
            tx.sendto(i.to_bytes(4, "big") + bytes(size - 4), ("127.0.0.1", port))
        got = []
        for _ in range(n):
            data, _ = rx.recvfrom(65535)
            got.append(int.from_bytes(data[:4], "big"))
        t_last = time.monotonic()
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        rx.close()
    assert got == list(range(n))  # complete and in order
    # n * 3000 B need n * 2 opportunities of 4 ms: the burst cannot get through faster than that
    assert t_last - t_first >= (2 * n - 2) * 0.004 - 0.002
    # the relay's own record: never earlier than the trace allows, and its schedule is the shaper's
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(rows) == n
    sh = TraceShaper(tr)
    for row in sorted(rows, key=lambda r: r["seq"]):
        assert row["t_sent"] >= row["t_due"] - 1e-9
        assert row["t_due"] == pytest.approx(sh.send(row["bytes"], row["t_recv"]))


def test_relay_drops_over_queue_limit(tmp_path: Path) -> None:
    tr = DeliveryTrace(np.arange(0, 2001, 50))  # slow: 240 kbps
    trace_file = save_trace(tr, tmp_path / "slow.up")
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)  # the burst must not overflow our own socket
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(0.5)
    log = tmp_path / "relay.jsonl"
    proc, port = _start_relay(trace_file, rx.getsockname()[1], log, ["--queue-bytes", "4500", "--duration", "1.5"])
    try:
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i in range(10):
            tx.sendto(i.to_bytes(4, "big") + bytes(1496), ("127.0.0.1", port))
        got = []
        try:
            while True:
                got.append(int.from_bytes(rx.recvfrom(65535)[0][:4], "big"))
        except socket.timeout:
            pass
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        rx.close()
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    dropped = [r for r in rows if r["t_due"] is None]
    assert dropped, "a 4500-byte queue must drop part of a 15000-byte burst"
    assert got == sorted(got) and len(got) == 10 - len(dropped)


def test_relay_refuses_non_loopback(tmp_path: Path) -> None:
    f = save_trace(DeliveryTrace(np.arange(0, 101, 10)), tmp_path / "t.up")
    r = subprocess.run(
        [sys.executable, "-m", "stae_ros.link.relay", "--listen", "8.8.8.8:9000", "--forward", "127.0.0.1:9001", "--trace", str(f)],
        capture_output=True, text=True, cwd=REPO, timeout=30,
    )
    assert r.returncode == 2 and "loopback" in r.stderr
