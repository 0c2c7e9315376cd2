"""`pip install .` gives the layout `ros2 launch` and `ros2 run` look for (no launch_ros needed).

A copy of the package's sources is installed, non-editable, into a temporary prefix with the
running Python (no dependencies, no build isolation: seconds, no network); the test then checks
what ament_index_python (which launch_ros's FindPackageShare and Node use) finds there: the
package marker, share/stae_ros with package.xml, launch files, configs, models and profiles, and
an executable for every node in lib/stae_ros that really starts that node.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NODES = ("camera_node", "edge_node", "controller_node", "link_emulator_node")


@pytest.fixture(scope="module")
def prefix(tmp_path_factory) -> Path:
    """The package installed (pip, non-editable) from a clean copy of its sources into a fresh prefix."""
    src = tmp_path_factory.mktemp("src")
    for name in ("setup.py", "setup.cfg", "package.xml"):
        shutil.copy2(ROOT / name, src / name)
    for name in ("resource", "launch", "config", "msg", "models", "profiles", "stae_ros"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("prefix")
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--ignore-installed",
                           "--no-index", "--quiet", "--prefix", str(out), str(src)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return out


def _site_packages(prefix: Path) -> Path:
    return Path(sysconfig.get_path("purelib", vars={"base": str(prefix), "platbase": str(prefix)}))


def test_ament_index_finds_the_package_and_its_share(prefix: Path) -> None:
    marker = prefix / "share" / "ament_index" / "resource_index" / "packages" / "stae_ros"
    assert marker.is_file()
    share = prefix / "share" / "stae_ros"
    assert (share / "package.xml").is_file()
    assert re.search(r"<name>stae_ros</name>", (share / "package.xml").read_text())
    for folder, pattern in (("launch", "*.launch.py"), ("config", "*.yaml"), ("msg", "*.msg"), ("models", "*.pt"),
                            ("profiles", "*.json")):
        want = sorted(p.name for p in (ROOT / folder).glob(pattern))
        assert want, f"the checkout has no {folder}/{pattern}"
        assert sorted(p.name for p in (share / folder).glob(pattern)) == want, folder
    pytest.importorskip("ament_index_python")
    code = ("from ament_index_python.packages import get_package_prefix, get_package_share_directory\n"
            "print(get_package_prefix('stae_ros')); print(get_package_share_directory('stae_ros'))")
    env = dict(os.environ, AMENT_PREFIX_PATH=str(prefix))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(prefix), str(share)]


def test_node_executables_are_in_lib_and_start_the_installed_node(prefix: Path) -> None:
    lib = prefix / "lib" / "stae_ros"
    for node in NODES:
        exe = lib / node
        assert exe.is_file() and os.access(exe, os.X_OK), f"{exe} missing or not executable"
        assert (prefix / "bin" / node).is_file()
    # the wrapper runs the installed node: a bad parameter value stops it at start-up with the reason
    pytest.importorskip("rclpy")
    site = _site_packages(prefix)
    assert (site / "stae_ros" / "ros" / "controller_node.py").is_file()
    env = dict(os.environ, PYTHONPATH=str(site), ROS_DOMAIN_ID=str(150 + os.getpid() % 50),
               ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")
    proc = subprocess.run([str(lib / "controller_node"), "--ros-args", "-p", "codec:=no-such-codec"],
                          capture_output=True, text=True, env=env, timeout=120, cwd=prefix)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "codec='no-such-codec' is not one of" in proc.stdout + proc.stderr


def test_the_installed_commands_use_the_installed_model_and_profile(prefix: Path, tmp_path: Path) -> None:
    """Outside a checkout, `models/...` and the bench's default profile are the files in share/stae_ros."""
    share = prefix / "share" / "stae_ros"
    env = dict(os.environ, PYTHONPATH=str(_site_packages(prefix)), AMENT_PREFIX_PATH=str(prefix))
    code = ("import stae_ros; from stae_ros.resources import shipped_file\n"
            "from stae_ros.training.checkpoints import load_checkpoint_dict\n"
            "print(stae_ros.__file__); print(shipped_file('models/stae_default.pt'))\n"
            "print(load_checkpoint_dict('models/stae_default.pt')['format'])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    module, model, fmt = proc.stdout.split()
    assert Path(module).is_relative_to(prefix), module  # the installed package, not the checkout
    assert Path(model) == share / "models" / "stae_default.pt" and fmt, proc.stdout
    proc = subprocess.run([sys.executable, "-m", "stae_ros.bench.controller", "--trace-dir", "NONE", "--synthetic", "1",
                           "--duration", "10", "--out", "out"],
                          capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "synthetic stand-in" not in proc.stderr
    report = (tmp_path / "out" / "controller.json").read_text()
    assert f'"profile": "{share / "profiles" / "modes.json"}"' in report
