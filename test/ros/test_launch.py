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
    launch = launched(ros_env, tmp_path / "launch.log", "image:=/cam/image_raw", "weights:=standin", "device:=cpu")
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
        stop(launch)


def launched(ros_env: dict[str, str], log_path: Path, *arguments: str) -> subprocess.Popen:
    return subprocess.Popen(["ros2", "launch", "jcat_ros", "tracker.launch.py", *arguments], env=ros_env,
                            stdout=log_path.open("w"), stderr=subprocess.STDOUT, start_new_session=True)


def stop(launch: subprocess.Popen) -> None:
    launch.send_signal(2)  # Ctrl-C, as a user would
    try:
        launch.wait(timeout=20)
    except subprocess.TimeoutExpired:
        subprocess.run(["pkill", "-KILL", "-s", str(launch.pid)], check=False)
        launch.wait()


@pytest.mark.slow
def test_the_readme_own_camera_commands_track_on_a_fresh_machine(spawn, probe, ros_env, tmp_path) -> None:
    """No weights argument and no published file (an empty JCAT_WEIGHTS_DIR): the node picks the demo weights, says
    so with where the published file goes, and `init_client` starts a track that follows the target."""
    if shutil.which("ros2") is None:
        pytest.skip("the ros2 command line is not installed (no ROS 2 from apt and no vendored ros2cli wheels)")
    from jcat_ros.msg import TrackerState
    from vision_msgs.msg import Detection2DArray

    from jcat_core.tracker.geometry import box_iou
    from jcat_ros.message_fields import box_xywh, time_ns

    ros_env["JCAT_WEIGHTS_DIR"] = str(tmp_path / "no_weights_here")
    spawn("-m", "jcat_ros.camera_node", "--ros-args", "-r", "image:=/camera/image_raw", "-p", "width:=320",
          "-p", "height:=240", "-p", "rate:=5.0", "-p", "loop:=true", "-p", "num_frames:=400")
    log = tmp_path / "launch.log"
    launch = launched(ros_env, log, "image:=/camera/image_raw")
    try:
        states = probe.record(TrackerState, "/jcat_tracker/state")
        truth = probe.record(Detection2DArray, "/jcat_camera/ground_truth")
        probe.wait_for(lambda: len(states) >= 3 and any(m.detections for m in truth), 120, "the tracker's states")
        text = log.read_text()
        assert "weights:" in text and "demo" in text and "JcatNet.pth.tar" in text, text
        newest = next(m for m in reversed(list(truth)) if m.detections)
        x, y, w, h = box_xywh(newest.detections[0].bbox)
        result = subprocess.run(["ros2", "run", "jcat_ros", "init_client", "--box", f"{x:.0f},{y:.0f},{w:.0f},{h:.0f}"],
                                env=ros_env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr + log.read_text()
        probe.wait_for(lambda: sum(m.target_id != "" for m in list(states)) >= 10, 60, "ten states of the target")
        by_stamp = {time_ns(m.header.stamp): box_xywh(m.detections[0].bbox) for m in list(truth) if m.detections}
        tracked = [m for m in list(states) if m.target_id and time_ns(m.header.stamp) in by_stamp]
        ious = [box_iou(box_xywh(m.bbox), by_stamp[time_ns(m.header.stamp)]) for m in tracked[-10:]]
        assert sum(ious) / len(ious) > 0.5, ious
    finally:
        stop(launch)


@pytest.mark.slow
def test_weights_published_without_the_file_fails_clearly(probe, ros_env, tmp_path) -> None:
    if shutil.which("ros2") is None:
        pytest.skip("the ros2 command line is not installed (no ROS 2 from apt and no vendored ros2cli wheels)")
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
    from jcat_ros.srv import InitTarget

    from jcat_ros.init_client import init_request

    ros_env["JCAT_WEIGHTS_DIR"] = str(tmp_path / "no_weights_here")
    diagnostics = probe.record(DiagnosticArray, "/diagnostics")
    log = tmp_path / "launch.log"
    launch = launched(ros_env, log, "image:=/camera/image_raw", "weights:=published")
    try:
        probe.wait_for(lambda: len(diagnostics) >= 1, 60, "diagnostics from the node")
        status = diagnostics[-1].status[0]
        assert status.level == DiagnosticStatus.ERROR and "JcatNet.pth.tar" in status.message, status
        reply = probe.call(InitTarget, "/jcat_tracker/init", init_request((10, 10, 40, 40)))
        assert not reply.success and str(tmp_path / "no_weights_here") in reply.message, reply.message
        assert launch.poll() is None  # the node stays up to say why
    finally:
        stop(launch)
