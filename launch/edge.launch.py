"""Edge side: edge_node (SemanticClip -> label) and controller_node (LinkStats -> BudgetCommand).

    ros2 launch stae_ros edge.launch.py
    ros2 launch stae_ros edge.launch.py namespace:=robot1 model:=/path/stae.pt profile:=/path/profile.json

Parameters come from share/stae_ros/config/{edge,controller}.yaml (or edge_config:=, controller_config:=);
the launch arguments override their keys. Use the same `namespace` as the robot's launch.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

PACKAGE = "stae_ros"


def generate_launch_description() -> LaunchDescription:
    config_dir = PathJoinSubstitution([FindPackageShare(PACKAGE), "config"])
    args = [
        DeclareLaunchArgument("namespace", default_value="", description="namespace of the nodes and their topics"),
        DeclareLaunchArgument("model", default_value="", description="STAE checkpoint; '' = models/stae_default.pt"),
        DeclareLaunchArgument("profile", default_value="",
                              description="accuracy profile JSON; '' = profiles/modes.json"),
        DeclareLaunchArgument("controller", default_value="true", description="start controller_node"),
        DeclareLaunchArgument("edge_config", default_value=PathJoinSubstitution([config_dir, "edge.yaml"]),
                              description="edge_node parameter file"),
        DeclareLaunchArgument("controller_config", default_value=PathJoinSubstitution([config_dir, "controller.yaml"]),
                              description="controller_node parameter file"),
    ]
    edge = Node(
        package=PACKAGE,
        executable="edge_node",
        name="edge_node",
        namespace=LaunchConfiguration("namespace"),
        parameters=[
            LaunchConfiguration("edge_config"),
            {"model": ParameterValue(LaunchConfiguration("model"), value_type=str)},
        ],
        output="screen",
        emulate_tty=True,
    )
    controller = Node(
        package=PACKAGE,
        executable="controller_node",
        name="controller_node",
        namespace=LaunchConfiguration("namespace"),
        parameters=[
            LaunchConfiguration("controller_config"),
            {"profile": ParameterValue(LaunchConfiguration("profile"), value_type=str)},
        ],
        condition=IfCondition(LaunchConfiguration("controller")),
        output="screen",
        emulate_tty=True,
    )
    return LaunchDescription([*args, edge, controller])
