"""camera_node: frames -> clips -> STAE selection + encoding -> SemanticClip.

Input: the `image_raw` topic (sensor_msgs/Image, rgb8/bgr8/mono8/rgba8/bgra8, sensor-data QoS)
or the node's own `source` (synth | video file | /dev/videoN | data set folder).
Output: `semantic_clip` (stae_msgs/SemanticClip); `ground_truth` (stae_msgs/ActionLabel, when the
source knows the class); `original` (sensor_msgs/Image strip of the clip, when asked).
Budgets: `budget_command` (stae_msgs/BudgetCommand) and the `k`/`p` parameters, at runtime.
All algorithm lives in stae_ros.pipeline; this node moves data and keeps counters.
"""

from __future__ import annotations

import array
import json
import logging
import time
from typing import Any, Mapping

import numpy as np
from rclpy.node import Node
from rclpy.parameter import Parameter

from stae_msgs.msg import ActionLabel, BudgetCommand, LinkStats, SemanticClip
from sensor_msgs.msg import Image
from std_msgs.msg import String, UInt8MultiArray

from . import qos
from ..errtext import exc_line
from .common import guarded, ns_to_stamp, resolve_data_file, run_node, stamp_to_ns, wall_ns
from .errors import ImageConversionError
from .images import array_to_image, image_to_rgb
from .params import CAMERA_PARAMS, declare_params, on_set_callback
from .sources import Frame, open_source
from .status import STATUS_PERIOD_S, STATUS_TOPIC, status_json

__all__ = ["CameraNode", "main"]

log = logging.getLogger(__name__)


class CameraNode(Node):
    """Cuts clips from frames and publishes their STAE semantic payloads."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("camera_node", **kwargs)
        cfg = declare_params(self, CAMERA_PARAMS)
        self.cfg = dict(cfg)
        from stae_ros.pipeline import CameraPipeline
        from stae_ros.training.checkpoints import load_model

        model_path = resolve_data_file(cfg["model"], "models/stae_default.pt")
        if not model_path.is_file():
            raise FileNotFoundError(f"model checkpoint {model_path} not found; set the 'model' parameter "
                                    "(train one with `stae train`)")
        loaded = load_model(model_path)
        self.class_names = list(loaded.class_names)
        T, H, W, _C = (loaded.config.clip.frames, loaded.config.clip.height, loaded.config.clip.width,
                       loaded.config.clip.channels)
        k = int(cfg["k"])
        if k > T:
            self.get_logger().warning(f"k={k} exceeds the model's clip length {T}; using k={T}")
            k = T
            self.set_parameters([Parameter("k", value=T)])
        self.pipeline = CameraPipeline(loaded, k=k, p=float(cfg["p"]), codec=cfg["codec"], threads=int(cfg["threads"]),
                                       codec_model=cfg["codec_model"] or None, value_bits=int(cfg["value_bits"]),
                                       model_files={"local": cfg["local_model"]} if cfg["local_model"] else None,
                                       settings=self._parse_settings(cfg["codec_settings"]))
        # a configured model file that cannot be loaded, or labels other classes, is refused now (one line, exit 1)
        configured = {"local": cfg["local_model"], cfg["codec"]: cfg["codec_model"]}
        self.pipeline.check_models([mode for mode, path in configured.items() if path])
        t0 = time.perf_counter()
        self.pipeline.encode(np.zeros(self.pipeline.shape, np.uint8))  # warm-up: the first pass is slow
        warm_ms = (time.perf_counter() - t0) * 1000.0
        self._make_cutter()
        length, stride = self.cutter_window
        T, H, W, _C = self.pipeline.shape  # the start mode's clip size (a model file of its own may set it)

        self.pub_clip = self.create_publisher(SemanticClip, "semantic_clip", qos.topic_qos("semantic_clip", cfg))
        self.pub_truth = self.create_publisher(ActionLabel, "ground_truth", qos.topic_qos("ground_truth", cfg))
        # what this camera sent, when, and how large: a controller on the robot learns of a clip the link
        # holds up before any confirmation could (LinkStats with no received_stamp)
        self.pub_sent = self.create_publisher(LinkStats, "clip_sent", qos.label_qos(depth=50))
        # a mode that labels clips on the camera publishes its labels where the edge would
        self.pub_label = self.create_publisher(ActionLabel, "action_label", qos.topic_qos("action_label", cfg))
        self.pub_original = self.create_publisher(Image, "original", qos.image_out_qos())
        self.pub_status = self.create_publisher(String, STATUS_TOPIC, qos.label_qos())
        self.create_subscription(BudgetCommand, "budget_command", self._on_budget, qos.topic_qos("budget_command", cfg))
        self._init_guidance()
        self._init_fallback()

        self.seq = 0
        self.frames_in = 0
        self.frames_bad = 0
        self.clips_failed = 0
        self.clips_sent = 0  #: SemanticClips published (the rest of seq: labelled here, or failed)
        self.local_labels = 0  #: clips the active mode labelled on the camera
        self.refused_commands = 0
        self.switches = 0
        self.started_ns = wall_ns()
        wait_s = float(cfg["wait_for_budget_s"])
        #: while set, no clip goes out: the monotonic time at which the camera stops waiting for a BudgetCommand
        self._budget_wait_until: float | None = time.monotonic() + wait_s if wait_s > 0 else None
        self.last_truth = (-1, "")
        self.source = None
        self.timer = None
        if cfg["source"]:
            self.source = open_source(cfg["source"], T, H, W, dataset_seed=int(cfg["synth_seed"]),
                                      first_index=int(cfg["synth_first_index"]), loop=bool(cfg["loop"]))
            self._make_timer(float(cfg["source_fps"]))
            where = f"source {cfg['source']!r} at {cfg['source_fps']} fps"
        else:
            self.create_subscription(Image, "image_raw", self._on_image, qos.topic_qos("image_raw", cfg))
            where = f"topic {self.resolve_topic_name('image_raw')}"
        self.add_on_set_parameters_callback(on_set_callback(CAMERA_PARAMS, self._apply_params))
        self.create_timer(STATUS_PERIOD_S, self._publish_status)
        self.get_logger().info(
            f"camera ready: model {model_path} ({T}x{H}x{W}, {len(self.class_names)} classes), {where}, "
            f"clip window {length} stride {stride} ({cfg['frame_sampling']}), codec {self._codec_text()}, "
            f"publishing {self.resolve_topic_name('semantic_clip')} (warm-up {warm_ms:.0f} ms)"
            f"{f'; no clip before a BudgetCommand or {wait_s:g} s' if wait_s > 0 else ''}")

    def _codec_text(self) -> str:
        return self.pipeline.describe()

    def status(self) -> dict[str, Any]:
        """The counters of the status topic. Every clip encoded gets the next seq and is either sent
        (clips_sent) or labelled here (local_labels): seq = clips_sent + local_labels. A clip that
        could not be encoded gets no seq and is counted in clips_failed."""
        return {"stream_id": self.cfg["stream_id"], "started_ns": self.started_ns, "seq": self.seq,
                "clips_sent": self.clips_sent, "local_labels": self.local_labels, "clips_failed": self.clips_failed,
                "frames_in": self.frames_in, "frames_bad": self.frames_bad, "refused_commands": self.refused_commands,
                "mode": self.pipeline.codec, "model_id": self.pipeline.model_id, "switches": self.switches,
                "k": self.pipeline.k, "p": self.pipeline.p, "paused": bool(self.cfg["paused"]),
                "fallback_deadline_s": float(self.fallback.deadline_s) if self.fallback is not None else 0.0,
                "fallback_labels": self.fallback_labels,
                "fallback_missed": self.fallback.missed if self.fallback is not None else 0,
                "callback_errors": getattr(self, "callback_errors", 0)}

    @guarded
    def _publish_status(self) -> None:
        self.pub_status.publish(String(data=status_json("camera_node", self.status())))

    def _make_cutter(self) -> None:
        """Cut clips of the active mode's shape (a mode switch may change it)."""
        from stae_ros.pipeline import ClipCutter

        T, H, W, _C = self.pipeline.shape
        length = int(self.cfg["clip_length"]) or T
        stride = int(self.cfg["clip_stride"]) or length
        self.cutter_window = (length, stride)
        self.cutter = ClipCutter(T, H, W, window=length, stride=stride, mode=self.cfg["frame_sampling"])

    @staticmethod
    def _parse_settings(text: str) -> dict:
        """The codec_settings parameter: a JSON object of knob names to values ('' = the mode's defaults)."""
        try:
            knobs = json.loads(text) if str(text).strip() else {}
        except json.JSONDecodeError as exc:
            raise ValueError(f"codec_settings is not JSON ({exc}): {text!r}") from None
        if not isinstance(knobs, dict):
            raise ValueError(f"codec_settings must be a JSON object of knob names to values; got {text!r}")
        return knobs

    # ---- inputs -------------------------------------------------------------------------------
    def _make_timer(self, fps: float) -> None:
        if self.timer is not None:
            self.destroy_timer(self.timer)
        period = 1.0 / fps if fps > 0 else 0.001
        self.timer = self.create_timer(period, self._on_tick)

    @guarded
    def _on_tick(self) -> None:
        if self._done():
            return
        if self.pub_clip.get_subscription_count() < int(self.cfg["wait_for_subscribers"]):
            return
        if self._waiting_for_budget():
            return
        try:
            frame = self.source.read()
        except Exception as exc:  # noqa: BLE001 - a bad frame must not kill the node
            self.frames_bad += 1
            self.get_logger().warning(f"source read failed ({self.frames_bad} so far): {exc_line(exc)}")
            return
        if frame is None:
            self.get_logger().info(f"source {self.cfg['source']!r} finished after {self.seq} clips")
            self.destroy_timer(self.timer)
            self.timer = None
            return
        self._push(frame, wall_ns())

    @guarded
    def _on_image(self, msg: Image) -> None:
        if self._done() or self._waiting_for_budget():
            return
        try:
            rgb = image_to_rgb(msg)
        except ImageConversionError as exc:
            self.frames_bad += 1
            self.get_logger().warning(f"dropped image {self.frames_bad}: {exc}", throttle_duration_sec=5.0)
            return
        stamp = int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)
        self._push(Frame(rgb), stamp if stamp > 0 else wall_ns())

    def _waiting_for_budget(self) -> bool:
        """True while wait_for_budget_s holds the first clip back: until a BudgetCommand came or the wait ran out."""
        if self._budget_wait_until is None:
            return False
        if time.monotonic() < self._budget_wait_until:
            return True
        self._budget_wait_until = None
        self.get_logger().warning(f"no BudgetCommand within wait_for_budget_s={self.cfg['wait_for_budget_s']:g}: "
                                  f"starting with {self._codec_text()}")
        return False

    def _done(self) -> bool:
        limit = int(self.cfg["max_clips"])
        return bool(limit) and self.seq >= limit

    # ---- clip out -----------------------------------------------------------------------------
    def _push(self, frame: Frame, stamp_ns: int) -> None:
        self.frames_in += 1
        self.last_truth = (frame.truth, frame.truth_name)
        try:
            out = self.cutter.push(frame.rgb, float(stamp_ns))
        except Exception as exc:  # noqa: BLE001 - e.g. a frame of an unexpected shape
            self.frames_bad += 1
            self.get_logger().warning(f"dropped frame: {exc_line(exc)}", throttle_duration_sec=5.0)
            return
        if out is None or self.cfg["paused"]:
            return
        clip, stamps = out
        self._publish_clip(clip, [int(s) for s in stamps])

    def _publish_clip(self, clip: np.ndarray, stamps: list[int]) -> None:
        complete_s = time.monotonic()  # the clip's deadline counts from here
        if self.fallback is not None:  # earliest deadline first: what would come due while this clip is encoded
            self._run_fallbacks(within_s=self._last_camera_s)
        try:
            enc = self.pipeline.encode(clip)
        except Exception as exc:  # noqa: BLE001 - log, count, keep going with the next clip
            self.clips_failed += 1
            self.get_logger().error(f"clip {self.seq} not encoded: {exc_line(exc)}")
            return
        self._last_camera_s = float(enc.camera_ms) / 1000.0
        first, last = stamps[0], stamps[-1]
        msg = SemanticClip()
        msg.header.stamp = ns_to_stamp(last)
        msg.header.frame_id = self.cfg["frame_id"]
        msg.stream_id = self.cfg["stream_id"]
        msg.seq = self.seq
        msg.first_stamp = ns_to_stamp(first)
        msg.last_stamp = ns_to_stamp(last)
        T, H, W, C = clip.shape
        msg.frames, msg.height, msg.width, msg.channels = T, H, W, C
        msg.k, msg.p = enc.k, float(enc.p)
        msg.frame_indices = array.array("H", enc.frame_indices)
        msg.codec, msg.codec_version = enc.codec, int(enc.codec_version)
        msg.model_id = enc.model_id
        msg.camera_ms = float(enc.camera_ms)
        msg.payload = array.array("B", enc.payload)
        msg.sent_stamp = ns_to_stamp(wall_ns())
        if enc.label is None:
            self.pub_clip.publish(msg)
            self.clips_sent += 1
            self._announce_sent(msg, len(enc.payload))
            if self.fallback is not None:
                self.fallback.sent(msg.seq, complete_s, (clip, msg.header, len(enc.payload)))
        else:  # labelled on the camera: only the label leaves it
            self._publish_label(msg, enc)
            self.local_labels += 1
        truth, name = self.last_truth
        if truth >= 0 and self.cfg["publish_truth"]:
            t = ActionLabel()
            t.header = msg.header
            t.stream_id, t.clip_seq, t.clip_stamp = msg.stream_id, msg.seq, msg.header.stamp
            t.label, t.class_id, t.score = name, truth, 1.0
            t.k, t.p, t.payload_bytes = msg.k, msg.p, len(enc.payload)
            self.pub_truth.publish(t)
        if self.cfg["publish_original"]:
            strip = np.concatenate(list(clip), axis=1)
            self.pub_original.publish(array_to_image(strip, "rgb8", msg.header.stamp, msg.header.frame_id))
        self.get_logger().debug(f"clip {self.seq}: K={enc.k} p={enc.p} {len(enc.payload)} B {enc.camera_ms:.1f} ms")
        self.seq += 1

    def _announce_sent(self, clip: SemanticClip, nbytes: int) -> None:
        note = LinkStats()
        note.header = clip.header
        note.stream_id, note.clip_seq, note.bytes = clip.stream_id, clip.seq, int(nbytes)
        note.sent_stamp, note.k, note.p, note.ok = clip.sent_stamp, clip.k, clip.p, True
        self.pub_sent.publish(note)

    def _publish_label(self, clip: SemanticClip, enc: Any) -> None:
        """ActionLabel of a clip the active mode labelled on the camera (the edge's fields, link and edge times 0)."""
        self._publish_own_label(clip.header, clip.seq, clip.k, clip.p, len(enc.payload), enc)

    def _publish_own_label(self, header: Any, seq: int, k: int, p: float, payload_bytes: int, enc: Any) -> None:
        now = wall_ns()
        lab = enc.label
        m = ActionLabel()
        m.header.stamp = ns_to_stamp(now)
        m.header.frame_id = header.frame_id
        m.stream_id, m.clip_seq, m.clip_stamp = self.cfg["stream_id"], int(seq), header.stamp
        m.mode, m.model_id = enc.codec, enc.model_id
        m.label, m.class_id, m.score = lab.label, int(lab.class_id), float(lab.score)
        m.topk_labels = [t[1] for t in lab.topk]
        m.topk_ids = [int(t[0]) for t in lab.topk]
        m.topk_scores = [float(t[2]) for t in lab.topk]
        m.k, m.p, m.payload_bytes = int(k), float(p), int(payload_bytes)
        m.camera_ms = m.infer_ms = float(enc.camera_ms)
        m.total_ms = float((now - stamp_to_ns(header.stamp)) / 1e6)
        self.pub_label.publish(m)

    # ---- the deadline fallback ----------------------------------------------------------------
    def _init_fallback(self) -> None:
        """With fallback_deadline_s > 0, keep each sent clip until its label is seen on action_label, and
        label it here (local model) when it is not back by the deadline minus the classifier's time."""
        from stae_ros.planning import DeadlineFallback

        self.fallback: DeadlineFallback | None = None
        self.fallback_labels = 0
        self._last_camera_s = 0.0  #: the camera half of the last clip: how long the camera is busy with the next
        deadline = float(self.cfg["fallback_deadline_s"])
        if deadline <= 0:
            return
        blank = np.zeros(self.pipeline.shape, np.uint8)
        self.pipeline.label_here(blank)  # loads the local model (refused in one line) and warms it up: not timed
        t0 = time.perf_counter()
        self.pipeline.label_here(blank)
        local_s = time.perf_counter() - t0  # one run on this host; each fallback's own time updates it
        self.fallback = DeadlineFallback(deadline, local_s)
        if not self.fallback.feasible:
            self.get_logger().warning(f"fallback_deadline_s {deadline:g} s: the local classifier takes {local_s:.3f} s "
                                      "here, too long to label a clip before its deadline; fallback off")
            self.fallback = None
            return
        self.create_subscription(ActionLabel, "action_label", self._on_label, qos.topic_qos("action_label", self.cfg))
        self.create_timer(0.01, self._on_fallback_due)
        self.get_logger().info(f"deadline fallback on: a sent clip whose label is not back "
                               f"{self.fallback.start_by(0.0):.3f} s after capture is labelled here ({local_s * 1000:.0f} ms)")

    @guarded
    def _on_label(self, msg: ActionLabel) -> None:
        if self.fallback is not None and (not msg.stream_id or msg.stream_id == self.cfg["stream_id"]):
            self.fallback.labelled(int(msg.clip_seq))

    @guarded
    def _on_fallback_due(self) -> None:
        self._run_fallbacks()

    def _run_fallbacks(self, within_s: float = 0.0) -> None:
        """Label here the sent clips whose fallback is due now, or would come due within ``within_s``
        (the camera is about to be busy that long)."""
        assert self.fallback is not None
        for due in self.fallback.due(time.monotonic(), within_s):
            clip, header, payload_bytes = due.item
            try:
                enc = self.pipeline.label_here(clip)
            except Exception as exc:  # noqa: BLE001 - the clip keeps whatever the edge sends
                self.get_logger().error(f"fallback label of clip {due.seq} failed: {exc_line(exc)}")
                continue
            # the classifier's time here keeps the start times honest when the host is busier than at start-up
            self.fallback.local_s = max(self.fallback.local_s * 0.8, enc.camera_ms / 1000.0)
            self._publish_own_label(header, due.seq, enc.k, 1.0, payload_bytes, enc)
            self.fallback_labels += 1
            self.get_logger().info(f"clip {due.seq}: no label {time.monotonic() - due.capture_s:.2f} s after capture; "
                                   f"labelled here ({enc.label.label}, {enc.model_id})", throttle_duration_sec=1.0)

    # ---- budgets and parameters ---------------------------------------------------------------
    def budget_parameters(self, cmd: BudgetCommand) -> list[Parameter] | str:
        """The parameter values a BudgetCommand asks for, or why it cannot be applied at all."""
        if cmd.mode == BudgetCommand.MODE_PAUSE:
            return [Parameter("paused", value=True)]
        if cmd.mode == BudgetCommand.MODE_RESUME:
            return [Parameter("paused", value=False)]
        if cmd.mode != BudgetCommand.MODE_SET:
            return f"unknown mode {cmd.mode} (MODE_SET=0, MODE_PAUSE=1, MODE_RESUME=2)"
        # float32 on the wire: 0.1 arrives as 0.10000000149; keep the profile's value
        params = [Parameter("k", value=int(cmd.k)), Parameter("p", value=round(float(cmd.p), 6)),
                  Parameter("paused", value=False)]
        if cmd.payload_mode:
            params.append(Parameter("codec", value=str(cmd.payload_mode)))
        if cmd.codec_settings:
            params.append(Parameter("codec_settings", value=str(cmd.codec_settings)))
        return params

    @guarded
    def _on_budget(self, cmd: BudgetCommand) -> None:
        if cmd.stream_id and cmd.stream_id != self.cfg["stream_id"]:
            return
        self._budget_wait_until = None  # the controller is there: applied or refused, clips may flow now
        what = (f"BudgetCommand (mode {cmd.mode}, {cmd.payload_mode or 'same payload'}, "
                f"K={cmd.k}, p={cmd.p:.3f}"
                f"{', settings ' + cmd.codec_settings if cmd.codec_settings else ''})")
        params = self.budget_parameters(cmd)
        if isinstance(params, str):
            self.refused_commands += 1
            self.get_logger().warning(f"{what} rejected: {params}; nothing changed")
            return
        before = self.pipeline.codec
        # all or nothing: the on-set callback sees every value at once and validates them all
        # before anything is applied, exactly as `ros2 param set` / set_parameters_atomically
        result = self.set_parameters_atomically(params)
        if not result.successful:
            self.refused_commands += 1
            self.get_logger().warning(f"{what} rejected: {result.reason}; nothing changed "
                                      f"(K={self.pipeline.k} p={self.pipeline.p:g} paused={self.cfg['paused']})")
            return
        knobs = f" settings {self.cfg['codec_settings']}" if self.cfg["codec_settings"] else ""
        if self.pipeline.codec != before:
            self.get_logger().info(f"mode switch {before} -> {self.pipeline.codec} from clip {self.seq} "
                                   f"({self.pipeline.model_id}; {cmd.reason or 'no reason given'})")
        self.get_logger().info(f"budget now K={self.pipeline.k} p={self.pipeline.p:g}{knobs} "
                               f"paused={self.cfg['paused']} ({cmd.reason or 'no reason given'})")

    def _init_guidance(self) -> None:
        """The edge's sensitivity maps (stae_ros.sensitivity wire bytes in a uint8 array) for the active mode."""
        self.guidance_refused = 0
        self.create_subscription(UInt8MultiArray, "sensitivity_map", self._on_sensitivity, qos.label_qos())

    @guarded
    def _on_sensitivity(self, msg: UInt8MultiArray) -> None:
        """Hand a map to the active mode if it takes maps; a refused one is logged in one line and the mode
        keeps its own (or its previous) map."""
        from stae_ros.sensitivity import GuidanceRules, SensitivityError, supports_guidance

        mode = self.pipeline.active
        if not self.cfg["guidance"] or not supports_guidance(mode):
            return
        c = self.cfg
        try:
            rules = GuidanceRules(int(c["guidance_max_age_clips"]), float(c["guidance_max_age_s"]),
                                  float(c["guidance_signature_distance"]), float(c["guidance_weight"]),
                                  float(c["guidance_mix"]))
        except SensitivityError as exc:
            rules = None
            self.get_logger().warning(f"guidance parameters: {exc}; keeping the mode's rules")
        reason = mode.set_guidance(bytes(msg.data), rules)
        if reason:
            self.guidance_refused += 1
            self.get_logger().warning(f"sensitivity map refused: {reason}", throttle_duration_sec=5.0)

    def _apply_params(self, changes: Mapping[str, Any]) -> str | None:
        """Validate every change first, then commit them all: a refusal changes nothing.

        CameraPipeline.prepare checks mode, K, p and settings together and touches nothing; commit
        cannot fail, so nothing after it can leave a half-applied change.
        """
        from stae_ros.pipeline import PipelineError

        prepared = None
        if {"codec", "k", "p", "codec_settings"} & set(changes):
            try:
                settings = self._parse_settings(changes["codec_settings"]) if "codec_settings" in changes else None
                prepared = self.pipeline.prepare(mode=changes.get("codec"), k=changes.get("k"), p=changes.get("p"),
                                                 settings=settings)
            except (PipelineError, ValueError) as exc:
                return str(exc)
        # ---- nothing below refuses
        if prepared is not None:
            old_shape = self.pipeline.shape
            if prepared.mode != self.pipeline.codec:
                self.switches += 1
            self.pipeline.commit(prepared)
            if tuple(prepared.shape) != tuple(old_shape):
                self._make_cutter()
        if "source_fps" in changes and self.timer is not None:
            self._make_timer(float(changes["source_fps"]))
        self.cfg.update(changes)
        if prepared is not None and self.switches and "codec" in changes:
            self._publish_status()  # a switch is worth seeing at once, not within the second
        return None


def main(args: list[str] | None = None) -> int:
    return run_node(CameraNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
