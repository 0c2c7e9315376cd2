"""The core must import and run where ROS is absent: the camera host may have no ROS at all."""

import subprocess
import sys
import textwrap

CORE_PACKAGES = [
    "stae_ros.models", "stae_ros.codec", "stae_ros.data", "stae_ros.training", "stae_ros.profiling",
    "stae_ros.planning", "stae_ros.link", "stae_ros.pipeline", "stae_ros.baselines",
    "stae_ros.latent", "stae_ros.roi", "stae_ros.bagio", "stae_ros.cli", "stae_ros.modes", "stae_ros.local",
]

BLOCKER = textwrap.dedent(
    """
    import importlib.abc, sys
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            root = name.split(".")[0]
            if root in ("rclpy", "stae_msgs", "sensor_msgs", "std_msgs", "builtin_interfaces", "rosidl_runtime_py"):
                raise ImportError(f"blocked ROS import: {name}")
            return None
    sys.meta_path.insert(0, Block())
    import importlib
    loaded = []
    for name in sys.argv[1:]:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # sub-package not written yet
            raise
        loaded.append(name)
    ros = [m for m in sys.modules if m.split(".")[0] in ("rclpy", "stae_msgs")]
    assert not ros, ros
    print("loaded", len(loaded))
    """
)


def test_core_imports_without_ros():
    proc = subprocess.run([sys.executable, "-c", BLOCKER, *CORE_PACKAGES], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    loaded = int(proc.stdout.split()[-1])
    assert loaded >= 6, proc.stdout


def test_cli_help_lists_subcommands_without_ros():
    code = BLOCKER.replace('print("loaded", len(loaded))', "") + (
        "\nfrom stae_ros.cli import build_parser\nprint(build_parser().format_help())\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for sub in ("data", "train", "profile", "eval"):
        assert sub in proc.stdout


def test_every_registered_mode_module_imports_without_ros():
    """Each mode module (camera and edge halves) must load on a camera host without ROS."""
    from stae_ros.modes import MODES

    code = BLOCKER.replace('print("loaded", len(loaded))', 'print("loaded", len(loaded), len(sys.argv) - 1)')
    proc = subprocess.run([sys.executable, "-c", code, *MODES.values()], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    loaded, asked = map(int, proc.stdout.split()[-2:])
    assert loaded == asked == len(MODES), proc.stdout


def test_no_product_module_imports_the_studies():
    """studies/ holds research code only: nothing under stae_ros/ may import it (directly, lazily
    inside a function, or by a module string handed to importlib)."""
    import ast
    import re
    from pathlib import Path

    package = Path(__file__).resolve().parents[1] / "stae_ros"
    offenders = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names = [node.module]
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and re.fullmatch(r"studies(\.\w+)+(:\w+)?", node.value):
                names = [node.value]
            offenders += [f"{path.relative_to(package.parent)}:{node.lineno} {n}" for n in names if n.split(".")[0] == "studies"]
    assert len(list(package.rglob("*.py"))) > 50
    assert not offenders, offenders
