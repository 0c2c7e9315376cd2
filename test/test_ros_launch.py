"""Launch files, YAML configs and the project launcher, checked without launch_ros.

launch_ros is not on PyPI, so the launch files are checked statically: they parse, every
executable they start is a console script in setup.py, every config they load exists and is
installed, every LaunchConfiguration is declared, and the parameter keys they set exist on the node.
"""

import ast
import re
from pathlib import Path

import pytest
import yaml

from stae_ros.ros.launcher import NODE_CONFIGS, NODE_MODULES, NodeSpec, format_param, node_command, ros_env
from stae_ros.ros.errors import LaunchError
from stae_ros.ros.params import NODE_PARAMS, ParamSpec

ROOT = Path(__file__).resolve().parents[1]
LAUNCH_FILES = sorted((ROOT / "launch").glob("*.launch.py"))


def _console_scripts() -> dict[str, str]:
    text = (ROOT / "setup.py").read_text()
    return dict(re.findall(r'"(\w+)\s*=\s*([\w.]+):main"', text))


def _calls(tree: ast.AST, name: str) -> list[ast.Call]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            fname = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            if fname == name:
                out.append(node)
    return out


def _kw(call: ast.Call, key: str):
    for kw in call.keywords:
        if kw.arg == key:
            return kw.value
    return None


def test_the_three_launch_files_exist():
    assert {p.name for p in LAUNCH_FILES} >= {"robot.launch.py", "edge.launch.py", "demo.launch.py"}


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_file_parses_and_references_exist(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    funcs = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert "generate_launch_description" in funcs
    scripts = _console_scripts()
    nodes = _calls(tree, "Node")
    assert nodes, f"{path.name} starts no Node"
    for call in nodes:
        pkg = _kw(call, "package")
        assert isinstance(pkg, ast.Constant) and pkg.value == "stae_ros" or (
            isinstance(pkg, ast.Name) and pkg.id == "PACKAGE")
        exe = _kw(call, "executable")
        assert isinstance(exe, ast.Constant), f"{path.name}: executable must be a literal"
        assert exe.value in scripts, f"{path.name}: {exe.value} is not a console script in setup.py"
        assert scripts[exe.value] == NODE_MODULES[exe.value]
        # every parameter key set in a dict must exist on that node
        params = _kw(call, "parameters")
        for d in (n for n in ast.walk(params) if isinstance(n, ast.Dict)) if params is not None else ():
            keys = {k.value for k in d.keys if isinstance(k, ast.Constant)}
            known = {s.name for s in NODE_PARAMS[exe.value]}
            assert keys <= known, f"{path.name}: {exe.value} has no parameter(s) {keys - known}"
    yamls = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
             and n.value.endswith(".yaml")}
    assert yamls, f"{path.name} loads no YAML from config/"
    for name in yamls:
        assert (ROOT / "config" / name).is_file(), f"{path.name} loads config/{name}, which does not exist"
    declared = {c.args[0].value for c in _calls(tree, "DeclareLaunchArgument")}
    used = {c.args[0].value for c in _calls(tree, "LaunchConfiguration")}
    assert used <= declared, f"{path.name}: undeclared launch arguments {used - declared}"
    assert {"namespace", "model"} <= declared


def test_launch_arguments_cover_source_model_profile_namespace():
    declared = set()
    for path in LAUNCH_FILES:
        declared |= {c.args[0].value for c in _calls(ast.parse(path.read_text()), "DeclareLaunchArgument")}
    assert {"source", "model", "profile", "namespace"} <= declared


def test_setup_installs_launch_and_config():
    text = (ROOT / "setup.py").read_text()
    assert 'glob("launch/*.launch.py")' in text and 'glob("config/*.yaml")' in text


def _flatten(tree: dict, prefix: str = "") -> dict:
    """Nested YAML keys as rcl reads them: {"qos": {"image_raw": {"depth": 5}}} -> {"qos.image_raw.depth": 5}."""
    out = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


@pytest.mark.parametrize("node", sorted(NODE_CONFIGS))
def test_yaml_has_exactly_the_declared_parameters(node):
    data = yaml.safe_load((ROOT / "config" / NODE_CONFIGS[node]).read_text())
    params = _flatten(data["/**"]["ros__parameters"])
    specs = {s.name: s for s in NODE_PARAMS[node]}
    assert set(params) == set(specs), f"{node}: YAML and params.py disagree: {set(params) ^ set(specs)}"
    for name, value in params.items():
        spec = specs[name]
        # same type as the declared default (rclpy rejects an int for a double parameter)
        assert type(value) is type(spec.default), f"{node}.{name}: YAML {value!r} vs default {spec.default!r}"
        assert spec.check(value) is None, spec.check(value)


def test_param_spec_check_reports_the_problem():
    spec = ParamSpec("k", 8, "frames", min=1, max=16)
    assert spec.check(4) is None
    assert "below its minimum" in spec.check(0)
    assert "above its maximum" in spec.check(17)
    assert "must be a number" in spec.check("x")
    assert "must be a int" in spec.check(True)
    choice = ParamSpec("mode", "a", "m", choices=("a", "b"))
    assert "not one of" in choice.check("c")


def test_node_command_carries_namespace_params_and_yaml(tmp_path):
    cmd = node_command(NodeSpec("camera_node", namespace="robot1", params={"k": 4, "p": 0.5, "source": "",
                                                                          "stream_id": "12", "loop": False},
                                remaps={"semantic_clip": "/link/in"}))
    assert cmd[1:4] == ["-m", "stae_ros.ros.camera_node", "--ros-args"]
    assert cmd[cmd.index("--params-file") + 1].endswith("config/camera.yaml")
    assert "__ns:=/robot1" in cmd and "semantic_clip:=/link/in" in cmd
    ps = [cmd[i + 1] for i, a in enumerate(cmd) if a == "-p"]
    assert ps == ["k:=4", "p:=0.5", "source:=''", "stream_id:='12'", "loop:=false"]
    with pytest.raises(LaunchError, match="unknown node executable"):
        node_command(NodeSpec("nope_node"))
    with pytest.raises(LaunchError, match="does not exist"):
        node_command(NodeSpec("edge_node", params_file=tmp_path / "missing.yaml"))


def test_format_param_keeps_strings_strings():
    assert format_param("true") == "'true'"
    assert format_param("3.5") == "'3.5'"
    assert format_param("synth") == "synth"
    assert format_param(True) == "true"
    assert format_param(1e7) == "10000000.0"


def test_ros_env_sets_private_domain():
    env = ros_env(42, localhost_only=True, base={"ROS_LOCALHOST_ONLY": "1", "PATH": "/bin"})
    assert env["ROS_DOMAIN_ID"] == "42" and env["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
    assert "ROS_LOCALHOST_ONLY" not in env and env["PATH"] == "/bin"
    assert "ROS_AUTOMATIC_DISCOVERY_RANGE" not in ros_env(3, localhost_only=False, base={})
