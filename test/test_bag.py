"""Bags: make -> read back (mcap and sqlite3, rosbags and mcap readers), eval round trip, errors, record."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml

from stae_ros.bagio import (
    GT_TOPIC,
    IMAGE_TOPIC,
    BagError,
    BagFormatError,
    BagNotFoundError,
    BagWriter,
    ClipItem,
    MissingTopicError,
    bag_topics,
    evaluate_bag,
    make_typestore,
    msgtype,
    read_ground_truth,
    read_images,
    read_messages,
    write_clip_bag,
)
from stae_ros.cli import main as stae_main

REPO = Path(__file__).resolve().parents[1]


def _clips(n: int = 4, t: int = 4, h: int = 12, w: int = 10, seed: int = 0) -> list[ClipItem]:
    rng = np.random.default_rng(seed)
    return [ClipItem(rng.integers(0, 256, (t, h, w, 3), dtype=np.uint8), i % 3, f"class{i % 3}", f"clip{i}") for i in range(n)]


def _mcap_file(bag: Path) -> Path:
    files = sorted(bag.glob("*.mcap"))
    assert files, f"no .mcap in {bag}"
    return files[0]


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_make_and_read_back(tmp_path: Path, storage: str) -> None:
    clips = _clips()
    s = write_clip_bag(tmp_path / "bag", clips, fps=10, storage=storage, class_names=["class0", "class1", "class2"])
    assert (tmp_path / "bag" / "metadata.yaml").is_file()
    assert s.clips == 4 and s.frames == 16
    topics = bag_topics(tmp_path / "bag")
    assert topics[IMAGE_TOPIC] == ("sensor_msgs/msg/Image", 16)
    assert (IMAGE_TOPIC, GT_TOPIC) == ("/image_raw", "/ground_truth")  # camera_node's own topics
    assert topics[GT_TOPIC] == ("stae_msgs/msg/ActionLabel", 4)  # the type camera_node publishes
    frames = list(read_images(tmp_path / "bag"))
    stamps = [t for t, _ in frames]
    assert stamps == sorted(stamps) and np.allclose(np.diff(stamps), 1e8)  # 10 fps
    assert all(np.array_equal(f, clips[i // 4].frames[i % 4]) for i, (_, f) in enumerate(frames))
    truth, _ = read_ground_truth(tmp_path / "bag")
    assert [g.class_id for g in truth] == [c.class_id for c in clips]
    assert [g.label for g in truth] == [c.label for c in clips] and [g.clip for g in truth] == [0, 1, 2, 3]
    assert truth[1].first_stamp_ns == stamps[3] + 1 and truth[1].last_stamp_ns == stamps[7]
    (_, gt0), = [m for m in read_messages(tmp_path / "bag", GT_TOPIC)][:1]
    assert gt0.score == 1.0 and gt0.clip_stamp == gt0.header.stamp and gt0.header.frame_id == "camera"
    # metadata: the QoS the nodes use on each topic (what `ros2 bag play` offers) and the real distribution
    meta = yaml.safe_load((tmp_path / "bag" / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert meta["ros_distro"] == (os.environ.get("ROS_DISTRO") or "jazzy")
    qos = {t["topic_metadata"]["name"]: t["topic_metadata"]["offered_qos_profiles"] for t in meta["topics_with_message_count"]}
    assert [(q["reliability"], q["durability"], q["depth"]) for q in qos[IMAGE_TOPIC]] == [("best_effort", "volatile", 5)]
    assert [(q["reliability"], q["durability"]) for q in qos[GT_TOPIC]] == [("reliable", "volatile")]


def test_mcap_library_reads_our_bags(tmp_path: Path) -> None:
    from mcap.reader import make_reader

    write_clip_bag(tmp_path / "bag", _clips(n=2), storage="mcap")
    # a typed stae_msgs message too, to check our definitions are embedded
    store = make_typestore()
    with BagWriter(tmp_path / "sem", "mcap") as bw:
        SemanticClip = store.types[msgtype("SemanticClip")]
        Header = store.types["std_msgs/msg/Header"]
        Time = store.types["builtin_interfaces/msg/Time"]
        t = Time(sec=1, nanosec=2)
        msg = SemanticClip(header=Header(stamp=t, frame_id="cam"), stream_id="cam0", seq=7, first_stamp=t, last_stamp=t,
                           sent_stamp=t, frames=16, height=64, width=64, channels=3, k=4, p=0.25,
                           frame_indices=np.array([0, 5, 9, 15], dtype=np.uint16), codec="stae-px", codec_version=1,
                           camera_ms=12.5, payload=np.frombuffer(b"\x01\x02\x03", dtype=np.uint8), model_id="tiny.pt:0123")
        bw.write("/semantic_clip", msg, 1_000_000_002)
    for bag, expect in ((tmp_path / "bag", {"sensor_msgs/msg/Image": 8, msgtype("ActionLabel"): 2}), (tmp_path / "sem", {msgtype("SemanticClip"): 1})):
        with open(_mcap_file(bag), "rb") as f:
            reader = make_reader(f)
            summary = reader.get_summary()
            schemas = {s.name: s for s in summary.schemas.values()}
            assert set(schemas) == set(expect)
            assert all(s.encoding == "ros2msg" and s.data for s in schemas.values())
            counts: dict[str, int] = {}
            for schema, channel, message in reader.iter_messages():
                assert channel.message_encoding == "cdr"
                counts[schema.name] = counts.get(schema.name, 0) + 1
            assert counts == expect
    with open(_mcap_file(tmp_path / "sem"), "rb") as f:
        schema = next(iter(make_reader(f).get_summary().schemas.values()))
    assert b"uint8[] payload" in schema.data and b"std_msgs/Header" in schema.data
    (_, back), = list(read_messages(tmp_path / "sem", "/semantic_clip"))
    assert back.seq == 7 and list(back.frame_indices) == [0, 5, 9, 15] and bytes(back.payload) == b"\x01\x02\x03"


def test_bag_errors(tmp_path: Path) -> None:
    with pytest.raises(BagNotFoundError, match="not found"):
        list(read_images(tmp_path / "nope"))
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "metadata.yaml").write_text("rosbag2_bagfile_information: {version: 9\n")
    with pytest.raises(BagFormatError, match="not a readable rosbag2"):
        bag_topics(bad)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BagFormatError):
        bag_topics(empty)
    write_clip_bag(tmp_path / "ok", _clips(n=1))
    with pytest.raises(MissingTopicError, match="/image_raw"):
        list(read_images(tmp_path / "ok", "/other"))
    with pytest.raises(BagError, match="already exists"):
        write_clip_bag(tmp_path / "ok", _clips(n=1))
    write_clip_bag(tmp_path / "ok", _clips(n=2), overwrite=True)
    assert bag_topics(tmp_path / "ok")[GT_TOPIC][1] == 2
    # the CLI turns them into one clear line and exit code 2
    assert stae_main(["bag", "info", str(tmp_path / "nope")]) == 2
    assert stae_main(["bag", "eval", str(bad), "--model", str(tmp_path / "missing.pt")]) == 2


# ---------------------------------------------------------------------------------- eval with fakes
@dataclass
class _Enc:
    payload: bytes
    codec: str
    k: int
    p: float
    camera_ms: float


@dataclass
class _Res:
    class_id: int
    label: str
    score: float
    decode_ms: float
    infer_ms: float
    error: str | None = None


class _OracleCamera:
    """Encodes the clip's first pixel so the fake edge can look the true label up."""

    def encode(self, clip: np.ndarray) -> _Enc:
        return _Enc(clip.tobytes(), "fake", 4, 1.0, 1.0)


class _LookupEdge:
    def __init__(self, table: dict[bytes, int], default: int | None = None) -> None:
        self.table, self.default = table, default

    def decode_classify(self, items):
        out = []
        for data, _ in items:
            cid = self.default if self.default is not None else self.table[data]
            out.append(_Res(cid, f"class{cid}", 1.0, 0.5, 2.0))
        return out


def test_evaluate_bag_scores_against_ground_truth(tmp_path: Path) -> None:
    clips = _clips(n=6, t=4, h=8, w=8)
    write_clip_bag(tmp_path / "bag", clips, fps=50)
    table = {c.frames.tobytes(): c.class_id for c in clips}
    rep = evaluate_bag(tmp_path / "bag", _OracleCamera(), _LookupEdge(table), clip_len=4, height=8, width=8, progress=False)
    s = rep.summary()
    assert s["clips"] == 6 and s["labelled"] == 6 and s["accuracy"] == 1.0
    assert [c.true_id for c in rep.clips] == [c.class_id for c in clips]
    assert s["bytes_mean"] == 4 * 8 * 8 * 3
    rep0 = evaluate_bag(tmp_path / "bag", _OracleCamera(), _LookupEdge(table, default=0), clip_len=4, height=8, width=8,
                        rate="recorded", progress=False)
    assert rep0.summary()["accuracy"] == pytest.approx(np.mean([c.class_id == 0 for c in clips]))
    with pytest.raises(BagError, match="fewer than"):
        evaluate_bag(tmp_path / "bag", _OracleCamera(), _LookupEdge(table), clip_len=4, height=8, width=8, window=100, progress=False)


# ---------------------------------------------------------------------------------- CLI round trip
def _tiny_checkpoint(path: Path, num_classes: int) -> Path:
    torch = pytest.importorskip("torch")
    from stae_ros.models import STAE, ModelConfig
    from stae_ros.training.checkpoints import save_checkpoint

    cfg = ModelConfig.from_dict({
        "clip": {"frames": 4, "height": 16, "width": 16, "channels": 3},
        "budgets": {"frame": [4, 2, 1], "spatial": [1.0, 0.5, 0.25]},
        "fa": {"hidden": 8, "feature_channels": 4}, "sa": {"kernel_size": 3},
        "fr": {"base_channels": 4, "downsample": 2},
        "vit": {"tubelet": [2, 8, 8], "dim": 16, "depth": 1, "heads": 2, "mlp_ratio": 2.0, "dropout": 0.0, "num_classes": num_classes},
    })
    torch.manual_seed(0)
    model = STAE(cfg)
    save_checkpoint(path, model, cfg, [f"c{i}" for i in range(num_classes)], "classifier", {})
    return path


def test_cli_make_eval_round_trip(tmp_path: Path) -> None:
    from stae_ros.data import CLASS_NAMES, generate_dataset

    root = generate_dataset(tmp_path / "ds", seed=0, train_per_class=1, test_per_class=1, frames=8, height=24, width=24,
                            workers=1, progress=False)
    ckpt = _tiny_checkpoint(tmp_path / "tiny.pt", len(CLASS_NAMES))
    for storage in ("mcap", "sqlite3"):
        bag = tmp_path / f"bag_{storage}"
        assert stae_main(["bag", "make", "--data", str(root), "--split", "test", "--out", str(bag), "--storage", storage,
                          "--clip-len", "4", "--size", "16", "16", "--max-clips", "5"]) == 0
        out = tmp_path / f"eval_{storage}.json"
        extra = []
        if storage == "sqlite3":  # through an emulated 0.24 Mbps link too
            from stae_ros.link import DeliveryTrace, save_trace

            extra = ["--trace", str(save_trace(DeliveryTrace(np.arange(0, 10001, 50)), tmp_path / "slow.up"))]
        assert stae_main(["bag", "eval", str(bag), "--model", str(ckpt), "--k", "2", "--p", "0.5", "--json", str(out), *extra]) == 0
        rep = json.loads(out.read_text())
        s = rep["summary"]
        assert s["clips"] == 5 and s["labelled"] == 5 and s["errors"] == 0  # one label per clip
        truth, _ = read_ground_truth(bag)
        assert [c["true_id"] for c in rep["clips"]] == [g.class_id for g in truth]
        assert all(c["k"] == 2 and c["p"] == 0.5 and 0 <= c["pred_id"] < len(CLASS_NAMES) for c in rep["clips"])
        assert 0.0 <= s["accuracy"] <= 1.0 and s["bytes_mean"] > 0
        if extra:  # each payload needs at least ceil(bytes / 1500) opportunities 50 ms apart
            assert all(c["link_ms"] >= 50.0 * (-(-c["payload_bytes"] // 1500) - 1) for c in rep["clips"])
        else:
            assert all(c["link_ms"] == 0.0 for c in rep["clips"])
    assert stae_main(["bag", "make", "--data", str(tmp_path / "no_data"), "--out", str(tmp_path / "x")]) == 2


# ---------------------------------------------------------------------------------- record (rclpy)
def test_record_with_rclpy(tmp_path: Path) -> None:
    """Record String and (when the interface package is built) SemanticClip from a live publisher."""
    rclpy = pytest.importorskip("rclpy")
    from std_msgs.msg import String

    try:
        from stae_msgs.msg import SemanticClip
    except ImportError:  # interfaces not built on this machine: record only std_msgs
        SemanticClip = None
    from stae_ros.ros import qos

    domain = 100 + os.getpid() % 100
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain), PYTHONPATH=str(REPO))
    topics = ["/stae_test_chatter"] + (["/stae_test_clip", "/stae_test_cmd"] if SemanticClip else [])
    types = ["/stae_test_chatter=std_msgs/msg/String"] + (["/stae_test_clip=stae_msgs/msg/SemanticClip"] if SemanticClip else [])
    want = 31 if SemanticClip else 15  # 15 strings + 15 clips + the latched command
    bag = tmp_path / "rec"
    cmd = [sys.executable, "-m", "stae_ros.cli", "bag", "record", "--topics", *topics, "--out", str(bag),
           "--duration", "20", "--max-messages", str(want), "--discovery-timeout", "15"]
    for t in types:
        cmd += ["--type", t]
    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=domain)
    node = rclpy.create_node("stae_test_talker", context=ctx)
    pub = node.create_publisher(String, "/stae_test_chatter", 10)
    pub_clip = node.create_publisher(SemanticClip, "/stae_test_clip", 10) if SemanticClip else None
    if SemanticClip:
        # a command latched before the recorder starts (transient local, depth 1, like the controller's):
        # recorded only if the recorder asks for the publisher's durability
        from stae_msgs.msg import BudgetCommand

        pub_cmd = node.create_publisher(BudgetCommand, "/stae_test_cmd", qos.command_qos())
        pub_cmd.publish(BudgetCommand(mode=BudgetCommand.MODE_SET, k=3, p=0.5, reason="latched"))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                            env=dict(env, ROS_DISTRO="testdistro"))
    try:
        line = proc.stdout.readline()  # "recording ..." once subscribed
        assert line.startswith("recording"), proc.stderr.read()
        t_end = time.monotonic() + 20.0
        i = 0
        while time.monotonic() < t_end and proc.poll() is None:  # until the recorder has its messages
            pub.publish(String(data=f"hello {i}"))
            if pub_clip is not None:
                m = SemanticClip(stream_id="cam0", seq=i, frames=16, height=64, width=64, channels=3, k=4, p=0.25,
                                 frame_indices=[0, 5, 9, 15], codec="stae-px", codec_version=1, camera_ms=1.5)
                m.payload = bytes([i % 256]) * 100
                pub_clip.publish(m)
            i += 1
            time.sleep(0.05)
        node.destroy_node()
        out, err = proc.communicate(timeout=30)
    finally:
        ctx.try_shutdown()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    msgs = [m.data for _, m in read_messages(bag, "/stae_test_chatter")]
    assert msgs, f"nothing recorded: {out} {err}"
    assert all(m.startswith("hello ") for m in msgs)
    nums = [int(m.split()[1]) for m in msgs]
    assert nums == sorted(nums)
    if SemanticClip:
        # rclpy's CDR of our type decodes with the typestore built from msg/*.msg: the definitions agree
        clips = [m for _, m in read_messages(bag, "/stae_test_clip")]
        assert clips, f"no SemanticClip recorded: {out} {err}"
        assert bag_topics(bag)["/stae_test_clip"][0] == "stae_msgs/msg/SemanticClip"
        for c in clips:
            assert c.stream_id == "cam0" and c.k == 4 and list(c.frame_indices) == [0, 5, 9, 15]
            assert bytes(c.payload) == bytes([c.seq % 256]) * 100 and c.codec == "stae-px"
        assert len(msgs) + len(clips) >= 30
        cmds = [m for _, m in read_messages(bag, "/stae_test_cmd")]
        assert [(c.k, c.reason) for c in cmds] == [(3, "latched")], "the latched command was not recorded"
    meta = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert meta["ros_distro"] == "testdistro"
    offered = {t["topic_metadata"]["name"]: t["topic_metadata"]["offered_qos_profiles"] for t in meta["topics_with_message_count"]}
    assert [q["reliability"] for q in offered["/stae_test_chatter"]] == ["reliable"]
    if SemanticClip:
        assert [(q["durability"], q["depth"]) for q in offered["/stae_test_cmd"]] == [("transient_local", 1)]


# ---------------------------------------------------------------------------------- replay into the nodes
def test_a_made_bag_replayed_into_the_nodes_gives_the_live_labels(tmp_path: Path) -> None:
    """`stae bag make --source synth` writes the clips the camera's synth source plays, on the topics and
    types the nodes use; `stae bag eval --nodes` plays them into camera_node and edge_node processes,
    and each clip gets the label (and payload size) the same nodes give it from the live source."""
    pytest.importorskip("rclpy")
    pytest.importorskip("stae_msgs.msg")
    from stae_ros.data import CLASS_NAMES
    from stae_ros.ros.replay import live_labels

    ckpt = _tiny_checkpoint(tmp_path / "tiny.pt", len(CLASS_NAMES))
    n = 3
    bag = tmp_path / "synth_bag"
    assert stae_main(["bag", "make", "--source", "synth", "--max-clips", str(n), "--clip-len", "4", "--size", "16", "16",
                      "--out", str(bag)]) == 0
    topics = bag_topics(bag)
    assert topics["/image_raw"] == ("sensor_msgs/msg/Image", 4 * n)
    assert topics["/ground_truth"] == ("stae_msgs/msg/ActionLabel", n)
    truth, _ = read_ground_truth(bag)
    assert [g.class_id for g in truth] == [i % len(CLASS_NAMES) for i in range(n)]  # the synth source's order

    budget = {"k": 2, "p": 0.5, "threads": 1}
    live = live_labels(ckpt, "synth", n, camera={**budget, "source_fps": 200.0}, edge={"threads": 1})
    assert sorted(live.labels) == list(range(n)), live.node_output
    out = tmp_path / "replay.json"
    assert stae_main(["bag", "eval", str(bag), "--nodes", "--model", str(ckpt), "--k", "2", "--p", "0.5",
                      "--json", str(out)]) == 0
    rep = json.loads(out.read_text())
    assert rep["summary"]["clips"] == n and rep["summary"]["errors"] == 0
    for c in rep["clips"]:
        i = c["index"]
        assert c["true_id"] == truth[i].class_id
        assert (c["k"], c["p"]) == (2, 0.5)
        assert (c["label"], c["pred_id"], c["payload_bytes"]) == (
            live.labels[i].label, live.labels[i].class_id, live.labels[i].payload_bytes), (i, c, live.labels[i])
        assert c["score"] == pytest.approx(live.labels[i].score, abs=1e-5)


def test_a_replay_that_starts_mid_bag_labels_every_whole_clip_after_it(tmp_path: Path) -> None:
    """The replay starts at frame 6 of a bag of 5 clips of 4 frames (inside clip 1): the camera cuts its
    windows from the first frame it gets, and each of the 3 whole windows that follow gets one label."""
    pytest.importorskip("rclpy")
    pytest.importorskip("stae_msgs.msg")
    from stae_ros.bagio import read_images
    from stae_ros.data import CLASS_NAMES
    from stae_ros.ros.replay import replay_bag

    ckpt = _tiny_checkpoint(tmp_path / "tiny.pt", len(CLASS_NAMES))
    bag = tmp_path / "synth_bag"
    assert stae_main(["bag", "make", "--source", "synth", "--max-clips", "5", "--clip-len", "4", "--size", "16", "16",
                      "--out", str(bag)]) == 0
    stamps = [stamp for stamp, _ in read_images(bag, "/image_raw")]
    assert len(stamps) == 20
    res = replay_bag(bag, ckpt, camera={"k": 2, "p": 0.5, "threads": 1}, edge={"threads": 1}, start_frame=6)
    assert res.clips_sent == 3 and res.frames_sent == 12, res.node_output
    assert sorted(res.labels) == [0, 1, 2], res.node_output
    for i, lab in res.labels.items():  # clip i spans bag frames 6 + 4i .. 9 + 4i
        assert (lab.first_stamp_ns, lab.last_stamp_ns) == (stamps[6 + 4 * i], stamps[9 + 4 * i]), (i, lab)
    with pytest.raises(ValueError, match="start_frame"):
        replay_bag(bag, ckpt, start_frame=-1)


def test_record_refuses_when_no_topic_can_be_recorded(tmp_path: Path) -> None:
    """A topic whose type is not in the typestore is named and left out; with nothing left to record the
    command stops with one error line instead of waiting for Ctrl-C with an empty bag."""
    pytest.importorskip("rclpy")
    env = dict(os.environ, ROS_DOMAIN_ID=str(100 + (os.getpid() + 7) % 100), PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "stae_ros.cli", "bag", "record", "--topics", "/stae_test_nope",
                           "--type", "/stae_test_nope=nope/msg/Nope", "--out", str(tmp_path / "rec")],
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "not recording /stae_test_nope: type 'nope/msg/Nope' is not in the typestore" in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "stae bag: error: none of the topics can be recorded (see the warnings above)"
    assert not (tmp_path / "rec").exists()
