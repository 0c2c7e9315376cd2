"""edge_node publishes sensitivity maps of the clips it labels; camera_node takes them, refuses a malformed one
in one line and keeps going (camera and edge as processes, the shipped stae-roi264 model)."""

from __future__ import annotations

import array

import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy not installed (pip install -r requirements-ros.txt)")

from std_msgs.msg import UInt8MultiArray  # noqa: E402

from stae_ros.ros import qos  # noqa: E402
from stae_ros.ros.launcher import Launcher, NodeSpec, pick_domain_id  # noqa: E402
from stae_ros.sensitivity import decode_map  # noqa: E402
from test_ros_nodes import NS, Harness  # noqa: E402


def test_edge_publishes_maps_and_the_camera_refuses_a_malformed_one():
    domain = pick_domain_id()
    ns = f"{NS}_sens"
    cam, edge = f"{ns}/camera_node", f"{ns}/edge_node"
    harness = Harness(domain, namespace=ns)
    maps: list[bytes] = []
    harness.node.create_subscription(UInt8MultiArray, "sensitivity_map", lambda m: maps.append(bytes(m.data)),
                                     qos.label_qos())
    pub = harness.node.create_publisher(UInt8MultiArray, "sensitivity_map", qos.label_qos())
    specs = [
        NodeSpec("camera_node", namespace=ns, params={"source": "synth", "source_fps": 40.0, "max_clips": 40,
                                                     "wait_for_subscribers": 2, "codec": "stae-roi264"}),
        NodeSpec("edge_node", namespace=ns, params={"threads": 1, "sensitivity_every": 2}),
    ]
    try:
        with Launcher(specs, domain_id=domain, output=None) as launcher:
            assert launcher.wait_for_line(cam, "camera ready", 90), launcher.output_of(cam)[-3000:]
            assert launcher.wait_for_line(edge, "edge ready", 90), launcher.output_of(edge)[-3000:]
            assert harness.spin_until(lambda: len(maps) >= 2, 90, launcher), launcher.output_of(edge)[-3000:]
            m = decode_map(maps[0])
            clip_model = next(iter(harness.clips.values())).model_id
            assert m.mode == "stae-roi264" and m.model_id == clip_model and m.grid == (8, 8)
            assert m.values.max() == 1.0 and m.seq % 2 == 1  # every 2nd labelled clip (seq 1, 3, ...)
            bad = UInt8MultiArray()
            bad.data = array.array("B", maps[0][:-1] + bytes([maps[0][-1] ^ 1]))
            assert harness.publish_until(lambda: pub.publish(bad),
                                         lambda: "sensitivity map refused" in launcher.output_of(cam), 20, launcher,
                                         period=0.5), launcher.output_of(cam)[-2000:]
            assert "CRC32" in launcher.output_of(cam).split("sensitivity map refused")[-1].splitlines()[0]
            n = len(harness.labels)
            assert harness.spin_until(lambda: len(harness.labels) > n + 1, 30, launcher)  # still labelled
            assert not launcher.exited()
    finally:
        harness.close()
