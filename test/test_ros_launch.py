"""Launch files, YAML configs and the project launcher, checked without launch_ros.

launch_ros is not on PyPI, so the launch files are checked statically: they parse, every
executable they start is a console script in setup.py, every config they load exists and is
installed, every LaunchConfiguration is declared, and the parameter keys they set exist on the node.
"""

import ast
import json
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


# ---- config, docs and commands agree with the code ---------------------------------------------

def test_config_yaml_is_the_parameter_tables():
    from stae_ros.ros.params import yaml_config

    for node, name in NODE_CONFIGS.items():
        assert (ROOT / "config" / name).read_text() == yaml_config(node), \
            f"config/{name} differs from params.yaml_config({node!r}): regenerate it"


def test_docs_parameter_tables_are_the_parameter_tables():
    from stae_ros.ros.params import markdown_table

    docs = (ROOT / "docs" / "ros.md").read_text()
    for node, specs in NODE_PARAMS.items():
        assert f"### {node}\n\n{markdown_table(specs)}\n" in docs, f"docs/ros.md's {node} table is not params.py's"


def _declared(path: Path) -> set[str]:
    return {c.args[0].value for c in _calls(ast.parse(path.read_text()), "DeclareLaunchArgument")}


def test_docs_launch_argument_table_is_what_the_launch_files_declare():
    """Every argument docs/ros.md names is declared by exactly the launch files it marks (ros2 launch
    would accept an undeclared one silently), and every declared argument is in the table."""
    docs = (ROOT / "docs" / "ros.md").read_text()
    lines = docs[docs.index("| argument | default |"):].splitlines()
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    files = header[2:-1]
    assert files == ["robot", "edge", "demo", "multi_robot"]
    declared = {f: _declared(ROOT / "launch" / f"{f}.launch.py") for f in files}
    assert set(declared) == {p.name.removesuffix(".launch.py") for p in LAUNCH_FILES}
    table: dict[str, set[str]] = {}
    for row in lines[2:]:
        if not row.startswith("|"):
            break
        cells = [c.strip() for c in row.strip("|").split("|")]
        name = cells[0].strip("`")
        table[name] = {f for f, mark in zip(files, cells[2:-1]) if mark == "x"}
    for name, marked in table.items():
        really = {f for f in files if name in declared[f]}
        assert marked == really, f"docs/ros.md says {name} is taken by {sorted(marked)}; declared by {sorted(really)}"
    every = set().union(*declared.values())
    assert every <= set(table), f"launch arguments missing from docs/ros.md's table: {sorted(every - set(table))}"


#: topic -> message type, as the nodes use them (docs/ros.md 'Topics')
TOPIC_TYPES = {
    "image_raw": "sensor_msgs/msg/Image", "semantic_clip": "stae_msgs/msg/SemanticClip",
    "action_label": "stae_msgs/msg/ActionLabel", "ground_truth": "stae_msgs/msg/ActionLabel",
    "link_stats": "stae_msgs/msg/LinkStats", "clip_sent": "stae_msgs/msg/LinkStats",
    "budget_command": "stae_msgs/msg/BudgetCommand",
    "original": "sensor_msgs/msg/Image", "recovered": "sensor_msgs/msg/Image",
    "stae_status": "std_msgs/msg/String",
}
#: flags of Jazzy's `ros2 topic echo` / `pub` (ros2cli jazzy: ros2topic/verb/{echo,pub}.py, api.add_qos_arguments)
_QOS_FLAGS = {"--qos-profile", "--qos-depth", "--qos-history", "--qos-reliability", "--qos-durability",
              "--qos-liveliness", "--qos-liveliness-lease-duration-seconds"}
_ECHO_FLAGS = _QOS_FLAGS | {"--csv", "--field", "--full-length", "-f", "--truncate-length", "-l", "--no-arr", "--no-str",
                            "--flow-style", "--no-lost-messages", "--raw", "--filter", "--once", "--timeout",
                            "--include-message-info", "-i"}
_PUB_FLAGS = _QOS_FLAGS | {"--stdin", "-r", "--rate", "-p", "--print", "-1", "--once", "-t", "--times", "-w",
                           "--wait-matching-subscriptions", "--max-wait-time-secs", "--keep-alive", "-n", "--node-name"}
_SWITCHES = {"--csv", "--full-length", "-f", "--no-arr", "--no-str", "--flow-style", "--no-lost-messages", "--raw",
             "--once", "--include-message-info", "-i", "--stdin", "-1"}


def _ros2_commands(text: str) -> list[list[str]]:
    """Every `ros2 ...` command of a markdown text: code-block lines and inline code spans."""
    import shlex

    found = []
    in_block = False
    for line in text.splitlines():
        if line.startswith("```"):
            in_block = not in_block
            continue
        candidates = [line.strip()] if in_block else re.findall(r"`(ros2 [^`]+)`", line)
        for cand in candidates:
            if cand.startswith("ros2 "):
                cmd = shlex.split(cand, comments=True)
                if len(cmd) >= 4:  # a command, not a mention such as `ros2 launch`
                    found.append(cmd)
    return found


def _ros_section(readme: str) -> str:
    start = readme.index("## On ROS hosts")
    end = readme.index("\n## ", start + 1)
    return readme[start:end]


def _check_topic_command(cmd: list[str], where: str) -> None:
    from rclpy.qos import QoSDurabilityPolicy, QoSReliabilityPolicy

    verb, args = cmd[2], cmd[3:]
    allowed = _ECHO_FLAGS if verb == "echo" else _PUB_FLAGS
    positional = []
    i = 0
    while i < len(args):
        a = args[i]
        if a.startswith("-"):
            assert a in allowed, f"{where}: `ros2 topic {verb}` has no flag {a}: {' '.join(cmd)}"
            if a not in _SWITCHES:
                value = args[i + 1]
                if a == "--qos-durability":
                    assert value in QoSDurabilityPolicy.short_keys(), (where, value)
                if a == "--qos-reliability":
                    assert value in QoSReliabilityPolicy.short_keys(), (where, value)
                i += 1
        else:
            positional.append(a)
        i += 1
    topic = positional[0]
    base = topic.rsplit("/", 1)[-1]
    assert base in TOPIC_TYPES, f"{where}: no node uses a topic {topic}: {' '.join(cmd)}"
    assert topic.startswith("/") and "/stae/" not in topic, f"{where}: {topic}"
    if len(positional) > 1:
        assert positional[1] == TOPIC_TYPES[base], f"{where}: {topic} carries {TOPIC_TYPES[base]}, not {positional[1]}"
    if verb == "pub":
        values = yaml.safe_load(positional[2])
        fields = set((ROOT / "msg" / (TOPIC_TYPES[base].rsplit("/", 1)[1] + ".msg")).read_text().split())
        assert set(values) <= fields, f"{where}: {set(values) - fields} are not fields of {TOPIC_TYPES[base]}"


def _check_param_command(cmd: list[str], where: str) -> None:
    verb, node, name = cmd[2], cmd[3].rsplit("/", 1)[-1], cmd[4]
    specs = {s.name: s for s in NODE_PARAMS[node]}
    assert name in specs, f"{where}: {node} has no parameter {name}"
    if verb == "set":
        from rclpy.parameter import parameter_value_to_python
        from rclpy.parameter import get_parameter_value  # what `ros2 param set` calls on the value

        value = parameter_value_to_python(get_parameter_value(string_value=cmd[5]))
        default = specs[name].default
        assert type(value) is type(default) or (isinstance(default, float) and type(value) is int), \
            f"{where}: `{' '.join(cmd)}` sends a {type(value).__name__}; {name} is a {type(default).__name__}"
        assert specs[name].check(value) is None, specs[name].check(value)
        if name == "codec_settings":
            assert isinstance(json.loads(value), dict), f"{where}: {value!r} is not a JSON object"


def test_docs_commands_parse_as_ros2_reads_them():
    """The ros2 commands in README's ROS section and docs/ros.md name launch files, arguments, topics,
    types, flags and parameters that exist, and `ros2 param set` values parse (with rclpy's own
    parser) to the parameter's type."""
    pytest.importorskip("rclpy")
    texts = {"README.md": _ros_section((ROOT / "README.md").read_text()), "docs/ros.md": (ROOT / "docs" / "ros.md").read_text()}
    seen = set()
    for where, text in texts.items():
        for cmd in _ros2_commands(text):
            kind = tuple(cmd[1:3])
            seen.add((where, kind))
            if cmd[1] == "launch":
                assert cmd[2] == "stae_ros", f"{where}: {' '.join(cmd)}"
                path = ROOT / "launch" / cmd[3]
                assert path.is_file(), f"{where}: no launch file {cmd[3]}"
                for arg in (a for a in cmd[4:] if not a.startswith("-")):  # ros2 launch's own flags (--show-args)
                    name, sep, _ = arg.partition(":=")
                    assert sep and name in _declared(path), f"{where}: {cmd[3]} does not declare {name!r}"
            elif cmd[1] == "topic" and cmd[2] in ("echo", "pub"):
                _check_topic_command(cmd, where)
            elif cmd[1] == "param" and cmd[2] in ("set", "get", "describe"):
                _check_param_command(cmd, where)
    assert ("README.md", ("launch", "stae_ros")) in seen and ("README.md", ("topic", "echo")) in seen
    assert ("docs/ros.md", ("param", "set")) in seen and ("docs/ros.md", ("topic", "pub")) in seen


def _shell_commands(text: str, prefix: str) -> list[list[str]]:
    """Code-block lines of a markdown text that start with `prefix` (continuation lines joined)."""
    import shlex

    found, in_block, pending = [], False, ""
    for line in text.splitlines():
        if line.startswith("```"):
            in_block = not in_block
            continue
        if not in_block:
            continue
        line = pending + line.strip()
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        pending = ""
        if line.startswith(prefix):
            cmd = shlex.split(line, comments=True)
            found.append(cmd[:-1] if cmd[-1] == "&" else cmd)  # `stae demo &`: in the background
    return found


def test_docs_launcher_and_stae_commands_parse():
    """The `python -m stae_ros.ros.launcher`, `python -m stae_ros.ros.<node>` and `stae demo|bag` commands
    of docs/ros.md and docs/bags.md parse with the real argument parsers and name real parameters."""
    from stae_ros.cli import build_parser as stae_parser
    from stae_ros.ros.launcher import build_parser

    docs = (ROOT / "docs" / "ros.md").read_text() + (ROOT / "docs" / "bags.md").read_text()
    launcher_cmds = _shell_commands(docs, "python -m stae_ros.ros.launcher")
    assert len(launcher_cmds) >= 3
    for cmd in launcher_cmds:
        try:
            args = build_parser().parse_args(cmd[3:])
        except SystemExit:
            pytest.fail(f"docs: `{' '.join(cmd)}` does not parse")
        assert set(args.nodes or []) <= set(NODE_MODULES), f"docs: `{' '.join(cmd)}` names an unknown node"
        for item in args.param:
            node, _, kv = item.partition(":")
            key = kv.partition(":=")[0]
            assert key in {s.name for s in NODE_PARAMS[node]}, f"docs: {node} has no parameter {key}: {item}"
    for cmd in _shell_commands(docs, "python -m stae_ros.ros.") + _shell_commands(docs, ".venv/bin/python -m stae_ros.ros."):
        module = next(a for a in cmd if a.startswith("stae_ros.ros."))
        node = module.rsplit(".", 1)[1]
        if node not in NODE_PARAMS:
            continue
        ros_args = cmd[cmd.index("--ros-args") + 1:]
        for flag, value in zip(ros_args, ros_args[1:]):
            if flag == "--params-file":
                assert (ROOT / value).is_file(), f"docs: no {value}"
            if flag == "-p":
                assert value.partition(":=")[0] in {s.name for s in NODE_PARAMS[node]}, f"docs: {node} -p {value}"
    stae_cmds = _shell_commands(docs, "stae demo") + _shell_commands(docs, "stae bag")
    assert len(stae_cmds) >= 4
    for cmd in stae_cmds:
        try:
            stae_parser().parse_args(cmd[1:])
        except SystemExit:
            pytest.fail(f"docs: `{' '.join(cmd)}` does not parse")


def test_domain_ids_are_not_handed_out_twice_while_others_are_free(monkeypatch):
    """Each test's nodes get a domain no earlier test in the process used, so nothing one left behind
    (a latched command, a node still shutting down) reaches them; once all 100 are used, they recycle."""
    from stae_ros.ros import launcher

    monkeypatch.setattr(launcher, "_HANDED_OUT", set())
    monkeypatch.setenv("ROS_DOMAIN_ID", "7")
    ids = [launcher.pick_domain_id(avoid=[3]) for _ in range(98)]
    assert len(set(ids)) == 98 and not {3, 7} & set(ids) and all(1 <= d <= 100 for d in ids)
    assert launcher.pick_domain_id(avoid=[3]) in ids  # all used: they recycle
    with pytest.raises(ValueError):
        launcher.pick_domain_id(avoid=[d for d in range(1, 101) if d != 7])
