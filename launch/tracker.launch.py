"""Start the JCAT tracker node on a camera topic.

    ros2 launch jcat_ros tracker.launch.py image:=/camera/image_raw            # the best weights available
    ros2 launch jcat_ros tracker.launch.py image:=/camera/image_raw weights:=published

Then initialise with a box: ros2 service call /jcat_tracker/init jcat_ros/srv/InitTarget "{box: ...}".
Remappings: `image` (or `image/compressed` with transport:=compressed) -> the `image` argument.
"""

from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription

ARGUMENTS = {
    "image": ("image", "camera image topic (sensor_msgs/Image; with transport:=compressed, the base topic)"),
    "weights": ("", "empty = the best available (the published JcatNet.pth.tar in ~/.cache/jcat if present, else the "
                    "demo weights; the log says which), 'published' (that file or a clear failure), a file, "
                    "or 'standin'"),
    "device": ("auto", "auto | cuda | cpu"),
    "transport": ("raw", "raw | compressed"),
    "reliability": ("best_effort", "best_effort (matches sensor-data publishers) | reliable (needed for large "
                                   "images where best-effort DDS loses fragments; see README)"),
    "config": (PathJoinSubstitution([FindPackageShare("jcat_ros"), "config", "tracker.yaml"]),
               "parameter file"),
    "namespace": ("", "namespace of the node"),
    "name": ("jcat_tracker", "name of the node"),
    "use_sim_time": ("false", "use /clock (bag replay with --clock)"),
}


def generate_launch_description() -> LaunchDescription:
    arg = LaunchConfiguration
    image = arg("image")
    tracker = Node(
        package="jcat_ros",
        executable="tracker_node",
        name=arg("name"),
        namespace=arg("namespace"),
        output="screen",
        emulate_tty=True,
        parameters=[
            arg("config"),
            {"weights": arg("weights"), "device": arg("device"), "image_transport": arg("transport"),
             "reliability": arg("reliability"), "use_sim_time": arg("use_sim_time")},
        ],
        remappings=[("image", image), ("image/compressed", [image, "/compressed"])],
    )
    declared = [DeclareLaunchArgument(name, default_value=default, description=text)
                for name, (default, text) in ARGUMENTS.items()]
    return LaunchDescription([*declared, tracker])
