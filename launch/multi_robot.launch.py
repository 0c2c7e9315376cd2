"""Several robots, one edge: a camera_node per robot namespace and one edge_node serving them all.

    ros2 launch stae_ros multi_robot.launch.py                               # robot1 + robot2, synthetic clips
    ros2 launch stae_ros multi_robot.launch.py robots:=robot1,robot2,robot3 controller:=false
    ros2 topic echo /robot1/action_label stae_msgs/msg/ActionLabel          # robot1's labels only

Robot R's camera publishes /R/semantic_clip (stream_id R); the edge (parameter `namespaces`)
subscribes to each and publishes R's labels on /R/action_label and its link stats on
/R/link_stats; with `controller:=true` each robot has its own controller_node (/R/link_stats in,
/R/budget_command out). On real robots start robot.launch.py namespace:=R on each robot and this
file's edge part on the edge host (`python -m stae_ros.ros.launcher --robots R1,R2` does the same
without launch_ros). Same executables and YAML (share/stae_ros/config) as the other launch files.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

PACKAGE = "stae_ros"


def _nodes(context, *args, **kwargs) -> list:
    robots = [r.strip().strip("/") for r in LaunchConfiguration("robots").perform(context).split(",")
              if r.strip().strip("/")]
    if not robots:
        raise RuntimeError("multi_robot.launch.py: robots:= names no robot namespace")
    parent = LaunchConfiguration("namespace").perform(context).strip("/")
    source = LaunchConfiguration("source").perform(context)
    model = LaunchConfiguration("model").perform(context)
    profile = LaunchConfiguration("profile").perform(context)
    with_controller = LaunchConfiguration("controller").perform(context).lower() in ("true", "1", "yes")
    camera_config = LaunchConfiguration("camera_config").perform(context)
    edge_config = LaunchConfiguration("edge_config").perform(context)
    controller_config = LaunchConfiguration("controller_config").perform(context)
    def text(value: str) -> ParameterValue:  # a string parameter stays a string ('' or '1' are not YAML)
        return ParameterValue(value, value_type=str)

    nodes = []
    for robot in robots:
        ns = f"{parent}/{robot}" if parent else robot
        nodes.append(Node(
            package=PACKAGE, executable="camera_node", name="camera_node", namespace=ns,
            parameters=[camera_config, {"source": text(source), "model": text(model), "stream_id": text(robot),
                                        "frame_id": text(f"{robot}/camera")}],
            output="screen", emulate_tty=True,
        ))
        if with_controller:
            nodes.append(Node(
                package=PACKAGE, executable="controller_node", name="controller_node", namespace=ns,
                parameters=[controller_config, {"profile": text(profile), "stream_id": text(robot)}],
                output="screen", emulate_tty=True,
            ))
    nodes.append(Node(
        package=PACKAGE, executable="edge_node", name="edge_node", namespace=parent,
        parameters=[edge_config, {"model": text(model), "namespaces": text(",".join(robots))}],
        output="screen", emulate_tty=True,
    ))
    return nodes


def generate_launch_description() -> LaunchDescription:
    config_dir = PathJoinSubstitution([FindPackageShare(PACKAGE), "config"])
    args = [
        DeclareLaunchArgument("robots", default_value="robot1,robot2",
                              description="comma-separated robot namespaces; one camera_node in each"),
        DeclareLaunchArgument("namespace", default_value="", description="parent namespace of all robots and the edge"),
        DeclareLaunchArgument("source", default_value="synth",
                              description="every camera's source: synth | video file | /dev/videoN | data set folder | '' (image_raw)"),
        DeclareLaunchArgument("model", default_value="", description="STAE checkpoint; '' = models/stae_default.pt"),
        DeclareLaunchArgument("profile", default_value="",
                              description="accuracy profile JSON; '' = profiles/modes.json"),
        DeclareLaunchArgument("controller", default_value="true", description="start a controller_node per robot"),
        DeclareLaunchArgument("camera_config", default_value=PathJoinSubstitution([config_dir, "camera.yaml"]),
                              description="camera_node parameter file"),
        DeclareLaunchArgument("edge_config", default_value=PathJoinSubstitution([config_dir, "edge.yaml"]),
                              description="edge_node parameter file"),
        DeclareLaunchArgument("controller_config", default_value=PathJoinSubstitution([config_dir, "controller.yaml"]),
                              description="controller_node parameter file"),
    ]
    return LaunchDescription([*args, OpaqueFunction(function=_nodes)])
