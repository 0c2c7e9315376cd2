"""`stae bench transport`: ROS 2 publish->receive latency and throughput on localhost.

For each message size (5 kB ... 10 MB), each type - ``stae_msgs/SemanticClip`` (the bytes in
``payload``), ``sensor_msgs/Image`` (rgb8, the bytes as pixels) and ``sensor_msgs/CompressedImage``
(the bytes in ``data``) - and each QoS (reliable, best effort), a publisher process sends
``messages`` messages at ``rate`` Hz (latency phase), then as fast as it can (throughput phase);
a separate subscriber process stamps arrivals. Latency = receive wall clock - the stamp the
publisher wrote just before ``publish`` (one host, one clock). Both processes run under a
private ``ROS_DOMAIN_ID`` with discovery limited to localhost.

rclpy and the message packages are imported only inside the child roles (this is a bench, not core).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["run_transport_bench", "run_from_args", "TYPES", "QOS"]

log = logging.getLogger(__name__)
TYPES = ("semantic", "image", "compressed")
QOS = ("reliable", "best_effort")


def _topic(mtype: str, size: int, qos: str) -> str:
    return f"/stae_bench/{mtype}_{size}_{qos}"


def _qos(name: str, depth: int) -> Any:
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

    rel = ReliabilityPolicy.RELIABLE if name == "reliable" else ReliabilityPolicy.BEST_EFFORT
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth, reliability=rel, durability=DurabilityPolicy.VOLATILE)


def _msg_class(mtype: str) -> Any:
    if mtype == "semantic":
        from stae_msgs.msg import SemanticClip

        return SemanticClip
    if mtype == "image":
        from sensor_msgs.msg import Image

        return Image
    from sensor_msgs.msg import CompressedImage

    return CompressedImage


def _make_msg(mtype: str, size: int) -> Any:
    """A message carrying ``size`` bytes of clip data (the same bytes for every type)."""
    import array

    data = array.array("B", (np.arange(size, dtype=np.uint64) * 2654435761 % 251).astype(np.uint8).tobytes())
    msg = _msg_class(mtype)()
    if mtype == "semantic":
        msg.stream_id, msg.frames, msg.height, msg.width, msg.channels = "bench", 16, 64, 64, 3
        msg.k, msg.p, msg.codec, msg.codec_version = 8, 0.25, "stae-px", 1
        msg.frame_indices = array.array("H", range(0, 16, 2))
        msg.payload = data
    elif mtype == "image":
        width = 256
        rows = max(1, -(-size // (width * 3)))
        pad = rows * width * 3 - size
        msg.height, msg.width, msg.encoding, msg.step = rows, width, "rgb8", width * 3
        msg.data = data + array.array("B", bytes(pad))
    else:
        msg.format = "jpeg"
        msg.data = data
    return msg


def _stamp(msg: Any, mtype: str, phase: str, seq: int) -> None:
    ns = time.time_ns()
    msg.header.stamp.sec, msg.header.stamp.nanosec = ns // 1_000_000_000, ns % 1_000_000_000
    msg.header.frame_id = f"{phase}:{seq}"
    if mtype == "semantic":
        msg.seq = seq
        msg.sent_stamp.sec, msg.sent_stamp.nanosec = msg.header.stamp.sec, msg.header.stamp.nanosec


# ------------------------------------------------------------------------------ child roles
def _subscriber(cfg: dict[str, Any]) -> int:
    import rclpy

    rclpy.init()
    node = rclpy.create_node("stae_bench_sub")
    records: dict[str, list[tuple[str, int, float]]] = {}
    subs = []
    for case in cfg["cases"]:
        topic = _topic(case["type"], case["size"], case["qos"])
        records[topic] = []

        def cb(msg: Any, topic: str = topic) -> None:
            now = time.time_ns()
            sent = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
            phase, _, seq = msg.header.frame_id.partition(":")
            records[topic].append((phase, int(seq), (now - sent) / 1e6, now / 1e9))

        subs.append(node.create_subscription(_msg_class(case["type"]), topic, cb, _qos(case["qos"], cfg["depth"])))
    Path(cfg["ready"]).write_text("ready")
    stop = Path(cfg["stop"])
    while not stop.exists():
        rclpy.spin_once(node, timeout_sec=0.05)
    end = time.time() + 1.0  # drain what is still in flight
    while time.time() < end:
        rclpy.spin_once(node, timeout_sec=0.05)
    Path(cfg["result"]).write_text(json.dumps(records))
    node.destroy_node()
    rclpy.shutdown()
    return 0


def _publisher(cfg: dict[str, Any]) -> int:
    import rclpy

    rclpy.init()
    node = rclpy.create_node("stae_bench_pub")
    sent: dict[str, dict[str, Any]] = {}
    for case in cfg["cases"]:
        mtype, size, qos = case["type"], case["size"], case["qos"]
        topic = _topic(mtype, size, qos)
        pub = node.create_publisher(_msg_class(mtype), topic, _qos(qos, cfg["depth"]))
        deadline = time.time() + 10.0
        while pub.get_subscription_count() < 1 and time.time() < deadline:
            rclpy.spin_once(node, timeout_sec=0.05)
        time.sleep(0.2)  # let discovery settle on both sides
        msg = _make_msg(mtype, size)
        # latency phase: paced so the link is never the bottleneck (at most ~20 MB/s), otherwise
        # big messages would measure queueing, not transport; a few warm-up messages first
        rate = min(cfg["rate"], 20e6 / size)
        n_lat = max(10, min(cfg["messages"], int(30 * rate)))
        period = 1.0 / rate
        for seq in range(10):  # the first big messages on a topic pay for buffer/segment set-up
            _stamp(msg, mtype, "warm", seq)
            pub.publish(msg)
            time.sleep(period)
        time.sleep(1.0)
        t_next = time.time()
        for seq in range(n_lat):
            _stamp(msg, mtype, "lat", seq)
            pub.publish(msg)
            t_next += period
            time.sleep(max(0.0, t_next - time.time()))
        n_tput = int(min(200, max(10, cfg["tput_bytes"] // max(size, 1))))
        t0 = time.time()
        for seq in range(n_tput):
            _stamp(msg, mtype, "tput", seq)
            pub.publish(msg)
        t1 = time.time()
        time.sleep(0.5 + size / 20e6)
        sent[topic] = {"lat": n_lat, "lat_rate_hz": rate, "tput": n_tput, "tput_publish_s": t1 - t0}
        node.destroy_publisher(pub)
    Path(cfg["result"]).write_text(json.dumps(sent))
    node.destroy_node()
    rclpy.shutdown()
    return 0


# ------------------------------------------------------------------------------ orchestration
def _summarise(cases: list[dict[str, Any]], recv: dict[str, list], sent: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for case in cases:
        topic = _topic(case["type"], case["size"], case["qos"])
        got = recv.get(topic, [])
        s = sent.get(topic, {"lat": 0, "tput": 0})
        lat = np.asarray([r[2] for r in got if r[0] == "lat"], dtype=np.float64)
        tp = sorted((r[3], r[1]) for r in got if r[0] == "tput")
        row = dict(case, topic=topic, latency_sent=s["lat"], latency_rate_hz=s.get("lat_rate_hz"), latency_received=int(lat.size),
                   latency_p50_ms=float(np.percentile(lat, 50)) if lat.size else None,
                   latency_p99_ms=float(np.percentile(lat, 99)) if lat.size else None,
                   latency_mean_ms=float(lat.mean()) if lat.size else None,
                   tput_sent=s["tput"], tput_received=len(tp))
        lat_t = [r for r in got if r[0] == "tput"]
        if len(lat_t) >= 2:
            # from the first publish (receive time - its latency) to the last arrival
            first_send = min(r[3] - r[2] / 1e3 for r in lat_t)
            span = max(r[3] for r in lat_t) - first_send
            row["tput_msgs_per_s"] = len(lat_t) / span
            row["tput_mbyte_per_s"] = len(lat_t) * case["size"] / span / 1e6
        rows.append(row)
    return rows


def run_transport_bench(sizes: list[int], messages: int = 100, rate: float = 20.0, out: str = "out/bench",
                        domain_id: int | None = None, tput_bytes: int = 50_000_000, timeout_s: float = 1800.0) -> dict[str, Any]:
    """Run publisher and subscriber processes over every (type, size, QoS); write transport.json/.md."""
    import tempfile

    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    # type order rotates per size so no type is always the first to meet a new message size
    cases = [{"type": TYPES[(i + j) % len(TYPES)], "size": int(s), "qos": q}
             for i, s in enumerate(sizes) for j in range(len(TYPES)) for q in QOS]
    domain = domain_id if domain_id is not None else 101 + os.getpid() % 100
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST", ROS_LOCALHOST_ONLY="1")
    env.pop("ROS_STATIC_PEERS", None)
    with tempfile.TemporaryDirectory(prefix="stae-transport-") as tmpd:
        tmp = Path(tmpd)
        base = {"cases": cases, "depth": 100, "messages": messages, "rate": rate, "tput_bytes": tput_bytes,
                "ready": str(tmp / "ready"), "stop": str(tmp / "stop")}
        sub_cfg = dict(base, result=str(tmp / "sub.json"))
        pub_cfg = dict(base, result=str(tmp / "pub.json"))
        (tmp / "sub_cfg.json").write_text(json.dumps(sub_cfg))
        (tmp / "pub_cfg.json").write_text(json.dumps(pub_cfg))
        cmd = [sys.executable, "-m", "stae_ros.bench.transport"]
        sub = subprocess.Popen(cmd + ["--role", "sub", str(tmp / "sub_cfg.json")], env=env, stderr=subprocess.PIPE, text=True)
        try:
            t0 = time.time()
            while not (tmp / "ready").exists():
                if sub.poll() is not None:
                    raise RuntimeError(f"transport subscriber exited early: {sub.stderr.read()[-1500:] if sub.stderr else ''}")
                if time.time() - t0 > 120:
                    raise RuntimeError("transport subscriber did not start in 120 s")
                time.sleep(0.1)
            pub = subprocess.run(cmd + ["--role", "pub", str(tmp / "pub_cfg.json")], env=env, capture_output=True,
                                 text=True, timeout=timeout_s)
            if pub.returncode != 0:
                raise RuntimeError(f"transport publisher failed ({pub.returncode}): {pub.stderr[-1500:]}")
        finally:
            (tmp / "stop").write_text("stop")
            try:
                sub.wait(timeout=60)
            except subprocess.TimeoutExpired:
                sub.kill()
        recv = json.loads((tmp / "sub.json").read_text())
        sent = json.loads((tmp / "pub.json").read_text())
    import platform

    report = {"format": "stae-bench-transport/1", "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "rmw": os.environ.get("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp (default)"), "domain_id": domain,
              "messages": messages, "rate_hz": rate, "host": platform.node(),
              "rows": _summarise(cases, recv, sent)}
    (out_dir / "transport.json").write_text(json.dumps(report, indent=1))
    (out_dir / "transport.md").write_text(transport_markdown(report))
    return report


def transport_markdown(report: dict[str, Any]) -> str:
    def f(v: Any, fmt: str = "{:.2f}") -> str:
        return "–" if v is None else fmt.format(v)

    lines = [f"rclpy on localhost, {report['rmw']}; latency: up to {report['messages']} messages at up to "
             f"{report['rate_hz']:g} Hz (capped at 20 MB/s, after 10 warm-up messages and a 1 s pause); throughput: a back-to-back burst; "
             "publisher and subscriber are separate processes.", "",
             "| bytes | type | QoS | p50 ms | p99 ms | received (latency) | MB/s | msg/s | received (burst) |",
             "|---:|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in report["rows"]:
        lines.append(f"| {r['size']:,} | {r['type']} | {r['qos']} | {f(r['latency_p50_ms'])} | {f(r['latency_p99_ms'])} | "
                     f"{r['latency_received']}/{r['latency_sent']} | {f(r.get('tput_mbyte_per_s'), '{:.1f}')} | "
                     f"{f(r.get('tput_msgs_per_s'), '{:.0f}')} | {r['tput_received']}/{r['tput_sent']} |")
    return "\n".join(lines) + "\n"


def run_from_args(args: argparse.Namespace) -> int:
    """Entry point of `stae bench transport`."""
    try:
        import rclpy  # noqa: F401
        import stae_msgs.msg  # noqa: F401
    except ImportError as exc:
        print(f"stae bench transport needs rclpy and stae_msgs (scripts/build_msgs.sh): {exc}", file=sys.stderr)
        return 2
    sizes = list(args.sizes)
    messages = args.messages
    if args.tiny:
        sizes, messages = [5000, 50000], min(messages, 10)
    report = run_transport_bench(sizes, messages=messages, rate=args.rate, out=args.out, domain_id=args.domain_id,
                                 tput_bytes=5_000_000 if args.tiny else 50_000_000)
    print(transport_markdown(report))
    print(f"wrote {args.out}/transport.json and transport.md")
    return 0


def _child_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--role", choices=("sub", "pub"), required=True)
    p.add_argument("config")
    a = p.parse_args(argv)
    cfg = json.loads(Path(a.config).read_text())
    return _subscriber(cfg) if a.role == "sub" else _publisher(cfg)


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
