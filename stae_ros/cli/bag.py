"""`stae bag`: make clip bags from a data set, evaluate bags through camera -> edge, record topics.

Bags are rosbag2 (mcap or sqlite3) written with the pure-Python ``rosbags`` library, with our
stae_msgs definitions embedded, so they open in `ros2 bag`, Foxglove and any mcap reader.
``record`` is the only subcommand that needs rclpy (imported inside it).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from pathlib import Path
from typing import Any

from .validate import device_name, float_in, int_in


__all__ = ["register"]

log = logging.getLogger(__name__)


def _default_model() -> Path:
    """The installed share/stae_ros copy of models/stae_default.pt, else the checkout's."""
    from stae_ros.resources import find_data_file

    return find_data_file(None, "models/stae_default.pt")


#: what the nodes exchange: clips, labels, and the controller's inputs (link_stats, clip_sent) and output
DEFAULT_RECORD_TOPICS = ("/semantic_clip", "/action_label", "/link_stats", "/clip_sent", "/budget_command")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("bag", help="make, evaluate and record rosbag2 bags (mcap/sqlite3)",
                              description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="bag_command", metavar="ACTION")

    m = sub.add_parser("make", help="write clips as the camera's image_raw frames + ground_truth labels",
                       description="Write each clip's frames as sensor_msgs/Image (rgb8) on /image_raw at --fps, and one "
                                   "stae_msgs/ActionLabel ground truth per clip on /ground_truth: the topics and types "
                                   "camera_node subscribes to and publishes, so the bag replays into the nodes.")
    src = m.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", type=Path, help="data set root (HMDB51/UCF101 layout, e.g. from `stae data synth`)")
    src.add_argument("--source", help="anything camera_node's `source` parameter takes: synth, synth:N, a data set "
                                      "folder (test split) or a video file; the same clips the live camera plays")
    m.add_argument("--split", default="test", help="split to write (default test)")
    m.add_argument("--out", required=True, type=Path, help="bag directory to create")
    m.add_argument("--storage", choices=("mcap", "sqlite3"), default="mcap", help="rosbag2 storage plugin (default mcap)")
    m.add_argument("--fps", type=float_in(0.0, 1000.0, lo_open=True), default=10.0, help="frame rate of the stamps (default 10)")
    m.add_argument("--clip-len", type=int_in(1, 1024), default=16, help="frames per clip (default 16, the model's T)")
    m.add_argument("--size", type=int_in(16, 4096), nargs=2, default=(64, 64), metavar=("H", "W"), help="frame size (default 64 64)")
    m.add_argument("--max-clips", type=int_in(1), default=None, help="write at most this many clips (required for synth)")
    m.add_argument("--synth-seed", type=int_in(0), default=0, help="--source synth: the data set seed (camera's synth_seed)")
    m.add_argument("--synth-first-index", type=int_in(0), default=150,
                   help="--source synth: first test clip index per class (camera's synth_first_index)")
    m.add_argument("--force", action="store_true", help="overwrite an existing bag")
    m.set_defaults(func=_make)

    e = sub.add_parser("eval", help="replay a bag's images through camera -> edge; accuracy, bytes, latency",
                       description="Cut the bag's images into clips, encode them on the camera pipeline, decode and classify "
                                   "them on the edge pipeline, and score against the ground-truth topic.")
    e.add_argument("bag", type=Path, help="bag directory (mcap or sqlite3)")
    e.add_argument("--model", type=Path, default=None, help="checkpoint (default: the installed models/stae_default.pt, else the checkout's)")
    e.add_argument("--k", type=int_in(1), default=None, help="frame budget K (default: the model's largest)")
    e.add_argument("--p", type=float_in(0.0, 1.0, lo_open=True), default=None, help="spatial budget p (default: the model's largest)")
    e.add_argument("--rate", choices=("max", "recorded"), default="max", help="replay as fast as possible or at the recorded rate")
    e.add_argument("--image-topic", default="/image_raw", help="sensor_msgs/Image topic (default /image_raw)")
    e.add_argument("--gt-topic", default="/ground_truth", help="ground-truth topic ('' for none; default /ground_truth)")
    e.add_argument("--nodes", action="store_true",
                   help="play the frames through camera_node and edge_node processes (needs rclpy and stae_msgs) "
                        "instead of the pipelines in this process")
    e.add_argument("--window", type=int_in(1, 1024), default=None, help="frames per clip window (default: the model's clip length)")
    e.add_argument("--trace", type=Path, default=None, help="mahimahi uplink trace to emulate between camera and edge")
    e.add_argument("--max-clips", type=int_in(1), default=None, help="evaluate at most this many clips")
    e.add_argument("--device", type=device_name, default="auto", help="edge device: auto, cpu, cuda or cuda:N")
    e.add_argument("--json", type=Path, default=None, help="write the per-clip results and summary as JSON")
    e.set_defaults(func=_eval)

    r = sub.add_parser("record", help="record ROS 2 topics (SemanticClip, ActionLabel, LinkStats, Image, ...) to a bag",
                       description="Subscribe with rclpy (raw CDR) and write with rosbags, embedding our message definitions.")
    r.add_argument("--topics", nargs="+", default=list(DEFAULT_RECORD_TOPICS), help="topics to record (default: the five the nodes exchange)")
    r.add_argument("--out", required=True, type=Path, help="bag directory to create")
    r.add_argument("--storage", choices=("mcap", "sqlite3"), default="mcap", help="storage plugin (default mcap)")
    r.add_argument("--duration", type=float_in(0.0, lo_open=True), default=None, help="stop after this many seconds (default: until Ctrl-C)")
    r.add_argument("--max-messages", type=int_in(1), default=None, help="stop after this many messages in total")
    r.add_argument("--discovery-timeout", type=float_in(0.0, lo_open=True), default=5.0, help="seconds to wait for the topics to appear (default 5)")
    r.add_argument("--type", action="append", default=[], metavar="TOPIC=TYPE",
                   help="type of a topic not yet published (e.g. /semantic_clip=stae_msgs/msg/SemanticClip)")
    r.add_argument("--force", action="store_true", help="overwrite an existing bag")
    r.set_defaults(func=_record)

    i = sub.add_parser("info", help="list a bag's topics, types and message counts")
    i.add_argument("bag", type=Path, help="bag directory")
    i.set_defaults(func=_info)

    p.set_defaults(func=lambda args: (p.print_help(sys.stderr), 2)[1])


def _fail(msg: str) -> int:
    print(f"stae bag: error: {msg}", file=sys.stderr)
    return 2


# ---------------------------------------------------------------------------------- make
def _make(args: argparse.Namespace) -> int:
    from stae_ros.bagio import BagError, ClipItem, write_clip_bag
    from stae_ros.data.errors import DataError

    if args.source is not None:
        return _make_from_source(args)
    from stae_ros.data.folder import VideoFolderDataset

    try:
        ds = VideoFolderDataset(args.data, split=args.split, clip_len=args.clip_len, size=tuple(args.size))
    except (DataError, ValueError, OSError) as exc:
        return _fail(f"cannot open data set {args.data}: {exc}")
    n = len(ds) if args.max_clips is None else min(len(ds), args.max_clips)

    def clips():
        from tqdm import tqdm

        for idx in tqdm(range(n), desc="bag make", unit="clip"):
            item = ds.load(idx)
            yield ClipItem(item.clip, int(item.label), ds.class_names[int(item.label)], item.sample.name)

    try:
        s = write_clip_bag(args.out, clips(), fps=args.fps, storage=args.storage, class_names=ds.class_names, overwrite=args.force)
    except (BagError, DataError) as exc:
        return _fail(str(exc))
    print(f"wrote {s.path} ({s.storage}): {s.clips} clips, {s.frames} frames, {s.duration_s:.1f} s at {args.fps:g} fps")
    return 0


def _make_from_source(args: argparse.Namespace) -> int:
    """Clips from a camera source spec (stae_ros.ros.sources: no ROS needed), as the live camera reads them."""
    from stae_ros.bagio import BagError, ClipItem, write_clip_bag
    from stae_ros.ros.errors import SourceError
    from stae_ros.ros.sources import open_source

    h, w = args.size
    spec = args.source.strip()
    if (spec == "synth") and args.max_clips is None:
        return _fail("--source synth plays for ever: give --max-clips (or use synth:N)")
    try:
        source = open_source(spec, args.clip_len, h, w, dataset_seed=args.synth_seed,
                             first_index=args.synth_first_index, loop=False)
    except SourceError as exc:
        return _fail(str(exc))

    def clips():
        from tqdm import tqdm

        bar = tqdm(total=args.max_clips, desc="bag make", unit="clip")
        frames, n = [], 0
        try:
            while args.max_clips is None or n < args.max_clips:
                frame = source.read()
                if frame is None:
                    break
                frames.append(frame)
                if len(frames) == args.clip_len:
                    import numpy as np

                    from stae_ros.pipeline.clips import resize_frame

                    rgb = np.stack([resize_frame(f.rgb, h, w) for f in frames])
                    truth = frames[-1]
                    yield ClipItem(rgb, int(truth.truth), str(truth.truth_name or ""), f"clip{n}")
                    frames, n = [], n + 1
                    bar.update(1)
        finally:
            bar.close()
            source.close()

    try:
        s = write_clip_bag(args.out, clips(), fps=args.fps, storage=args.storage, overwrite=args.force)
    except (BagError, SourceError) as exc:
        return _fail(str(exc))
    print(f"wrote {s.path} ({s.storage}): {s.clips} clips, {s.frames} frames, {s.duration_s:.1f} s at {args.fps:g} fps")
    return 0


# ---------------------------------------------------------------------------------- eval
def _eval(args: argparse.Namespace) -> int:
    from stae_ros.bagio import BagError, evaluate_bag

    model_path = args.model or _default_model()
    if not Path(model_path).exists():
        return _fail(f"model checkpoint not found: {model_path} (train one with `stae train` or pass --model)")
    if args.nodes:
        return _eval_nodes(args, Path(model_path))
    from stae_ros.pipeline import CameraPipeline, EdgePipeline, PipelineError
    from stae_ros.training.checkpoints import load_model

    try:
        loaded = load_model(model_path)
        camera = CameraPipeline(loaded, k=args.k, p=args.p)
        edge = EdgePipeline(loaded, device=args.device)
    except (PipelineError, ValueError, OSError) as exc:
        return _fail(str(exc))
    shaper = None
    if args.trace is not None:
        from stae_ros.link import LinkError, TraceShaper, load_trace

        try:
            shaper = TraceShaper(load_trace(args.trace))
        except LinkError as exc:
            return _fail(str(exc))
    clip = loaded.config.clip
    try:
        report = evaluate_bag(args.bag, camera, edge, clip_len=clip.frames, height=clip.height, width=clip.width,
                              window=args.window, rate=args.rate, image_topic=args.image_topic,
                              gt_topic=args.gt_topic or None, shaper=shaper, max_clips=args.max_clips)
    except BagError as exc:
        return _fail(str(exc))
    return _print_report(args, report, f"K={camera.k}, p={camera.p:g}, rate={args.rate}")


def _eval_nodes(args: argparse.Namespace, model_path: Path) -> int:
    """`stae bag eval --nodes`: the bag's frames through camera_node and edge_node processes."""
    from stae_ros.bagio import BagError, BagEvalReport, ClipResult, read_ground_truth

    if args.trace is not None:
        return _fail("--trace emulates the link in-process; with --nodes put link_emulator_node in between instead")
    try:
        from stae_ros.ros.errors import LaunchError
        from stae_ros.ros.replay import replay_bag
    except ImportError as exc:
        return _fail(f"--nodes needs rclpy and the stae_msgs messages (see README): {exc}")
    camera: dict[str, Any] = {"threads": 1}
    if args.k is not None:
        camera["k"] = int(args.k)
    if args.p is not None:
        camera["p"] = float(args.p)
    edge = {"device": args.device}
    try:
        truths, _ = read_ground_truth(args.bag, args.gt_topic) if args.gt_topic else ([], [])
        res = replay_bag(args.bag, model_path, camera=camera, edge=edge, image_topic=args.image_topic,
                         window=args.window or 0, max_clips=args.max_clips, rate=args.rate)
    except (BagError, LaunchError, ValueError) as exc:
        return _fail(str(exc))
    by_clip = {gt.clip: gt.class_id for gt in truths}
    report = BagEvalReport(str(args.bag), args.rate)
    for seq in range(res.clips_sent):
        lab = res.labels.get(seq)
        if lab is None:
            report.clips.append(ClipResult(seq, 0, 0, by_clip.get(seq, -1), -1, "", 0.0, 0, 0, 0.0, 0.0, 0.0, 0.0, 0.0,
                                           error="no label from edge_node"))
            continue
        report.clips.append(ClipResult(
            index=seq, first_stamp_ns=lab.first_stamp_ns, last_stamp_ns=lab.last_stamp_ns, true_id=by_clip.get(seq, -1),
            pred_id=lab.class_id, label=lab.label, score=lab.score, payload_bytes=lab.payload_bytes, k=lab.k, p=lab.p,
            camera_ms=lab.camera_ms, link_ms=lab.link_ms, edge_ms=lab.edge_ms,
            latency_ms=lab.camera_ms + lab.link_ms + lab.edge_ms))
    return _print_report(args, report, f"camera_node + edge_node, {res.frames_sent} frames played, rate={args.rate}")


def _print_report(args: argparse.Namespace, report: Any, how: str) -> int:
    s = report.summary()
    print(f"bag {args.bag}: {s['clips']} clips ({how}), {s['errors']} errors")
    if s["labelled"]:
        print(f"  accuracy      {s['accuracy'] * 100:.1f}% over {s['labelled']} labelled clips")
    else:
        print("  accuracy      n/a (no ground truth)")
    print(f"  bytes/clip    mean {s['bytes_mean']:.0f}, p95 {s['bytes_p95']:.0f}")
    print(f"  camera ms     p50 {s['camera_ms_p50']:.1f};  edge ms p50 {s['edge_ms_p50']:.1f};  link ms p50 {s['link_ms_p50']:.1f}")
    print(f"  latency ms    p50 {s['latency_ms_p50']:.1f}, p95 {s['latency_ms_p95']:.1f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report.to_dict(), indent=2, default=lambda v: None if isinstance(v, float) and not math.isfinite(v) else v) + "\n")
    return 0


# ---------------------------------------------------------------------------------- info
def _info(args: argparse.Namespace) -> int:
    from stae_ros.bagio import BagError, bag_topics

    try:
        topics = bag_topics(args.bag)
    except BagError as exc:
        return _fail(str(exc))
    for topic, (msgtype, count) in sorted(topics.items()):
        print(f"{topic:32s} {msgtype:36s} {count}")
    return 0


# ---------------------------------------------------------------------------------- record
def _python_type(type_name: str) -> Any:
    """'stae_msgs/msg/SemanticClip' -> the rclpy message class."""
    import importlib

    pkg, _, name = type_name.replace("/msg/", "/").partition("/")
    return getattr(importlib.import_module(f"{pkg}.msg"), name)


def recording_qos(offered: list) -> Any:
    """The reader QoS that gets everything the publishers offer (what `ros2 bag record` does).

    Reliable only if every publisher is (a reliable reader does not match a best-effort writer);
    transient local only if every publisher is (then the history they keep, e.g. the latched
    BudgetCommand in force, is recorded too); volatile and reliable when nobody publishes yet.
    """
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

    reliable = all(q.reliability == ReliabilityPolicy.RELIABLE for q in offered)
    durable = bool(offered) and all(q.durability == DurabilityPolicy.TRANSIENT_LOCAL for q in offered)
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=max([100, *(int(q.depth) for q in offered)]),
                      reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL if durable else DurabilityPolicy.VOLATILE)


def _bag_qos(q: Any) -> Any:
    """An rclpy QoSProfile as rosbag2 metadata's offered_qos_profiles entry."""
    from rclpy.qos import DurabilityPolicy, ReliabilityPolicy

    from stae_ros.bagio import bag_qos

    rel = "reliable" if q.reliability == ReliabilityPolicy.RELIABLE else "best_effort"
    dur = "transient_local" if q.durability == DurabilityPolicy.TRANSIENT_LOCAL else "volatile"
    return bag_qos(rel, dur, max(1, int(q.depth)))


def _record(args: argparse.Namespace) -> int:
    import signal
    import time

    from stae_ros.bagio import BagError, BagWriter
    from stae_ros.bagio.typestore import make_typestore

    try:
        import rclpy
    except ImportError as exc:
        return _fail(f"`stae bag record` needs rclpy (the ROS 2 wheels, see README): {exc}")
    explicit: dict[str, str] = {}
    for spec in args.type:
        topic, sep, tname = spec.partition("=")
        if not sep:
            return _fail(f"--type {spec!r} must be TOPIC=TYPE")
        explicit[topic] = tname
    rclpy.init()
    node = rclpy.create_node("stae_bag_record")
    stop = {"flag": False}
    signal.signal(signal.SIGINT, lambda *_: stop.__setitem__("flag", True))
    signal.signal(signal.SIGTERM, lambda *_: stop.__setitem__("flag", True))
    try:
        types: dict[str, str] = {t: explicit[t] for t in args.topics if t in explicit}
        deadline = time.monotonic() + args.discovery_timeout

        def publishers_known() -> bool:  # their QoS decides ours (recording_qos), so wait for them too
            return all(node.count_publishers(t) > 0 for t in args.topics)

        while ((len(types) < len(args.topics) or not publishers_known()) and time.monotonic() < deadline
               and not stop["flag"]):
            for name, tlist in node.get_topic_names_and_types():
                if name in args.topics and name not in types and tlist:
                    types[name] = tlist[0]
            rclpy.spin_once(node, timeout_sec=0.1)
        missing = [t for t in args.topics if t not in types]
        if missing:
            log.warning("not recording %s: not published within %.1f s (pass --type TOPIC=TYPE)", ", ".join(missing), args.discovery_timeout)
        if not types:
            return _fail("none of the topics was found")
        store = make_typestore()
        classes: dict[str, Any] = {}
        for topic, tname in list(types.items()):  # a topic that cannot be recorded is named, then left out
            try:
                if tname not in store.types:
                    raise LookupError(f"type {tname!r} is not in the typestore")
                classes[topic] = _python_type(tname)
            except (LookupError, ImportError, AttributeError, ValueError) as exc:
                log.warning("not recording %s: %s", topic, exc)
                del types[topic]
        if not types:
            return _fail("none of the topics can be recorded (see the warnings above)")
        try:
            writer = BagWriter(args.out, args.storage, typestore=store, overwrite=args.force)
        except BagError as exc:
            return _fail(str(exc))
        counts = {t: 0 for t in types}
        total = {"n": 0}
        with writer as bw:
            for topic, tname in types.items():
                cls = classes[topic]
                offered = [i.qos_profile for i in node.get_publishers_info_by_topic(topic)]
                qos = recording_qos(offered)
                bw.connection(topic, tname, [_bag_qos(q) for q in offered])

                def cb(raw: bytes, topic: str = topic, tname: str = tname) -> None:
                    bw.write_raw(topic, tname, raw, time.time_ns())
                    counts[topic] += 1
                    total["n"] += 1

                node.create_subscription(cls, topic, cb, qos, raw=True)
            print(f"recording {', '.join(f'{t} [{ty}]' for t, ty in types.items())} -> {args.out}", flush=True)
            t_end = time.monotonic() + args.duration if args.duration else math.inf
            while not stop["flag"] and time.monotonic() < t_end:
                if args.max_messages is not None and total["n"] >= args.max_messages:
                    break
                rclpy.spin_once(node, timeout_sec=0.1)
        print(f"wrote {args.out}: " + ", ".join(f"{t} {n}" for t, n in counts.items()))
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0
