"""Faults, load and mode switches with the real node processes (stae_ros.ros.soak's rig and accounting).

Each test starts its own nodes on a private ROS_DOMAIN_ID and namespace. Accounting is exact: every
clip a camera numbered is labelled once or reported dropped once (LinkStats ok=false, with the
reason), and the nodes' status topics (stae_status) agree.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy not installed (pip install -r requirements-ros.txt)")
try:
    from stae_msgs.msg import BudgetCommand  # noqa: F401
except ImportError:  # pragma: no cover - depends on the set-up
    pytest.skip("stae_msgs not built: run scripts/build_msgs.sh", allow_module_level=True)

from stae_ros.ros.launcher import Launcher, NodeSpec, pick_domain_id, ros_env  # noqa: E402
from stae_ros.ros.soak import Observer, RigConfig, run  # noqa: E402
from stae_ros.ros.status import check_security, SecurityConfigError, ENCLAVE_FILES  # noqa: E402

from test_ros_nodes import NetnsPair, make_tiny_checkpoint  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NS = f"stae_fault_{os.getpid()}"
T = 8  # the tiny model's clip length: 30 fps / 8 frames = 3.75 clips/s at real time


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return make_tiny_checkpoint(tmp_path_factory.mktemp("fault_model") / "tiny.pt")


def _show(name: str, report: dict) -> None:
    """One line per run with the figures docs/reliability.md quotes (pytest -s shows them)."""
    for stream, r in report.get("streams", {}).items():
        print(f"{name} {stream}: published {r['published']} = labelled {r['labelled']} + dropped {r['dropped']} "
              f"{r['dropped_by_reason']} (+ {r['missing_count']} missing); latency p50 {r['latency_ms_p50']} ms "
              f"p95 {r['latency_ms_p95']} ms")
        if "fallback_labels" in r:
            print(f"{name} {stream}: camera fallback labels {r['fallback_labels']} (camera counts "
                  f"{r['fallback_labels_camera']}, too late {r['fallback_missed_camera']}); clips without any label "
                  f"{r['missing_without_fallback_count']}")
    for node, m in report.get("memory", {}).items():
        print(f"{name} {node}: rss {m['rss_mb_third']} MB at 1/3, end {m['rss_mb_end']} MB, "
              f"+{m['growth_after_third_mb']} MB")
    print(f"{name} edge: {report.get('edge')}; link: {report.get('link')}; switch: {report.get('switch')}")


def _explain(report: dict) -> str:
    keep = {k: v for k, v in report.items() if k not in ("node_output_tail", "config")}
    return json.dumps(keep, indent=1, default=str)[-6000:] + "\n" + "\n".join(
        f"--- {k}\n{v}" for k, v in report.get("node_output_tail", {}).items())


# ---- load ------------------------------------------------------------------------------------

def test_twice_real_time_for_60_s_is_bounded_and_every_clip_is_accounted_for(tiny_model):
    name = "soak60"
    rep = run(RigConfig(duration_s=60.0, namespace=f"{NS}/soak",
                        camera={"model": str(tiny_model), "source_fps": 60.0, "k": 4, "p": 0.5},
                        edge={"model": str(tiny_model), "threads": 1}))
    why = _explain(rep)
    _show(name, rep)
    r = rep["streams"]["camera"]
    assert r["published"] >= 0.5 * 60 * 60 / T, why  # the camera did run at load (2x: 7.5 clips/s)
    assert rep["drained"] and rep["exact"], why
    assert r["published"] == r["labelled"] + r["dropped"], why
    assert r["edge_received"] == r["clips_sent"] == r["published"], why  # nothing lost silently on the way
    assert rep["edge"]["queue_peak"] <= rep["edge"]["queue_limit"], why
    for node, m in rep["memory"].items():  # bounded: no growth worth the name after the first third
        assert m["samples"] >= 30 and m["growth_after_third_mb"] < 40.0, (node, m, why)
    assert all(c in (0, -2) for c in rep["exit_codes"].values()), why


def test_two_cameras_feed_one_edge_with_exact_accounting(tiny_model):
    name = "multi2"
    rep = run(RigConfig(duration_s=8.0, namespace=f"{NS}/multi", robots=("robot1", "robot2"),
                        camera={"model": str(tiny_model), "source_fps": 30.0, "k": 4, "p": 0.5},
                        edge={"model": str(tiny_model), "threads": 1}))
    why = _explain(rep)
    _show(name, rep)
    assert rep["exact"], why
    for robot in ("robot1", "robot2"):
        r = rep["streams"][robot]
        assert r["published"] >= 5 and r["labelled"] == r["edge_labelled"] > 0, why
        assert r["latency_ms_p50"] > 0, why
    assert set(rep["edge"]) and rep["edge"]["received"] == sum(r["published"] for r in rep["streams"].values()), why


# ---- mode switches ----------------------------------------------------------------------------

def test_a_switch_every_second_loses_and_mislabels_no_clip():
    """The shipped models; stae-px, h264, stae-latent and local in turn, one switch a second."""
    name = "switch"
    modes = ["stae-px", "h264", "stae-latent"]
    if (ROOT / "models" / "stae_local_default.pt").is_file():
        modes.append("local")
    rep = run(RigConfig(duration_s=15.0, namespace=f"{NS}/switch", switch_modes=tuple(modes), switch_period_s=1.0,
                        camera={"source_fps": 30.0}, edge={"threads": 1}))
    why = _explain(rep)
    _show(name, rep)
    assert rep["exact"], why
    sw = rep["switch"]["camera"]
    assert sw["mode_runs"] >= 8, why  # the camera did switch, about once a second
    assert not sw["mislabelled"], why
    assert not sw["first_clip_unlabelled"], why
    assert set(sw["labels_per_mode"]) == set(modes), why
    assert rep["cameras"]["camera"]["switches"] >= 8 and rep["cameras"]["camera"]["refused_commands"] == 0, why


# ---- faults on the link -----------------------------------------------------------------------

def test_loss_reordering_and_duplicates_through_the_link_emulator(tiny_model):
    """10% lost, 30% held back 400 ms (past the edge's 300 ms deadline: stale), 10% sent twice."""
    name = "link"
    rep = run(RigConfig(duration_s=12.0, namespace=f"{NS}/link",
                        camera={"model": str(tiny_model), "source_fps": 30.0, "k": 4, "p": 0.5},
                        edge={"model": str(tiny_model), "threads": 1, "deadline_ms": 300.0},
                        link={"rate_bps": 50e6, "loss": 0.1, "reorder": 0.3, "reorder_delay_ms": 400.0,
                              "duplicate": 0.1, "seed": 7}))
    why = _explain(rep)
    _show(name, rep)
    r, link, edge = rep["streams"]["camera"], rep["link"], rep["edge"]
    assert rep["drained"], why
    assert link["lost"] > 0 and link["reordered"] > 0 and link["duplicated"] > 0, why
    # every clip: labelled once, dropped once with its reason, or lost on the link (counted there)
    assert r["missing_count"] == link["lost"], why
    assert r["published"] == r["labelled"] + r["dropped"] + link["lost"], why
    assert not r["labelled_twice"] and not r["labelled_and_dropped"] and not r["names_wrong_clip"], why
    assert r["dropped_by_reason"].get("stale", 0) == edge["stale"] > 0, why
    assert edge["duplicates"] == link["duplicated"], why
    assert edge["failures"].get("deadline/stale") == edge["stale"], why


def test_clips_lost_on_the_link_get_the_cameras_fallback_label(tiny_model):
    """20% of the clips lost on the emulated link: with the camera's deadline fallback on, each of them still
    gets a label, from the camera, once; the edge's labels are accounted for as without it."""
    name = "fallback"
    rep = run(RigConfig(duration_s=10.0, namespace=f"{NS}/fallback",
                        camera={"model": str(tiny_model), "source_fps": 30.0, "k": 4, "p": 0.5,
                                "fallback_deadline_s": 1.0},
                        edge={"model": str(tiny_model), "threads": 1},
                        link={"rate_bps": 50e6, "loss": 0.2, "seed": 3}))
    why = _explain(rep)
    _show(name, rep)
    r, link = rep["streams"]["camera"], rep["link"]
    assert rep["drained"], why
    assert link["lost"] > 0 and r["missing_count"] == link["lost"], why
    assert r["published"] == r["labelled"] + r["dropped"] + link["lost"], why
    assert not r["labelled_twice"] and not r["names_wrong_clip"], why
    # the camera's own labels: one per clip at most, of clips it published, as many as it reports
    assert r["fallback_exact"], why
    assert r["fallback_labels"] == r["fallback_labels_camera"] >= link["lost"] - r["fallback_missed_camera"], why
    # every lost clip was labelled by the camera, except those it counted as too late to label
    assert r["missing_without_fallback_count"] <= r["fallback_missed_camera"], why


NETEM_OBSERVER = """
import json, sys, time
from stae_ros.ros.soak import Observer
obs = Observer(int(sys.argv[1]), {"camera": ""}, [""])
n = int(sys.argv[2])
end = time.monotonic() + float(sys.argv[3])
quiet_s = float(sys.argv[4])
seen = {"count": 0, "news": time.monotonic(), "all_sent": None}

def done():
    now = time.monotonic()
    count = len(obs.labels["camera"]) + len(obs.failed["camera"])
    if count != seen["count"]:
        seen.update(count=count, news=now)
    camera = obs.status.get("camera_node:camera")
    if not camera:
        return False
    if seen["all_sent"] is None and camera.get("clips_sent", 0) >= n:
        seen["all_sent"] = now
    # every clip accounted, or all sent and no news for quiet_s since: the rest may still be in resends
    # that keep overflowing the qdisc; the test accounts for what arrived
    return count >= n or (seen["all_sent"] is not None and now - max(seen["news"], seen["all_sent"]) > quiet_s)

obs.spin_until(done, max(0.0, end - time.monotonic()))
obs.spin_until(lambda: False, 2.5)  # the last status reports
print("REPORT", json.dumps({"labels": {s: [m.clip_stamp.sec, m.clip_stamp.nanosec] for s, m in obs.labels["camera"].items()},
      "copies": max(obs.label_copies.values(), default=0), "failed": obs.failed["camera"], "status": obs.status}), flush=True)
obs.close()
"""


#: qdiscs on the robot's veth, best first: netem loses and reorders packets at random; where the kernel
#: has no sch_netem, a token bucket slower than the clips loses whole datagrams by overflow. Its bucket
#: (32 kB) holds a clip's datagram, so a resend gets through once it refills; at 150 kbit/s (under half
#: the clips' rate) the queue overflows from the first clips on, also when the camera is slowed by a loaded
#: host. Measured on the 2-core host over seven runs: 17-75 packets dropped, 2-5 of the 10 clips arrived, 18-20 s.
#: A bucket of 24 kB is too small for some datagrams (nothing arrived), and at 200 kbit/s a loaded host
#: dropped only 2 packets
QDISCS = (("netem", "delay", "20ms", "10ms", "loss", "10%", "reorder", "30%", "50%"),
          ("tbf", "rate", "150kbit", "burst", "32kb", "latency", "20ms"))


def test_loss_and_reordering_through_dds_over_netem(tiny_model):
    """Camera and edge in two network namespaces; the robot's veth loses packets (netem: 10% lost,
    30% reordered; without sch_netem, tbf overflow). Reliable DDS resends: every clip that arrives is
    labelled once or dropped as stale on the edge (never both, none twice), the edge's counts add up,
    and the kernel counted dropped packets."""
    if shutil.which("ip") is None or shutil.which("tc") is None:
        pytest.skip("`ip` or `tc` (iproute2) is not installed")
    pair = NetnsPair()
    try:
        try:
            pair.create()
        except OSError as exc:
            pytest.skip(f"cannot create network namespaces here (needs root / CAP_NET_ADMIN): {exc}")
        errors = []
        for qdisc in QDISCS:
            proc = subprocess.run(["ip", "netns", "exec", pair.robot, "tc", "qdisc", "add", "dev", pair.veth_r,
                                   "root", *qdisc], capture_output=True, text=True, timeout=15)
            if proc.returncode == 0:
                print(f"robot veth qdisc: {' '.join(qdisc)}")
                break
            errors.append(f"{qdisc[0]}: {proc.stderr.strip()}")
        else:
            pytest.skip(f"no qdisc that loses packets can be set here: {'; '.join(errors)}")
        domain = pick_domain_id()
        env = {**os.environ, "FASTDDS_BUILTIN_TRANSPORTS": "UDPv4"}
        n = 10
        specs = [
            NodeSpec("camera_node", prefix=("ip", "netns", "exec", pair.robot),
                     params={"model": str(tiny_model), "source": "synth", "source_fps": 30.0, "max_clips": n,
                             "wait_for_subscribers": 1, "k": T, "p": 1.0}),
            NodeSpec("edge_node", prefix=("ip", "netns", "exec", pair.edge),
                     params={"model": str(tiny_model), "threads": 1, "deadline_ms": 1500.0}),
        ]
        observer = subprocess.Popen(["ip", "netns", "exec", pair.edge, sys.executable, "-c", NETEM_OBSERVER,
                                     str(domain), str(n), "120", "10"], env=ros_env(domain, localhost_only=False, base=env),
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
                                    cwd=ROOT)
        try:
            with Launcher(specs, domain_id=domain, localhost_only=False, output=None, env=env) as launcher:
                out, _ = observer.communicate(timeout=150)
                lines = [ln for ln in out.splitlines() if ln.startswith("REPORT ")]
                why = f"observer: {out[-3000:]}\ncamera: {launcher.output_of('camera_node')[-2000:]}\n" \
                      f"edge: {launcher.output_of('edge_node')[-2000:]}"
                assert lines, why
                rep = json.loads(lines[-1][len("REPORT "):])
                labels, failed = {int(k) for k in rep["labels"]}, {int(k) for k in rep["failed"]}
                # over a lossy link reliable DDS may give up on a clip (the window ends 10 s after the
                # last news); what arrived is accounted exactly: labelled once or dropped as stale, never
                # both. A clip queued behind resends can arrive past the 1.5 s deadline, so every clip that
                # arrived may be stale
                assert labels | failed and labels | failed <= set(range(n)) and not labels & failed, why
                assert rep["copies"] == (1 if labels else 0), why  # no label twice
                print(f"over the veth: {len(labels)} clips labelled, {len(failed)} dropped as stale")
                assert all(e.startswith("stale") for e in rep["failed"].values()), why
                edge = rep["status"]["edge_node"]
                assert edge["labelled"] == len(labels) and edge["stale"] == len(failed), why
                assert edge["received"] == edge["labelled"] + edge["stale"] + edge["rejected"] + edge["queue_dropped"], why
            qd = subprocess.run(["ip", "netns", "exec", pair.robot, "tc", "-s", "qdisc", "show", "dev", pair.veth_r],
                                capture_output=True, text=True, timeout=15).stdout
            print(qd)
            dropped = int(qd.split("dropped ", 1)[1].split(",", 1)[0])
            assert dropped > 0, qd  # netem did lose packets on the way
        finally:
            if observer.poll() is None:
                os.killpg(observer.pid, 9)
                observer.wait(timeout=5)
    finally:
        pair.delete()


# ---- node restarts ----------------------------------------------------------------------------

def _camera_spec(model: Path, ns: str, **params) -> NodeSpec:
    return NodeSpec("camera_node", ns, params={"model": str(model), "source": "synth", "source_fps": 16.0,
                                               "k": 4, "p": 0.5, **params})


def _edge_spec(model: Path, ns: str) -> NodeSpec:
    return NodeSpec("edge_node", ns, params={"model": str(model), "threads": 1})


def test_the_edge_killed_and_restarted_mid_stream(tiny_model):
    """The camera keeps publishing while the edge is gone; labels resume within 4 clips (2 s) of the
    edge's return as this observer sees it. The camera's own writer matches the new reader up to a
    discovery round later than the observer does: on a loaded 2-core host that once took a third clip."""
    ns = f"{NS}/restart_edge"
    domain = pick_domain_id()
    obs = Observer(domain, {"camera": ns}, [ns], clips=True)
    cam = Launcher([_camera_spec(tiny_model, ns)], domain_id=domain, output=None).start()
    edge = Launcher([_edge_spec(tiny_model, ns)], domain_id=domain, output=None).start()
    edge2 = None
    topic = f"/{ns}/semantic_clip"
    try:
        assert obs.spin_until(lambda: len(obs.labels["camera"]) >= 3, 120, cam), cam.output_of(f"{ns}/camera_node")
        for _, proc in edge.procs:  # no clean-up: the edge host died
            Launcher._signal(proc, 9)
        assert obs.spin_until(lambda: obs.node.count_subscribers(topic) == 1, 30), "the killed edge is still seen"
        gone_at = max(obs.clips["camera"])
        assert obs.spin_until(lambda: max(obs.clips["camera"]) >= gone_at + 4, 30, cam), "the camera stopped"
        assert not cam.exited()
        edge2 = Launcher([_edge_spec(tiny_model, ns)], domain_id=domain, output=None).start()
        assert obs.spin_until(lambda: obs.node.count_subscribers(topic) >= 2, 120, edge2), \
            edge2.output_of(f"{ns}/edge_node")
        back_at = max(obs.clips["camera"])  # the last clip published before the edge's reader was seen
        assert obs.spin_until(lambda: any(s > back_at for s in obs.labels["camera"]), 60, edge2), \
            edge2.output_of(f"{ns}/edge_node")
        first = min(s for s in obs.labels["camera"] if s > back_at)
        print(f"edge restart: first label {first - back_at} clip(s) after the edge's return")
        assert first - back_at <= 4, f"labels resumed {first - back_at} clips after the edge's return (clip {first})"
        assert not any(gone_at < s < back_at - 2 for s in obs.labels["camera"])  # nothing was labelled while away
        assert obs.spin_until(lambda: all(s in obs.labels["camera"] for s in range(first, first + 4)), 30, cam)
        assert max(n for n in obs.label_copies.values()) == 1
    finally:
        for launcher in (edge2, edge, cam):
            if launcher is not None:
                launcher.stop(timeout=10.0)
        obs.close()


def _profile(path: Path) -> Path:
    points = [dict(codec="stae-px", k=2, p=0.25, accuracy=0.7, bytes_mean=500, bytes_p95=600, camera_ms=5, edge_ms=5),
              dict(codec="stae-px", k=8, p=1.0, accuracy=0.9, bytes_mean=5e8, bytes_p95=5e8, camera_ms=5, edge_ms=5)]
    path.write_text(json.dumps({"schema": "stae-profile/1", "name": "test", "points": points,
                                "clip": {"frames": 8, "height": 32, "width": 32, "channels": 3}}))
    return path


def test_a_late_edge_and_camera_and_controller_restarts(tiny_model, tmp_path):
    """The camera runs before any edge exists; the edge joins late and labels the clips that follow.
    The controller's budget is latched: a restarted camera that waits for a budget (wait_for_budget_s)
    gets it before its first clip, with no new command sent, and a restarted controller takes over
    again. With no controller yet, the wait runs out and the camera starts with its own budget."""
    ns = f"{NS}/restart_all"
    domain = pick_domain_id()
    obs = Observer(domain, {"camera": ns}, [ns], clips=True)
    cmds: list = []
    from stae_ros.ros import qos

    obs.node.create_subscription(BudgetCommand, f"/{ns}/budget_command", cmds.append, qos.command_qos())
    ctl_spec = NodeSpec("controller_node", ns, params={"profile": str(_profile(tmp_path / "p.json")), "codec": "stae-px",
                                                       "initial_rate_bps": 1e6, "min_interval_s": 0.0,
                                                       "decide_period_s": 0.2})
    launchers: list[Launcher] = []

    def start(*specs: NodeSpec) -> Launcher:
        launchers.append(Launcher(list(specs), domain_id=domain, output=None).start())
        return launchers[-1]

    try:
        cam = start(_camera_spec(tiny_model, ns, k=8, p=1.0, wait_for_budget_s=1.0))
        assert obs.spin_until(lambda: len(obs.clips["camera"]) >= 3, 120, cam), cam.output_of(f"{ns}/camera_node")
        assert "no BudgetCommand within wait_for_budget_s=1" in cam.output_of(f"{ns}/camera_node")
        assert not obs.labels["camera"]  # nobody to label them yet
        late = start(_edge_spec(tiny_model, ns))
        assert obs.spin_until(lambda: len(obs.labels["camera"]) >= 3, 120, late), late.output_of(f"{ns}/edge_node")
        ctl = start(ctl_spec)
        # the controller plans K=2 p=0.25 (the big point does not fit 1 Mbit/s); the camera follows
        assert obs.spin_until(lambda: any((c.k, round(c.p, 3)) == (2, 0.25) for c in cmds), 90, ctl), \
            ctl.output_of(f"{ns}/controller_node")
        assert obs.spin_until(lambda: any(v[0] == "stae-px" and obs.labels["camera"].get(s) is not None and
                                          obs.labels["camera"][s].k == 2 for s, v in obs.clips["camera"].items()),
                              60, cam)
        cam.stop(timeout=10.0)  # camera restart: its seq starts again at 0, with new stamps
        old_stamp = obs.clips["camera"][0][2]
        for seen in (obs.labels, obs.clips, obs.failed, obs.reported):
            seen["camera"].clear()
        n_before = len(cmds)
        restart_ns = time.time_ns()
        cam2 = start(_camera_spec(tiny_model, ns, k=8, p=1.0, wait_for_budget_s=120.0))
        # the edge labels the restarted camera's clips. Its first ones may be published before the edge's reader
        # has matched the new camera's writer (discovery takes its time on a loaded host, and clips are live),
        # so how many is not asserted; what is: no clip of the new camera that reached the edge before the
        # first label went unlabelled without a reason, and (at the end) none was taken for a copy of the old
        # camera's clip of the same seq
        assert obs.spin_until(lambda: bool(obs.labels["camera"]), 120, cam2), \
            cam2.output_of(f"{ns}/camera_node") + "\n--- edge\n" + late.output_of(f"{ns}/edge_node")[-3000:]
        first = min(obs.labels["camera"])
        reported = {s for s, sent in obs.reported["camera"].items() if sent > restart_ns}
        assert all(s in obs.failed["camera"] for s in reported if s < first), (first, sorted(reported), obs.failed)
        # the latched command reached the restarted camera before its first clip, without a new one being sent
        # (the controller publishes on a change only, and its choice has not changed)
        assert not cmds[n_before:], [(c.k, c.p) for c in cmds[n_before:]]
        assert obs.spin_until(lambda: len(obs.labels["camera"]) >= 3, 60, cam2)
        assert {m.k for m in obs.labels["camera"].values()} == {2}, \
            {s: m.k for s, m in obs.labels["camera"].items()}
        assert "no BudgetCommand within" not in cam2.output_of(f"{ns}/camera_node")
        stamp = obs.labels["camera"][first].clip_stamp
        assert stamp.sec * 1_000_000_000 + stamp.nanosec > old_stamp  # a new clip, not the old one
        ctl.stop(timeout=10.0)  # controller restart: the camera keeps going, the new controller commands again
        n_cmds = len(cmds)
        ctl2 = start(ctl_spec)
        assert obs.spin_until(lambda: len(cmds) > n_cmds, 90, ctl2), ctl2.output_of(f"{ns}/controller_node")
        seen = max(obs.labels["camera"])
        assert obs.spin_until(lambda: max(obs.labels["camera"]) >= seen + 2, 30, cam2)
        assert max(n for n in obs.label_copies.values()) == 1
        last = max(obs.labels["camera"])
        unlabelled = [s for s in obs.clips["camera"] if first <= s <= last and s not in obs.labels["camera"]
                      and s not in obs.failed["camera"]]
        assert not unlabelled, (first, last, unlabelled)
        now_ns = time.time_ns()
        assert obs.spin_until(lambda: obs.status.get("edge_node", {}).get("stamp_ns", 0) > now_ns, 30, late)
        assert obs.status["edge_node"]["duplicates"] == 0, obs.status["edge_node"]
    finally:
        for launcher in reversed(launchers):
            launcher.stop(timeout=10.0)
        obs.close()


# ---- security ----------------------------------------------------------------------------------

def _secure_env(keystore: str) -> dict:
    return {**os.environ, "ROS_SECURITY_ENABLE": "true", "ROS_SECURITY_STRATEGY": "Enforce",
            "ROS_SECURITY_KEYSTORE": keystore, "ROS_DOMAIN_ID": str(pick_domain_id())}


@pytest.mark.parametrize("node", ["link_emulator_node", "camera_node"])
def test_enforced_security_without_keys_refuses_to_start(node, tmp_path):
    """Fail closed: no participant without keys; one line that says what is missing; exit status 2."""
    module = f"stae_ros.ros.{node}"
    proc = subprocess.run([sys.executable, "-m", module, "--ros-args", "--enclave", "/stae/robot"],
                          env=_secure_env(str(tmp_path / "no_keystore")), capture_output=True, text=True, timeout=60,
                          cwd=ROOT)
    out = (proc.stdout + proc.stderr).strip()
    assert proc.returncode == 2, out
    assert "Traceback" not in out and len(out.splitlines()) == 1, out
    assert "security is enforced" in out and "no_keystore" in out, out
    assert "camera ready" not in out


def test_a_keystore_without_the_enclaves_keys_is_refused(tmp_path):
    (tmp_path / "enclaves" / "stae" / "robot").mkdir(parents=True)
    env = _secure_env(str(tmp_path))
    with pytest.raises(SecurityConfigError, match="lacks identity_ca.cert.pem"):
        check_security(env, ["x", "--ros-args", "--enclave", "/stae/robot"])
    with pytest.raises(SecurityConfigError, match="has no directory"):
        check_security({**env, "ROS_SECURITY_ENCLAVE_OVERRIDE": "/stae/edge"}, [])
    assert check_security({**env, "ROS_SECURITY_STRATEGY": "Permissive"}, []) is None  # rcl starts it insecure
    assert check_security({}, []) is None
    for name in ENCLAVE_FILES:  # files present but not real keys: rcl / the DDS security plugin refuses
        (tmp_path / "enclaves" / "stae" / "robot" / name).write_text("not a key\n")
    assert check_security(env, ["--ros-args", "-e", "/stae/robot"]) == str(tmp_path / "enclaves" / "stae" / "robot")
    proc = subprocess.run([sys.executable, "-m", "stae_ros.ros.link_emulator_node", "--ros-args", "--enclave",
                           "/stae/robot"], env=env, capture_output=True, text=True, timeout=60, cwd=ROOT)
    out = (proc.stdout + proc.stderr).strip()
    assert proc.returncode != 0 and "link emulator:" not in out, out
    assert "Traceback" not in out, out
    fatal = [ln for ln in out.splitlines() if ln.startswith("[FATAL]")]
    assert len(fatal) == 1 and "could not start" in fatal[0], out  # the reason (the wheels: no security libraries)
    print(fatal[0])


# ---- stae demo shows the switches ---------------------------------------------------------------

def test_demo_prints_each_mode_switch_with_its_reason_and_the_status_counters(capsys):
    import argparse

    from std_msgs.msg import String

    from stae_ros.cli.demo import _Demo
    from stae_ros.ros.status import status_json

    demo = _Demo(argparse.Namespace(viz=None, viz_clips=0), Path("m.pt"), None)
    demo._on_budget(BudgetCommand(mode=0, k=16, p=0.1, payload_mode="local", reason="no link statistics yet"))
    demo._on_budget(BudgetCommand(mode=0, k=8, p=0.05, payload_mode="local", reason="same mode, smaller"))
    demo._on_budget(BudgetCommand(mode=0, k=16, p=0.1, payload_mode="stae-px", reason="0.640 Mbps measured"))
    demo._on_status(String(data=status_json("edge_node", {"received": 5, "labelled": 3, "rejected": 1, "stale": 1,
                                                          "failures": {"deadline/stale": 1}})))
    demo._on_status(String(data="not json"))  # ignored
    out = capsys.readouterr().out.splitlines()
    assert "MODE start -> local" in out[0] and "no link statistics yet" in out[0], out
    assert "MODE" not in out[1] and "budget -> local K=8" in out[1], out
    assert "MODE local -> stae-px" in out[2] and "0.640 Mbps measured" in out[2], out
    assert len(demo.switches) == 2
    from stae_ros.cli.demo import _status_lines

    lines = "\n".join(_status_lines(demo.status))
    assert "3 labelled" in lines and "1 stale" in lines and "deadline/stale 1" in lines, lines


def test_the_demo_reads_its_summary_counters_only_once_they_can_agree():
    """The summary waits for a report of every node after the camera was paused, and for each clip the
    camera sent to be at the edge or lost on the emulated link, with nothing left in either queue."""
    import argparse

    from stae_ros.cli.demo import _Demo

    demo = _Demo(argparse.Namespace(viz=None, viz_clips=0), Path("m.pt"), None)
    demo.status = {"camera_node": {"clips_sent": 8}, "edge_node": {"received": 7, "waiting": 0}}
    demo.status_at = {"camera_node": 2.0, "edge_node": 2.0}
    assert not demo._counters_final(1.0)  # one clip still on its way
    demo.status["link_emulator_node"] = {"lost": 1, "dropped": 0, "in_flight": 0}
    demo.status_at["link_emulator_node"] = 2.0
    assert demo._counters_final(1.0)  # ... lost on the link
    assert not demo._counters_final(2.0)  # a report from before the pause does not count
    demo.status["edge_node"]["waiting"] = 1
    assert not demo._counters_final(1.0)  # received, not yet labelled
