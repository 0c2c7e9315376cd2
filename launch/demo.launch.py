"""Everything on one host: camera_node + edge_node + controller_node (what `stae demo` starts).

    ros2 launch stae_ros demo.launch.py                       # synthetic test clips
    ros2 launch stae_ros demo.launch.py source:=walk.mp4 namespace:=demo
    ros2 launch stae_ros demo.launch.py link_rate_bps:=200000     # through link_emulator_node at 200 kbit/s
    ros2 topic echo /action_label stae_msgs/msg/ActionLabel

Same executables and YAML (share/stae_ros/config, or camera_config:=, edge_config:=, controller_config:=)
as robot.launch.py and edge.launch.py.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition, UnlessCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution, PythonExpression
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

PACKAGE = "stae_ros"


def generate_launch_description() -> LaunchDescription:
    config_dir = PathJoinSubstitution([FindPackageShare(PACKAGE), "config"])
    ns = LaunchConfiguration("namespace")
    model = ParameterValue(LaunchConfiguration("model"), value_type=str)
    args = [
        DeclareLaunchArgument("namespace", default_value="", description="namespace of all nodes and topics"),
        DeclareLaunchArgument("source", default_value="synth",
                              description="synth | video file | /dev/videoN | data set folder | '' (image_raw topic)"),
        DeclareLaunchArgument("model", default_value="", description="STAE checkpoint; '' = models/stae_default.pt"),
        DeclareLaunchArgument("profile", default_value="",
                              description="accuracy profile JSON; '' = profiles/modes.json"),
        DeclareLaunchArgument("link_rate_bps", default_value="0",
                              description="> 0: clips pass link_emulator_node, a constant link of this many bit/s"),
        DeclareLaunchArgument("camera_config", default_value=PathJoinSubstitution([config_dir, "camera.yaml"]),
                              description="camera_node parameter file"),
        DeclareLaunchArgument("edge_config", default_value=PathJoinSubstitution([config_dir, "edge.yaml"]),
                              description="edge_node parameter file"),
        DeclareLaunchArgument("controller_config", default_value=PathJoinSubstitution([config_dir, "controller.yaml"]),
                              description="controller_node parameter file"),
    ]
    emulate = PythonExpression([LaunchConfiguration("link_rate_bps"), " > 0"])
    camera = Node(
        package=PACKAGE, executable="camera_node", name="camera_node", namespace=ns,
        parameters=[LaunchConfiguration("camera_config"),
                    {"source": ParameterValue(LaunchConfiguration("source"), value_type=str), "model": model}],
        output="screen", emulate_tty=True,
    )
    edge = Node(
        package=PACKAGE, executable="edge_node", name="edge_node", namespace=ns,
        parameters=[LaunchConfiguration("edge_config"), {"model": model}],
        output="screen", emulate_tty=True, condition=UnlessCondition(emulate),
    )
    # with an emulated link: camera -> semantic_clip -> link_emulator_node -> semantic_clip_link -> edge
    edge_via_link = Node(
        package=PACKAGE, executable="edge_node", name="edge_node", namespace=ns,
        parameters=[LaunchConfiguration("edge_config"), {"model": model}],
        remappings=[("semantic_clip", "semantic_clip_link")],
        output="screen", emulate_tty=True, condition=IfCondition(emulate),
    )
    link = Node(
        package=PACKAGE, executable="link_emulator_node", name="link_emulator_node", namespace=ns,
        parameters=[{"rate_bps": ParameterValue(LaunchConfiguration("link_rate_bps"), value_type=float)}],
        remappings=[("semantic_clip_in", "semantic_clip"), ("semantic_clip_out", "semantic_clip_link")],
        output="screen", emulate_tty=True, condition=IfCondition(emulate),
    )
    controller = Node(
        package=PACKAGE, executable="controller_node", name="controller_node", namespace=ns,
        parameters=[LaunchConfiguration("controller_config"),
                    {"profile": ParameterValue(LaunchConfiguration("profile"), value_type=str)}],
        output="screen", emulate_tty=True,
    )
    return LaunchDescription([*args, camera, edge, edge_via_link, link, controller])
