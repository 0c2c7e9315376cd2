"""edge_node: SemanticClip -> decode -> recover (FR) -> classify -> ActionLabel + LinkStats.

Clips are queued on arrival (their own callback group, so they keep arriving while a batch runs)
and a timer classifies whatever waits, up to `batch_max` clips in one forward pass: after a link
stall several clips arrive together and one batched pass costs far less than several.
A malformed clip (bad payload bytes, contradicting fields, unknown codec) is logged with the
reason, counted, reported in LinkStats (ok=false) and skipped; the node carries on. A clip older
than `deadline_ms` when its batch starts is dropped as stale, and a clip that arrives twice (same
stream, seq and stamp: a duplicating link) is labelled once. Every clip received is accounted for
on the status topic (stae_status, JSON, 1 Hz): received = labelled + rejected + stale + queue
drops + duplicates + waiting.
"""

from __future__ import annotations

import array
import threading
import time
from collections import Counter, OrderedDict, deque
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node

from sensor_msgs.msg import Image
from stae_msgs.msg import ActionLabel, LinkStats, SemanticClip
from std_msgs.msg import String, UInt8MultiArray

from . import qos
from ..errtext import exc_line
from .common import guarded, ms_between, ns_to_stamp, resolve_data_file, run_node, stamp_to_ns, wall_ns
from .errors import MalformedClipError
from .images import array_to_image
from .params import EDGE_PARAMS, declare_params, on_set_callback
from .status import STATUS_PERIOD_S, STATUS_TOPIC, status_json

#: (stream, seq, stamp) keys remembered to refuse a second copy of a clip: bounded memory
SEEN_LIMIT = 4096

__all__ = ["EdgeNode", "main", "check_clip_fields"]


@dataclass
class _Outputs:
    """Where the labels, link stats and recovered strips of one input's clips go."""

    label: Any
    stats: Any
    recovered: Any


@dataclass
class _Waiting:
    msg: SemanticClip
    received_ns: int
    out: _Outputs | None = None


def input_namespaces(text: str) -> list[str]:
    """The `namespaces` parameter ('robot1, /robot2') as relative topic prefixes; [''] = own topics."""
    names = [n.strip().strip("/") for n in str(text).split(",") if n.strip().strip("/")]
    if len(set(names)) != len(names):
        raise ValueError(f"parameter namespaces lists a namespace twice: {text!r}")
    return names or [""]


def check_clip_fields(msg: Any, shape: tuple[int, int, int, int]) -> None:
    """Reject a SemanticClip whose header fields contradict themselves or the model, before decoding."""
    T, H, W, C = shape
    if (msg.frames, msg.height, msg.width, msg.channels) != (T, H, W, C):
        raise MalformedClipError(f"clip shape {msg.frames}x{msg.height}x{msg.width}x{msg.channels} "
                                 f"does not match the model's {T}x{H}x{W}x{C}")
    if not (1 <= msg.k <= T):
        raise MalformedClipError(f"K={msg.k} is outside 1..{T}")
    if not (0.0 < msg.p <= 1.0):
        raise MalformedClipError(f"p={msg.p} is outside (0, 1]")
    if len(msg.frame_indices) != msg.k:
        raise MalformedClipError(f"{len(msg.frame_indices)} frame indices for K={msg.k}")
    if len(msg.payload) == 0:
        raise MalformedClipError("empty payload")


class EdgeNode(Node):
    """Labels SemanticClips with the STAE edge pipeline."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("edge_node", **kwargs)
        cfg = declare_params(self, EDGE_PARAMS)
        self.cfg = dict(cfg)
        import torch

        from stae_ros.pipeline import EdgePipeline
        from stae_ros.training.checkpoints import load_model

        if int(cfg["threads"]) > 0:
            torch.set_num_threads(int(cfg["threads"]))
        model_path = resolve_data_file(cfg["model"], "models/stae_default.pt")
        if not model_path.is_file():
            raise FileNotFoundError(f"model checkpoint {model_path} not found; set the 'model' parameter")
        loaded = load_model(model_path)
        mode_files = {"stae-latent": cfg["latent_model"], "stae-roi264": cfg["roi_model"], "h264": cfg["h264_model"],
                      "stae-px": cfg["px_model"]}
        self.pipeline = EdgePipeline(loaded, device=cfg["device"], topk=int(cfg["topk"]),
                                     keep_recovered=bool(cfg["publish_recovered"]), codec_models=mode_files)
        # a configured model file that cannot be loaded, or labels other classes, is refused now (one line, exit 1)
        self.pipeline.check_models([mode for mode, path in mode_files.items() if path])
        self.shape = self.pipeline.shape
        warm_ms = self._warm_up(torch)
        self.queue: deque[_Waiting] = deque()
        self.lock = threading.Lock()
        self.received = 0
        self.labelled = 0
        self.malformed = 0
        self.dropped = 0
        self.stale = 0
        self.duplicates = 0
        self.queue_peak = 0
        self.started_ns = wall_ns()
        self.reasons: Counter[str] = Counter()  #: refusals before the pipeline (fields, stale, queue, duplicate)
        self.streams: dict[str, Counter[str]] = {}
        self.seen: OrderedDict[tuple[str, int, int], None] = OrderedDict()

        rx_group = MutuallyExclusiveCallbackGroup()
        work_group = MutuallyExclusiveCallbackGroup()
        # one input per robot namespace: <ns>/semantic_clip in, <ns>/action_label and <ns>/link_stats out
        self.outputs: dict[str, _Outputs] = {}
        for ns in input_namespaces(cfg["namespaces"]):
            pre = f"{ns}/" if ns else ""
            out = _Outputs(self.create_publisher(ActionLabel, pre + "action_label", qos.topic_qos("action_label", cfg)),
                           self.create_publisher(LinkStats, pre + "link_stats", qos.topic_qos("link_stats", cfg)),
                           self.create_publisher(Image, pre + "recovered", qos.image_out_qos()))
            self.outputs[ns] = out
            self.create_subscription(SemanticClip, pre + "semantic_clip",
                                     lambda msg, out=out: self._on_clip(msg, out),
                                     qos.topic_qos("semantic_clip", cfg), callback_group=rx_group)
        first = next(iter(self.outputs.values()))
        self.pub_label, self.pub_stats, self.pub_recovered = first.label, first.stats, first.recovered
        inputs = ", ".join(self.resolve_topic_name(f"{ns}/semantic_clip" if ns else "semantic_clip")
                           for ns in self.outputs)
        self.create_timer(float(cfg["batch_period_ms"]) / 1000.0, self._on_timer, callback_group=work_group)
        self.pub_status = self.create_publisher(String, STATUS_TOPIC, qos.label_qos())
        self._init_sensitivity()
        self.create_timer(STATUS_PERIOD_S, self._publish_status, callback_group=MutuallyExclusiveCallbackGroup())
        self.add_on_set_parameters_callback(on_set_callback(EDGE_PARAMS, self._apply_params))
        self.get_logger().info(
            f"edge ready: model {model_path} on {self.pipeline.device}, {len(self.pipeline.class_names)} classes, "
            f"batches up to {cfg['batch_max']}, listening on {inputs} "
            f"(warm-up {warm_ms:.0f} ms)")

    def _warm_up(self, torch) -> float:
        """One recover + classify pass on a blank clip: the first pass (allocations, kernels) is slow."""
        t0 = time.perf_counter()
        T, H, W, C = self.shape
        with torch.inference_mode():
            x = torch.zeros(1, C, T, H, W, device=self.pipeline.device)
            mask = torch.ones(1, 1, T, H, W, device=self.pipeline.device)
            mask[:, :, 1::2] = 0
            self.pipeline.model.classify(self.pipeline.model.recover(x, mask))
        return (time.perf_counter() - t0) * 1000.0

    def _apply_params(self, changes: Mapping[str, Any]) -> str | None:
        if "topk" in changes:
            self.pipeline.topk = max(1, min(int(changes["topk"]), len(self.pipeline.class_names)))
        if "publish_recovered" in changes:
            self.pipeline.keep_recovered = bool(changes["publish_recovered"])
        self.cfg.update(changes)
        return None

    def _count(self, stream: str, what: str, reason: str | None = None) -> None:
        """One clip of `stream` ended as `what` (labelled, rejected, stale, ...); `reason`: the failure key."""
        self.streams.setdefault(stream, Counter())[what] += 1
        if reason:
            self.reasons[reason] += 1

    def status(self) -> dict[str, Any]:
        """The counters of the status topic (see the module docstring for how they add up)."""
        with self.lock:
            failures = Counter(self.reasons)
            failures.update(self.pipeline.failures.snapshot())
            return {"started_ns": self.started_ns, "received": self.received, "labelled": self.labelled,
                    "rejected": self.malformed, "stale": self.stale, "queue_dropped": self.dropped,
                    "duplicates": self.duplicates, "waiting": len(self.queue), "queue_peak": self.queue_peak,
                    "queue_limit": int(self.cfg["queue_limit"]), "failures": dict(failures),
                    "streams": {k: dict(v) for k, v in self.streams.items()},
                    "callback_errors": getattr(self, "callback_errors", 0)}

    @guarded
    def _publish_status(self) -> None:
        self.pub_status.publish(String(data=status_json("edge_node", self.status())))

    @guarded
    def _on_clip(self, msg: SemanticClip, out: _Outputs | None = None) -> None:
        now = wall_ns()
        key = (str(msg.stream_id), int(msg.seq), stamp_to_ns(msg.header.stamp))
        evicted: list[_Waiting] = []
        with self.lock:
            self.received += 1
            self._count(key[0], "received")
            if key in self.seen:
                self.duplicates += 1
                self._count(key[0], "duplicates", "receive/duplicate")
                self.get_logger().warning(f"clip {key[0]}#{key[1]} arrived again: ignored "
                                          f"({self.duplicates} so far)", throttle_duration_sec=5.0)
                return
            self.seen[key] = None
            if len(self.seen) > SEEN_LIMIT:
                self.seen.popitem(last=False)
            self.queue.append(_Waiting(msg, now, out))
            while len(self.queue) > int(self.cfg["queue_limit"]):
                old = self.queue.popleft()
                evicted.append(old)
                self.dropped += 1
                self._count(str(old.msg.stream_id), "queue_dropped", "queue/full")
                self.get_logger().warning(f"edge queue over {self.cfg['queue_limit']}: dropped clip "
                                          f"{old.msg.stream_id}#{old.msg.seq} ({self.dropped} so far)",
                                          throttle_duration_sec=5.0)
            self.queue_peak = max(self.queue_peak, len(self.queue))
        for old in evicted:  # outside the lock: publishing may block
            self._publish_stats(old, ok=False, error=f"queue full: over {self.cfg['queue_limit']} clips waiting")

    @guarded
    def _on_timer(self) -> None:
        with self.lock:
            n = min(len(self.queue), int(self.cfg["batch_max"]))
            batch = [self.queue.popleft() for _ in range(n)]
        if batch:
            try:
                self._process(batch)
            except Exception as exc:  # noqa: BLE001 - never die on one batch; say what happened
                with self.lock:
                    self.malformed += len(batch)
                    for item in batch:
                        self._count(str(item.msg.stream_id), "rejected", f"batch/?/{type(exc).__name__}")
                self.get_logger().error(f"batch of {len(batch)} clips failed: {exc_line(exc)}")

    def _init_sensitivity(self) -> None:
        """<ns>/sensitivity_map publishers (stae_ros.sensitivity wire bytes in a uint8 array), one per input."""
        self.sensitivity_pubs = {id(out): self.create_publisher(UInt8MultiArray, (f"{ns}/" if ns else "")
                                                                + "sensitivity_map", qos.label_qos())
                                 for ns, out in self.outputs.items()}
        self.sensitivity_count: Counter[int] = Counter()
        self.sensitivity_sent = 0

    def _publish_sensitivity(self, items: list[_Waiting], results: list[Any]) -> None:
        """Every ``sensitivity_every``-th labelled clip of each input: the classifier's input-gradient map
        of that clip, for modes that expose their classifier's input; a failure is logged, never fatal."""
        every = int(self.cfg["sensitivity_every"])
        if every <= 0:
            return
        from stae_ros.sensitivity import encode_map, sensitivity_map

        for item, res in zip(items, results):
            out = self._out(item)
            if res.error:
                continue
            self.sensitivity_count[id(out)] += 1
            if self.sensitivity_count[id(out)] % every:
                continue
            try:
                mode = self.pipeline.mode(str(item.msg.codec))
                if not callable(getattr(mode, "guidance_input", None)):
                    continue
                grid = int(self.cfg["sensitivity_grid"])
                smap = sensitivity_map(mode, mode.decode(bytes(item.msg.payload)), int(item.msg.seq), (grid, grid))
                msg = UInt8MultiArray()
                msg.data = array.array("B", encode_map(smap))
                self.sensitivity_pubs[id(out)].publish(msg)
                self.sensitivity_sent += 1
            except Exception as exc:  # noqa: BLE001 - a map is an extra; the labels are already out
                self.get_logger().warning(f"sensitivity map of clip {item.msg.seq} failed: {exc_line(exc)}",
                                          throttle_duration_sec=5.0)

    def _out(self, item: _Waiting) -> _Outputs:
        """The publishers of the input the clip came from (the first input for a clip without one)."""
        return item.out if item.out is not None else next(iter(self.outputs.values()))

    def _reject(self, item: _Waiting, reason: str, key: str | None = None) -> None:
        """Count and report a clip that gets no label; `key`: its failure reason when the pipeline
        did not count it already."""
        m = item.msg
        with self.lock:
            self.malformed += 1
            self._count(str(m.stream_id), "rejected", key)
        self.get_logger().warning(f"malformed clip {m.stream_id}#{m.seq} from {m.header.frame_id or '?'} "
                                  f"rejected ({self.malformed} so far): {reason}")
        self._publish_stats(item, ok=False, error=reason)

    def _publish_stats(self, item: _Waiting, ok: bool, error: str = "", decode_ms: float = 0.0,
                       infer_ms: float = 0.0) -> None:
        m = item.msg
        s = LinkStats()
        s.header.stamp = ns_to_stamp(wall_ns())
        s.header.frame_id = m.header.frame_id
        s.stream_id, s.clip_seq, s.bytes = m.stream_id, m.seq, len(m.payload)
        s.sent_stamp, s.received_stamp = m.sent_stamp, ns_to_stamp(item.received_ns)
        s.link_ms = float(ms_between(stamp_to_ns(m.sent_stamp), item.received_ns))
        s.decode_ms, s.infer_ms = float(decode_ms), float(infer_ms)
        s.k, s.p = int(m.k), float(m.p)
        s.ok, s.error = ok, error[:500]
        self._out(item).stats.publish(s)

    def _drop_stale(self, item: _Waiting, age_ms: float) -> None:
        m = item.msg
        with self.lock:
            self.stale += 1
            self._count(str(m.stream_id), "stale", "deadline/stale")
        self.get_logger().warning(f"clip {m.stream_id}#{m.seq} is {age_ms:.0f} ms old, past the "
                                  f"{self.cfg['deadline_ms']:g} ms deadline: dropped ({self.stale} so far)",
                                  throttle_duration_sec=5.0)
        self._publish_stats(item, ok=False, error=f"stale: {age_ms:.0f} ms old, deadline {self.cfg['deadline_ms']:g} ms")

    def _process(self, batch: list[_Waiting]) -> None:
        from stae_ros.pipeline import PipelineError  # torch-heavy: imported with the pipeline, not with the module

        start = wall_ns()
        deadline_ms = float(self.cfg["deadline_ms"])
        good: list[_Waiting] = []
        for item in batch:
            if deadline_ms > 0:
                age_ms = ms_between(stamp_to_ns(item.msg.header.stamp), start)
                if age_ms > deadline_ms:
                    self._drop_stale(item, age_ms)
                    continue
            try:
                check_clip_fields(item.msg, self.pipeline.clip_shape(str(item.msg.codec)))
            except (MalformedClipError, PipelineError) as exc:
                self._reject(item, str(exc), f"fields/{str(item.msg.codec)[:32] or '?'}/{type(exc).__name__}")
                continue
            good.append(item)
        if not good:
            return
        # the clip's model_id must be the model this edge runs for its mode ("" is refused too)
        results = self.pipeline.decode_classify([(bytes(i.msg.payload), i.msg.codec, str(i.msg.model_id))
                                                 for i in good])
        self._publish_sensitivity(good, results)
        for item, res in zip(good, results):
            m = item.msg
            if res.error:
                self._reject(item, res.error)
                continue
            now = wall_ns()
            label = ActionLabel()
            label.header.stamp = ns_to_stamp(now)
            label.header.frame_id = m.header.frame_id
            label.stream_id, label.clip_seq, label.clip_stamp = m.stream_id, m.seq, m.header.stamp
            label.mode, label.model_id = res.mode, res.model_id
            label.label, label.class_id, label.score = res.label, int(res.class_id), float(res.score)
            label.topk_labels = [t[1] for t in res.topk]
            label.topk_ids = [int(t[0]) for t in res.topk]
            label.topk_scores = [float(t[2]) for t in res.topk]
            label.k, label.p, label.payload_bytes = int(m.k), float(m.p), len(m.payload)
            label.camera_ms = float(m.camera_ms)
            label.link_ms = float(ms_between(stamp_to_ns(m.sent_stamp), item.received_ns))
            label.queue_ms = float((start - item.received_ns) / 1e6)
            label.decode_ms, label.infer_ms = float(res.decode_ms), float(res.infer_ms)
            label.edge_ms = float((now - item.received_ns) / 1e6)
            label.total_ms = float(ms_between(stamp_to_ns(m.header.stamp), now))
            self._out(item).label.publish(label)
            with self.lock:
                self.labelled += 1
                self._count(str(m.stream_id), "labelled")
            self._publish_stats(item, ok=True, decode_ms=res.decode_ms, infer_ms=res.infer_ms)
            if self.cfg["publish_recovered"] and res.recovered is not None:
                strip = np.concatenate(list(res.recovered), axis=1)
                self._out(item).recovered.publish(array_to_image(strip, "rgb8", m.header.stamp, m.header.frame_id))
            self.get_logger().debug(f"{m.stream_id}#{m.seq}: {res.label} {res.score:.2f} ({label.total_ms:.0f} ms)")


def main(args: list[str] | None = None) -> int:
    return run_node(EdgeNode, args, threads=2)


if __name__ == "__main__":
    raise SystemExit(main())
