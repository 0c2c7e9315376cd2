"""`stae demo`: camera + edge + controller as separate processes, labels printed live.

The nodes are the same executables and YAML files `ros2 launch stae_ros demo.launch.py` uses,
started by stae_ros.ros.launcher on a private ROS_DOMAIN_ID. This process listens to their topics
(ActionLabel, ground truth, BudgetCommand, and for --viz the clip images), prints one line per
label with its latency breakdown, and stops after --clips labels with a summary. Every mode switch
is printed as it happens: the controller's BudgetCommand that asks for it (with its reason) and the
first label of the new mode. The summary adds the nodes' own counters from their status topic
(stae_status): clips published, labelled and dropped, and the edge's failures per reason.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

from ..errtext import exc_line
from .validate import float_in, int_in

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "demo", help="run camera, edge and controller nodes and print action labels live",
        description="Start camera_node, edge_node and controller_node as processes (config/*.yaml) on a private "
                    "ROS_DOMAIN_ID, play the synthetic test split (labels known) or real footage, print each label "
                    "with its latency, and stop after --clips labels with a summary.")
    p.add_argument("--clips", type=int_in(1), default=12, help="stop after this many labels (default 12)")
    p.add_argument("--source", default="synth",
                   help="'synth' (synthetic test split), a video file, /dev/videoN, or a data set folder (default synth)")
    p.add_argument("--viz", metavar="FILE", default=None,
                   help="write a PNG: original, kept and recovered frames of the first clips with label vs truth")
    p.add_argument("--viz-clips", type=int_in(1, 64), default=4, help="clips shown in --viz (default 4)")
    p.add_argument("--domain-id", type=int_in(0, 232), default=None, help="ROS_DOMAIN_ID (default: a random private one)")
    p.add_argument("--model", default="", help="checkpoint (default: models/stae_default.pt)")
    p.add_argument("--profile", default="", help="accuracy profile for the controller (default: profiles/modes.json, every mode)")
    p.add_argument("--fps", type=float_in(0.0, 1000.0, lo_open=True), default=None, help="camera frame rate of the own source (default: camera.yaml)")
    p.add_argument("--k", type=int_in(1), default=None, help="initial frame budget K (default: camera.yaml)")
    p.add_argument("--p", type=float_in(0.0, 1.0, lo_open=True), default=None, help="initial spatial budget p (default: camera.yaml)")
    p.add_argument("--codec", default=None, choices=_mode_names(),
                   help="camera payload mode (default: camera.yaml); the controller then plans over this mode's "
                        "points only (default: every mode the profile has)")
    p.add_argument("--no-controller", action="store_true", help="keep the camera's budget fixed")
    p.add_argument("--link-rate", type=float_in(0.0), default=0.0, metavar="BPS",
                   help="put link_emulator_node between camera and edge: a constant link of BPS bits/s")
    p.add_argument("--trace", default="", metavar="FILE",
                   help="put link_emulator_node between camera and edge, shaped by this mahimahi trace")
    p.add_argument("--fallback-deadline", type=float_in(0.0), default=0.0, metavar="S",
                   help="turn on the camera's deadline fallback: a sent clip whose label is not back S seconds after "
                        "capture (minus the local classifier's time) is labelled on the camera; the controller plans "
                        "with it and this deadline (default 0: off)")
    p.add_argument("--timeout", type=float_in(0.0, lo_open=True), default=180.0, help="give up after this many seconds (default 180)")
    p.add_argument("--show-node-output", action="store_true", help="print every line the nodes log")
    p.set_defaults(func=run)


def _mode_names() -> tuple[str, ...]:
    from stae_ros.modes.registry import mode_names

    return mode_names()


def _keep_for_late_readers(topic: str) -> dict[str, Any]:
    """Parameters that make a node keep the last 100 messages of `topic` for readers that join late."""
    return {f"qos.{topic}.durability": "transient_local", f"qos.{topic}.depth": 100}


def _pct(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else math.nan


def run(args: argparse.Namespace) -> int:
    from stae_ros.ros.common import resolve_data_file

    if args.clips < 1:
        print("stae demo: --clips must be >= 1", file=sys.stderr)
        return 2
    model = resolve_data_file(args.model, "models/stae_default.pt")
    if not model.is_file():
        print(f"stae demo: model checkpoint {model} not found; pass --model or train one with `stae train`",
              file=sys.stderr)
        return 2
    if args.trace:  # the link emulator would stop at start-up on it, and the demo only report no labels
        from stae_ros.link import TraceError, load_trace

        try:
            load_trace(args.trace)
        except TraceError as exc:
            print(f"stae demo: --trace: {exc}", file=sys.stderr)
            return 2
    profile = resolve_data_file(args.profile, "profiles/modes.json")
    use_controller = not args.no_controller and profile.is_file()
    if not args.no_controller and not use_controller:
        print(f"stae demo: no profile at {profile}; running without the controller (fixed budget)", file=sys.stderr)
    problem = _preflight(args, model, profile if use_controller else None)
    if problem:
        print(f"stae demo: {problem}", file=sys.stderr)
        return 2
    return _Demo(args, model, profile if use_controller else None).run()


def _preflight(args: argparse.Namespace, model: Path, profile: Path | None) -> str | None:
    """What would stop a node at start-up, or lose the demo's output after its run, found before any
    node starts (a node would log it and exit, and the demo could only say that no label came)."""
    from stae_ros.profiling.schema import ProfileError, load_profile
    from stae_ros.ros.sources import SourceError, open_source
    from stae_ros.training.checkpoints import load_model
    from stae_ros.training.errors import CheckpointError

    try:
        loaded = load_model(model)
    except CheckpointError as exc:
        return f"--model: {exc}"
    if profile is not None:
        try:
            load_profile(profile)
        except ProfileError as exc:
            return f"--profile: {exc}"
    if not args.source.strip().startswith("/dev/video"):  # a camera device is the node's to open
        c = loaded.config.clip
        try:
            src = open_source(args.source, int(c.frames), int(c.height), int(c.width), loop=False)
            try:
                first = src.read()
            finally:
                src.close()
        except SourceError as exc:
            return f"--source: {exc}"
        except Exception as exc:  # noqa: BLE001 - a broken video or folder: said in one line
            return f"--source {args.source}: {exc_line(exc)}"
        if first is None:
            return f"--source {args.source}: no frame could be read"
    if args.viz:
        folder = Path(args.viz).expanduser().resolve().parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return f"--viz: cannot create {folder}: {exc.strerror or exc}"
        if not os.access(folder, os.W_OK):
            return f"--viz: {folder} is not writable"
    return None


class _Demo:
    def __init__(self, args: argparse.Namespace, model: Path, profile: Path | None) -> None:
        self.args, self.model, self.profile = args, model, profile
        self.t0 = time.monotonic()
        self.labels: dict[int, Any] = {}
        self.truth: dict[int, tuple[int, str]] = {}
        self.printed: set[int] = set()
        self.first_label_s: float | None = None
        self.viz_want = args.viz_clips if args.viz else 0
        self.viz_clips: dict[int, Any] = {}
        self.images: dict[str, dict[int, Any]] = {"original": {}, "recovered": {}}
        self.stamp_to_seq: dict[int, int] = {}
        self.shape = (16, 64, 64)
        self.status: dict[str, dict[str, Any]] = {}
        self.status_at: dict[str, float] = {}  #: when each node's last status report arrived (monotonic s)
        self.asked_mode: str | None = None  #: the payload mode the last BudgetCommand asked for
        self.label_mode: str | None = None  #: the mode of the last label printed
        self.switches: list[tuple[float, str, str]] = []

    # ---- set-up -------------------------------------------------------------------------------
    def _specs(self) -> list:
        from stae_ros.ros.launcher import NodeSpec

        viz = bool(self.args.viz)
        # labels of the local mode come from the camera itself: kept for this late reader like the edge's
        cam: dict[str, Any] = {"model": str(self.model), "source": self.args.source, "publish_original": viz,
                               "wait_for_subscribers": 2 if viz else 1, **_keep_for_late_readers("ground_truth"),
                               **_keep_for_late_readers("action_label")}
        if self.args.fps is not None:
            cam["source_fps"] = float(self.args.fps)
        if self.args.k is not None:
            cam["k"] = int(self.args.k)
        if self.args.p is not None:
            cam["p"] = float(self.args.p)
        if self.args.codec:
            cam["codec"] = self.args.codec
        if self.args.fallback_deadline > 0:
            cam["fallback_deadline_s"] = float(self.args.fallback_deadline)
        edge_remaps = {}
        specs = [NodeSpec("camera_node", params=cam)]
        if self.args.link_rate > 0 or self.args.trace:
            # camera -> semantic_clip -> emulator -> semantic_clip_link -> edge
            link: dict[str, Any] = {"trace": self.args.trace}
            if self.args.link_rate > 0:
                link["rate_bps"] = float(self.args.link_rate)
            specs.append(NodeSpec("link_emulator_node", params=link,
                                  remaps={"semantic_clip_in": "semantic_clip", "semantic_clip_out": "semantic_clip_link"}))
            edge_remaps = {"semantic_clip": "semantic_clip_link"}
        # this listener starts after the nodes: it asks the edge (and camera) to keep the labels
        # (and truths) for it, so none published before discovery matched it is lost
        specs.append(NodeSpec("edge_node", params={"model": str(self.model), "publish_recovered": viz,
                                                   **_keep_for_late_readers("action_label")},
                              remaps=edge_remaps))
        if self.profile is not None:
            ctl: dict[str, Any] = {"profile": str(self.profile)}
            if self.args.codec:
                ctl["codec"] = self.args.codec
            if self.args.fallback_deadline > 0:
                ctl.update(fallback=True, deadline_s=float(self.args.fallback_deadline))
            specs.append(NodeSpec("controller_node", params=ctl))
        return specs

    def _on_node_line(self, label: str, line: str) -> None:
        if " ready: " in line:
            print(f"  [{label}] ready after {time.monotonic() - self.t0:.1f} s", flush=True)
        if self.args.show_node_output or any(w in line for w in ("WARN", "ERROR", "FATAL", "Traceback")):
            print(f"  [{label}] {line}", flush=True)

    def run(self) -> int:
        from stae_ros.ros.launcher import Launcher, pick_domain_id, ros_env

        domain = self.args.domain_id if self.args.domain_id is not None else pick_domain_id()
        # this process joins the nodes' domain with the same discovery settings
        for key in ("ROS_DOMAIN_ID", "ROS_AUTOMATIC_DISCOVERY_RANGE", "ROS_LOCALHOST_ONLY"):
            os.environ.pop(key, None)
        os.environ.update({k: v for k, v in ros_env(domain, True, {}).items() if k.startswith("ROS_")})
        print(f"stae demo: model {self.model}, source {self.args.source}, ROS_DOMAIN_ID={domain}; "
              f"waiting for {self.args.clips} labels", flush=True)
        launcher = Launcher(self._specs(), domain_id=domain, output=None, on_line=self._on_node_line)
        node = None
        rclpy = None
        try:
            launcher.start()  # first: the nodes' start-up (torch import, model load) is the long pole
            import rclpy

            rclpy.init(args=[], domain_id=domain)
            node = self._make_node()
            return self._loop(node, launcher)
        except BaseException as exc:  # Ctrl-C: KeyboardInterrupt, or rclpy's ExternalShutdownException
            if not (isinstance(exc, KeyboardInterrupt) or type(exc).__name__ == "ExternalShutdownException"):
                raise
            print("\nstae demo: interrupted", flush=True)
            self._summary()
            return 130
        finally:
            codes = launcher.stop()
            if node is not None:
                node.destroy_node()
            if rclpy is not None:
                rclpy.try_shutdown()
            bad = {k: v for k, v in codes.items() if v not in (0, None, -2, 130)}
            if bad:
                print(f"stae demo: node exit codes {bad}", file=sys.stderr)

    def _make_node(self) -> Any:
        from rclpy.node import Node
        from sensor_msgs.msg import Image
        from stae_msgs.msg import ActionLabel, BudgetCommand, SemanticClip

        from stae_ros.ros import qos

        node = Node("stae_demo")
        node.create_subscription(ActionLabel, "action_label", self._on_label, qos.label_qos(depth=100, durable=True))
        node.create_subscription(ActionLabel, "ground_truth", self._on_truth, qos.label_qos(depth=100, durable=True))
        node.create_subscription(BudgetCommand, "budget_command", self._on_budget, qos.command_qos())
        from std_msgs.msg import String

        from stae_ros.ros.status import STATUS_TOPIC

        node.create_subscription(String, STATUS_TOPIC, self._on_status, qos.label_qos())
        if self.viz_want:
            node.create_subscription(SemanticClip, "semantic_clip", self._on_clip, qos.clip_qos())
            node.create_subscription(Image, "original", lambda m: self._on_image("original", m), qos.image_out_qos(20))
            node.create_subscription(Image, "recovered", lambda m: self._on_image("recovered", m), qos.image_out_qos(20))
        return node

    # ---- callbacks ----------------------------------------------------------------------------
    def _on_label(self, msg: Any) -> None:
        if msg.clip_seq in self.labels:
            return
        if self.first_label_s is None:
            self.first_label_s = time.monotonic() - self.t0
            print(f"stae demo: first label {self.first_label_s:.1f} s after start", flush=True)
        self.labels[msg.clip_seq] = msg

    def _on_truth(self, msg: Any) -> None:
        self.truth[msg.clip_seq] = (msg.class_id, msg.label)

    def _on_budget(self, msg: Any) -> None:
        t = time.monotonic() - self.t0
        mode = msg.payload_mode or self.asked_mode or "same mode"
        if msg.payload_mode and msg.payload_mode != self.asked_mode:
            was = self.asked_mode or "start"
            self.switches.append((t, was, msg.payload_mode))
            print(f"  {t:6.1f} s  MODE {was} -> {msg.payload_mode}  K={msg.k} p={msg.p:g}"
                  f"{' ' + msg.codec_settings if msg.codec_settings else ''}  ({msg.reason or 'no reason given'})",
                  flush=True)
            self.asked_mode = msg.payload_mode
        else:
            print(f"  {t:6.1f} s  budget -> {mode} K={msg.k} p={msg.p:g} ({msg.reason or 'no reason given'})",
                  flush=True)

    def _on_status(self, msg: Any) -> None:
        from stae_ros.ros.status import parse_status

        try:
            s = parse_status(msg.data)
        except ValueError:
            return
        self.status[s["node"]] = s
        self.status_at[s["node"]] = time.monotonic()

    def _on_clip(self, msg: Any) -> None:
        from stae_ros import codec
        from stae_ros.ros.common import stamp_to_ns
        from stae_ros.ros.viz import kept_view

        self.shape = (msg.frames, msg.height, msg.width)
        self.stamp_to_seq[stamp_to_ns(msg.header.stamp)] = msg.seq
        if len(self.viz_clips) >= self.viz_want or msg.codec != codec.CODEC_NAME:
            return  # the picture shows kept pixels, which only stae-px payloads have
        try:
            clip, mask = codec.decode(bytes(msg.payload)).to_dense()
            self.viz_clips[msg.seq] = (kept_view(clip, mask), int(msg.k), float(msg.p), len(msg.payload))
        except Exception as exc:  # noqa: BLE001 - a picture is not worth failing the demo for
            print(f"  viz: clip {msg.seq} not decodable: {exc}", flush=True)

    def _on_image(self, which: str, msg: Any) -> None:
        from stae_ros.ros.common import stamp_to_ns
        from stae_ros.ros.images import image_to_rgb

        if len(self.images[which]) < 4 * max(1, self.viz_want):
            self.images[which][stamp_to_ns(msg.header.stamp)] = image_to_rgb(msg)

    # ---- main loop ----------------------------------------------------------------------------
    def _loop(self, node: Any, launcher: Any) -> int:
        import rclpy

        deadline = self.t0 + self.args.timeout
        waiting_since: dict[int, float] = {}
        while len(self.printed) < self.args.clips:
            rclpy.spin_once(node, timeout_sec=0.05)
            now = time.monotonic()
            for seq in self.labels:
                waiting_since.setdefault(seq, now)
            for seq, since in waiting_since.items():
                if seq not in self.truth and now - since >= 1.0:
                    self.truth.setdefault(seq, (-1, ""))  # give up waiting for this clip's truth
            self._print_ready_simple()
            exited = launcher.exited()
            if exited:
                print(f"stae demo: node(s) exited early: {exited}", file=sys.stderr)
                for label in exited:
                    print("\n".join(launcher.lines.get(label, [])[-15:]), file=sys.stderr)
                self._summary()
                return 1
            if now > deadline:
                print(f"stae demo: timed out after {self.args.timeout:.0f} s with {len(self.printed)} labels",
                      file=sys.stderr)
                self._summary()
                return 1
        # the camera stops, the clips on their way arrive, and every node reports its counters once more
        # (reports come once a second): counters read at different moments, or of a camera still running,
        # disagree. The last images arrive meanwhile for the picture.
        self._pause_camera(node)
        settle = time.monotonic()
        end = settle + (1.0 if self.viz_want else 0.0)
        last = settle + 4.0
        while time.monotonic() < last and (time.monotonic() < end or not self._counters_final(settle)):
            rclpy.spin_once(node, timeout_sec=0.05)
        self._summary()
        if self.viz_want:
            self._write_viz()
        return 0

    def _pause_camera(self, node: Any, timeout_s: float = 2.0) -> None:
        """Set the camera's ``paused`` parameter, so that its counters stop before the summary reads them."""
        import rclpy
        from rcl_interfaces.srv import SetParameters
        from rclpy.parameter import Parameter

        client = node.create_client(SetParameters, "camera_node/set_parameters")
        try:
            if not client.wait_for_service(timeout_sec=timeout_s):
                return  # the summary then reads a camera still running; nothing else depends on it
            fut = client.call_async(SetParameters.Request(parameters=[Parameter("paused", value=True).to_parameter_msg()]))
            stop = time.monotonic() + timeout_s
            while not fut.done() and time.monotonic() < stop:
                rclpy.spin_once(node, timeout_sec=0.05)
        finally:
            node.destroy_client(client)

    def _counters_final(self, since: float) -> bool:
        """Every node has reported after ``since``, and every clip the camera sent is at the edge, lost on
        the emulated link, or in neither's queue any more."""
        if any(at <= since for at in self.status_at.values()):
            return False
        cam, edge = self.status.get("camera_node", {}), self.status.get("edge_node")
        if edge is None or "clips_sent" not in cam:
            return True
        link = self.status.get("link_emulator_node", {})
        lost = int(link.get("lost", 0) or 0) + int(link.get("dropped", 0) or 0)
        return (int(edge.get("received", 0)) + lost >= int(cam["clips_sent"]) and not edge.get("waiting")
                and not link.get("in_flight"))

    def _print_ready_simple(self) -> None:
        from stae_ros.planning.fallback import is_fallback_label
        from stae_ros.ros.common import stamp_to_ns

        need_truth = self.args.source.startswith("synth") or Path(self.args.source).is_dir()
        for seq in sorted(self.labels):
            if seq in self.printed or len(self.printed) >= self.args.clips:
                continue
            if need_truth and seq not in self.truth:
                continue
            m = self.labels[seq]
            if m.mode and m.mode != self.label_mode:
                if self.label_mode is not None:
                    print(f"  first label of mode {m.mode} (after {self.label_mode}): clip {seq}, model {m.model_id}",
                          flush=True)
                self.label_mode = m.mode
            self.stamp_to_seq.setdefault(stamp_to_ns(m.clip_stamp), seq)
            t = self.truth.get(seq, (-1, ""))
            mark = "" if not t[1] else ("  ok  " if t[1] == m.label else "  MISS")
            if is_fallback_label(m.mode, m.payload_bytes):  # the camera's deadline fallback for a clip it sent
                mark += " (camera fallback)"
            truth = "" if not t[1] else f" truth {t[1]:<12}"
            print(f"[{seq:4d}] {m.label:<12} {m.score:4.2f}{truth}{mark} K={m.k:<2d} p={m.p:<5g} {m.payload_bytes:7d} B"
                  f" | cam {m.camera_ms:6.1f} + link {m.link_ms:6.1f} + edge {m.edge_ms:6.1f} "
                  f"(queue {m.queue_ms:5.1f}, dec {m.decode_ms:5.1f}, inf {m.infer_ms:6.1f}) = total {m.total_ms:7.1f} ms", flush=True)
            self.printed.add(seq)

    # ---- results ------------------------------------------------------------------------------
    def _summary(self) -> None:
        msgs = [self.labels[s] for s in sorted(self.printed)]
        if not msgs:
            print("stae demo: no labels received", flush=True)
            return
        known = [(m, self.truth[m.clip_seq][1]) for m in msgs if self.truth.get(m.clip_seq, (-1, ""))[1]]
        nbytes = [m.payload_bytes for m in msgs]
        total = [m.total_ms for m in msgs]
        print("-" * 78)
        print(f"stae demo: {len(msgs)} labels; first label {self.first_label_s:.1f} s after start")
        if known:
            acc = sum(1 for m, t in known if m.label == t) / len(known)
            print(f"  accuracy {acc:.3f} ({sum(1 for m, t in known if m.label == t)}/{len(known)} with known labels)")
        print(f"  payload bytes: mean {sum(nbytes) / len(nbytes):.0f}, p95 {_pct(nbytes, 95):.0f}")
        print(f"  latency capture->label ms: p50 {_pct(total, 50):.1f}, p95 {_pct(total, 95):.1f}")
        for name in ("camera_ms", "link_ms", "edge_ms"):
            vals = [getattr(m, name) for m in msgs]
            print(f"    {name[:-3]:<7} p50 {_pct(vals, 50):7.1f}  p95 {_pct(vals, 95):7.1f}")
        modes: dict[str, int] = {}
        for m in msgs:
            modes[m.mode or "?"] = modes.get(m.mode or "?", 0) + 1
        print(f"  labels per mode: {modes}; mode switches asked: {len(self.switches)}")
        for line in _status_lines(self.status):
            print(line)
        print("-" * 78, flush=True)

    def _write_viz(self) -> None:
        import numpy as np

        from stae_ros.ros.viz import VizClip, render_demo_strip, split_strip

        by_seq: dict[str, dict[int, np.ndarray]] = {"original": {}, "recovered": {}}
        for which, imgs in self.images.items():
            for stamp, img in imgs.items():
                if stamp in self.stamp_to_seq:
                    by_seq[which][self.stamp_to_seq[stamp]] = split_strip(img, self.shape[0])
        clips = []
        for seq in sorted(self.viz_clips)[: self.viz_want]:
            kept, k, p, nb = self.viz_clips[seq]
            m = self.labels.get(seq)
            clips.append(VizClip(seq, by_seq["original"].get(seq), kept, by_seq["recovered"].get(seq),
                                 m.label if m else "?", float(m.score) if m else 0.0,
                                 self.truth.get(seq, (-1, ""))[1], k, p, nb))
        if not clips:
            print("stae demo: nothing to draw for --viz: no clip went as stae-px, the only payload with kept pixels "
                  "(--profile profiles/default.json plans over stae-px only)", file=sys.stderr)
            return
        path = render_demo_strip(clips, self.args.viz, *self.shape)
        print(f"stae demo: wrote {path}", flush=True)


def _status_lines(status: dict[str, dict[str, Any]]) -> list[str]:
    """The nodes' counters from their last status report (stae_status), for the summary."""
    lines = []
    cam = status.get("camera_node")
    if cam:
        lines.append(f"  camera: {cam.get('seq')} clips ({cam.get('clips_sent')} sent, {cam.get('local_labels')} "
                     f"labelled on the camera, {cam.get('clips_failed')} failed, {cam.get('fallback_labels', 0)} sent "
                     f"ones labelled by the deadline fallback), {cam.get('refused_commands')} "
                     f"refused commands, {cam.get('switches')} mode switches, {cam.get('frames_bad')} bad frames, "
                     f"rss {cam.get('rss_mb')} MB")
    edge = status.get("edge_node")
    if edge:
        lines.append(f"  edge: {edge.get('received')} received, {edge.get('labelled')} labelled, "
                     f"{edge.get('rejected')} rejected, {edge.get('stale')} stale, {edge.get('queue_dropped')} "
                     f"dropped (queue full), {edge.get('duplicates')} duplicates, queue peak {edge.get('queue_peak')}, "
                     f"rss {edge.get('rss_mb')} MB")
        failures = edge.get("failures") or {}
        lines.append("  edge failures by reason: " + (", ".join(f"{k} {v}" for k, v in sorted(failures.items()))
                                                      or "none"))
    link = status.get("link_emulator_node")
    if link:
        lines.append(f"  link: {link.get('forwarded')} forwarded, {link.get('dropped')} dropped (queue), "
                     f"{link.get('lost')} lost, {link.get('reordered')} reordered, {link.get('duplicated')} duplicated")
    if not lines:
        lines.append("  (no status reports received from the nodes)")
    return lines
