"""Robot side: camera_node (frames -> STAE selection + encoding -> SemanticClip), and optionally
controller_node next to it.

    ros2 launch stae_ros robot.launch.py                      # frames from the image_raw topic
    ros2 launch stae_ros robot.launch.py source:=/dev/video0 namespace:=robot1
    ros2 launch stae_ros robot.launch.py source:=synth model:=/path/stae.pt
    ros2 launch stae_ros robot.launch.py controller:=true     # plan here (then edge.launch.py controller:=false)

A controller on the robot hears of each sent clip (clip_sent) before the link can confirm it, so an
overdue clip tells it of an outage as it happens (docs/controller.md). Parameters come from
share/stae_ros/config/camera.yaml and controller.yaml (or camera_config:=FILE, controller_config:=FILE);
the launch arguments below override their keys. Topics are relative, so `namespace` moves them all
(/robot1/semantic_clip, /robot1/budget_command, ...). Runs on Humble .. Rolling.
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
        DeclareLaunchArgument("namespace", default_value="", description="namespace of the node and its topics"),
        DeclareLaunchArgument("source", default_value="",
                              description="'' = subscribe image_raw; synth | video file | /dev/videoN | data set folder"),
        DeclareLaunchArgument("model", default_value="", description="STAE checkpoint; '' = models/stae_default.pt"),
        DeclareLaunchArgument("camera_config", default_value=PathJoinSubstitution([config_dir, "camera.yaml"]),
                              description="camera_node parameter file"),
        DeclareLaunchArgument("controller", default_value="false",
                              description="start controller_node here, next to the camera"),
        DeclareLaunchArgument("profile", default_value="",
                              description="accuracy profile JSON; '' = profiles/modes.json"),
        DeclareLaunchArgument("controller_config", default_value=PathJoinSubstitution([config_dir, "controller.yaml"]),
                              description="controller_node parameter file"),
    ]
    camera = Node(
        package=PACKAGE,
        executable="camera_node",
        name="camera_node",
        namespace=LaunchConfiguration("namespace"),
        parameters=[
            LaunchConfiguration("camera_config"),
            {
                "source": ParameterValue(LaunchConfiguration("source"), value_type=str),
                "model": ParameterValue(LaunchConfiguration("model"), value_type=str),
            },
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
    return LaunchDescription([*args, camera, controller])
