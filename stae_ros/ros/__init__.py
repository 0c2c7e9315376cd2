"""The ROS 2 layer: nodes, message conversion, QoS, parameters and the project launcher.

Only this package (and the `demo`/`bag` CLI modules) imports rclpy and stae_msgs. The nodes are
run as `camera_node`, `edge_node`, `controller_node`, `link_emulator_node` (console scripts) or
`python -m stae_ros.ros.<node>`; see docs/ros.md. Importing this package itself needs no ROS:
the node modules and `qos` are imported by name when used.
"""

from .startup import quiet_stop_while_starting

quiet_stop_while_starting()  # only in a node's own process: a Ctrl-C while it imports is not a traceback

from .errors import (
    ImageConversionError,
    ImageEncodingError,
    ImageSizeError,
    LaunchError,
    MalformedClipError,
    RosLayerError,
    SourceError,
)
from .images import ENCODINGS, array_to_image, image_to_array, image_to_rgb
from .params import CAMERA_PARAMS, CONTROLLER_PARAMS, EDGE_PARAMS, LINK_EMULATOR_PARAMS, NODE_PARAMS, ParamSpec

__all__ = [
    "RosLayerError", "ImageConversionError", "ImageEncodingError", "ImageSizeError", "MalformedClipError",
    "SourceError", "LaunchError",
    "ENCODINGS", "array_to_image", "image_to_array", "image_to_rgb",
    "NODE_MODULES", "Launcher", "NodeSpec", "node_command", "pick_domain_id", "ros_env",
    "ParamSpec", "CAMERA_PARAMS", "EDGE_PARAMS", "CONTROLLER_PARAMS", "LINK_EMULATOR_PARAMS", "NODE_PARAMS",
]

_LAUNCHER_NAMES = ("NODE_MODULES", "Launcher", "NodeSpec", "node_command", "pick_domain_id", "ros_env")


def __getattr__(name: str):
    # the launcher is imported on first use, so `python -m stae_ros.ros.launcher` runs it only once
    if name in _LAUNCHER_NAMES:
        from . import launcher

        return getattr(launcher, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
