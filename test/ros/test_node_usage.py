"""The executables behave like tools (issue #18 item 10): --help prints how to run them with their parameters and
exits 0 within seconds, instead of starting a node."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from jcat_ros.node_usage import asks_for_help

pytestmark = pytest.mark.ros
pytest.importorskip("rclpy")

HELP_WITHIN_S = 15.0  # the tracker node imports torch before main() runs: about 2 s on the project's VM
NODE_LOG = "[INFO]"  # what a started node writes first


def run_for_help(command: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess, float]:
    """The finished command and how long it took; a node started instead would run until the timeout."""
    started = time.monotonic()
    try:
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=HELP_WITHIN_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{' '.join(command)} was still running after {HELP_WITHIN_S:g} s: it started a node")
    return result, time.monotonic() - started


def test_help_is_asked_before_ros_arguments_only() -> None:
    assert asks_for_help(["camera_node", "--help"])
    assert asks_for_help(["-h", "--ros-args", "-p", "rate:=5.0"])
    assert not asks_for_help(["camera_node", "--ros-args", "-p", "frame_id:=--help"])
    assert asks_for_help(["--ros-args", "-p", "rate:=5.0", "--", "--help"])  # -- ends ROS's arguments
    assert not asks_for_help(["camera_node"])


def test_camera_node_help_lists_its_parameters(ros_env: dict[str, str]) -> None:
    result, took = run_for_help(["ros2", "run", "jcat_ros", "camera_node", "--help"], ros_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: ros2 run jcat_ros camera_node [--ros-args -p NAME:=VALUE ...]")
    for line in ("  source: ", "  rate: frames per second [default 15.0, 0.1 to 1000.0]", "  loop: ", "  width: ",
                 "  num_frames: ", "  encoding: "):
        assert line in result.stdout
    assert NODE_LOG not in result.stderr
    print(f"camera_node --help: {took:.1f} s")


def test_tracker_node_help_lists_its_and_the_trackers_parameters(ros_env: dict[str, str]) -> None:
    # autostart off: until main() answers --help, the node it starts instead does not load a network meanwhile.
    command = [sys.executable, "-m", "jcat_ros.tracker_node", "--help", "--ros-args", "-p", "autostart:=false"]
    result, took = run_for_help(command, ros_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: ros2 run jcat_ros tracker_node")
    for line in ("  weights: ", "  history_size: frames kept", "[default 30, 1 to 300]", "  tracker.segm_threshold: ",
                 "tracker.* parameters left unset take the profile's value"):
        assert line in result.stdout
    assert NODE_LOG not in result.stderr
    print(f"tracker_node --help: {took:.1f} s")


def test_init_client_help_lists_its_options(ros_env: dict[str, str]) -> None:
    result, _ = run_for_help([sys.executable, "-m", "jcat_ros.init_client", "--help"], ros_env)
    assert result.returncode == 0, result.stderr
    for option in ("--box", "--reset", "--stamp", "--target-id", "--node", "--timeout"):
        assert option in result.stdout
