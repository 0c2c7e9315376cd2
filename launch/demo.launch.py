"""Everything on one host: camera_node + edge_node + controller_node (what `stae demo` starts).

    ros2 launch stae_ros demo.launch.py                       # synthetic test clips
    ros2 launch stae_ros demo.launch.py source:=walk.mp4 namespace:=demo
    ros2 topic echo /action_label stae_msgs/msg/ActionLabel

Same executables and YAML (share/stae_ros/config) as robot.launch.py and edge.launch.py.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
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
                              description="accuracy profile JSON; '' = profiles/default.json"),
    ]
    camera = Node(
        package=PACKAGE, executable="camera_node", name="camera_node", namespace=ns,
        parameters=[PathJoinSubstitution([config_dir, "camera.yaml"]),
                    {"source": ParameterValue(LaunchConfiguration("source"), value_type=str), "model": model}],
        output="screen", emulate_tty=True,
    )
    edge = Node(
        package=PACKAGE, executable="edge_node", name="edge_node", namespace=ns,
        parameters=[PathJoinSubstitution([config_dir, "edge.yaml"]), {"model": model}],
        output="screen", emulate_tty=True,
    )
    controller = Node(
        package=PACKAGE, executable="controller_node", name="controller_node", namespace=ns,
        parameters=[PathJoinSubstitution([config_dir, "controller.yaml"]),
                    {"profile": ParameterValue(LaunchConfiguration("profile"), value_type=str)}],
        output="screen", emulate_tty=True,
    )
    return LaunchDescription([*args, camera, edge, controller])
