"""launch/tracker.launch.py builds a LaunchDescription, and `ros2 launch` + `ros2 service call` run the tracker
on a remapped camera topic exactly as the README tells users to."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.ros

REPO = Path(__file__).resolve().parents[2]
LAUNCH_FILE = REPO / "launch" / "tracker.launch.py"


def test_launch_file_builds_a_launch_description_with_the_documented_arguments() -> None:
    compile(LAUNCH_FILE.read_text(), str(LAUNCH_FILE), "exec")
    if importlib.util.find_spec("launch_ros") is None:
        pytest.skip("launch_ros is not installed (no ROS 2 from apt, no vendored wheels): only compiled the file")
    from launch.actions import DeclareLaunchArgument
    from launch_ros.actions import Node

    from launch import LaunchDescription

    spec = importlib.util.spec_from_file_location("tracker_launch", LAUNCH_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    description = module.generate_launch_description()
    assert isinstance(description, LaunchDescription)
    arguments = {e.name for e in description.entities if isinstance(e, DeclareLaunchArgument)}
    assert arguments == {"image", "weights", "device", "transport", "reliability", "config", "namespace", "name",
                         "use_sim_time"}
    [node] = [e for e in description.entities if isinstance(e, Node)]
    assert node.node_package == "jcat_ros" and node.node_executable == "tracker_node"


@pytest.mark.slow
def test_ros2_launch_then_ros2_service_call_init(spawn, probe, ros_env, tmp_path) -> None:
    if shutil.which("ros2") is None:
        pytest.skip("the ros2 command line is not installed (no ROS 2 from apt and no vendored ros2cli wheels)")
    from jcat_ros.msg import TrackerState

    spawn("-m", "jcat_ros.camera_node", "--ros-args", "-r", "image:=/cam/image_raw", "-p", "width:=320",
          "-p", "height:=240", "-p", "rate:=10.0", "-p", "loop:=true")
    log = (tmp_path / "launch.log").open("w")
    launch = subprocess.Popen(
        ["ros2", "launch", "jcat_ros", "tracker.launch.py", "image:=/cam/image_raw", "weights:=standin",
         "device:=cpu"], env=ros_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        states = probe.record(TrackerState, "/jcat_tracker/state")
        probe.wait_for(lambda: len(states) >= 3, 60, "the launched tracker's states")
        request = "{box: {center: {position: {x: 46.0, y: 92.0}}, size_x: 48.0, size_y: 34.0}, target_id: blob}"
        result = subprocess.run(
            ["ros2", "service", "call", "/jcat_tracker/init", "jcat_ros/srv/InitTarget", request],
            env=ros_env, capture_output=True, text=True, timeout=60)
        assert "InitTarget_Response(success=True, message='', target_id='blob')" in result.stdout, (
            result.stdout + result.stderr + (tmp_path / "launch.log").read_text())
        probe.wait_for(lambda: any(m.target_id == "blob" for m in list(states)), 20, "states of the target")
    finally:
        launch.send_signal(2)  # Ctrl-C, as a user would
        try:
            launch.wait(timeout=20)
        except subprocess.TimeoutExpired:
            subprocess.run(["pkill", "-KILL", "-s", str(launch.pid)], check=False)
            launch.wait()
