"""The project's own launcher: the node executables as separate processes, no launch_ros needed.

`ros2 launch` (launch/*.launch.py) is the way on a ROS host; this module starts the *same*
node entry points with the *same* YAML (`python -m stae_ros.ros.<node> --ros-args --params-file
config/<node>.yaml -r __ns:=/ns -p key:=value`) where launch_ros is not installed (the PyPI
wheels), for `stae demo` and the integration tests. It puts every node on one private
ROS_DOMAIN_ID, forwards each node's output line by line with a prefix, and stops them cleanly
(SIGINT, then SIGTERM, then SIGKILL) even when the caller fails.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence, TextIO

from ..cli.validate import int_in
from .common import PACKAGE, resolve_data_file
from .errors import LaunchError
from .startup import NODE_EXECUTABLES

__all__ = ["NODE_MODULES", "NodeSpec", "Launcher", "node_command", "config_file", "pick_domain_id", "ros_env",
           "format_param", "default_specs", "multi_robot_specs", "build_parser"]

#: executable name (setup.py console script) -> module run with `python -m`
NODE_MODULES: dict[str, str] = {name: f"stae_ros.ros.{name}" for name in NODE_EXECUTABLES}
#: executable -> its YAML in config/
NODE_CONFIGS: dict[str, str] = {
    "camera_node": "camera.yaml", "edge_node": "edge.yaml", "controller_node": "controller.yaml",
}


def config_file(name: str) -> Path:
    """config/<name> of the installed package (share/stae_ros/config) or of the source checkout."""
    return resolve_data_file("", f"config/{name}")


def format_param(value: Any) -> str:
    """A value as `-p name:=value` wants it (YAML syntax: booleans lower case, strings quoted when needed)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    text = str(value)
    # an empty or number-like string must stay a string for rcl's YAML parser
    if text == "" or text.lower() in ("true", "false", "null", "~") or _looks_numeric(text):
        return "'" + text.replace("'", "''") + "'"
    return text


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@dataclass
class NodeSpec:
    """One node process: which executable, where (namespace), with which parameters."""

    executable: str
    namespace: str = ""
    params_file: Path | None = None  #: None = config/<node>.yaml when it has one; Path("") for none
    params: Mapping[str, Any] = field(default_factory=dict)  #: `-p` overrides on top of the file
    remaps: Mapping[str, str] = field(default_factory=dict)  #: topic remappings `from:=to`
    name: str = ""  #: label for the output prefix (default: executable, with namespace)
    prefix: Sequence[str] = ()  #: command prefix, e.g. ("ip", "netns", "exec", "robot")
    log_level: str = ""  #: e.g. "debug"

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        ns = self.namespace.strip("/")
        return f"{ns}/{self.executable}" if ns else self.executable


def node_command(spec: NodeSpec, python: str | None = None) -> list[str]:
    """The argv that starts `spec` (what `ros2 run` would, but through `python -m`)."""
    if spec.executable not in NODE_MODULES:
        raise LaunchError(f"unknown node executable {spec.executable!r}; known: {sorted(NODE_MODULES)}")
    cmd = [*spec.prefix, python or sys.executable, "-m", NODE_MODULES[spec.executable], "--ros-args"]
    params_file = spec.params_file
    if params_file is None and spec.executable in NODE_CONFIGS:
        params_file = config_file(NODE_CONFIGS[spec.executable])
    if params_file is not None and str(params_file):
        if not Path(params_file).is_file():
            raise LaunchError(f"parameter file {params_file} for {spec.executable} does not exist")
        cmd += ["--params-file", str(params_file)]
    if spec.namespace:
        ns = spec.namespace if spec.namespace.startswith("/") else "/" + spec.namespace
        cmd += ["-r", f"__ns:={ns}"]
    for src, dst in spec.remaps.items():
        cmd += ["-r", f"{src}:={dst}"]
    for key, value in spec.params.items():
        cmd += ["-p", f"{key}:={format_param(value)}"]
    if spec.log_level:
        cmd += ["--log-level", spec.log_level]
    return cmd


#: domain ids this process has handed out: a later caller gets another one while any is left, so
#: that a participant an earlier caller left behind (a latched message, a node still shutting down)
#: cannot reach it
_HANDED_OUT: set[int] = set()


def pick_domain_id(avoid: Sequence[int] = ()) -> int:
    """A random ROS_DOMAIN_ID in 1..100 (safe port range on Linux), not the shell's own nor `avoid`, and
    not one this process handed out before while any other is free."""
    taken = set(avoid)
    env = os.environ.get("ROS_DOMAIN_ID", "")
    if env.isdigit():
        taken.add(int(env))
    free = [d for d in range(1, 101) if d not in taken]
    if not free:
        raise ValueError("no ROS_DOMAIN_ID in 1..100 is left outside `avoid`")
    fresh = [d for d in free if d not in _HANDED_OUT]
    if not fresh:
        _HANDED_OUT.clear()
        fresh = free
    d = random.Random(os.getpid() ^ time.time_ns()).choice(fresh)
    _HANDED_OUT.add(d)
    return d


def ros_env(domain_id: int, localhost_only: bool = True, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for nodes on `domain_id`; `localhost_only` keeps discovery on this host."""
    env = dict(os.environ if base is None else base)
    env["ROS_DOMAIN_ID"] = str(int(domain_id))
    env.pop("ROS_LOCALHOST_ONLY", None)  # deprecated from Jazzy on (warns); the range below replaces it
    if localhost_only:
        env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    else:
        env.pop("ROS_AUTOMATIC_DISCOVERY_RANGE", None)
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("RCUTILS_COLORIZED_OUTPUT", "0")
    return env


class Launcher:
    """Starts node processes, forwards their output, stops them; use as a context manager."""

    def __init__(self, specs: Sequence[NodeSpec], domain_id: int | None = None, localhost_only: bool = True,
                 output: TextIO | None = sys.stdout, on_line: Callable[[str, str], None] | None = None,
                 env: Mapping[str, str] | None = None) -> None:
        self.specs = list(specs)
        self.domain_id = pick_domain_id() if domain_id is None else int(domain_id)
        self.env = ros_env(self.domain_id, localhost_only, env)
        self.output = output
        self.on_line = on_line
        self.procs: list[tuple[NodeSpec, subprocess.Popen]] = []
        self._threads: list[threading.Thread] = []
        self._out_lock = threading.Lock()
        self.lines: dict[str, list[str]] = {}

    # ---- start --------------------------------------------------------------------------------
    def start(self) -> "Launcher":
        try:
            for spec in self.specs:
                self._start_one(spec)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_one(self, spec: NodeSpec) -> None:
        cmd = node_command(spec)
        try:
            proc = subprocess.Popen(cmd, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, text=True, bufsize=1, start_new_session=True)
        except OSError as exc:
            raise LaunchError(f"cannot start {spec.label}: {exc}") from exc
        self.procs.append((spec, proc))
        self.lines[spec.label] = []
        t = threading.Thread(target=self._pump, args=(spec.label, proc), daemon=True)
        t.start()
        self._threads.append(t)

    def _pump(self, label: str, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip("\n")
            self.lines[label].append(line)
            if self.on_line is not None:
                self.on_line(label, line)
            if self.output is not None:
                with self._out_lock:
                    print(f"[{label}] {line}", file=self.output, flush=True)

    # ---- watch --------------------------------------------------------------------------------
    def exited(self) -> dict[str, int]:
        """Nodes that have exited so far, with their exit codes."""
        return {spec.label: proc.returncode for spec, proc in self.procs if proc.poll() is not None}

    def output_of(self, label: str) -> str:
        return "\n".join(self.lines.get(label, []))

    def wait_for_line(self, label: str, text: str, timeout: float) -> bool:
        """True once node `label` printed a line containing `text` (False on timeout or exit)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if any(text in line for line in self.lines.get(label, [])):
                return True
            if label in self.exited():
                return any(text in line for line in self.lines.get(label, []))
            time.sleep(0.05)
        return False

    # ---- stop ---------------------------------------------------------------------------------
    def stop(self, timeout: float = 5.0) -> dict[str, int]:
        """SIGINT every node, then SIGTERM / SIGKILL what is still alive; return the exit codes."""
        alive = [(s, p) for s, p in self.procs if p.poll() is None]
        for sig, wait_s in ((signal.SIGINT, timeout), (signal.SIGTERM, 2.0), (signal.SIGKILL, 2.0)):
            for _, proc in alive:
                self._signal(proc, sig)
            end = time.monotonic() + wait_s
            while time.monotonic() < end and any(p.poll() is None for _, p in alive):
                time.sleep(0.05)
            alive = [(s, p) for s, p in alive if p.poll() is None]
            if not alive:
                break
        for t in self._threads:
            t.join(timeout=1.0)
        return {spec.label: proc.returncode for spec, proc in self.procs}

    @staticmethod
    def _signal(proc: subprocess.Popen, sig: int) -> None:
        try:
            os.killpg(proc.pid, sig)  # its own session: reaches a wrapper (ip netns exec) and the node
        except (ProcessLookupError, PermissionError):
            try:
                proc.send_signal(sig)
            except ProcessLookupError:
                pass

    def __enter__(self) -> "Launcher":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def default_specs(namespace: str = "", camera: Mapping[str, Any] | None = None, edge: Mapping[str, Any] | None = None,
                  controller: Mapping[str, Any] | None = None, with_controller: bool = True) -> list[NodeSpec]:
    """camera + edge (+ controller) with config/*.yaml and the given overrides: what demo.launch.py starts."""
    specs = [NodeSpec("camera_node", namespace, params=dict(camera or {})),
             NodeSpec("edge_node", namespace, params=dict(edge or {}))]
    if with_controller:
        specs.append(NodeSpec("controller_node", namespace, params=dict(controller or {})))
    return specs


def multi_robot_specs(robots: Sequence[str] = ("robot1", "robot2"), namespace: str = "",
                      camera: Mapping[str, Any] | None = None, edge: Mapping[str, Any] | None = None,
                      controller: Mapping[str, Any] | None = None, with_controller: bool = False) -> list[NodeSpec]:
    """One camera per robot namespace and one edge serving them all: what multi_robot.launch.py starts.

    Camera i runs in <namespace>/<robot i> with stream_id = the robot's name; the edge runs in
    <namespace> with `namespaces` = the robots, so robot i's clips arrive on <robot i>/semantic_clip
    and its labels leave on <robot i>/action_label. With `with_controller`, one controller per robot
    (its link_stats in, its budget_command out).
    """
    if not robots:
        raise LaunchError("multi-robot launch needs at least one robot namespace")
    parent = namespace.strip("/")
    specs = []
    for robot in robots:
        ns = f"{parent}/{robot}" if parent else robot
        specs.append(NodeSpec("camera_node", ns, params={"stream_id": robot, "frame_id": f"{robot}/camera",
                                                        **dict(camera or {})}))
    specs.append(NodeSpec("edge_node", parent, params={"namespaces": ",".join(robots), **dict(edge or {})}))
    if with_controller:
        for robot in robots:
            ns = f"{parent}/{robot}" if parent else robot
            specs.append(NodeSpec("controller_node", ns, params={"stream_id": robot, **dict(controller or {})}))
    return specs


def build_parser() -> "argparse.ArgumentParser":
    """The command line of `python -m stae_ros.ros.launcher` (a test parses the docs' commands with it)."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m stae_ros.ros.launcher", description=main.__doc__)
    # checked after parsing: Python 3.11's argparse refuses an empty (or default) list against `choices`
    ap.add_argument("nodes", nargs="*", metavar="NODE",
                    help=f"node executables to start, of {', '.join(sorted(NODE_MODULES))} "
                         "(default: camera_node edge_node controller_node)")
    ap.add_argument("--domain-id", type=int_in(0, 232), default=None, help="ROS_DOMAIN_ID (default: a random private one)")
    ap.add_argument("--ns", default="", help="namespace of all nodes")
    ap.add_argument("--network", action="store_true", help="discover peers on the network (not only localhost)")
    ap.add_argument("--robots", default="", metavar="NS1,NS2",
                    help="multi-robot layout (launch/multi_robot.launch.py): one camera_node per robot namespace, "
                         "one edge_node serving them all, one controller_node per robot unless the node list "
                         "leaves controller_node out")
    ap.add_argument("-p", "--param", action="append", default=[], metavar="NODE:KEY:=VALUE",
                    help="parameter override for one node, e.g. camera_node:source:=synth")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m stae_ros.ros.launcher [--domain-id N] [--ns NS] [--robots R1,R2] [node ...]`: run nodes until Ctrl-C."""
    import yaml

    ap = build_parser()
    args = ap.parse_args(argv)
    args.nodes = args.nodes or ["camera_node", "edge_node", "controller_node"]
    unknown = [n for n in args.nodes if n not in NODE_MODULES]
    if unknown:
        ap.error(f"unknown node(s) {', '.join(unknown)}; choose from {', '.join(sorted(NODE_MODULES))}")
    overrides: dict[str, dict[str, str]] = {}
    for item in args.param:
        node, _, kv = item.partition(":")
        key, sep, value = kv.partition(":=")
        if not sep or node not in NODE_MODULES:
            ap.error(f"bad --param {item!r}; use NODE:KEY:=VALUE")
        overrides.setdefault(node, {})[key] = yaml.safe_load(value) if value else ""
    if args.robots:
        robots = [r.strip().strip("/") for r in args.robots.split(",") if r.strip().strip("/")]
        specs = multi_robot_specs(robots, args.ns, overrides.get("camera_node"), overrides.get("edge_node"),
                                  overrides.get("controller_node"), with_controller="controller_node" in args.nodes)
    else:
        specs = [NodeSpec(n, args.ns, params=overrides.get(n, {})) for n in args.nodes]
    launcher = Launcher(specs, domain_id=args.domain_id, localhost_only=not args.network)
    print(f"[launcher] {PACKAGE}: {', '.join(s.label for s in specs)} on ROS_DOMAIN_ID={launcher.domain_id}", flush=True)
    with launcher:
        try:
            while len(launcher.exited()) < len(specs):
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
