"""Two separate processes exchange InitTarget, TrackerState and Detection2DArray over rclpy."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.ros


def run_call(ros_env: dict[str, str], *args: str) -> tuple[int, dict]:
    result = subprocess.run(
        [sys.executable, "-m", "jcat_ros.interface_check", "call", *args],
        cwd=REPO, env=ros_env, capture_output=True, text=True, timeout=60,
    )
    assert result.stdout.strip(), f"caller printed nothing; stderr:\n{result.stderr}"
    return result.returncode, json.loads(result.stdout.strip().splitlines()[-1])


def test_init_request_state_and_detections_cross_processes(spawn, ros_env) -> None:
    server = spawn("-m", "jcat_ros.interface_check", "serve", "--requests", "3")
    assert server.stdout.readline().strip() == "ready", server.log_path.read_text()

    code, out = run_call(ros_env, "--box", "10,20,30,40", "--stamp", "1700000000,250", "--target-id", "cup")
    assert code == 0, out
    assert out["response"] == {"success": True, "message": "", "target_id": "cup"}
    state = out["state"]
    assert state["state"] == 1  # TrackerState.TRACKING
    assert state["target_id"] == "cup"
    assert state["stamp"] == [1700000000, 250]
    assert state["bbox"] == pytest.approx([25.0, 40.0, 30.0, 40.0])
    [detection] = out["detections"]
    assert detection["id"] == "cup" and detection["class_id"] == ""  # the target is an object id, not a class
    assert detection["stamp"] == [1700000000, 250]
    assert detection["score"] == pytest.approx(1.0)
    assert detection["bbox"] == pytest.approx([25.0, 40.0, 30.0, 40.0])

    # Refusals carry their reason back to the caller; the server keeps serving afterwards.
    code, out = run_call(ros_env, "--box", "10,20,0,40")
    assert code == 0
    assert out["response"]["success"] is False
    assert "degenerate box" in out["response"]["message"]

    code, out = run_call(ros_env, "--box", "nan,20,5,5")
    assert out["response"]["success"] is False
    assert "non-finite" in out["response"]["message"]

    assert server.wait(timeout=30) == 0


def test_ros2_cli_runs_the_executable_and_calls_the_service(ros_env) -> None:
    """The standard user commands: `ros2 run jcat_ros ...` and `ros2 service call` with the generated types."""
    if shutil.which("ros2") is None:
        pytest.skip("the ros2 command line is not installed (no ROS 2 from apt and no vendored ros2cli wheels)")
    server = subprocess.Popen(["ros2", "run", "jcat_ros", "interface_check", "serve", "--requests", "1"],
                              env=ros_env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert server.stdout.readline().strip() == "ready", server.stderr.read()
        request = "{box: {center: {position: {x: 50.0, y: 40.0}}, size_x: 20.0, size_y: 10.0}, target_id: mug}"
        result = subprocess.run(
            ["ros2", "service", "call", "/jcat_interface_check/init", "jcat_ros/srv/InitTarget", request],
            env=ros_env, capture_output=True, text=True, timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert "InitTarget_Response(success=True, message='', target_id='mug')" in result.stdout
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
