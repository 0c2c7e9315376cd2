"""ament_python / pip build script for stae_ros.

The same file serves three installs, and each yields the layout `ros2 launch` / `ros2 run` look
for (the ament index marker, share/stae_ros/{package.xml,launch,config,models,profiles,msg} and
the node executables in lib/stae_ros/):

- `colcon build` on a ROS host: setup.cfg puts the console scripts in lib/stae_ros;
- `pip install .` (a wheel) into a venv with the ROS 2 wheels: pip puts console scripts in bin/,
  and a wheel cannot carry links, so the wheel also carries one small wrapper per node in
  lib/stae_ros that runs the console script of the same prefix (whose shebang pip set to the
  installing Python).

An editable install (`pip install -e .`, the development venv) gets no data files at all from
setuptools: it is not an ament package; `pip install --no-deps .` over it makes it one.
"""

import sys
from glob import glob
from pathlib import Path

from setuptools import find_packages, setup

PACKAGE = "stae_ros"
NODES = ("camera_node", "edge_node", "controller_node", "link_emulator_node")  #: the console scripts below

_WRAPPER = """#!/bin/sh
# {node} of {package}: ros2 launch and ros2 run start <prefix>/lib/{package}/{node}; pip installed the
# console script, with this prefix's Python in its shebang, as <prefix>/bin/{node}.
here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
exec "$here/../../bin/{node}" "$@"
"""


def _wheel_wrappers() -> list[str]:
    """Write the lib/stae_ros wrappers into build/ (generated, not committed) and return their paths."""
    out = Path("build") / "ament_lib" / PACKAGE
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for node in NODES:
        path = out / node
        path.write_text(_WRAPPER.format(node=node, package=PACKAGE))
        path.chmod(0o755)  # the wheel keeps the mode, pip restores it
        paths.append(str(path))
    return paths


data_files = [
    ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
    (f"share/{PACKAGE}", ["package.xml"]),
    (f"share/{PACKAGE}/launch", sorted(glob("launch/*.launch.py"))),
    (f"share/{PACKAGE}/config", sorted(glob("config/*.yaml"))),
    (f"share/{PACKAGE}/msg", sorted(glob("msg/*.msg"))),
    (f"share/{PACKAGE}/models", sorted(glob("models/*.pt"))),
    (f"share/{PACKAGE}/profiles", sorted(glob("profiles/*.json"))),
]
# colcon runs `setup.py install/develop` and gets lib/stae_ros from setup.cfg; pip builds a wheel
if "bdist_wheel" in sys.argv:
    data_files.append((f"lib/{PACKAGE}", _wheel_wrappers()))

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(include=[PACKAGE, f"{PACKAGE}.*"]),
    package_data={PACKAGE: ["py.typed"]},
    data_files=data_files,
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="stae_ros maintainers",
    maintainer_email="maintainers@stae-ros.invalid",
    description="STAE semantic video compression for ROS 2 action recognition offloading",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "stae = stae_ros.cli:main",
            "camera_node = stae_ros.ros.camera_node:main",
            "edge_node = stae_ros.ros.edge_node:main",
            "controller_node = stae_ros.ros.controller_node:main",
            "link_emulator_node = stae_ros.ros.link_emulator_node:main",
        ],
    },
)
