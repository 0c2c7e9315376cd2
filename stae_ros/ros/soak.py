"""Load, soak, multi-camera and mode-switch runs of the real nodes, with exact clip accounting.

``python -m stae_ros.ros.soak {soak,multi,switch}`` starts camera_node(s) and edge_node as
processes on a private ROS_DOMAIN_ID (stae_ros.ros.launcher), lets the cameras publish for a set
time, pauses them, waits until the edge has drained, and then checks that every clip is accounted
for, per camera:

- every clip the camera gave a sequence number (its status topic's ``seq``) got exactly one
  ActionLabel, or exactly one LinkStats with ok=false saying why it was dropped (stale, queue full,
  rejected), never both and never neither: published = labelled + dropped, exactly;
- the edge's own counters agree (received = labelled + rejected + stale + queue drops + duplicates);
- each label names its clip (stream, seq, capture stamp) and, for the mode-switch run, the mode and
  model of the clip it labels; the first clip of every new mode is labelled;
- with the camera's deadline fallback on (``--fallback-deadline``), the labels the camera gives clips
  it sent (mode ``local``, ``payload_bytes`` > 0) are counted apart from the edge's: at most one per
  clip, each naming a published clip, as many as the camera reports, and which clips that never
  reached the edge still got a label from it.

Memory (RSS of each node, from the status topic) and the edge's queue are sampled every second.
The tests (test/test_ros_faults.py) call :func:`run` with short durations; the benchmark runs are
this module's command line (docs/reliability.md lists the commands and results).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from ..cli.validate import float_in
from ..planning.fallback import is_fallback_label
from .launcher import Launcher, NodeSpec, multi_robot_specs, pick_domain_id
from .status import STATUS_TOPIC, parse_status

__all__ = ["RigConfig", "Observer", "run", "account", "main"]

#: camera frames per second of the camera's own source at real time (config/camera.yaml's source_fps)
REAL_TIME_FPS = 30.0


@dataclass
class RigConfig:
    """What to start and for how long."""

    duration_s: float = 60.0
    robots: tuple[str, ...] = ()  #: empty: one camera and the edge in `namespace`; else the multi-robot layout
    namespace: str = "stae_soak"
    camera: Mapping[str, Any] = field(default_factory=dict)
    edge: Mapping[str, Any] = field(default_factory=dict)
    #: link_emulator_node parameters (one camera only); None: camera -> edge directly
    link: Mapping[str, Any] | None = None
    switch_modes: tuple[str, ...] = ()  #: cycle the camera through these modes (BudgetCommand.payload_mode)
    switch_period_s: float = 1.0
    switch_k: int = 16
    switch_p: float = 0.1
    domain_id: int | None = None
    ready_timeout_s: float = 180.0
    drain_timeout_s: float = 90.0
    output: Any = None  #: a stream for the nodes' output (None: kept, shown on failure)


class Observer:
    """A node on the rig's domain that records labels, refusals (LinkStats ok=false), clips and status."""

    def __init__(self, domain_id: int, streams: Mapping[str, str], status_namespaces: Sequence[str],
                 clips: bool = False) -> None:
        """``streams``: stream id -> the absolute namespace its labels and link stats appear in."""
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from std_msgs.msg import String
        from stae_msgs.msg import ActionLabel, BudgetCommand, LinkStats, SemanticClip

        from . import qos

        self.rclpy = rclpy
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.node = rclpy.create_node(f"stae_soak_observer_{id(self) % 100000}", context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.labels: dict[str, dict[int, Any]] = defaultdict(dict)
        self.label_copies: Counter[tuple[str, int, int]] = Counter()
        #: the cameras' deadline-fallback labels (mode "local" for a clip that was sent), kept apart: the
        #: edge's label of such a clip may follow, and it is that one the accounting counts
        self.fallbacks: dict[str, dict[int, Any]] = defaultdict(dict)
        self.fallback_copies: Counter[tuple[str, int]] = Counter()
        self.failed: dict[str, dict[int, str]] = defaultdict(dict)
        #: every clip the edge reported on (LinkStats, ok or not): seq -> its camera send stamp (ns)
        self.reported: dict[str, dict[int, int]] = defaultdict(dict)
        self.clips: dict[str, dict[int, tuple[str, str, int]]] = defaultdict(dict)  #: (codec, model_id, stamp_ns)
        self.status: dict[str, dict[str, Any]] = {}
        self.history: list[tuple[float, str, dict[str, Any]]] = []
        self.t0 = time.monotonic()
        self.BudgetCommand = BudgetCommand
        self.cmd_pubs: dict[str, Any] = {}
        for stream, ns in streams.items():
            ns = "/" + ns.strip("/") if ns.strip("/") else ""
            self.node.create_subscription(ActionLabel, f"{ns}/action_label", self._on_label, qos.label_qos(depth=200))
            self.node.create_subscription(LinkStats, f"{ns}/link_stats", self._on_stats, qos.label_qos(depth=200))
            if clips:
                self.node.create_subscription(SemanticClip, f"{ns}/semantic_clip", self._on_clip, qos.clip_qos(100))
            self.cmd_pubs[stream] = self.node.create_publisher(BudgetCommand, f"{ns}/budget_command",
                                                               qos.command_qos())
        for ns in sorted(set(status_namespaces)):
            ns = "/" + ns.strip("/") if ns.strip("/") else ""
            self.node.create_subscription(String, f"{ns}/{STATUS_TOPIC}", self._on_status, qos.label_qos(depth=50))

    # ---- callbacks ----------------------------------------------------------------------------
    def _on_label(self, m: Any) -> None:
        if is_fallback_label(m.mode, m.payload_bytes):  # the camera labelled a clip it had sent
            self.fallback_copies[(m.stream_id, int(m.clip_seq))] += 1
            self.fallbacks[m.stream_id].setdefault(int(m.clip_seq), m)
            return
        self.label_copies[(m.stream_id, int(m.clip_seq), _stamp_ns(m))] += 1
        self.labels[m.stream_id].setdefault(int(m.clip_seq), m)

    def _on_stats(self, m: Any) -> None:
        self.reported[m.stream_id].setdefault(int(m.clip_seq), int(m.sent_stamp.sec) * 1_000_000_000
                                              + int(m.sent_stamp.nanosec))
        if not m.ok:
            self.failed[m.stream_id].setdefault(int(m.clip_seq), m.error)

    def _on_clip(self, m: Any) -> None:
        stamp = int(m.header.stamp.sec) * 1_000_000_000 + int(m.header.stamp.nanosec)
        self.clips[m.stream_id].setdefault(int(m.seq), (str(m.codec), str(m.model_id), stamp))

    def _on_status(self, msg: Any) -> None:
        try:
            s = parse_status(msg.data)
        except ValueError:
            return
        key = s["node"] + (f":{s['stream_id']}" if "stream_id" in s else "")
        self.status[key] = s
        self.history.append((time.monotonic() - self.t0, key, s))

    # ---- driving ------------------------------------------------------------------------------
    def spin_until(self, cond: Callable[[], bool], timeout: float, launcher: Launcher | None = None) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=0.05)
            if cond():
                return True
            if launcher is not None and launcher.exited():
                raise RuntimeError(f"node(s) exited: {launcher.exited()}\n" + "\n".join(
                    launcher.output_of(k)[-3000:] for k in launcher.exited()))
        return cond()

    def set_params(self, node_name: str, values: Mapping[str, Any], timeout: float = 30.0) -> None:
        """Set parameters of /node_name through its service; RuntimeError with the reason when refused."""
        from rcl_interfaces.srv import SetParameters
        from rclpy.parameter import Parameter

        client = self.node.create_client(SetParameters, f"/{node_name.strip('/')}/set_parameters")
        if not client.wait_for_service(timeout_sec=timeout):
            raise RuntimeError(f"no parameter service for {node_name}")
        req = SetParameters.Request(parameters=[Parameter(k, value=v).to_parameter_msg() for k, v in values.items()])
        fut = client.call_async(req)
        self.spin_until(fut.done, timeout)
        if not fut.done():
            raise RuntimeError(f"{node_name} did not answer set_parameters")
        bad = [r.reason for r in fut.result().results if not r.successful]
        if bad:
            raise RuntimeError(f"{node_name} refused {dict(values)}: {bad}")
        self.node.destroy_client(client)

    def command(self, stream: str, mode: str, k: int, p: float, reason: str) -> None:
        B = self.BudgetCommand
        self.cmd_pubs[stream].publish(B(mode=B.MODE_SET, stream_id=stream, payload_mode=mode, k=int(k), p=float(p),
                                        reason=reason))

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        self.rclpy.try_shutdown(context=self.context)


def _pct(values: Sequence[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(np.asarray(values, float), q)) if len(values) else math.nan


def _stamp_ns(m: Any) -> int:
    return int(m.clip_stamp.sec) * 1_000_000_000 + int(m.clip_stamp.nanosec)


def _fallback_account(obs: Observer, stream: str, cam: Mapping[str, Any], want: set[int], missing: set[int],
                      clips: Mapping[int, tuple[str, str, int]]) -> dict[str, Any]:
    """The camera's deadline-fallback labels of one stream: how many, which clips without the edge's label
    they cover, and what does not add up (a clip labelled twice by it, an unpublished or wrong clip)."""
    fb = obs.fallbacks.get(stream, {})
    uncovered = sorted(missing - set(fb))
    bad = {
        "fallback_twice": sorted(seq for (s, seq), n in obs.fallback_copies.items() if s == stream and n > 1)[:50],
        "fallback_unknown_seqs": sorted(set(fb) - want)[:50],
        "fallback_names_wrong_clip": sorted(seq for seq, m in fb.items()
                                            if seq in clips and _stamp_ns(m) != clips[seq][2])[:50],
    }
    return {
        "fallback_labels": len(fb), "fallback_labels_camera": int(cam.get("fallback_labels", 0) or 0),
        "fallback_missed_camera": int(cam.get("fallback_missed", 0) or 0),
        # clips the edge neither labelled nor refused (lost on the way) that got no label from the camera either
        "missing_without_fallback": uncovered[:50], "missing_without_fallback_count": len(uncovered),
        **bad, "fallback_exact": not any(bad.values()),
    }


def account(obs: Observer, streams: Sequence[str]) -> dict[str, Any]:
    """Per stream: published (the camera's seq), labelled, dropped (by reason), and what does not add up;
    with the camera's deadline fallback on, its labels too (:func:`_fallback_account`)."""
    edge = obs.status.get("edge_node", {})
    out: dict[str, Any] = {}
    for stream in streams:
        cam = obs.status.get(f"camera_node:{stream}", {})
        published = int(cam.get("seq", 0))
        labels, failed = obs.labels.get(stream, {}), obs.failed.get(stream, {})
        want = set(range(published))
        reasons = Counter(e.split(":", 1)[0] if e.startswith(("stale", "queue full")) else "rejected"
                          for e in failed.values())
        twice = sorted(seq for (s, seq, _), n in obs.label_copies.items() if s == stream and n > 1)
        clips = obs.clips.get(stream, {})
        # a label names its clip: the capture stamp it quotes is that clip's (when the clips were seen)
        # (a clip labelled on the camera never crossed the link, so it has no clip message to check against)
        wrong_clip = sorted(seq for seq, m in labels.items() if seq in clips and _stamp_ns(m) != clips[seq][2])
        e = edge.get("streams", {}).get(stream, {})
        total = [m.total_ms for m in labels.values()]
        out[stream] = {
            "published": published, "clips_sent": cam.get("clips_sent"), "local_labels": cam.get("local_labels"),
            "labelled": len(labels), "dropped": len(failed), "dropped_by_reason": dict(reasons),
            "missing": sorted(want - set(labels) - set(failed))[:50],
            "missing_count": len(want - set(labels) - set(failed)),
            "labelled_and_dropped": sorted(set(labels) & set(failed))[:50],
            "unknown_seqs": sorted((set(labels) | set(failed)) - want)[:50],
            "labelled_twice": twice[:50], "names_wrong_clip": wrong_clip[:50],
            "edge_received": e.get("received", 0), "edge_labelled": e.get("labelled", 0),
            "latency_ms_p50": round(_pct(total, 50), 1), "latency_ms_p95": round(_pct(total, 95), 1),
        }
        r = out[stream]
        r["exact"] = (published == r["labelled"] + r["dropped"] and not r["missing"] and not r["labelled_and_dropped"]
                      and not r["unknown_seqs"] and not r["labelled_twice"] and not r["names_wrong_clip"])
        if float(cam.get("fallback_deadline_s", 0.0) or 0.0) > 0 or obs.fallbacks.get(stream):
            r.update(_fallback_account(obs, stream, cam, want, want - set(labels) - set(failed), clips))
            r["exact"] = r["exact"] and r["fallback_exact"]
    return out


def _memory(obs: Observer) -> dict[str, Any]:
    """RSS per node over the run: at the first third, the peak, and at the end (MB)."""
    series: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for t, key, s in obs.history:
        series[key].append((t, float(s.get("rss_mb", 0.0))))
    out = {}
    for key, pts in series.items():
        third = pts[len(pts) // 3][1]
        out[key] = {"rss_mb_third": third, "rss_mb_peak": max(v for _, v in pts), "rss_mb_end": pts[-1][1],
                    "growth_after_third_mb": round(pts[-1][1] - third, 1), "samples": len(pts)}
    return out


def run(cfg: RigConfig, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Start the rig, run it for cfg.duration_s, drain it, and return the report (see the module doc)."""
    say = progress or (lambda text: None)
    domain = cfg.domain_id if cfg.domain_id is not None else pick_domain_id()
    ns = cfg.namespace.strip("/")
    camera = {"source": "synth", "paused": True, **dict(cfg.camera)}
    if cfg.robots:
        specs = multi_robot_specs(cfg.robots, namespace=ns, camera=camera, edge=dict(cfg.edge))
        streams = {r: f"{ns}/{r}" for r in cfg.robots}
        cameras = {r: f"{ns}/{r}/camera_node" for r in cfg.robots}
    else:
        stream = str(camera.get("stream_id", "camera"))
        specs = [NodeSpec("camera_node", ns, params=camera)]
        edge_remaps = {}
        if cfg.link is not None:
            specs.append(NodeSpec("link_emulator_node", ns, params=dict(cfg.link),
                                  remaps={"semantic_clip_in": "semantic_clip", "semantic_clip_out": "semantic_clip_link"}))
            edge_remaps = {"semantic_clip": "semantic_clip_link"}
        specs.append(NodeSpec("edge_node", ns, params=dict(cfg.edge), remaps=edge_remaps))
        streams = {stream: ns}
        cameras = {stream: f"{ns}/camera_node"}
    status_ns = [ns, *streams.values()]
    # the clips themselves are watched where a label could name the wrong one: across mode switches, through
    # the link emulator, and when the camera labels clips it sent (its deadline fallback)
    watch_clips = bool(cfg.switch_modes) or cfg.link is not None or float(camera.get("fallback_deadline_s", 0.0)) > 0
    obs = Observer(domain, streams, status_ns, clips=watch_clips)
    launcher = Launcher(specs, domain_id=domain, output=cfg.output)
    report: dict[str, Any] = {"config": {k: v for k, v in cfg.__dict__.items() if k != "output"}, "domain_id": domain}
    try:
        launcher.start()
        for spec in specs:
            word = {"camera_node": "camera ready", "edge_node": "edge ready", "link_emulator_node": "link emulator:"}
            if not launcher.wait_for_line(spec.label, word[spec.executable], cfg.ready_timeout_s):
                raise RuntimeError(f"{spec.label} did not start:\n{launcher.output_of(spec.label)[-3000:]}")
        want_status = {f"camera_node:{s}" for s in streams} | {"edge_node"}
        if not obs.spin_until(lambda: want_status <= set(obs.status), 30, launcher):
            raise RuntimeError(f"status reports missing: {sorted(want_status - set(obs.status))}")
        # the edge (or the emulator) must be reading each camera before the clock starts
        clip_topics = [f"/{v}/semantic_clip" if v else "/semantic_clip" for v in streams.values()]
        need = 1 + int(watch_clips)
        if not obs.spin_until(lambda: all(obs.node.count_subscribers(t) >= need for t in clip_topics), 30, launcher):
            raise RuntimeError("the edge is not subscribed to every camera's semantic_clip")
        say(f"rig ready on ROS_DOMAIN_ID={domain}: {len(streams)} camera(s); running {cfg.duration_s:.0f} s")
        for name in cameras.values():
            obs.set_params(name, {"paused": False})
        t_start = time.monotonic()
        switches: list[tuple[float, str]] = []
        next_switch, next_say, i = t_start, t_start + 10, 0
        while time.monotonic() - t_start < cfg.duration_s:
            now = time.monotonic()
            if cfg.switch_modes and now >= next_switch:
                mode = cfg.switch_modes[i % len(cfg.switch_modes)]
                for s in streams:
                    obs.command(s, mode, cfg.switch_k, cfg.switch_p, f"soak switch {i} to {mode}")
                switches.append((round(now - t_start, 2), mode))
                i += 1
                next_switch += cfg.switch_period_s
            if now >= next_say:
                e = obs.status.get("edge_node", {})
                say(f"  {now - t_start:5.0f} s: labels {sum(len(v) for v in obs.labels.values())}, "
                    f"edge waiting {e.get('waiting')}, edge rss {e.get('rss_mb')} MB")
                next_say += 10
            obs.spin_until(lambda: False, 0.05, launcher)
        active_s = time.monotonic() - t_start
        for name in cameras.values():
            obs.set_params(name, {"paused": True})
        say("cameras paused; draining")

        def drained() -> bool:
            cams = [obs.status.get(f"camera_node:{s}", {}) for s in streams]
            lost = int(obs.status.get("link_emulator_node", {}).get("lost", 0))  # never reach the edge
            done = all(len(obs.labels.get(s, {})) + len(obs.failed.get(s, {})) + lost >= int(c.get("seq", 0))
                       for s, c in zip(streams, cams))
            return done and obs.status.get("edge_node", {}).get("waiting", 1) == 0

        seq_then = {s: -1 for s in streams}

        def settled() -> bool:  # the cameras' counters stopped moving and everything published is accounted for
            cur = {s: obs.status.get(f"camera_node:{s}", {}).get("seq", 0) for s in streams}
            stable = cur == seq_then
            seq_then.update(cur)
            return stable and drained()

        obs.spin_until(lambda: False, 2.5, launcher)  # one more status report after the pause
        t_drain = time.monotonic()
        while time.monotonic() - t_drain < cfg.drain_timeout_s and not settled():
            obs.spin_until(lambda: False, 1.2, launcher)
        obs.spin_until(lambda: False, 1.5, launcher)  # last status reports
        report["active_s"] = round(active_s, 1)
        report["drained"] = drained()
        report["streams"] = account(obs, list(streams))
        total_labels = sum(len(v) for v in obs.labels.values())
        report["labels_per_s"] = round(total_labels / active_s, 2)
        report["memory"] = _memory(obs)
        edge = obs.status.get("edge_node", {})
        report["edge"] = {k: edge.get(k) for k in ("received", "labelled", "rejected", "stale", "queue_dropped",
                                                      "duplicates", "waiting", "queue_peak", "queue_limit", "failures")}
        report["cameras"] = {s: obs.status.get(f"camera_node:{s}", {}) for s in streams}
        if cfg.link is not None:
            report["link"] = obs.status.get("link_emulator_node", {})
        if cfg.switch_modes:
            report["switch"] = _switch_report(obs, list(streams), switches)
        report["exact"] = all(r["exact"] for r in report["streams"].values())
        return report
    finally:
        codes = launcher.stop(timeout=20.0)
        report["exit_codes"] = codes
        if cfg.output is None:
            report["node_output_tail"] = {k: launcher.output_of(k)[-1500:] for k in launcher.lines}
        obs.close()


def _switch_report(obs: Observer, streams: Sequence[str], switches: list[tuple[float, str]]) -> dict[str, Any]:
    """Mislabels (label mode/model differs from its clip's) and whether each new mode's first clip got a label."""
    out: dict[str, Any] = {"commands": len(switches)}
    for stream in streams:
        labels, clips = obs.labels.get(stream, {}), obs.clips.get(stream, {})
        modes: dict[int, tuple[str, str]] = {}
        for seq, m in labels.items():
            # a clip that crossed the link names its mode; one labelled on the camera has only its label
            modes[seq] = clips[seq][:2] if seq in clips else (m.mode, m.model_id)
        # a label whose mode or model is not its clip's (a camera-made label for a clip that was sent included)
        mislabelled = sorted(seq for seq, m in labels.items()
                             if seq in clips and (m.mode, m.model_id) != clips[seq][:2])
        firsts, prev = [], None
        for seq in range(max([*modes, *clips, -1]) + 1):
            mode = (clips.get(seq) or modes.get(seq) or (None, None))[0]
            if mode is None:
                continue
            if mode != prev:
                firsts.append((seq, mode, seq in labels))
            prev = mode
        out[stream] = {"mislabelled": mislabelled[:50], "mode_runs": len(firsts),
                       "first_clip_unlabelled": [(s, m) for s, m, ok in firsts if not ok][:50],
                       "labels_per_mode": dict(Counter(m.mode for m in labels.values()))}
    return out


# ---- command line ----------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m stae_ros.ros.soak", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    for name, helptext in (("soak", "one camera at --rate times the real-time clip rate for --duration s"),
                           ("multi", "N cameras (--cameras 1,2,4,8) feeding one edge: throughput, latency per camera"),
                           ("switch", "one camera switching mode every --period s among --modes")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--duration", type=float_in(0.0, 86400.0, lo_open=True), default={"soak": 600.0, "multi": 30.0, "switch": 60.0}[name],
                       help="seconds the cameras publish")
        p.add_argument("--rate", type=float_in(0.0, 100.0, lo_open=True), default=2.0 if name == "soak" else 1.0,
                       help=f"clip rate as a multiple of real time ({REAL_TIME_FPS:g} camera fps)")
        p.add_argument("--model", default="", help="STAE checkpoint (default: the shipped models/stae_default.pt)")
        p.add_argument("--deadline-ms", type=float_in(0.0, 3.6e6), default=0.0, help="edge deadline_ms (0 = label every clip)")
        p.add_argument("--fallback-deadline", type=float_in(0.0, 3600.0), default=0.0, metavar="S",
                       help="camera fallback_deadline_s: the camera labels a sent clip itself when its label is not "
                            "back S s after capture (0 = off); its labels are counted apart from the edge's")
        p.add_argument("--out", default="", help="write the report(s) as JSON here")
        p.add_argument("--show-node-output", action="store_true")
        if name == "multi":
            p.add_argument("--cameras", default="1,2,4,8", help="comma-separated camera counts (default 1,2,4,8)")
        if name == "switch":
            p.add_argument("--modes", default="stae-px,h264,stae-latent,local", help="modes to cycle through")
            p.add_argument("--period", type=float_in(0.0, 3600.0, lo_open=True), default=1.0, help="seconds between switches")
    return ap


def _summary(report: dict[str, Any]) -> str:
    lines = [f"  active {report['active_s']} s, {report['labels_per_s']} labels/s, drained {report['drained']}, "
             f"exact accounting {report['exact']}"]
    for s, r in report["streams"].items():
        lines.append(f"  {s}: published {r['published']} = labelled {r['labelled']} + dropped {r['dropped']} "
                     f"{r['dropped_by_reason']}; missing {len(r['missing'])}, twice {len(r['labelled_twice'])}; "
                     f"latency p50 {r['latency_ms_p50']} ms p95 {r['latency_ms_p95']} ms")
        if "fallback_labels" in r:
            lines.append(f"  {s}: camera fallback labels {r['fallback_labels']} (camera counts "
                         f"{r['fallback_labels_camera']}, too late {r['fallback_missed_camera']}); clips without any "
                         f"label {r['missing_without_fallback_count']}; twice {len(r['fallback_twice'])}")
    for k, m in report["memory"].items():
        lines.append(f"  {k}: rss {m['rss_mb_third']} MB at 1/3, peak {m['rss_mb_peak']}, end {m['rss_mb_end']} "
                     f"(+{m['growth_after_third_mb']} MB)")
    e = report["edge"]
    lines.append(f"  edge: queue peak {e['queue_peak']} of {e['queue_limit']}, failures {e['failures']}")
    if "switch" in report:
        for s, r in report["switch"].items():
            if isinstance(r, dict):
                lines.append(f"  switch {s}: {r['mode_runs']} mode runs, mislabelled {r['mislabelled']}, first clip "
                             f"unlabelled {r['first_clip_unlabelled']}, labels per mode {r['labels_per_mode']}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.duration <= 0 or args.rate <= 0:
        print("stae soak: --duration and --rate must be > 0", file=sys.stderr)
        return 2
    if not (args.fallback_deadline >= 0 and math.isfinite(args.fallback_deadline)):
        print(f"stae soak: --fallback-deadline must be a finite number of seconds >= 0; got {args.fallback_deadline}",
              file=sys.stderr)
        return 2
    base_cam = {"source_fps": REAL_TIME_FPS * args.rate, "max_clips": 0, "loop": True}
    if args.fallback_deadline > 0:
        base_cam["fallback_deadline_s"] = float(args.fallback_deadline)
    edge = {"deadline_ms": float(args.deadline_ms)}
    if args.model:
        base_cam["model"] = edge["model"] = args.model
    out = sys.stdout if args.show_node_output else None
    reports = []
    if args.what == "multi":
        try:
            counts = [int(c) for c in args.cameras.split(",") if c.strip()]
        except ValueError:
            print(f"stae soak: --cameras must be comma-separated integers; got {args.cameras!r}", file=sys.stderr)
            return 2
        cfgs = [RigConfig(duration_s=args.duration, robots=tuple(f"robot{i + 1}" for i in range(n)), camera=base_cam,
                          edge=edge, output=out) for n in counts]
    elif args.what == "switch":
        cfgs = [RigConfig(duration_s=args.duration, camera=base_cam, edge=edge, output=out,
                          switch_modes=tuple(m.strip() for m in args.modes.split(",") if m.strip()),
                          switch_period_s=args.period)]
    else:
        cfgs = [RigConfig(duration_s=args.duration, camera=base_cam, edge=edge, output=out)]
    ok = True
    for cfg in cfgs:
        print(f"stae soak {args.what}: {max(1, len(cfg.robots))} camera(s) at {args.rate:g}x real time "
              f"({base_cam['source_fps']:g} fps) for {cfg.duration_s:g} s", flush=True)
        rep = run(cfg, progress=lambda t: print(t, flush=True))
        rep.pop("node_output_tail", None)
        reports.append(rep)
        print(_summary(rep), flush=True)
        ok = ok and rep["exact"] and (not rep.get("switch") or all(
            not r["mislabelled"] and not r["first_clip_unlabelled"]
            for r in rep["switch"].values() if isinstance(r, dict)))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(reports, indent=1, default=str))
        print(f"wrote {args.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
