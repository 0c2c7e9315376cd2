"""ament_python / pip build script for stae_ros.

The same file serves `colcon build` on a ROS host (data_files land in share/stae_ros) and
`pip install -e .` in the venv set up by scripts/setup_env.sh.
"""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "stae_ros"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(include=[PACKAGE, f"{PACKAGE}.*"]),
    package_data={PACKAGE: ["py.typed"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
        (f"share/{PACKAGE}/msg", glob("msg/*.msg")),
        (f"share/{PACKAGE}/models", glob("models/*.pt")),
        (f"share/{PACKAGE}/profiles", glob("profiles/*.json")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="stae_ros maintainers",
    maintainer_email="maintainers@stae-ros.invalid",
    description="STAE semantic video compression for ROS 2 action recognition offloading",
    license="Apache-2.0",
    tests_require=["pytest"],
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
